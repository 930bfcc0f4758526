"""Shared fixtures: paths to the bundled captures, the shared corpus and the EVE schema.

Tests in this process run the pure-Python modules, the reference (``poolsniff.native``): they patch
module constants and hand fakes to classes, which compiled modules do not allow. They keep the C
extensions (``POOLSNIFF_PURE`` is unset again before the modules that import them load), whose own
tests compare each with its Python reference. Every poolsniff
these tests start as a program (``scan``, ``sniff``, the fuzz targets, the golden files, the
corpus) runs the compiled modules where they are built, and ``tests/test_native.py`` compares the
two paths record by record. ``POOLSNIFF_TEST_COMPILED=1`` runs this process compiled too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if not os.environ.get("POOLSNIFF_TEST_COMPILED"):
    _pure = os.environ.get("POOLSNIFF_PURE")
    os.environ["POOLSNIFF_PURE"] = "1"
    import poolsniff  # noqa: F401  (chooses the path once, before any test module imports poolsniff)

    if _pure is None:  # the programs the tests start run what a user runs
        del os.environ["POOLSNIFF_PURE"]

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from poolsniff.intel.lists import Blocklist

# No test depends on timing: hypothesis' per-example deadline (200 ms) fails a test when the
# machine is loaded (CI shares its cores), so it is off for the whole suite.
settings.register_profile("poolsniff", deadline=None)
settings.load_profile("poolsniff")

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "pcaps"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SCHEMA = SHARED / "reference" / "eve-schema.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden`` rewrites the expected-alert files of pcaps/ (review the diff!)."""
    parser.addoption("--update-golden", action="store_true", help="rewrite pcaps/*.expected.jsonl")


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never read or write the user's real data dir (lists from ``blocklist update``)."""
    path = tmp_path_factory.mktemp("data-dir")
    monkeypatch.setenv("POOLSNIFF_DATA_DIR", str(path))
    # nor the user's config file (an /etc/poolsniff/poolsniff.yaml would still be read)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
    return path


@pytest.fixture(scope="module")
def lists() -> Blocklist:
    """The shipped lists (as the tests of a module read them, loaded once)."""
    from poolsniff.intel.lists import load_shipped  # here: poolsniff is imported once its path is chosen

    return load_shipped()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared real captures; skipped with a reason where absent."""
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip(f"real captures not available: {CORPUS} is absent (it lives in ../shared)")
    return CORPUS


@pytest.fixture(scope="session")
def eve_validator() -> Any:
    """A jsonschema validator for Suricata's EVE schema; skipped where the schema is absent."""
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.exists():
        pytest.skip(f"EVE schema not available: {SCHEMA} is absent (it lives in ../shared)")
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema)
