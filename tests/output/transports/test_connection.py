"""The connection to a collector: connect and handshake, requests and replies, TCP acknowledgement."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pytest

from poolsniff.output.transports.connection import Connection, why

from ...ports import closed_port


@contextmanager
def ok_server(port: int = 0) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback server answering every line with ``+OK``; yields its port and the lines it got."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # to listen on a closed_port()
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


def test_refused_is_an_os_error_and_leaves_it_closed() -> None:
    with closed_port() as port, pytest.raises(ConnectionRefusedError) as caught:
        conn = Connection("test", "127.0.0.1", port)
        conn.connect()
    assert not conn.connected and why(caught.value) == "Connection refused"


def test_handshake_failure_closes_again() -> None:
    def handshake(c: Connection) -> None:
        raise ValueError("WRONGPASS invalid password")

    with ok_server() as (port, _):
        conn = Connection("test", "127.0.0.1", port, handshake=handshake)
        with pytest.raises(ValueError, match="WRONGPASS"):
            conn.connect()
        assert not conn.connected


def test_requests_and_replies_and_the_handshake_on_each_connect() -> None:
    handshakes: list[int] = []
    with ok_server() as (port, got):
        conn = Connection("test", "127.0.0.1", port, handshake=lambda c: handshakes.append(1))
        conn.connect()
        assert conn.request(b"one\n", ok) == b"+OK\r\n"
        conn.request(b"two\nthree\n")
        assert [conn.read(ok), conn.read(ok)] == [b"+OK\r\n"] * 2
        conn.connect()  # again: the old connection is closed first
        conn.request(b"four\n", ok)
        conn.close()
    assert got == [b"one\n", b"two\n", b"three\n", b"four\n"] and len(handshakes) == 2


def test_acknowledged_once_the_peer_tcp_has_everything() -> None:
    with ok_server() as (port, _):
        conn = Connection("test", "127.0.0.1", port)
        conn.connect()
        conn.request(b"x" * 100_000 + b"\n")
        conn.wait_acknowledged()
        assert conn.established()
        conn.close()


def test_a_peer_that_closed_is_not_an_acknowledgement() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    conn = Connection("test", "127.0.0.1", listener.getsockname()[1], timeout=5)
    conn.connect()
    accepted, _ = listener.accept()
    accepted.close()  # FIN: nothing sent after it can be taken as delivered
    listener.close()
    with pytest.raises(ConnectionError, match="closed"):
        for _ in range(10_000):  # until the kernel has seen the FIN
            conn.wait_acknowledged(sleep=lambda _s: None)
    conn.close()


def test_request_without_connection_is_an_error() -> None:
    conn = Connection("test", "127.0.0.1", 1)
    for call in (lambda: conn.request(b"x"), lambda: conn.read(ok), conn.wait_acknowledged):
        with pytest.raises(ConnectionError):
            call()
    assert not conn.established()
