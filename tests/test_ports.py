"""The test suite's own port helpers: a closed port stays closed and ours; a taken port is retried."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from .ports import PortTaken, closed_port, listens, started_on_free_port


def test_a_closed_port_refuses_and_nobody_else_can_bind_it() -> None:
    with closed_port() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        with socket.socket() as other, pytest.raises(OSError) as caught:
            other.bind(("127.0.0.1", port))
        assert caught.value.errno == errno.EADDRINUSE


def test_a_program_that_found_its_port_taken_is_started_again_on_another() -> None:
    tried: list[int] = []

    def start(port: int) -> int:
        tried.append(port)
        if len(tried) < 3:
            raise PortTaken("Address already in use")
        return port

    assert started_on_free_port(start) == tried[-1] and len(tried) == 3


def test_it_gives_up_after_the_last_attempt() -> None:
    def start(port: int) -> int:
        raise PortTaken("Address already in use")

    with pytest.raises(PortTaken):
        started_on_free_port(start, attempts=2)


def test_listens_tells_our_listener_from_another_process() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert listens(os.getpid(), port)
        assert not listens(os.getppid(), port)
    with closed_port() as port:
        assert not listens(os.getpid(), port)  # bound, not listening
