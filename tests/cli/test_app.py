"""The root command: --version and --help everywhere, what each command imports at start, and
every command with stdout on a full device or a pipe whose reader is gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from poolsniff import __version__
from poolsniff.cli import main

from ..conftest import PCAPS
from .test_scan import BENIGN, run


def _says_version(out: str) -> bool:
    """``--version``'s line: the version, then which path runs (``poolsniff.native.describe``)."""
    head = f"poolsniff, version {__version__}, "
    rest = out.strip().removeprefix(head)
    return out.startswith(head) and (rest == "compiled (mypyc)" or rest.startswith("pure Python: "))


def test_version_and_help() -> None:
    assert _says_version(run("--version").stdout)
    for args in (["--help"], ["scan", "--help"]):
        proc = run(*args)
        assert proc.returncode == 0
        assert "Exit status" in proc.stdout and "130" in proc.stdout


@pytest.mark.parametrize(
    "command", [["scan"], ["sniff"], ["report"], ["blocklist"], ["blocklist", "check"], ["config", "check"]]
)
def test_version_and_help_on_every_command(command: list[str]) -> None:
    assert _says_version(run(*command, "--version").stdout)
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
REPORTS = {"poolsniff.report.summary", "poolsniff.report.formats.html", "poolsniff.report.formats.table"}
"""What only ``report`` uses (``report --format`` reads the format names, not the renderers)."""
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
        (["scan", "-q", str(BENIGN)], NEVER_AT_START | REPORTS | {"dpkt"},  # its DNS names: read without dpkt
         {"poolsniff.run.scan", "poolsniff.engine.pipeline", "poolsniff.dissect.dns"}),
        (["scan", "-q", "-o", "{tmp}/a.json", str(PCAPS / "getwork-http.pcap")], NEVER_AT_START | {"dpkt"},
         {"poolsniff.run.scan", "poolsniff.dissect.dns"}),
        (["report", "-q", "-o", "{tmp}/r.txt", str(EXPECTED)], NEVER_AT_START, {"poolsniff.report.summary"}),
    ],
    ids=["version", "scan-help", "scan", "scan-no-dns", "report"],
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


# --------------------------------------------------------------------------- stdout full or gone


def command_tree(cmd: click.Command = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand, as the words that invoke it."""
    yield path
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from command_tree(cmd.commands[name], (*path, name))


WRITES_STDOUT: dict[tuple[str, ...], list[str] | None] = {
    (): None,
    ("scan",): ["-q", str(PCAPS / "stratum-v1-cgminer.pcap")],
    ("sniff",): None,  # writes alerts only when a miner is on the wire: tests/run/test_sniff.py
    ("report",): ["-q", str(PCAPS / "stratum-v1-cgminer.pcap.expected.jsonl")],
    ("blocklist",): None,
    ("blocklist", "check"): ["pool.supportxmr.com"],
    ("blocklist", "export"): ["--format", "hosts"],
    ("blocklist", "list"): [],
    ("blocklist", "update"): ["--offline", "--data-dir", "{tmp}/data"],
    ("config",): None,
    ("config", "check"): ["{tmp}/poolsniff.yaml"],
    ("probe",): ["pool.binance.com:443"],  # on the shipped allowlist: a "skipped" line, no traffic
}
"""For each command, arguments with which it writes to stdout (None: only --help and --version do)."""


def runs_writing_stdout() -> Iterator[list[str]]:
    for path in command_tree():
        yield [*path, "--help"]
        yield [*path, "--version"]
        extra = WRITES_STDOUT.get(path)
        if extra is not None:
            yield [*path, *extra]


def test_every_command_has_a_stdout_case() -> None:
    """A new command must say how it writes to stdout, so the matrix below covers it."""
    assert set(command_tree()) == set(WRITES_STDOUT)


def full_device(folder: Path) -> str:
    """A device whose writes fail with ENOSPC: one made with mknod (1, 7) as root, else /dev/full."""
    if os.geteuid() != 0:
        return "/dev/full"
    path = folder / "full"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return str(path)


@pytest.mark.parametrize("args", list(runs_writing_stdout()), ids=" ".join)
@pytest.mark.parametrize("stdout", ["full", "closed-pipe"])
def test_stdout_full_or_gone_is_one_line_never_a_traceback(
    tmp_path: Path, args: list[str], stdout: str
) -> None:
    """stdout on a full device: one error line, status 4. A pipe whose reader is gone: silence, 141."""
    (tmp_path / "poolsniff.yaml").write_text("quiet: true\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if stdout == "full":
        target = os.open(full_device(tmp_path), os.O_WRONLY)
    else:
        reader, target = os.pipe()
        os.close(reader)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "poolsniff", *args], stdout=target, stderr=subprocess.PIPE, text=True,
            timeout=120, env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
        )  # fmt: skip
    finally:
        os.close(target)
    lines = proc.stderr.splitlines()
    if stdout == "full":
        assert proc.returncode == 4 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("poolsniff: error: stdout: cannot write") and "No space left" in lines[0]
    else:
        assert proc.returncode == 141 and lines == [], proc.stderr
