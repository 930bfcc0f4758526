"""Which hot modules run compiled (mypyc), and the pure-Python path beside them (composition layer).

source -> decode -> **flows/dissectors -> detectors -> enrichment** (compiled where built) -> sinks

The modules in ``COMPILED`` run for every packet or every new flow that reaches Python. Where a C
compiler is, the build (``tools/hatch_build.py``) compiles them with mypyc into extension modules
beside their sources, all in one group whose shared part is ``poolsniff._native__mypyc``, and writes
``MANIFEST``: the SHA-256 of each source it compiled. The sources stay what they are, the reference:
:func:`choose`, run once when ``poolsniff`` is first imported, loads them instead of the extensions

* when ``POOLSNIFF_PURE`` is set (the differential tests compare the two paths record by record):
  then the hand-written C extensions (``C_EXTENSIONS``) stay out too, their Python references run
  (``_PureFinder``), so the two paths share no compiled code;
* when any source differs from the one compiled (an edited tree that was not rebuilt: ``make``
  rebuilds it), so a stale extension never runs;
* when the build made no extensions (no compiler, ``POOLSNIFF_NO_EXTENSION``): then there is no
  manifest.

All of them or none: a compiled class cannot be subclassed by an interpreted one, so a mix could
not even import. :func:`choose` remembers its answer.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Final

COMPILED: Final = (
    "poolsniff.detect.behaviour",
    "poolsniff.detect.evidence",
    "poolsniff.detect.jsonrpc",
    "poolsniff.detect.names",
    "poolsniff.detect.protocol",
    "poolsniff.detect.signatures",
    "poolsniff.detect.stratum",
    "poolsniff.dissect.dns",
    "poolsniff.dissect.flow",
    "poolsniff.dissect.flows",
    "poolsniff.dissect.hellos",
    "poolsniff.dissect.http",
    "poolsniff.dissect.jsonlines",
    "poolsniff.dissect.opaque",
    "poolsniff.dissect.reassembly",
    "poolsniff.dissect.shape",
    "poolsniff.dissect.streams",
    "poolsniff.dissect.tls",
    "poolsniff.dissect.tlsfp",
    "poolsniff.dissect.tunnels",
    "poolsniff.engine.decode",
    "poolsniff.engine.fast.prefilter",
    "poolsniff.engine.pipeline",
    "poolsniff.engine.split.parallel",
    "poolsniff.engine.split.recorder",
    "poolsniff.engine.split.records",
    "poolsniff.engine.tracker",
    "poolsniff.enrich.dnsmemory",
    "poolsniff.enrich.enricher",
    "poolsniff.enrich.flowfacts",
    "poolsniff.model",
    "poolsniff.output.eve",
    "poolsniff.output.evefields",
    "poolsniff.output.eveflow",
    "poolsniff.output.eventid",
    "poolsniff.output.flowids",
    "poolsniff.output.metrics",
    "poolsniff.output.stage",
    "poolsniff.output.suppress",
    "poolsniff.output.transports.jsonl",
)
"""The modules mypyc compiles (the build reads this tuple)."""
C_EXTENSIONS: Final = (
    "poolsniff.engine.fast._walk",
    "poolsniff.output._flowline",
    "poolsniff.dissect._httphead",
)
"""The hand-written C extensions (``<module>.c`` beside their place; the build compiles them, the walk
first: the others and mypyc only if it builds). Each one's Python reference runs where it is missing
(``engine.fast.walk``, ``output.eveflow``, ``dissect.http``)."""
GROUP: Final = "poolsniff._native"
"""The group's name (mypyc's ``group_name``)."""
SHARED: Final = GROUP + "__mypyc"
"""The group's shared library, the module every compiled one loads (mypyc names it so)."""
MANIFEST: Final = "_native.sha256"
"""Beside this file: one ``<sha256>  <module>`` line per compiled source, written by the build."""
TYPE_CHECK: Final = ("--follow-imports=silent",)
"""How mypyc type-checks (beside pyproject.toml's [tool.mypy]): the compiled modules strictly, what they
import only for its types. The build's isolated environment holds mypy and setuptools, not poolsniff's
dependencies: a strict check of ``intel/psl.py`` there fails on tldextract, and every first install
fell back to the sources (a second one, into a venv that had tldextract by then, compiled)."""
PURE_ENV: Final = "POOLSNIFF_PURE"
PACKAGE: Final = Path(__file__).resolve().parent


def source_of(module: str, package: Path = PACKAGE) -> Path:
    """The source file of one of ``COMPILED`` in ``package`` (the directory of ``poolsniff``)."""
    return package.joinpath(*module.split(".")[1:]).with_suffix(".py")


def built_of(module: str, package: Path = PACKAGE) -> Path:
    """Where the build puts the extension module of ``module`` (one of ``COMPILED``, or ``SHARED``)."""
    return package.joinpath(*module.split(".")[1:]).with_name(
        module.rsplit(".", 1)[-1] + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
    )


def manifest_text(package: Path = PACKAGE) -> str:
    """The manifest of the sources as they are now (what the build writes)."""
    return "".join(
        f"{hashlib.sha256(source_of(m, package).read_bytes()).hexdigest()}  {m}\n" for m in COMPILED
    )


def stale(package: Path = PACKAGE) -> str | None:
    """None when ``package`` holds compiled modules built from its sources as they are; else why not.
    The build asks it too: an editable install whose compiled modules are current keeps them."""
    try:
        written = (package / MANIFEST).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return "not compiled (no C compiler when poolsniff was installed, or POOLSNIFF_NO_EXTENSION)"
    if not built_of(SHARED, package).is_file():
        return f"not compiled ({built_of(SHARED, package).name} is missing)"
    try:
        current = manifest_text(package)
    except OSError as e:
        return f"a compiled module's source cannot be read ({e})"
    if written != current:
        return "the sources changed since they were compiled (`make` rebuilds them)"
    return None


def why_pure(package: Path = PACKAGE) -> str | None:
    """None when the compiled modules in ``package`` may run; else why their sources run instead."""
    return f"{PURE_ENV} is set" if os.environ.get(PURE_ENV) else stale(package)


class _SourceFinder:
    """A ``sys.meta_path`` finder of the ``COMPILED`` modules' sources, ahead of their extension modules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec loading the source of one of ``COMPILED``; None for any other module."""
        if fullname not in COMPILED:
            return None
        source = source_of(fullname)
        return importlib.util.spec_from_file_location(
            fullname, source, loader=importlib.machinery.SourceFileLoader(fullname, str(source))
        )


class _PureFinder:
    """A ``sys.meta_path`` finder that refuses the ``C_EXTENSIONS`` where ``POOLSNIFF_PURE`` is set.

    Each module that imports one takes its Python reference on ImportError, as where it was not built.
    The variable is read at that import, not when :func:`choose` decides: the pytest process, which
    sets it only while poolsniff chooses, keeps the C extensions its tests compare with their
    references."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """None (the usual import), or ImportError for a C extension where ``POOLSNIFF_PURE`` is set."""
        if fullname in C_EXTENSIONS and os.environ.get(PURE_ENV):
            raise ImportError(f"{PURE_ENV} is set: the Python reference of {fullname} runs")
        return None


@cache
def choose() -> str | None:
    """Run the extensions if they may (None), else the sources (and say why); decided once."""
    why = why_pure()
    if why is not None:
        sys.meta_path.insert(0, _SourceFinder())
    sys.meta_path.insert(0, _PureFinder())
    return why


def describe(package: Path = PACKAGE) -> str:
    """One line for ``--version`` and the benchmarks: which path runs, and why; and the C extensions
    that were not built, whose Python references run instead."""
    why = choose()
    missing = [name.rsplit(".", 1)[1] for name in C_EXTENSIONS if not built_of(name, package).is_file()]
    extensions = f"; not built: {', '.join(missing)} (their Python runs)" if missing else ""
    return ("compiled (mypyc)" if why is None else f"pure Python: {why}") + extensions
