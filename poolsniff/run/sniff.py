"""Live capture as a service: interfaces -> pipelines -> alert lines (composition layer).

source (sources.live) -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``sniff(options, blocklist)`` opens every interface (``LiveCapture``), drops root if asked, then runs one
``Pipeline`` per interface, so each alert names the interface it was seen on (``in_iface``) and a flow
routed across two interfaces is followed on each. The loop polls the sockets and a signal wake-up socket:
SIGINT and SIGTERM stop it cleanly (the queued frames are read, held alerts released, a summary logged),
SIGHUP reopens the output file for log rotation. Every alert is flushed as it is written; a stats line is
logged every ``stats_interval`` seconds. The CLI and tests call ``sniff``; with ``jobs`` of 2 or more it
hands over to ``run.fanout`` (worker processes), whose loop is this one's subclass.

With a ``confirmer`` (``--confirm``), every alert is also offered to it; it probes the servers of
probe-worthy alerts on its own thread, and the loop writes the confirmed alerts it hands back at
each tick, so a probe never holds up the capture.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Final, Protocol

from poolsniff.confirm.worker import AlertConfirmer
from poolsniff.counted import counted
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.tracker import CHECK_EVERY_US
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, Detection, Released
from poolsniff.output.eve import to_eve
from poolsniff.output.evestats import RunCounts, stats_record
from poolsniff.output.interface import RecordWriter
from poolsniff.output.metrics import Counters
from poolsniff.output.transports.jsonl import JsonlWriter
from poolsniff.run.collector import settle
from poolsniff.run.privileges import drop_privileges
from poolsniff.sources.live import RCVBUF, LiveCapture, wire_packets

BATCH: Final = 256
"""Frames read from one socket before the loop looks at the others, the signals and the clock."""
TICK_S: Final = CHECK_EVERY_US / 1_000_000
"""Longest poll: held alerts are released on time even when no frame arrives."""
STOP_DRAIN_S: Final = 2.0
"""On SIGINT/SIGTERM, the frames already queued are read for at most this long."""
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CONFIRM_WAIT_S: Final = 1.0
"""On stop, how long the loop waits for a probe under way (the rest of the queue is dropped)."""
SMALL_RCVBUF: Final = 8 << 20
"""Below this receive buffer (bytes, as the kernel reports it) the start-up log warns."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class SniffOptions:
    """What ``poolsniff sniff`` was asked to do."""

    interfaces: tuple[str, ...]
    output: str | None = None
    """Append alerts to this file (reopened on SIGHUP); None writes to stdout."""
    bpf: str | None = None
    """A tcpdump-style filter ANDed with the built-in kernel filter."""
    duration: float | None = None
    """Stop after this many seconds."""
    count: int | None = None
    """Stop after this many captured frames (after the kernel filter), all interfaces together."""
    stats_interval: float = 60.0
    """Seconds between stats lines on stderr; 0 turns them off."""
    user: str | None = None
    """Switch to this user once the sockets are open."""
    redact: bool = False
    fold_pool: bool = True
    """The pool side of a session whose miner side alerted goes into the miner's alert."""
    jobs: int = 1
    """Capture processes per interface (``PACKET_FANOUT``, ``run.fanout``); 0: one per CPU."""
    buffer_mib: int = RCVBUF >> 20
    """Receive buffer asked for each capture socket, in MiB (the kernel reserves twice as much)."""


@dataclass
class InterfaceSummary:
    """Counts for one interface."""

    name: str
    wire: int | None
    """Packets the interface carried while poolsniff ran (None where /proc/net/dev is missing)."""
    captured: int
    """Frames that passed the kernel filter and were read."""
    dropped: int
    """Frames that passed the kernel filter but were dropped for lack of buffer space."""
    flows: int
    alerts: int
    sockets: tuple[tuple[str, int, int], ...] = ()
    """With ``--jobs``: each capture socket's (name, frames that passed its filter, frames dropped)."""


@dataclass
class SniffResult:
    """What a run saw, and why it stopped."""

    interfaces: list[InterfaceSummary] = field(default_factory=list)
    stopped_by: str = ""
    seconds: float = 0.0

    @property
    def alerts(self) -> int:
        """Alerts written, all interfaces together."""
        return sum(i.alerts for i in self.interfaces)


class SniffOutputs(RecordWriter, Protocol):
    """The sink stage around the EVE writer (``poolsniff.output.stage.Outputs``)."""

    @property
    def counters(self) -> Counters:
        """The numbers behind the metrics."""

    @property
    def forward_dropped(self) -> int | None:
        """Alerts the forwarders lost for good (None without forwarders)."""

    def tick(self, now_us: int) -> None:
        """Time passes: write what suppression released."""

    def flush(self) -> None:
        """The capture has stopped: write what suppression still holds."""

    def close(self) -> None:
        """Flush and close the stage."""


OutputsFactory = Callable[[RecordWriter], SniffOutputs]
"""Builds the sink stage around the EVE writer (suppression, syslog, Redis, metrics)."""
ConfirmerFactory = Callable[[], AlertConfirmer | None]
"""Makes the ``--confirm`` worker (a thread): called once the capture processes have been forked."""


class AlertOutput:
    """Alert lines to stdout or to a file that ``reopen`` opens again (after log rotation)."""

    def __init__(self, path: str | None, stdout: IO[str] | None = None) -> None:
        """Open ``path`` for appending, or use ``stdout``; OutputError if it cannot be opened."""
        self.path = path
        self._writer = JsonlWriter.open_path(path) if path else JsonlWriter(stdout or sys.stdout, "stdout")

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Write one record as a line and flush it."""
        self._writer.write(record, text)

    def reopen(self) -> None:
        """Close the file and open the same path again; stdout is left alone."""
        if self.path is None:
            return
        self._writer.close()
        self._writer = JsonlWriter.open_path(self.path)

    def close(self) -> None:
        """Flush and close (stdout is only flushed)."""
        self._writer.close()


class _Source:
    """One interface: its socket, its pipeline and the counters at start."""

    def __init__(self, capture: LiveCapture, blocklist: Blocklist, redact: bool, fold_pool: bool) -> None:
        self.capture = capture
        self.pipeline = Pipeline(blocklist, redact=redact, fold_pool=fold_pool)
        self.wire_start = wire_packets(capture.name)

    def summary(self) -> InterfaceSummary:
        kernel = self.capture.stats()
        wire = wire_packets(self.capture.name)
        stats = self.pipeline.stats
        return InterfaceSummary(
            name=self.capture.name,
            wire=None if wire is None or self.wire_start is None else wire - self.wire_start,
            captured=stats.packets,
            dropped=kernel.dropped,
            flows=self.pipeline.flows.counters["flows"],
            alerts=stats.alerts,
        )


def open_captures(options: SniffOptions) -> list[LiveCapture]:
    """Open every interface of ``options``; CaptureError (the others closed) if one cannot be."""
    captures: list[LiveCapture] = []
    try:
        for name in dict.fromkeys(options.interfaces):
            capture = LiveCapture.open(name, options.bpf, options.buffer_mib << 20)
            captures.append(capture)
    except BaseException:
        for capture in captures:
            capture.close()
        raise
    return captures


def sniff(
    options: SniffOptions,
    blocklist: Blocklist,
    *,
    log: Log,
    stdout: IO[str] | None = None,
    outputs: OutputsFactory | None = None,
    confirmer: ConfirmerFactory | None = None,
) -> SniffResult:
    """Capture until a signal, ``duration`` or ``count`` stops it; return the counts.

    With ``jobs`` other than 1, each interface is spread over worker processes (``run.fanout``).
    ``confirmer`` makes the ``--confirm`` worker once the capture has started.
    Raises CaptureError (interfaces, privileges, filter), ConfigError (``--user``) and
    OutputError (alerts cannot be written).
    """
    settle()  # the collector, before the workers are forked
    jobs = resolve_jobs(options.jobs)
    if jobs > 1:
        from poolsniff.run.fanout import sniff_fanout

        return sniff_fanout(
            options, jobs, blocklist, log=log, stdout=stdout, outputs=outputs, confirmer=confirmer
        )
    captures = open_captures(options)
    try:
        if options.user:
            drop_privileges(options.user)
        output = AlertOutput(options.output, stdout)
    except BaseException:
        for capture in captures:
            capture.close()
        raise
    try:
        sink = outputs(output) if outputs is not None else None
    except BaseException:
        output.close()
        for capture in captures:
            capture.close()
        raise
    sources = [_Source(c, blocklist, options.redact, options.fold_pool) for c in captures]
    log_listening(captures, log)
    try:
        with _signal_socket() as wake:
            prober = confirmer() if confirmer is not None else None
            return _Loop(sources, output, options, log, wake, sink, prober).run()
    finally:
        for c in captures:
            c.close()
        try:
            if sink is not None:
                sink.close()
        finally:
            output.close()


def resolve_jobs(jobs: int) -> int:
    """``--jobs``: 0 is one per CPU this process may use."""
    if jobs:
        return jobs
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def log_listening(captures: list[LiveCapture], log: Log, what: str = "") -> None:
    """The start-up lines: each socket's filter and buffer, and a warning for a small buffer."""
    for c in captures:
        mode = ", promiscuous" if c.promiscuous else ""
        log(
            f"poolsniff: listening on {c.name}{what} (kernel filter of {c.filter_length} instructions, "
            f"receive buffer {c.rcvbuf >> 10} KiB{mode})"
        )
        if c.rcvbuf < SMALL_RCVBUF:
            log(
                f"poolsniff: warning: {c.name}: a receive buffer of {c.rcvbuf >> 10} KiB drops frames in "
                "bursts; give poolsniff CAP_NET_ADMIN or raise net.core.rmem_max"
            )


@contextmanager
def _signal_socket() -> Iterator[socket.socket]:
    """Route SIGINT/SIGTERM/SIGHUP to a socket the loop polls (each signal arrives as one byte)."""
    receiver, sender = socket.socketpair()
    receiver.setblocking(False)
    sender.setblocking(False)
    previous = {sig: signal.signal(sig, _ignore) for sig in SIGNALS}
    old_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    try:
        yield receiver
    finally:
        signal.set_wakeup_fd(old_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        receiver.close()
        sender.close()


def _ignore(signum: int, frame: object) -> None:
    """The signal is handled by the loop, which reads it from the wake-up socket."""


class _Loop:
    """The service loop; ``run`` returns when a signal, the duration or the count says so."""

    def __init__(
        self,
        sources: list[_Source],
        output: AlertOutput,
        options: SniffOptions,
        log: Log,
        wake: socket.socket,
        sink: SniffOutputs | None = None,
        confirmer: AlertConfirmer | None = None,
    ) -> None:
        self.sources = sources
        self.confirmer = confirmer
        self.output = output
        self.sink: RecordWriter = sink if sink is not None else output
        self.outputs = sink
        self.counted = (0, 0, 0)
        self.options = options
        self.log = log
        self.wake = wake
        self.started = time.monotonic()
        self.next_tick = self.started + TICK_S
        self.next_stats = self.started + options.stats_interval if options.stats_interval > 0 else None
        self.deadline = self.started + options.duration if options.duration else None
        self.left = options.count
        self.stopped_by = ""

    def run(self) -> SniffResult:
        """Poll, read, detect and write until stopped; then release what is held and summarise."""
        poller = select.poll()
        handlers = self._handlers()
        for fd in [*handlers, self.wake.fileno()]:
            poller.register(fd, select.POLLIN)
        while not self.stopped_by:
            for fd, _ in poller.poll(self._timeout_ms()):
                if fd == self.wake.fileno():
                    self._signals()
                elif not self.stopped_by:
                    handlers[fd]()
            self._housekeeping()
        self._wind_down()
        if self.confirmer is not None:  # a probe under way may finish; queued ones are dropped
            for record in self.confirmer.finish(wait=CONFIRM_WAIT_S):
                self.sink.write(record)
        return self._finish()

    def _handlers(self) -> dict[int, Callable[[], object]]:
        """What to do when each polled descriptor (other than the signals') is readable."""
        return {s.capture.fileno(): functools.partial(self._drain, s) for s in self.sources}

    def _wind_down(self) -> None:
        """Stopped: read what the kernel has queued (unless ``--count`` stopped it), release what is held."""
        if self.left is None:  # a signal or the clock: what the kernel has queued is still read
            until = time.monotonic() + STOP_DRAIN_S
            for source in self.sources:
                while self._drain(source) and time.monotonic() < until:
                    pass
        for source in self.sources:
            self._emit(source, source.pipeline.finish())

    def _tick_sources(self, now_us: int) -> None:
        """The hold check of every pipeline, by the clock (a quiet link releases held alerts too)."""
        for source in self.sources:
            released: list[Released] = []
            source.pipeline.tick(now_us, released)
            self._emit(source, released)

    def _summaries(self) -> list[InterfaceSummary]:
        """The counts of every interface so far."""
        return [s.summary() for s in self.sources]

    def _timeout_ms(self) -> int:
        now = time.monotonic()
        wait = self.next_tick - now
        for due in (self.next_stats, self.deadline):
            if due is not None:
                wait = min(wait, due - now)
        return max(0, int(wait * 1000) + 1)

    def _signals(self) -> None:
        try:
            received = self.wake.recv(64)
        except BlockingIOError:
            return
        for signum in received:
            if signum == signal.SIGHUP:
                self.output.reopen()
                self.log("poolsniff: SIGHUP: output reopened")
            elif signum in (signal.SIGINT, signal.SIGTERM):
                self.stopped_by = signal.Signals(signum).name

    def _drain(self, source: _Source) -> int:
        """Read and process one batch of ``source``; return how many frames it held."""
        frames = source.capture.read(BATCH)
        if self.left is not None:
            frames = frames[: self.left]
            self.left -= len(frames)
            if self.left == 0:
                self.stopped_by = "--count"
        feed = source.pipeline.feed_live  # the prefilter's decision first, as for a capture file
        for frame in frames:
            released = feed(frame)
            if released:
                self._emit(source, released)
        return len(frames)

    def _emit(self, source: _Source, detections: list[Released]) -> None:
        name = source.capture.name
        for det in detections:
            record = to_eve(Alert(det, name, live=True))
            self.sink.write(record)
            if self.confirmer is not None and isinstance(det, Detection):
                self.confirmer.offer(record)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now >= self.next_tick:
            self.next_tick = now + TICK_S
            now_us = time.time_ns() // 1000
            self._tick_sources(now_us)
            if self.confirmer is not None:
                for record in self.confirmer.ready():
                    self.sink.write(record)
            if self.outputs is not None:
                self.outputs.tick(now_us)
                self._count()
        if self.next_stats is not None and now >= self.next_stats:
            self.next_stats = now + self.options.stats_interval
            summaries = self._summaries()
            for summary in summaries:
                self.log(f"poolsniff: stats: {format_summary(summary, now - self.started)}")
                if summary.sockets:
                    self.log(f"poolsniff: stats: {format_sockets(summary)}")
            self._write_stats(summaries, now - self.started)
        if self.deadline is not None and now >= self.deadline and not self.stopped_by:
            self.stopped_by = "--duration"

    def _count(self) -> None:
        """Hand the metrics the packets, drops and flows seen since the last tick."""
        assert self.outputs is not None
        summaries = self._summaries()
        now = (
            sum(x.captured for x in summaries),
            sum(x.dropped for x in summaries),
            sum(x.flows for x in summaries),
        )
        last = self.counted
        self.outputs.counters.add(packets=now[0] - last[0], drops=now[1] - last[1], flows=now[2] - last[2])
        self.counted = now

    def _write_stats(self, summaries: list[InterfaceSummary], seconds: float) -> None:
        """An EVE ``stats`` record of every interface together."""
        suppressed = self.outputs.counters.suppressed if self.outputs is not None else 0
        counts = RunCounts(
            seconds,
            packets=sum(x.captured for x in summaries),
            flows=sum(x.flows for x in summaries),
            alerts=sum(x.alerts for x in summaries),
            suppressed=suppressed,
            kernel_packets=sum(x.captured + x.dropped for x in summaries),
            kernel_drops=sum(x.dropped for x in summaries),
            forward_dropped=self.outputs.forward_dropped if self.outputs is not None else None,
        )
        self.sink.write(stats_record(time.time_ns() // 1000, counts))

    def _finish(self) -> SniffResult:
        if self.outputs is not None:
            self._count()
            self.outputs.flush()
        seconds = time.monotonic() - self.started
        result = SniffResult(self._summaries(), self.stopped_by, seconds)
        self._write_stats(result.interfaces, seconds)
        for summary in result.interfaces:
            self.log(f"poolsniff: {format_summary(summary, seconds)}")
            if summary.sockets:
                self.log(f"poolsniff: {format_sockets(summary)}")
        self.log(f"poolsniff: stopped by {self.stopped_by}")
        return result


def format_summary(summary: InterfaceSummary, seconds: float) -> str:
    """One line of counts for an interface, as the stats lines and the final summary show them."""
    wire = "" if summary.wire is None else f"{summary.wire} packets on the wire, "
    return (
        f"{summary.name}: {seconds:.1f} s, {wire}{summary.captured} captured, {summary.dropped} dropped by "
        f"the kernel, {counted(summary.flows, 'flow')}, {counted(summary.alerts, 'alert')}"
    )


def format_sockets(summary: InterfaceSummary) -> str:
    """The kernel's counts of each capture socket of an interface (``--jobs``), on a line of their own."""
    each = ", ".join(f"{name} {got} received {lost} dropped" for name, got, lost in summary.sockets)
    return f"{summary.name} sockets: {each}"
