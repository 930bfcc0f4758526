"""poolsniff.native: the compiled hot modules do exactly what their sources do, and run only when current.

The differential tests scan the same captures twice, as programs: compiled (with the C extensions), and
with ``POOLSNIFF_PURE=1`` (the sources and the C extensions' Python references), and compare every
record but the stats line, byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

from poolsniff import native
from tests import factories_mixes as mixes
from tests.conftest import CORPUS, PCAPS, ROOT

DATA = ROOT / "tests" / "data"
CAPTURES = sorted(p for p in [*PCAPS.glob("*.pcap*"), *DATA.rglob("*.pcap*")] if p.suffix != ".jsonl")


def _compiled_here() -> bool:
    """Whether this machine's build compiled the hot modules (a compiler, Python.h, no opt-out)."""
    return native.why_pure() is None or (native.PACKAGE / native.MANIFEST).is_file()


def _env(pure: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (native.PURE_ENV, "POOLSNIFF_TEST_COMPILED")}
    if pure:
        env[native.PURE_ENV] = "1"
    return env


def _which(pure: bool) -> str:
    """What a program runs: ``describe()``, the streams module's file, and which C extensions it uses."""
    code = (
        "import poolsniff.native as n, poolsniff.dissect.streams as s\n"
        "print(n.describe()); print(s.__file__)\n"
        "import poolsniff.engine.fast.walk as w, poolsniff.output.eveflow as e, poolsniff.dissect.http as h\n"
        "print(w.ACCELERATED, e._line is not None, h._C_PARSE is not None)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(pure), capture_output=True, text=True, check=True
    )  # fmt: skip
    return done.stdout


def _scan(paths: list[Path], out: Path, pure: bool, *args: str) -> list[str]:
    """Scan as a program; the records but the stats line (it carries the wall-clock time)."""
    done = subprocess.run(
        [sys.executable, "-m", "poolsniff", "scan", "-q", "--suppress", "0", *args, *map(str, paths),
         "-o", str(out)],
        env=_env(pure), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-2000:]
    lines = out.read_text().splitlines()
    out.unlink()
    return [line for line in lines if json.loads(line)["event_type"] != "stats"]


def test_the_hot_modules_are_compiled_where_a_compiler_is() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    include = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which(compiler) is None or not include.is_file() or os.environ.get("POOLSNIFF_NO_EXTENSION"):
        pytest.skip("no C compiler or Python.h here: the build leaves the hot modules as Python")
    described, streams, c_used = _which(pure=False).splitlines()
    assert described == "compiled (mypyc)"
    assert c_used == "True True True"  # the three C extensions, built with the rest
    assert streams.endswith(sysconfig.get_config_var("EXT_SUFFIX"))
    assert Path(streams) == native.built_of("poolsniff.dissect.streams")  # where the build puts it


def test_pure_runs_the_sources() -> None:
    """The compiled modules' sources, and the C extensions' Python references: nothing compiled is
    shared by the two paths that the differential tests below compare."""
    described, streams, c_used = _which(pure=True).splitlines()
    assert described == f"pure Python: {native.PURE_ENV} is set"
    assert streams.endswith("streams.py")
    assert c_used == "False False False"


def test_the_c_extensions_are_refused_only_where_pure_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    finder = native._PureFinder()
    monkeypatch.setenv(native.PURE_ENV, "1")
    for name in native.C_EXTENSIONS:
        with pytest.raises(ImportError, match=native.PURE_ENV):
            finder.find_spec(name)
    assert finder.find_spec("poolsniff.dissect.streams") is None
    monkeypatch.delenv(native.PURE_ENV)
    assert all(finder.find_spec(name) is None for name in native.C_EXTENSIONS)


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the compiled modules' sources, as a build leaves them: manifest and shared library."""
    monkeypatch.delenv(native.PURE_ENV, raising=False)
    for module in native.COMPILED:
        target = native.source_of(module, tmp_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(native.source_of(module), target)
    (tmp_path / native.MANIFEST).write_text(native.manifest_text(tmp_path))
    native.built_of(native.SHARED, tmp_path).write_bytes(b"")
    return tmp_path


def test_a_current_build_runs_compiled(package: Path) -> None:
    assert native.why_pure(package) is None


def test_an_edited_source_runs_as_python(package: Path) -> None:
    source = native.source_of("poolsniff.dissect.streams", package)
    source.write_text(source.read_text() + "\n# edited\n")
    assert native.why_pure(package) == "the sources changed since they were compiled (`make` rebuilds them)"


def test_no_manifest_or_no_shared_library_runs_as_python(package: Path) -> None:
    (package / native.MANIFEST).unlink()
    assert "not compiled" in (native.why_pure(package) or "")
    (package / native.MANIFEST).write_text(native.manifest_text(package))
    next(package.glob("_native__mypyc*")).unlink()
    assert "is missing" in (native.why_pure(package) or "")


def test_pure_env_wins(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.PURE_ENV, "1")
    assert native.why_pure(package) == f"{native.PURE_ENV} is set"
    assert native.stale(package) is None  # what the build asks: the compiled modules are current


def _build_hook(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """``tools/hatch_build.py``, loaded with a stand-in for hatchling (a build requirement, not installed)."""
    names = ["hatchling", "hatchling.builders", "hatchling.builders.hooks", "hatchling.builders.hooks.plugin"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    interface = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    interface.BuildHookInterface = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, interface.__name__, interface)
    # the hook registers the tree's native.py under this name: undone after the test
    monkeypatch.setitem(sys.modules, "_poolsniff_native", types.ModuleType("_poolsniff_native"))
    spec = importlib.util.spec_from_file_location("hatch_build_under_test", ROOT / "tools" / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def test_a_source_edited_while_mypyc_runs_leaves_the_build_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest names the sources that were compiled (the build's copy), not the tree's as they are
    when it ends: an edit made meanwhile used to be taken for compiled, and every later install kept the
    old code (found when a change measured nothing: its function still ran as before)."""
    pytest.importorskip("mypyc", reason="mypyc (with mypy) is not installed")
    hook = _build_hook(monkeypatch)
    root = tmp_path / "tree"
    skip = shutil.ignore_patterns("*.so", "__pycache__", native.MANIFEST)
    shutil.copytree(native.PACKAGE, root / "poolsniff", ignore=skip)
    tree = hook._native(root)
    edited = tree.source_of("poolsniff.dissect.opaque")

    def compile_while_editing(
        command: list[str], cwd: Path, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        for name in (*tree.COMPILED, tree.SHARED):  # what mypyc would leave in the copy
            built = Path(cwd) / tree.built_of(name).relative_to(root)
            built.write_bytes(b"")
        edited.write_text(edited.read_text() + "\n# edited while mypyc ran\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(hook.subprocess, "run", compile_while_editing)
    made = hook._mypyc(root, tree, tmp_path / "work")
    manifest, place = made[-1]
    assert place == f"poolsniff/{native.MANIFEST}"
    assert manifest.read_text() == tree.manifest_text(manifest.parent / "poolsniff")
    shutil.copyfile(manifest, root / "poolsniff" / native.MANIFEST)  # installed, as an editable build does
    tree.built_of(tree.SHARED).write_bytes(b"")
    assert tree.stale() == "the sources changed since they were compiled (`make` rebuilds them)"


def test_the_compiled_modules_type_check_with_no_dependency_installed() -> None:
    """What mypyc checks in the build's isolated environment, where only mypy and setuptools are: as
    strict as ``make lint``, without poolsniff's dependencies (``--no-site-packages``)."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[lint]')")
    paths = [str(native.source_of(m)) for m in native.COMPILED]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-site-packages", "--config-file", str(ROOT / "pyproject.toml"),
         *native.TYPE_CHECK, *paths],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]


def test_every_compiled_module_exists() -> None:
    for module in native.COMPILED:
        assert native.source_of(module).is_file(), module


@pytest.fixture(scope="module")
def compiled() -> None:
    if not _compiled_here():
        pytest.skip("the hot modules are not compiled here: there is only one path to compare")


@pytest.mark.parametrize("jobs", ["1", "0"])
def test_compiled_and_pure_scan_the_bundled_captures_alike(compiled: None, tmp_path: Path, jobs: str) -> None:
    want = _scan(CAPTURES, tmp_path / "pure.json", True, "--jobs", jobs)
    assert sum('"event_type":"alert"' in line for line in want) > 50
    assert _scan(CAPTURES, tmp_path / "compiled.json", False, "--jobs", jobs) == want


def test_compiled_and_pure_split_a_large_capture_alike(compiled: None, tmp_path: Path) -> None:
    capture = mixes.short_mix(tmp_path / "short.pcap", 45_000, seed=25, mining_every=4_000)
    assert capture.stat().st_size >= 16 << 20  # split over two processes (run.scan.SPLIT_MIN_BYTES)
    want = _scan([capture], tmp_path / "pure.json", True, "--jobs", "2")
    assert sum('"event_type":"alert"' in line for line in want) > 5
    assert _scan([capture], tmp_path / "compiled.json", False, "--jobs", "2") == want
    assert _scan([capture], tmp_path / "one.json", False, "--jobs", "1") == want


@pytest.mark.corpus
def test_compiled_and_pure_scan_the_corpus_alike(compiled: None, tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    want = _scan([CORPUS], tmp_path / "pure.json", True)
    assert sum('"event_type":"alert"' in line for line in want) > 3000
    assert _scan([CORPUS], tmp_path / "compiled.json", False) == want


def test_version_names_the_c_extensions_that_were_not_built(tmp_path: Path) -> None:
    """A C extension that did not build leaves its Python reference running: ``--version`` says which."""
    for name in native.C_EXTENSIONS[:2]:  # two built, the third not
        built = native.built_of(name, tmp_path)
        built.parent.mkdir(parents=True, exist_ok=True)
        built.touch()
    assert native.describe(tmp_path).endswith("; not built: _httphead (their Python runs)")
    native.built_of(native.C_EXTENSIONS[2], tmp_path).parent.mkdir(parents=True, exist_ok=True)
    native.built_of(native.C_EXTENSIONS[2], tmp_path).touch()
    assert "not built" not in native.describe(tmp_path)


def test_the_build_compiles_each_c_extension_from_its_source() -> None:
    """The build derives each C source from ``C_EXTENSIONS``: every one is there, beside its place."""
    for name in native.C_EXTENSIONS:
        assert (ROOT / (name.replace(".", "/") + ".c")).is_file(), name


def test_an_editable_build_removes_the_extensions_of_modules_no_longer_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module taken out of ``COMPILED`` left its extension beside its source: the next import loaded it
    and failed (its code was not in the new shared library). Only such leftovers go."""
    hook = _build_hook(monkeypatch)
    root = tmp_path / "tree"
    shutil.copytree(native.PACKAGE, root / "poolsniff", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    tree = hook._native(root)
    names = (*tree.COMPILED, tree.SHARED, *tree.C_EXTENSIONS)
    kept = [tree.built_of(name, root / "poolsniff") for name in names]
    left = tree.built_of("poolsniff.intel.lists", root / "poolsniff")
    assert "poolsniff.intel.lists" not in tree.COMPILED and left not in kept
    for path in (*kept, left):
        path.write_bytes(b"")
    hook._drop_unlisted(root, tree)
    assert not left.exists()
    assert all(path.exists() for path in kept)
