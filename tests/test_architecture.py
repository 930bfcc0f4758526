"""The architecture, checked: import layering, one module per library, docstrings, test layout.

The pipeline runs one way (source -> decode -> flows/dissectors -> detectors -> enrichment
-> sinks); these checks parse the package with ``ast`` and fail when a module reaches
across the layers, when a third-party library spreads beyond its one module, when the
core opens files, or when a module has no test file of its own.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "poolsniff"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")

THIRD_PARTY_HOME = {
    "click": {"cli/"},
    "yaml": {"cli/settings.py"},
    "tldextract": {"intel/psl.py"},
    "dpkt": set(),  # the tests' oracle only (dissect/dns.py reads names as it does, compiled)
    "zstandard": {"sources/compressed.py"},
}
"""Each third-party library is used in one module only."""

CORE = (
    "model.py",
    "errors.py",
    "engine/decode.py",
    "engine/pipeline.py",
    "dissect/",
    "detect/",
    "enrich/",
    "confirm/hello.py",
    "confirm/x509.py",
    "confirm/target.py",
    "confirm/limits.py",
    "confirm/escalate.py",
)
"""Modules that do no I/O."""

LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("model.py", frozenset()),
    ("errors.py", frozenset()),
    ("files.py", frozenset()),
    ("counted.py", frozenset()),
    ("native.py", frozenset()),
    ("intel/", frozenset({"errors", "model", "files", "intel"})),
    ("sources/", frozenset({"errors", "model", "sources"})),
    ("engine/decode.py", frozenset({"model"})),
    ("dissect/", frozenset({"model", "errors", "dissect", "engine.decode"})),
    ("detect/", frozenset({"model", "errors", "dissect", "detect", "intel"})),
    ("enrich/", frozenset({"model", "errors", "detect", "enrich", "intel"})),
    ("engine/", frozenset({"model", "errors", "sources", "engine.decode", "engine", "dissect", "detect",
                           "enrich", "intel"})),
    ("output/", frozenset({"model", "errors", "files", "detect", "output"})),
    ("report/", frozenset({"model", "errors", "counted", "detect", "output", "report"})),
    ("confirm/", frozenset({"model", "errors", "files", "detect", "intel", "output", "confirm"})),
    ("run/", frozenset({"model", "errors", "counted", "sources", "engine.decode", "engine", "dissect",
                        "detect", "enrich", "intel", "output", "confirm", "run"})),
)  # fmt: skip
"""What each stage may import, lowest first: source -> decode -> flows/dissectors -> detectors ->
enrichment -> output, with the lists (intel) as reference data below the detectors, reports after
the output, active confirmation (confirm/) after the output too, and the run modes (run/) composing
them. The command line (cli/) is the top."""

ENTRY = ("cli/", "__main__.py")
"""The entry layer may import every stage."""


def stage_of(name: str) -> str | None:
    """The stage an imported poolsniff module belongs to (``engine.decode`` is a stage of its own)."""
    parts = name.split(".")
    if parts[0] != "poolsniff" or len(parts) < 2 or parts[1] == "__version__":
        return None
    if parts[1] == "engine" and len(parts) > 2 and parts[2] == "decode":
        return "engine.decode"
    return parts[1].removesuffix(".py")


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def imports(path: Path) -> set[str]:
    """Every module name imported by ``path`` (absolute imports)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def matches(path: str, key: str) -> bool:
    return path.startswith(key) if key.endswith("/") else path == key


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_module_opens_with_a_docstring_naming_its_place(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{rel(path)} has no module docstring"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_third_party_library_lives_in_one_module(path: Path) -> None:
    used = {name.split(".")[0] for name in imports(path)}
    for lib, homes in THIRD_PARTY_HOME.items():
        if lib in used:
            allowed = any(matches(rel(path), home) for home in homes)
            assert allowed, f"{rel(path)} imports {lib}; only {homes} may"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_layering(path: Path) -> None:
    here = rel(path)
    if here.startswith(ENTRY):
        return
    key, allowed = next(((k, a) for k, a in LAYERS if matches(here, k)), ("", frozenset()))
    assert key, f"{here} is in no stage of LAYERS: give its package a rule"
    for name in imports(path):
        stage = stage_of(name)
        assert stage is None or stage in allowed, f"{here} ({key}) imports {name}, a stage above it"


def test_every_package_has_a_rule() -> None:
    packages = {p.parent.relative_to(PACKAGE).as_posix() + "/" for p in PACKAGE.rglob("__init__.py")} - {"./"}
    ruled = {k for k, _ in LAYERS if k.endswith("/")} | {e.rstrip("/") + "/" for e in ENTRY}
    for package in packages:
        assert any(package.startswith(k) for k in ruled), f"poolsniff/{package} has no layering rule"


@pytest.mark.parametrize("path", [m for m in MODULES if any(matches(rel(m), k) for k in CORE)], ids=rel)
def test_core_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("open", "print", "input"), f"{rel(path)} calls {node.func.id}()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            banned = ("os.environ", "time.time", "socket.socket", "sys.stdout", "sys.stderr", "os.getenv")
            assert dotted not in banned, f"{rel(path)} uses {dotted}"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_every_module_has_its_test_file(path: Path) -> None:
    if path.name in ("__main__.py",):
        pytest.skip("entry point shim")
    test = ROOT / "tests" / path.relative_to(PACKAGE).parent / f"test_{path.name}"
    assert test.exists(), f"{rel(path)} has no {test.relative_to(ROOT)}"


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    limit = 500
    assert lines <= limit, f"{rel(path)} has {lines} lines"


def test_ruff_and_mypy_are_clean() -> None:
    venv_bin = Path(sys.executable).parent  # the venv that runs the tests, activated or not
    ruff = shutil.which("ruff", path=str(venv_bin)) or shutil.which("ruff")
    mypy = shutil.which("mypy", path=str(venv_bin)) or shutil.which("mypy")
    if not ruff or not mypy:
        pytest.skip("ruff/mypy are not installed (pip install -e '.[lint]')")
    r = subprocess.run([ruff, "check", "poolsniff"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    m = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True)
    assert m.returncode == 0, m.stdout


@pytest.mark.parametrize("path", [m for m in MODULES if rel(m).startswith("detect/")], ids=rel)
def test_detectors_do_not_import_each_other(path: Path) -> None:
    detectors = {"poolsniff.detect.stratum", "poolsniff.detect.protocol", "poolsniff.detect.names"}
    own = "poolsniff." + rel(path)[:-3].replace("/", ".")
    assert not (imports(path) & detectors) - {own}, f"{rel(path)} imports another detector"
