"""Build hook: compile the optional C record walk and the hot modules (mypyc) at install time.

hatchling runs this for every wheel it builds, including the editable install that ``make``
does. Two kinds of compiled code, each optional:

* ``poolsniff/engine/fast/_walk.c``, the prefilter's walk over capture records (issue 6);
  ``poolsniff.engine.fast.walk`` is the same in Python and is used where it is missing;
* ``poolsniff/output/_flowline.c``, an alerted flow's EVE line and id, and
  ``poolsniff/dissect/_httphead.c``, an HTTP head parsed (issue 12); ``poolsniff.output.eveflow`` and
  ``poolsniff.dissect.http`` do the same in Python where they are missing;
* the modules ``poolsniff.native.COMPILED`` (the flow table, the dissectors, the split's two halves,
  the pipeline; issue 12), compiled by mypyc from their own typed sources into one group, and the
  manifest ``poolsniff/_native.sha256`` of the sources compiled; ``poolsniff.native`` runs the
  sources instead where the manifest is missing or no longer matches them.

A machine without a C compiler or Python's headers still gets a working poolsniff: the build prints
why it skipped what it skipped and goes on. Set ``POOLSNIFF_NO_EXTENSION=1`` to build neither (the
tests compare both paths).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify

modules, group, config, *flags = sys.argv[1].split(","), sys.argv[2], sys.argv[3], *sys.argv[4:]
paths = [m.replace(".", "/") + ".py" for m in modules]
setup(
    name="poolsniff-native",
    packages=[],
    ext_modules=mypycify(["--config-file", config, *flags, *paths], opt_level="3", group_name=group),
    script_args=["build_ext", "--inplace"],
)
"""
"""Run in a copy of the package (no pyproject.toml there, whose [project] setuptools would take for
its own): mypyc checks ``modules`` with pyproject.toml's [tool.mypy] and ``native.TYPE_CHECK``, and
compiles them."""
FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]


class WalkExtensionHook(BuildHookInterface):  # type: ignore[misc]
    """Compile ``_walk.c`` into ``poolsniff/engine/fast/_walk<EXT_SUFFIX>`` when a compiler is there."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the extension; in place for an editable install, else into the wheel."""
        root = Path(self.root)
        native = _native(root)
        opted_out = bool(os.environ.get("POOLSNIFF_NO_EXTENSION"))
        # an editable install whose modules were compiled from the sources as they are keeps them
        # (`make test` reinstalls with the test extras right after `make demo`)
        keep = version == "editable" and not opted_out and native.stale() is None
        if version == "editable" and not keep:  # the sources run until this build compiles them again
            (root / "poolsniff" / native.MANIFEST).unlink(missing_ok=True)
        if opted_out:
            _say("POOLSNIFF_NO_EXTENSION is set: building without the C record walk and without mypyc")
            return
        # what is built away from the tree: removed by finalize, once the wheel holds it (each install
        # used to leave a 41 MB copy of the package behind in the temporary folder)
        self.scratch = scratch = Path(tempfile.mkdtemp(prefix="poolsniff-build-"))
        walk, *others = native.C_EXTENSIONS
        if not self._extension(root, native, walk, build_data, version):
            return
        for other in others:  # each optional on its own: where one fails, its Python runs
            self._extension(root, native, other, build_data, version)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if keep:
            _say("the compiled modules match their sources: kept")
            _drop_unlisted(root, native)
            return
        made = _mypyc(root, native, scratch / "mypyc")
        for built, relative in made:
            if version == "editable":  # a new file, not overwritten: a running poolsniff keeps its own
                staged = root / (relative + ".new")
                shutil.copyfile(built, staged)
                os.replace(staged, root / relative)
            else:
                build_data["force_include"][str(built)] = relative
        if made and version == "editable":
            _drop_unlisted(root, native)

    def _extension(
        self, root: Path, native: Any, module: str, build_data: dict[str, Any], version: str
    ) -> bool:
        """Compile the C extension ``module`` (one of ``native.C_EXTENSIONS``, from ``<its place>.c``) where
        ``native.built_of`` says it goes, or into the wheel; False if it failed."""
        built = native.built_of(module, root / "poolsniff")
        place = built.relative_to(root)
        target = built if version == "editable" else self.scratch / place.name
        if not _compile(native.source_of(module, root / "poolsniff").with_suffix(".c"), target):
            return False
        if version != "editable":
            build_data["force_include"][str(target)] = place.as_posix()
        return True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """The wheel is written, or the editable tree updated: remove what was built away from the tree."""
        scratch = getattr(self, "scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _mypyc(root: Path, native: Any, work: Path) -> list[tuple[Path, str]]:
    """Compile ``native.COMPILED`` (``poolsniff/native.py``) in a copy of the package made in ``work``;
    [(built file, its place)], with the manifest last, or [] (with a note) when mypyc is missing or
    fails."""
    try:
        import mypyc  # noqa: F401  (a build requirement; its absence is not fatal)
    except ImportError:
        _say("mypyc is not installed: the hot modules run as Python")
        return []
    skip = shutil.ignore_patterns("*.so", "__pycache__")
    shutil.copytree(root / "poolsniff", work / "poolsniff", ignore=skip)
    (work / "setup_native.py").write_text(SETUP)
    _say(f"compiling {len(native.COMPILED)} modules with mypyc (a minute or two)")
    done = subprocess.run(
        [sys.executable, "setup_native.py", ",".join(native.COMPILED), native.GROUP, root / "pyproject.toml",
         *native.TYPE_CHECK],
        cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        _say(f"mypyc failed: the hot modules run as Python\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return []
    built = [native.built_of(name) for name in (*native.COMPILED, native.SHARED)]
    out = [(work / path.relative_to(root), path.relative_to(root).as_posix()) for path in built]
    missing = [place for made, place in out if not made.is_file()]
    if missing:
        _say(f"mypyc did not build {', '.join(missing)}: the hot modules run as Python")
        return []
    manifest = work / native.MANIFEST
    # the copy's sources, which are what was compiled: one edited meanwhile in the tree leaves the
    # build stale (its sources run, and the next install compiles again), not claimed compiled
    manifest.write_text(native.manifest_text(work / "poolsniff"))
    return [*out, (manifest, f"poolsniff/{native.MANIFEST}")]


def _drop_unlisted(root: Path, native: Any) -> None:
    """Remove the extension modules an earlier build left beside sources that ``COMPILED`` no longer
    lists: the import system would still load one (before its source), and fail, its code not being in
    the new shared library."""
    package = root / "poolsniff"
    names = (*native.COMPILED, native.SHARED, *native.C_EXTENSIONS)
    listed = {native.built_of(name, package) for name in names}
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    for path in package.rglob(f"*{suffix}"):
        if path not in listed and path.with_name(path.name.removesuffix(suffix) + ".py").is_file():
            _say(f"removing {path.relative_to(root)}: its module is no longer compiled")
            path.unlink()


def _native(root: Path) -> Any:
    """``poolsniff/native.py``, loaded on its own (the package's ``__init__`` is not run)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_poolsniff_native", root / "poolsniff" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module


def _compile(source: Path, target: Path) -> bool:
    """Compile ``source`` into the shared object ``target``; False (with a note) on failure."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        _say(f"no C compiler ({cc[0] if cc else 'cc'}): using the pure-Python record walk")
        return False
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        _say(f"no Python.h in {include} (install python3-dev): using the pure-Python record walk")
        return False
    command = [*cc, *FLAGS, f"-I{include}", str(source), "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _say(f"compiling {source.name} failed: its Python reference runs instead\n{done.stderr}")
        return False
    return True


def _say(message: str) -> None:
    print(f"poolsniff build: {message}", file=sys.stderr)
