"""The root command: --version and --help everywhere, and what each command imports at start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poolsniff import __version__

from ..conftest import PCAPS
from .test_scan import BENIGN, run


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"poolsniff, version {__version__}"
    for args in (["--help"], ["scan", "--help"]):
        proc = run(*args)
        assert proc.returncode == 0
        assert "Exit status" in proc.stdout and "130" in proc.stdout


@pytest.mark.parametrize(
    "command", [["scan"], ["sniff"], ["report"], ["blocklist"], ["blocklist", "check"], ["config", "check"]]
)
def test_version_and_help_on_every_command(command: list[str]) -> None:
    assert run(*command, "--version").stdout.strip() == f"poolsniff, version {__version__}"
    assert run(*command, "--help").returncode == 0


PROBE = """
import json, sys
from poolsniff.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""
"""Run a command in-process, then write the names of the modules it imported to a file."""

NEVER_AT_START = {
    "tldextract", "requests", "yaml", "multiprocessing", "ctypes.util", "poolsniff.intel.update.refresh",
    "poolsniff.run.sniff", "poolsniff.sources.live", "poolsniff.engine.split.parallel",
    "poolsniff.intel.update.upstream",
}  # fmt: skip
"""Modules no command imports unless it uses them (``scan`` of a capture without alerts uses none)."""
EXPECTED = PCAPS / "benign-mix.pcapng.expected.jsonl"


@pytest.mark.parametrize(
    ("args", "absent", "present"),
    [
        (["--version"],
         NEVER_AT_START | {"poolsniff.run.scan", "poolsniff.engine.pipeline", "dpkt",
                           "poolsniff.cli.settings"},
         {"click"}),
        (["scan", "--help"],
         NEVER_AT_START | {"poolsniff.run.scan", "poolsniff.engine.pipeline", "dpkt"}, {"click"}),
        (["scan", "-q", str(BENIGN)], NEVER_AT_START, {"poolsniff.run.scan", "poolsniff.engine.pipeline"}),
        (["report", "-q", "-o", "{tmp}/r.txt", str(EXPECTED)], NEVER_AT_START, {"poolsniff.report.summary"}),
    ],
    ids=["version", "scan-help", "scan", "report"],
)  # fmt: skip
def test_a_command_imports_only_what_it_uses(
    tmp_path: Path, args: list[str], absent: set[str], present: set[str]
) -> None:
    """Start-up time: tldextract (with requests), PyYAML, the updater, live capture and the
    process pool are imported by the commands that use them, not by every command."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    listing = tmp_path / "modules.json"
    for _ in range(2):  # the first scan parses the lists and fills the cache; the second reads it
        command = [sys.executable, "-c", PROBE, str(listing), *args]
        subprocess.run(command, capture_output=True, timeout=120, check=True)
    loaded = set(json.loads(listing.read_text()))
    assert present <= loaded
    assert not absent & loaded, sorted(absent & loaded)
