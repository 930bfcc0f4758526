"""One TCP connection to a collector, for the syslog (TCP) and Redis sinks (sink layer).

enrichment -> to_eve -> [suppress] -> syslog / redis sinks -> delivery -> **Connection** -> a collector

A :class:`Connection` connects (running the sink's ``handshake``, e.g. Redis ``AUTH``/``SELECT``),
sends a request and reads what the sink's ``reply`` reads, each step bounded by ``timeout``. It
raises ``OSError`` (the network) or ``ValueError`` (what the collector said) and never retries:
:mod:`poolsniff.output.transports.delivery` decides when to reconnect, from its own thread.

Syslog over TCP has no reply (RFC 6587), so :meth:`Connection.wait_acknowledged` stands in for
one: it waits until the receiving host's TCP has acknowledged every byte sent (Linux
``SIOCOUTQ`` is 0) on a connection still established. Bytes the receiver's kernel acknowledged
but its program never read (it was killed) are beyond what TCP can tell.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import time
from collections.abc import Callable
from typing import BinaryIO, Final

TIMEOUT_S: Final = 5.0
"""Connect, send and reply timeout."""
TCP_ESTABLISHED: Final = 1
"""``tcpi_state`` of an established connection (linux/tcp_states.h)."""


class Connection:
    """A TCP connection to ``host:port``; ``connect`` again after a failure."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        handshake: Callable[[Connection], None] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        """Describe the connection (``name`` appears in messages); nothing is opened yet."""
        self.name, self.host, self.port = name, host, port
        self.handshake = handshake
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still have been closed by the other side)."""
        return self._sock is not None

    def connect(self) -> None:
        """Connect and run the handshake; OSError or ValueError (closed again) if that fails."""
        self.close()
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._rfile = self._sock.makefile("rb")
            if self.handshake is not None:
                self.handshake(self)
        except BaseException:
            self.close()
            raise

    def request(self, data: bytes, reply: Callable[[BinaryIO], object] | None = None) -> object:
        """Send ``data`` on the open connection and return what ``reply`` reads."""
        if self._sock is None or self._rfile is None:
            raise ConnectionError("not connected")
        self._sock.sendall(data)
        return reply(self._rfile) if reply is not None else None

    def read(self, reply: Callable[[BinaryIO], object]) -> object:
        """Read one reply with ``reply``."""
        if self._rfile is None:
            raise ConnectionError("not connected")
        return reply(self._rfile)

    def established(self) -> bool:
        """Whether the kernel still sees the connection established (no FIN or RST came back)."""
        if self._sock is None:
            return False
        info = self._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0] == TCP_ESTABLISHED

    def wait_acknowledged(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Return once the peer's TCP acknowledged every byte sent; OSError if it closed or timed out."""
        if self._sock is None:
            raise ConnectionError("not connected")
        deadline, pause = time.monotonic() + self.timeout, 0.0005
        while True:
            if not self.established():
                raise ConnectionError("the receiver closed the connection")
            unacked = fcntl.ioctl(self._sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ
            if struct.unpack("i", unacked)[0] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the receiver did not acknowledge what was sent")
            sleep(pause)
            pause = min(pause * 2, 0.05)

    def close(self) -> None:
        """Close the connection (nothing happens if it is not open)."""
        for closable in (self._rfile, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._sock = self._rfile = None


def why(error: BaseException) -> str:
    """An error as the few words a warning shows."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
