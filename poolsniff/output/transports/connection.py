"""A TCP connection that comes back after an outage, for the syslog (TCP) and Redis sinks (sink layer).

enrichment -> to_eve -> [suppress] -> **syslog / redis sinks -> Connection** -> a collector

Forwarding to a collector is best effort; the EVE file stays the record. So the first
connection is checked when the sink opens (a wrong host or port is an ``OutputError`` at
start, exit status 4), but a collector that goes away later does not stop the sensor: the
alert is dropped and counted, one warning says so, and the next alert after ``retry_s``
seconds reconnects (running the sink's ``handshake`` again, e.g. Redis ``AUTH``/``SELECT``);
a second warning says how many alerts were lost.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import BinaryIO, Final

from poolsniff.errors import OutputError

TIMEOUT_S: Final = 5.0
"""Connect and send timeout."""
RETRY_S: Final = 5.0
"""Seconds between two reconnection attempts while the collector is away."""

Warn = Callable[[str], None]


class Connection:
    """A TCP connection to ``host:port`` that reconnects; ``send`` never raises after ``open``."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        handshake: Callable[[Connection], None] | None = None,
        warn: Warn | None = None,
        timeout: float = TIMEOUT_S,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Describe the connection (``name`` appears in messages); nothing is opened yet."""
        self.name, self.host, self.port = name, host, port
        self.handshake = handshake
        self.warn = warn or (lambda _message: None)
        self.timeout, self.retry_s, self.clock = timeout, retry_s, clock
        self.sent = 0
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self._down_since_drops: int | None = None
        self._next_try = 0.0

    def open(self) -> None:
        """Connect (and run the handshake) now; OutputError if that fails."""
        try:
            self._connect()
        except (OSError, ValueError) as e:
            self._close_socket()
            raise OutputError(f"{self.name}: cannot connect: {_why(e)}") from e

    def send(self, data: bytes, reply: Callable[[BinaryIO], object] | None = None) -> bool:
        """Send ``data`` (and read the reply with ``reply``); False when the alert was dropped."""
        if self._sock is None and not self._reconnect():
            self.dropped += 1
            return False
        try:
            self.request(data, reply)
        except (OSError, ValueError) as e:
            self._lost(e)
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def request(self, data: bytes, reply: Callable[[BinaryIO], object] | None = None) -> object:
        """Send ``data`` on the open connection and return what ``reply`` reads (for handshakes)."""
        if self._sock is None or self._rfile is None:
            raise ConnectionError("not connected")
        self._sock.sendall(data)
        return reply(self._rfile) if reply is not None else None

    def close(self) -> None:
        """Close the connection."""
        self._close_socket()

    def _connect(self) -> None:
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._rfile = self._sock.makefile("rb")
        if self.handshake is not None:
            self.handshake(self)

    def _reconnect(self) -> bool:
        now = self.clock()
        if now < self._next_try:
            return False
        try:
            self._connect()
        except (OSError, ValueError) as e:
            self._close_socket()
            self._next_try = now + self.retry_s
            if self._down_since_drops is None:
                self._lost(e)
            return False
        if self._down_since_drops is not None:
            lost = self.dropped - self._down_since_drops
            self.warn(f"poolsniff: {self.name}: reconnected; {lost} alerts were not forwarded meanwhile")
            self._down_since_drops = None
        return True

    def _lost(self, error: BaseException) -> None:
        self._close_socket()
        self._next_try = self.clock() + self.retry_s
        if self._down_since_drops is None:
            self._down_since_drops = self.dropped
            self.warn(
                f"poolsniff: warning: {self.name}: {_why(error)}; alerts are not forwarded until it is "
                f"back (retrying every {self.retry_s:g} s; the EVE output is not affected)"
            )

    def _close_socket(self) -> None:
        for closable in (self._rfile, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._sock = self._rfile = None


def _why(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
