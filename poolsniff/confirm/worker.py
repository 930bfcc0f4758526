"""Probing under the rules and off the capture loop: allowlist, ledger, a bounded queue (composition).

alerts -> **AlertConfirmer.offer** -> queue -> worker thread: **Confirmer.confirm** -> probe
       <- **AlertConfirmer.ready()** <- confirmed alerts (written by the caller's thread)

:class:`Confirmer` probes one target if the rules allow it: never a name or endpoint the
allowlist covers, and only what the ledger's one-per-endpoint-per-day and per-hour caps allow.
:class:`AlertConfirmer` is what ``scan --confirm`` and ``sniff --confirm`` use: ``offer`` takes
every alert record and queues the targets of probe-worthy ones without blocking (a full queue
drops the target and counts it); a single worker thread probes them one at a time (so never
two connections to one endpoint); the caller collects the confirmed alerts with ``ready`` on
its own thread, so the sink stage is only ever written from one thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final

from poolsniff.confirm.escalate import confirmed, target_of
from poolsniff.confirm.ledger import Ledger
from poolsniff.confirm.probe import DEFAULT_TIMEOUT_S, ProbeResult, Status, probe, resolve
from poolsniff.confirm.target import Target
from poolsniff.errors import OutputError
from poolsniff.intel.lists import Blocklist
from poolsniff.intel.query import Explainer

QUEUE_SIZE: Final = 32
"""Targets waiting at most; more than the hourly cap, so a full queue means a burst to shed."""
MAX_OFFERED: Final = 4096
"""Endpoints remembered as already queued in this run (the ledger remembers across runs)."""

Record = dict[str, Any]
Prober = Callable[[Target, float], ProbeResult]
Log = Callable[[str], None]


class Confirmer:
    """Probes targets within the allowlist and the rate limits."""

    def __init__(
        self,
        lists: Blocklist,
        ledger: Ledger,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        prober: Prober = probe,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Check against ``lists``' allowlist and ``ledger``; probe with ``prober``."""
        self.explainer = Explainer(lists)
        self.ledger = ledger
        self.timeout = timeout
        self.prober = prober
        self.clock = clock

    def _allowed(self, query: str) -> str | None:
        verdict = self.explainer.explain(query)
        if verdict.allowed_by is None:
            return None
        return f"on the allowlist ({verdict.allowed_by.entry}, {verdict.allowed_by.origin}); never probed"

    def confirm(self, target: Target) -> ProbeResult:
        """Probe ``target`` unless a rule says no (then the result is SKIPPED and says why).

        Raises OutputError when the ledger cannot be written (no probe happens then).
        """
        if target.name and (why := self._allowed(target.name)):
            return ProbeResult(target, Status.SKIPPED, why)
        try:
            target = resolve(target)
        except OSError as e:
            return ProbeResult(target, Status.UNREACHABLE, f"cannot resolve {target.host}: {e.strerror or e}")
        if why := self._allowed(target.key):
            return ProbeResult(target, Status.SKIPPED, why)
        with self.ledger.state() as state:
            refusal = state.refusal(target.key, self.clock())
            if refusal is None:
                state.claim(target.key, self.clock())
        if refusal is not None:
            return ProbeResult(target, Status.SKIPPED, refusal)
        result = self.prober(target, self.timeout)
        with self.ledger.state() as state:
            state.record(target.key, result.verdict())
        return result


class AlertConfirmer:
    """Confirms the probe-worthy alerts of a scan or a capture on a worker thread."""

    def __init__(self, confirmer: Confirmer, *, log: Log, queue_size: int = QUEUE_SIZE) -> None:
        """Start the worker; ``log`` gets one line per probe (called on the worker thread)."""
        self.confirmer = confirmer
        self.log = log
        self.todo: queue.Queue[tuple[Record, Target] | None] = queue.Queue(queue_size)
        self.done: queue.Queue[Record] = queue.Queue()
        self.offered: dict[str, None] = {}
        self.dropped = 0
        self.probed = 0
        self.confirmed = 0
        self.failed: OutputError | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._work, name="poolsniff-confirm", daemon=True)
        self.thread.start()

    def offer(self, record: Record) -> None:
        """Queue the target of ``record`` if it is probe-worthy and new to this run; never blocks."""
        target = target_of(record)
        if target is None or target.key in self.offered or self.failed is not None or self.closed:
            return
        if len(self.offered) >= MAX_OFFERED:
            del self.offered[next(iter(self.offered))]
        self.offered[target.key] = None
        try:
            self.todo.put_nowait((record, target))
        except queue.Full:
            self.dropped += 1
            del self.offered[target.key]

    def ready(self) -> list[Record]:
        """The confirmed alerts finished since the last call (never waits)."""
        out = []
        while not self.done.empty():  # only this thread takes from ``done``
            out.append(self.done.get_nowait())
        return out

    def finish(self, wait: float | None = None) -> list[Record]:
        """Stop taking targets and return the confirmed alerts not collected yet.

        With ``wait=None`` every queued probe runs first (a scan); with ``wait`` seconds the queued
        ones are dropped and only the probe under way is waited for, that long at most (a sensor
        that is stopping).
        """
        self.closed = True
        if wait is not None or not self.thread.is_alive():
            while not self.todo.empty():
                try:
                    self.todo.get_nowait()
                except queue.Empty:
                    break
                self.dropped += 1
        if self.thread.is_alive():
            try:  # the worker takes one at a time: there is room soon (or now, if drained)
                self.todo.put(None, timeout=wait)
            except queue.Full:
                pass
            self.thread.join(wait)
        return self.ready()

    def _work(self) -> None:
        while (item := self.todo.get()) is not None:
            record, target = item
            try:
                result = self.confirmer.confirm(target)
            except OutputError as e:
                self.failed = e
                self.log(f"poolsniff: error: {e}; --confirm stops probing")
                return
            self.probed += result.status is not Status.SKIPPED
            self.log(f"poolsniff: confirm: {result.target.shown()}: {result.verdict()}")
            if result.status is Status.MINING:
                stamp = datetime.fromtimestamp(self.confirmer.clock(), timezone.utc)
                self.done.put(confirmed(record, result, stamp.strftime("%Y-%m-%dT%H:%M:%S+0000")))
                self.confirmed += 1
