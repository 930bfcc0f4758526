"""The reconnecting connection: errors at open, dropped alerts during an outage, recovery."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.connection import Connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ok_server(port: int = 0) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server answering every line with ``+OK``; yields its port and the lines it got."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    got: list[bytes] = []
    open_conns: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            open_conns.append(conn)
            with conn, conn.makefile("rb") as lines:
                try:
                    for line in lines:
                        got.append(line)
                        conn.sendall(b"+OK\r\n")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], got
    finally:
        for conn in [listener, *open_conns]:
            _shut(conn)
        listener.close()
        thread.join(5)
        assert not thread.is_alive()


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


def ok(stream: BinaryIO) -> bytes:
    line = stream.readline()
    if line != b"+OK\r\n":
        raise ConnectionError("no reply")
    return line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_refused_at_open_is_output_error() -> None:
    conn = Connection("test", "127.0.0.1", free_port())
    with pytest.raises(OutputError, match="test: cannot connect: Connection refused"):
        conn.open()


def test_handshake_failure_at_open_is_output_error() -> None:
    def handshake(c: Connection) -> None:
        raise ValueError("WRONGPASS invalid password")

    with ok_server() as (port, _):
        conn = Connection("test", "127.0.0.1", port, handshake=handshake)
        with pytest.raises(OutputError, match="test: cannot connect: WRONGPASS invalid password"):
            conn.open()


def test_outage_drops_and_warns_once_then_recovers() -> None:
    warnings: list[str] = []
    clock = Clock()
    handshakes: list[int] = []
    with ok_server() as (port, got):
        conn = Connection("test", "127.0.0.1", port, warn=warnings.append, retry_s=5, clock=clock,
                          handshake=lambda c: handshakes.append(1))  # fmt: skip
        conn.open()
        assert conn.send(b"one\n", ok)
    # the server is gone
    assert not conn.send(b"two\n", ok)
    assert not conn.send(b"three\n", ok)
    assert (conn.sent, conn.dropped) == (1, 2)
    assert len(warnings) == 1 and "not forwarded until it is back" in warnings[0]
    clock.now += 6
    assert not conn.send(b"four\n", ok)  # still down: no second warning
    assert len(warnings) == 1
    with ok_server(port) as (_, got_again):
        assert not conn.send(b"five\n", ok)  # not retried before retry_s has passed
        clock.now += 6
        assert conn.send(b"six\n", ok)
    assert got == [b"one\n"] and got_again == [b"six\n"]
    assert len(handshakes) == 2  # the handshake runs again on reconnecting
    assert warnings[1] == "poolsniff: test: reconnected; 4 alerts were not forwarded meanwhile"
    assert (conn.sent, conn.dropped) == (2, 4)
    conn.close()


def test_request_without_connection_is_an_error() -> None:
    with pytest.raises(ConnectionError):
        Connection("test", "127.0.0.1", 1).request(b"x")
