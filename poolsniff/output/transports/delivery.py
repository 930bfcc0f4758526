"""Deliver a forwarding sink's requests in order and at least once, through its spool (sink layer).

enrichment -> to_eve -> [suppress] -> syslog (TCP) / redis sinks -> **Delivery** -> spool -> Connection

Every request a sink makes (a Redis ``XADD``, a framed syslog message) is appended to the sink's
:class:`~poolsniff.output.transports.spool.Spool` first (one ``write``, no ``fsync``), and a
sender thread delivers the spool oldest first: it reads a batch, sends it, waits for the
collector's confirmation (Redis replies; for syslog over TCP, the receiving host's TCP
acknowledgement) and only then acknowledges the batch in the spool. So:

* the capture never waits on the network: ``put`` is a local append, and connecting, sending
  and waiting (each bounded by the connection's timeout) happen in the sender thread;
* while the collector is away the spool grows, up to its size; then the oldest records are
  dropped, counted (``dropped``) and warned about;
* after a reconnect, or in the next run on the same sink (the spool is on disk), the spool is
  delivered in order, then the new alerts behind it;
* a batch whose confirmation was lost is sent again: delivery is at least once, and consumers
  de-duplicate on the EVE record's id (``alert.metadata.event_id``).

Reconnection is rate-limited: after a failure the sender waits ``retry_min_s``, doubling up to
``retry_max_s``. One warning says the collector is away and one that it is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import BinaryIO, Final

from poolsniff.errors import OutputError
from poolsniff.output.transports.connection import Connection, why
from poolsniff.output.transports.spool import Spool

RETRY_MIN_S: Final = 0.5
RETRY_MAX_S: Final = 5.0
"""Reconnection attempts: first after ``RETRY_MIN_S``, doubling up to ``RETRY_MAX_S`` between two."""
BATCH: Final = 128
"""Records sent before waiting for their confirmation."""
BATCH_BYTES: Final = 1 << 20
CLOSE_S: Final = 10.0
"""How long ``close`` lets the sender deliver what is spooled before leaving it for the next run."""

Warn = Callable[[str], None]
Confirm = Callable[[Connection, int], None]
"""Wait for the collector to confirm the ``n`` requests just sent; raise OSError or ValueError if not."""


def read_replies(reply: Callable[[BinaryIO], object]) -> Confirm:
    """A confirmation that reads one ``reply`` per request (Redis)."""

    def confirm(conn: Connection, n: int) -> None:
        for _ in range(n):
            conn.read(reply)

    return confirm


def tcp_acknowledged(conn: Connection, n: int) -> None:
    """A confirmation by the receiver's TCP acknowledgement of every byte (syslog over TCP)."""
    conn.wait_acknowledged()


class Delivery:
    """Appends requests to ``spool`` and delivers them through ``conn`` from a thread of its own."""

    def __init__(
        self, conn: Connection, spool: Spool, confirm: Confirm, *, warn: Warn | None = None,
        retry_min_s: float = RETRY_MIN_S, retry_max_s: float = RETRY_MAX_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """Prepare the delivery; nothing is connected until ``start``."""
        self.conn, self.spool, self.confirm = conn, spool, confirm
        self.name = conn.name
        self.warn = warn or (lambda _message: None)
        self.retry_min_s, self.retry_max_s, self.clock = retry_min_s, retry_max_s, clock
        self.delivered = 0
        self._cond = threading.Condition()
        self._stopping = self._closed = False
        self._away = False
        self._retry, self._next_try = retry_min_s, 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect once now, then start the sender.

        What the collector answers (a wrong password, a key of the wrong type) is an OutputError
        now; a collector that cannot be reached only warns: alerts wait in the spool for it.
        """
        try:
            self.conn.connect()
        except ValueError as e:
            raise OutputError(f"{self.name}: cannot connect: {why(e)}") from e
        except OSError as e:
            self._failed(e)
        self._thread = threading.Thread(target=self._run, name=f"poolsniff {self.name}", daemon=True)
        self._thread.start()

    def put(self, request: bytes) -> None:
        """Queue ``request`` behind everything spooled before it."""
        with self._cond:
            if self._closed:
                raise OutputError(f"{self.name}: written to after close")
            self.spool.append(request)
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Requests spooled and not yet confirmed."""
        with self._cond:
            return len(self.spool) if not self._closed else 0

    @property
    def dropped(self) -> int:
        """Requests dropped, oldest first, because the spool was full."""
        return self.spool.dropped

    def close(self, timeout: float = CLOSE_S) -> None:
        """Let the sender deliver what it can within ``timeout``, then stop; the rest stays spooled."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            self._closed = True
            self.conn.close()
            left = len(self.spool)
            self.spool.close()
        if left:
            self.warn(
                f"poolsniff: {self.name}: {left} alerts stay in the spool {self.spool.directory}; "
                "the next run on this sink delivers them"
            )

    # -- the sender thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._next()
            if not batch:
                return
            if not self._deliver(batch):
                continue
            with self._cond:
                if self._closed:
                    return
                self.spool.ack()
                self.delivered += len(batch)

    def _next(self) -> list[bytes]:
        """Wait (holding the lock) until there is something to send and it is time to; [] to end."""
        while not self._closed:
            batch = self.spool.peek_batch(BATCH, BATCH_BYTES)
            wait = 0.0 if self.conn.connected else self._next_try - self.clock()
            if batch and wait <= 0:
                return batch
            if self._stopping:
                return []
            self._cond.wait(wait if batch else None)
        return []

    def _deliver(self, batch: list[bytes]) -> bool:
        try:
            if not self.conn.connected:
                self.conn.connect()
                self._back()
            self.conn.request(b"".join(batch))
            self.confirm(self.conn, len(batch))
        except (OSError, ValueError) as e:
            self.conn.close()
            self._failed(e)
            return False
        return True

    def _failed(self, error: BaseException) -> None:
        self._next_try = self.clock() + self._retry
        self._retry = min(self._retry * 2, self.retry_max_s)
        if not self._away:
            self._away = True
            self.warn(
                f"poolsniff: warning: {self.name}: {why(error)}; alerts wait in the spool "
                f"{self.spool.directory} until it is back (retrying every {self.retry_max_s:g} s at most; "
                "the EVE output is not affected)"
            )

    def _back(self) -> None:
        self._retry = self.retry_min_s
        if self._away:
            self._away = False
            with self._cond:
                waiting = len(self.spool)
            self.warn(f"poolsniff: {self.name}: reconnected; delivering {waiting} spooled alerts")
