"""One capture worker of ``sniff --jobs N`` (composition layer, in a forked process).

source (its fanout socket and its DNS socket, per interface) -> decode -> flows/dissectors ->
detectors -> enrichment -> EVE records => the parent (``run.fanout``), which owns the sinks

A worker runs one ``Pipeline`` per interface on its share of the flows (the kernel's fanout hash)
and on every DNS message (``engine.dnsshare``: it alerts on those it owns, learns from the others).
Frames of the two sockets are processed in kernel-timestamp order: the DNS socket is read after
the flow socket, and a DNS frame later than the last flow frame read waits for the next read of the
flow socket (or ``PENDING_WAIT_S`` when that socket is idle), so an answer is learnt before a later
connection and never before an earlier one.

It sends the parent ``Report`` messages (records made here, the pipelines' counts) over a pipe,
batched; it ignores the terminal's and the service manager's signals and stops when the parent
writes ``STOP`` (it drains what is queued, releases what is held, sends its last report) or
closes the control pipe (the parent is gone: it exits at once).
"""

from __future__ import annotations

import heapq
import os
import pickle
import select
import signal
import struct
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, Protocol

from poolsniff.engine.dnsshare import DnsShare
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.tracker import CHECK_EVERY_US
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, Detection, Frame, Released
from poolsniff.output.eve import to_eve
from poolsniff.sources.fanout import WorkerSockets

BATCH: Final = 256
"""Frames read from a flow socket at a time."""
PENDING_WAIT_S: Final = 0.02
"""How long a DNS frame later than every flow frame read waits while the flow socket is idle."""
REPORT_S: Final = 0.25
"""Counts go to the parent at least this often while they change (records go at once)."""
TICK_S: Final = CHECK_EVERY_US / 1_000_000
STOP_DRAIN_S: Final = 2.0
STOP: Final = b"s"
"""What the parent writes on the control pipe to stop a worker."""
_LEN: Final = struct.Struct("!I")


class Report(NamedTuple):
    """One message from a worker to the parent."""

    records: list[tuple[dict[str, Any], bool]]
    """EVE records in the order they were made, each with whether it is a detection (for ``--confirm``)."""
    counts: list[tuple[int, int, int, int]]
    """Per interface: frames captured, flows, alerts, DNS frames only learnt from."""
    done: bool = False
    """The worker has finished (its last report)."""
    count_reached: bool = False
    """``--count`` frames have been captured, all workers together."""


class Budget(Protocol):
    """Frames left for ``--count``, shared by the workers."""

    def take(self) -> bool:
        """Use one frame of the budget; False once it is spent."""


@dataclass
class _Interface:
    """One interface as one worker sees it."""

    name: str
    sockets: WorkerSockets
    pipeline: Pipeline
    share: DnsShare
    pending: list[Frame] = field(default_factory=list)
    """DNS frames read but not yet processed (later than the last flow frame read), in time order."""


def run_worker(
    index: int,
    jobs: int,
    interfaces: list[tuple[str, WorkerSockets]],
    blocklist: Blocklist,
    redact: bool,
    fold_pool: bool,
    control: int,
    reports: int,
    budget: Budget | None = None,
) -> None:
    """The worker's life, in the forked process: capture until told to stop (the caller exits)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    ifaces = []
    for name, sockets in interfaces:
        pipeline = Pipeline(blocklist, redact=redact, fold_pool=fold_pool)
        ifaces.append(_Interface(name, sockets, pipeline, DnsShare(pipeline, index, jobs)))
    _Worker(ifaces, control, reports, budget).run()


class _Worker:
    """The worker's loop."""

    def __init__(self, ifaces: list[_Interface], control: int, reports: int, budget: Budget | None) -> None:
        self.ifaces = ifaces
        self.control = control
        self.reports = reports
        self.budget = budget
        self.outbox: list[tuple[dict[str, Any], bool]] = []
        self.count_reached = False
        self.sent: list[tuple[int, int, int, int]] = []
        now = time.monotonic()
        self.next_tick = now + TICK_S
        self.next_report = now + REPORT_S

    def run(self) -> None:
        """Poll and process until ``STOP``; then drain, finish and send the last report."""
        poller = select.poll()
        by_fd: dict[int, _Interface] = {}
        for iface in self.ifaces:
            for sock in (iface.sockets.flows, iface.sockets.dns):
                by_fd[sock.fileno()] = iface
                poller.register(sock.fileno(), select.POLLIN)
        poller.register(self.control, select.POLLIN)
        stopping = False
        while not stopping:
            waiting = any(i.pending for i in self.ifaces)
            timeout = min(self.next_tick - time.monotonic(), PENDING_WAIT_S if waiting else TICK_S)
            ready = poller.poll(max(0, int(timeout * 1000) + 1))
            if not ready and waiting:
                for iface in self.ifaces:
                    if iface.pending:
                        self._read(iface)
            for fd, _ in ready:
                if fd == self.control:
                    got = os.read(self.control, 64)
                    if not got:  # the parent is gone: nobody would read what is left
                        os._exit(0)
                    stopping = STOP in got
                elif not self.count_reached:
                    self._read(by_fd[fd])
            if self.count_reached and by_fd:  # nothing more is read: do not wake for it
                for fd in by_fd:
                    poller.unregister(fd)
                by_fd = {}
            self._housekeeping()
        self._stop()

    def _read(self, iface: _Interface) -> int:
        """Read one batch of the flow socket and all of the DNS socket; process what is due."""
        flows = iface.sockets.flows.read(BATCH)
        dns: list[Frame] = []
        while True:  # all of it: a DNS frame left queued would be processed after later flow frames
            got = iface.sockets.dns.read(BATCH)
            dns += got
            if len(got) < BATCH:
                break
        last = flows[-1][0] if flows else -1
        # DNS read before this flow read: due unless the flow socket may hold earlier frames still
        older = last if len(flows) == BATCH else None
        due, waiting = split_pending(iface.pending, older)
        due = due + [f for f in dns if f[0] <= last]  # a new list: due may be iface.pending itself
        iface.pending = add_pending(waiting, [f for f in dns if f[0] > last])
        if due or flows:
            self._process(iface, flows, sorted(due, key=_ts))
        return len(flows) + len(dns)

    def _process(self, iface: _Interface, flows: list[Frame], dns: list[Frame]) -> None:
        """Feed the frames in timestamp order (flow frames first at equal times)."""
        feed, share, budget = iface.pipeline.feed_live, iface.share, self.budget
        if not dns and budget is None:  # most batches: no DNS to merge in
            for frame in flows:
                released = feed(frame)
                if released:
                    self._emit(iface.name, released)
            return
        merged = heapq.merge(((f, False) for f in flows), ((f, True) for f in dns), key=_first_ts)
        for frame, is_dns in merged:
            if budget is not None and (not is_dns or share.owned(frame)) and not budget.take():
                self.count_reached = True
                break
            released = share.feed(frame) if is_dns else feed(frame)
            if released:
                self._emit(iface.name, released)

    def _emit(self, name: str, released: list[Released]) -> None:
        for det in released:
            self.outbox.append((to_eve(Alert(det, name, live=True)), isinstance(det, Detection)))

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self.next_tick:
            self.next_tick = now + TICK_S
            now_us = time.time_ns() // 1000
            for iface in self.ifaces:
                released: list[Released] = []
                iface.pipeline.tick(now_us, released)
                self._emit(iface.name, released)
        if self.outbox or self.count_reached or now >= self.next_report:
            self.next_report = now + REPORT_S
            self._send()

    def _counts(self) -> list[tuple[int, int, int, int]]:
        out = []
        for i in self.ifaces:
            stats = i.pipeline.stats
            out.append((stats.packets, i.pipeline.flows.counters["flows"], stats.alerts, i.share.learnt))
        return out

    def _send(self, done: bool = False) -> None:
        """Send the records made so far and the counts (if anything changed)."""
        counts = self._counts()
        if not (self.outbox or done or self.count_reached) and counts == self.sent:
            return
        self.sent = counts
        data = pickle.dumps(Report(self.outbox, counts, done, self.count_reached), pickle.HIGHEST_PROTOCOL)
        self.outbox = []
        try:
            _write_all(self.reports, _LEN.pack(len(data)) + data)
        except BrokenPipeError:  # the parent is gone
            os._exit(0)

    def _stop(self) -> None:
        """Read what the kernel has queued (at most ``STOP_DRAIN_S``), release everything, report."""
        until = time.monotonic() + STOP_DRAIN_S
        for iface in self.ifaces:
            while not self.count_reached and self._read(iface) and time.monotonic() < until:
                pass
            if iface.pending and not self.count_reached:
                self._process(iface, [], iface.pending)
            iface.pending = []
            released = iface.pipeline.finish()
            self._emit(iface.name, released)
        self._send(done=True)


def split_pending(pending: list[Frame], older: int | None) -> tuple[list[Frame], list[Frame]]:
    """The waiting DNS frames now due (all when ``older`` is None, else those no later than it) and
    the rest, from ``pending`` in time order (``add_pending`` keeps it so).

    A bisection, not a pass over every frame: when the flow socket is behind, the DNS socket (read
    whole each time) runs seconds ahead of it, and ``pending`` holds thousands of frames at every read
    (two passes over it took 4.7 % of a worker's time in the live replay of the real mix)."""
    if older is None:
        return pending, []
    cut = bisect_right(pending, older, key=_ts)
    return pending[:cut], pending[cut:]


def add_pending(pending: list[Frame], newer: list[Frame]) -> list[Frame]:
    """``pending`` with ``newer`` after it, in time order; frames of the same time stay in the order
    they came (so the due frames, sorted, come out exactly as a sort of the unordered list would)."""
    if not newer:
        return pending
    joined = pending + newer
    start = max(len(pending) - 1, 0)
    if any(joined[i][0] > joined[i + 1][0] for i in range(start, len(joined) - 1)):
        joined.sort(key=_ts)  # stable: rare, the kernel stamps one socket's frames in order
    return joined


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _ts(frame: Frame) -> int:
    return frame[0]


def _first_ts(item: tuple[Frame, bool]) -> int:
    return item[0][0]
