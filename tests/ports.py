"""Loopback ports for tests, free of races with other programs on the same machine.

A port that the kernel reported free and that the test then closed can be taken by anyone before the
test uses it: another suite's server, or the source port of any outgoing connection. So:

- ``closed_port()`` keeps the port bound, never listening, for as long as the test needs it: a
  connection to it is refused, and no other program can bind it or use it as a source port. The
  socket has SO_REUSEPORT, so the test's own server (``ok_server``) can listen on it later.
- ``started_on_free_port()`` is for real programs (sshd, mosquitto, dnsmasq) that bind the port
  themselves: a program that exits because the port was taken is started again on a new one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

ATTEMPTS = 5


def free_port() -> int:
    """A loopback port free at this moment; only for a program in its own network namespace, or one
    started through ``started_on_free_port``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections and that nobody else can take, while the block runs."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class PortTaken(Exception):
    """The program could not bind the port it was given (raised by a ``start`` function)."""


def started_on_free_port(start: Callable[[int], T], attempts: int = ATTEMPTS) -> T:
    """``start(port)`` on a free port, again on a new port each time it raises ``PortTaken``."""
    for _ in range(attempts - 1):
        try:
            return start(free_port())
        except PortTaken:  # noqa: PERF203 (a few attempts, at start)
            continue
    return start(free_port())


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a TCP socket listening on ``port`` (Linux /proc).

    A connection that succeeds proves only that *someone* listens: another program may have taken
    the port that the test's server then failed to bind.
    """
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:  # noqa: PERF203 (an fd closed while we looked)
            continue
    return False
