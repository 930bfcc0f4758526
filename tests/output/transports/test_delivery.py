"""Delivery through the spool: order, at least once, outages, a full spool, a killed process.

The collectors are small loopback servers answering each line with ``+OK`` (test_connection's
``ok_server``), on ports the kernel picks. Nothing here depends on timing: conditions are polled
with generous deadlines.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.connection import Connection
from poolsniff.output.transports.delivery import Delivery, read_replies, tcp_acknowledged
from poolsniff.output.transports.spool import Spool

from ...ports import closed_port
from .test_connection import ok, ok_server


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Contexts that last the whole test (a closed_port the test's server later listens on)."""
    with ExitStack() as contexts:
        yield contexts


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.01)


def lines(n: int, start: int = 0) -> list[bytes]:
    return [b"alert %d\n" % i for i in range(start, start + n)]


def delivery(port: int, directory: Path, warnings: list[str] | None = None, **kwargs: object) -> Delivery:
    conn = Connection("test", "127.0.0.1", port)
    warn = warnings.append if warnings is not None else None
    spool = Spool(directory, warn=warn, **kwargs)  # type: ignore[arg-type]
    out = Delivery(
        conn, spool, read_replies(ok), warn=warn,
        retry_min_s=0.05, retry_max_s=0.2,
    )  # fmt: skip
    out.start()
    return out


def test_everything_arrives_in_order(tmp_path: Path) -> None:
    with ok_server() as (port, got):
        out = delivery(port, tmp_path / "spool")
        for line in lines(1000):
            out.put(line)
        out.close()
    assert got == lines(1000) and out.delivered == 1000 and out.dropped == 0


def test_an_outage_delays_and_loses_nothing_and_order_is_kept(tmp_path: Path, stack: ExitStack) -> None:
    warnings: list[str] = []
    port = stack.enter_context(closed_port())
    out = delivery(port, tmp_path / "spool", warnings)  # nobody listens yet
    for line in lines(30):
        out.put(line)
    wait_for(lambda: bool(warnings), "warning")
    assert "Connection refused; alerts wait in the spool" in warnings[0] and out.pending == 30
    with ok_server(port) as (_, got):
        wait_for(lambda: out.delivered == 30, "delivery after the server came")
        for line in lines(20, 30):
            out.put(line)
        wait_for(lambda: out.delivered == 50, "the live alerts")
    for line in lines(10, 50):  # the server is gone again
        out.put(line)
    with ok_server(port) as (_, got_again):
        wait_for(lambda: out.delivered == 60, "delivery after the second outage")
        out.close()
    assert got + got_again == lines(60)
    assert warnings[1] == "poolsniff: test: reconnected; delivering 30 spooled alerts"


def test_put_never_waits_on_the_network(tmp_path: Path) -> None:
    """A collector that accepts but does not answer: every put returns while the sender waits."""
    release = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as f:
            release.wait(120)
            for line in f:
                got.append(line)
                conn.sendall(b"+OK\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conn = Connection("test", "127.0.0.1", listener.getsockname()[1], timeout=120)
    out = Delivery(conn, Spool(tmp_path / "spool"), read_replies(ok))
    out.start()
    for line in lines(500):
        out.put(line)
    assert not release.is_set() and out.delivered == 0  # all 500 were taken with no reply yet
    release.set()
    wait_for(lambda: out.delivered == 500, "delivery once the server answers")
    out.close()
    listener.close()
    assert got == lines(500)


def test_a_full_spool_drops_the_oldest_counts_and_warns(tmp_path: Path, stack: ExitStack) -> None:
    warnings: list[str] = []
    port = stack.enter_context(closed_port())
    out = delivery(port, tmp_path / "spool", warnings, limit=64 * 1024)
    sent = [b"alert %06d %s\n" % (i, b"x" * 200) for i in range(2000)]  # ~420 KB into 64 KiB
    for line in sent:
        out.put(line)
    assert out.dropped > 0 and any("is full" in w for w in warnings)
    with ok_server(port) as (_, got):
        wait_for(lambda: out.pending == 0, "the spool to drain")
        out.close()
    assert len(got) + out.dropped == len(sent)
    assert got == sent[out.dropped :]  # the newest, in order


def test_a_killed_process_leaves_a_spool_the_next_one_delivers(tmp_path: Path, stack: ExitStack) -> None:
    directory, port = tmp_path / "spool", stack.enter_context(closed_port())
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from poolsniff.output.transports.connection import Connection\n"
        "from poolsniff.output.transports.delivery import Delivery, tcp_acknowledged\n"
        "from poolsniff.output.transports.spool import Spool\n"
        f"conn, spool = Connection('t', '127.0.0.1', {port}), Spool(Path({str(directory)!r}))\n"
        "out = Delivery(conn, spool, tcp_acknowledged)\n"
        "out.start()\n"
        "for i in range(100):\n"
        "    out.put(b'alert %d\\n' % i)\n"
        "os._exit(9)  # as SIGKILL would: no close, no flush to disk\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    with ok_server(port) as (_, got):
        out = delivery(port, directory)
        wait_for(lambda: out.delivered == 100, "the dead process's alerts")
        out.close()
    assert got == lines(100)


def test_syslog_style_confirmation_by_tcp_acknowledgement(tmp_path: Path) -> None:
    received = bytearray()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    conn = Connection("test", "127.0.0.1", listener.getsockname()[1])
    out = Delivery(conn, Spool(tmp_path / "spool"), tcp_acknowledged)
    out.start()
    for line in lines(300):
        out.put(line)
    wait_for(lambda: out.delivered == 300, "acknowledged delivery")
    out.close()
    thread.join(60)
    listener.close()
    assert bytes(received) == b"".join(lines(300))


def test_retries_back_off_up_to_the_maximum(tmp_path: Path, stack: ExitStack) -> None:
    now = [100.0]
    conn = Connection("test", "127.0.0.1", stack.enter_context(closed_port()))
    out = Delivery(
        conn,
        Spool(tmp_path / "spool"),
        tcp_acknowledged,
        retry_min_s=0.5,
        retry_max_s=5,
        clock=lambda: now[0],
    )
    waits = []
    for _ in range(7):
        out._failed(ConnectionRefusedError())
        waits.append(out._next_try - now[0])
    assert waits == [0.5, 1, 2, 4, 5, 5, 5]
    out._back()
    out._failed(ConnectionRefusedError())
    assert out._next_try - now[0] == 0.5
    out.spool.close()


def test_what_the_collector_refuses_at_start_is_an_output_error(tmp_path: Path) -> None:
    def handshake(c: Connection) -> None:
        raise ValueError("WRONGPASS invalid password")

    with ok_server() as (port, _):
        spool = Spool(tmp_path / "spool")
        out = Delivery(Connection("test", "127.0.0.1", port, handshake=handshake), spool, read_replies(ok))
        with pytest.raises(OutputError, match="test: cannot connect: WRONGPASS"):
            out.start()
        spool.close()


def test_put_after_close_is_an_error(tmp_path: Path, stack: ExitStack) -> None:
    out = delivery(stack.enter_context(closed_port()), tmp_path / "spool")
    out.close()
    with pytest.raises(OutputError, match="after close"):
        out.put(b"late\n")
    assert out.pending == 0
