"""poolsniff sniff on the command line: what stops it before it captures (no capture needed).

The live behaviour (replays into veth pairs, signals, --user) is tested in tests/run/test_sniff.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import one_line_error, run


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["--count", "0"], 2, ["--count"]),
        (["--duration", "-1"], 2, ["--duration"]),
        (["--blocklist", "/nonexistent/list.txt"], 2, ["/nonexistent/list.txt"]),
    ],
)
def test_bad_options_stop_before_capturing(
    tmp_path: Path, args: list[str], status: int, words: list[str]
) -> None:
    proc = run("sniff", "-i", f"nosuch{os.getpid() % 10000}", *args, home=tmp_path)
    assert proc.returncode == status, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("poolsniff: error: ")
    assert all(word in proc.stderr for word in words), proc.stderr


def test_interface_is_required(tmp_path: Path) -> None:
    proc = run("sniff", home=tmp_path)
    assert proc.returncode == 2 and "--interface" in proc.stderr


def test_no_such_interface_exit_3(tmp_path: Path) -> None:
    name = f"nosuch{os.getpid() % 10000}"
    one_line_error(run("sniff", "-i", name, "--duration", "1", home=tmp_path), 3, name)


def test_the_buffer_default_is_the_capture_sockets_own() -> None:
    """``sniff --buffer``'s default is the receive buffer the capture asks for when given none (128 MiB)."""
    from poolsniff.cli.sniff import sniff
    from poolsniff.sources.live import RCVBUF

    (option,) = [p for p in sniff.params if p.name == "buffer_mib"]
    assert option.default == RCVBUF >> 20 == 128
