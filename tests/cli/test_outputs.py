"""Never clobber what a command is told to write: every writing command x every kind of target.

scan -o (appends), report -o, blocklist export -o, --metrics and blocklist update (its lists in the
data directory) each write to a regular file, a symbolic link, a FIFO (read by a thread), a
character device made with mknod (the null device, 1,3) and a full device (1,7). A regular
file gets the data; a link stays a link and its target gets it; a FIFO's reader gets it; a
device stays a device; a full device is one error line and exit status 4.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import PCAPS
from ..listserver import ListServer, Route, running, without_proxies
from ..test_files import FifoReader, device, fifo  # noqa: F401 - the fixture
from .conftest import MINER, run
from .test_blocklist import MALTRAIL, sources

KINDS = ["regular", "symlink", "fifo", "null-device", "full-device"]
EXPECTED = PCAPS / "stratum-v1-cgminer.pcap.expected.jsonl"


@dataclass(frozen=True)
class Writer:
    """A command that writes to ``{target}``, its status when it succeeds, a text its output holds."""

    args: tuple[str, ...]
    status: int
    marker: bytes
    appends: bool = False


WRITERS = {
    "scan -o": Writer(("scan", "-q", "-o", "{target}", str(MINER)), 1, b'"event_type":"alert"', appends=True),
    "report -o": Writer(("report", "-q", "-o", "{target}", str(EXPECTED)), 0, b"HOST"),
    "blocklist export -o": Writer(
        ("blocklist", "export", "--format", "hosts", "-o", "{target}"), 0, b"0.0.0.0 "
    ),
    "scan --metrics": Writer(
        ("scan", "-q", "--metrics", "{target}", str(PCAPS / "benign-mix.pcapng")), 0,
        b"poolsniff_packets_total",
    ),
    "blocklist update": Writer(
        ("blocklist", "update", "--allow-http", "--sources", "{sources}", "--data-dir", "{data}"),
        0, b"fresh-pool-one.example-mining.net",
    ),
}  # fmt: skip


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ListServer]:
    without_proxies(monkeypatch)
    with running() as srv:
        srv.routes["/m.txt"] = Route(MALTRAIL)
        yield srv


def make_target(
    kind: str, where: Path, elsewhere: Path, make_fifo: Callable[[Path], FifoReader]
) -> tuple[Path, FifoReader | None]:
    """Put a ``kind`` at ``where``; return the path the data should reach (a link's target)."""
    if kind in ("null-device", "full-device") and os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    where.parent.mkdir(parents=True, exist_ok=True)
    if kind == "regular":
        where.write_bytes(b"earlier\n")
    elif kind == "symlink":
        elsewhere.write_bytes(b"earlier\n")
        where.symlink_to(elsewhere)
        return elsewhere, None
    elif kind == "fifo":
        return where, make_fifo(where)
    else:
        device(where.parent, where.name, 3 if kind == "null-device" else 7)
    return where, None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(WRITERS))
def test_a_write_never_clobbers_its_target(
    tmp_path: Path,
    name: str,
    kind: str,
    fifo: Callable[[Path], FifoReader],  # noqa: F811 - the fixture
    server: ListServer,
) -> None:
    writer = WRITERS[name]
    data = tmp_path / "data"
    where = data / "lists" / "pool.txt" if name == "blocklist update" else tmp_path / "out" / "target"
    reaches, reader = make_target(kind, where, tmp_path / "elsewhere", fifo)
    subs = {
        "{target}": str(where),
        "{data}": str(data),
        "{sources}": str(sources(tmp_path, server, "/m.txt")),
    }
    proc = run(*(subs.get(a, a) for a in writer.args), home=tmp_path)
    mode = where.lstat().st_mode
    if kind == "full-device":
        lines = proc.stderr.splitlines()
        assert proc.returncode == 4 and len(lines) == 1, proc.stderr
        assert lines[0].startswith(f"poolsniff: error: {where}") and "No space left on device" in lines[0]
        assert stat.S_ISCHR(mode)
        return
    assert proc.returncode == writer.status, proc.stderr
    if kind == "null-device":
        assert stat.S_ISCHR(mode) and os.major(where.lstat().st_rdev) == 1
        return
    written = reader.join() if reader is not None else reaches.read_bytes()
    assert writer.marker in written
    if kind == "regular":
        assert stat.S_ISREG(mode)
    if kind in ("regular", "symlink"):
        assert written.startswith(b"earlier\n") == writer.appends
    if kind == "symlink":
        assert stat.S_ISLNK(mode) and os.readlink(where) == str(reaches)
    if kind == "fifo":
        assert stat.S_ISFIFO(mode)
