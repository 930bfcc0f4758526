"""``sniff --jobs N``: each interface spread over N capture processes, one output (composition layer).

source (``sources.fanout``: N flow sockets in a PACKET_FANOUT group, N DNS sockets) => N workers
(``run.fanworker``: decode -> flows/dissectors -> detectors -> enrichment -> EVE records) => this
process -> sinks

The parent opens every socket while it may (before ``--user``), drops root, then forks the workers;
each inherits its sockets and the loaded lists. The parent keeps what must exist once: the EVE
writer and the sink stage (suppression, forwarding, metrics), the signals (SIGINT/SIGTERM: the
workers drain their sockets, release what they hold and send their last records, then one summary;
SIGHUP: the output is reopened), the stats lines and records, and the ``--confirm`` worker. It reads
the workers' records and counts from pipes (``fanworker.Report``), and the kernel's counts of every
socket itself (the sockets are shared). The summary gives an interface's totals over the workers,
and a second line the count and the drops of each socket. ``--count`` is one budget shared by the
workers. A worker that dies stops the run with a ``CaptureError`` (exit status 3).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import select
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final

from poolsniff.errors import CaptureError
from poolsniff.intel.lists import Blocklist
from poolsniff.run.fanworker import STOP, STOP_DRAIN_S, Report, run_worker
from poolsniff.run.privileges import drop_privileges
from poolsniff.run.sniff import (
    AlertOutput,
    ConfirmerFactory,
    InterfaceSummary,
    Log,
    OutputsFactory,
    SniffOptions,
    SniffOutputs,
    SniffResult,
    _Loop,
    _signal_socket,
    log_listening,
)
from poolsniff.sources.fanout import WorkerSockets, open_group
from poolsniff.sources.live import wire_packets

if TYPE_CHECKING:
    from poolsniff.confirm.worker import AlertConfirmer

FINISH_S: Final = STOP_DRAIN_S + 30.0
"""How long the parent waits, after asking them to stop, for the workers' last reports."""
_LEN: Final = struct.Struct("!I")


@dataclass
class _Group:
    """One interface: its workers' sockets (index = worker) and the counts they reported."""

    name: str
    sockets: list[WorkerSockets]
    wire_start: int | None
    counts: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> InterfaceSummary:
        """The totals over the workers, the kernel's counts of each socket."""
        each: list[tuple[str, int, int]] = []
        for index, pair in enumerate(self.sockets):
            for kind, capture in (("flows", pair.flows), ("dns", pair.dns)):
                kernel = capture.stats()
                each.append((f"{kind}#{index}", kernel.received, kernel.dropped))
        counts = list(self.counts.values())
        wire = wire_packets(self.name)
        return InterfaceSummary(
            self.name,
            None if wire is None or self.wire_start is None else wire - self.wire_start,
            captured=sum(c[0] for c in counts),
            dropped=sum(x[2] for x in each),
            flows=sum(c[1] for c in counts),
            alerts=sum(c[2] for c in counts),
            sockets=tuple(each),
        )


@dataclass
class _Worker:
    """One forked worker, from the parent's side."""

    index: int
    pid: int
    control: int
    """Write end of its control pipe (``STOP``; closed, it tells the worker the parent is gone)."""
    reports: int
    """Read end of its report pipe."""
    buf: bytearray = field(default_factory=bytearray)
    done: bool = False
    status: int | None = None

    def read(self) -> list[Report] | None:
        """The complete reports that have arrived (never blocks); None once the pipe is closed."""
        try:
            chunk = os.read(self.reports, 1 << 20)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buf += chunk
        out: list[Report] = []
        pos = 0
        while len(self.buf) - pos >= 4:
            size = _LEN.unpack_from(self.buf, pos)[0]
            if len(self.buf) - pos < 4 + size:
                break
            out.append(pickle.loads(memoryview(self.buf)[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        del self.buf[:pos]
        return out


class _Budget:
    """``--count`` shared by the workers: a counter in shared memory, under a lock."""

    def __init__(self, count: int) -> None:
        import multiprocessing  # only for --count

        self.left = multiprocessing.get_context("fork").Value("q", count)

    def take(self) -> bool:
        """Use one frame; False once ``count`` have been used."""
        with self.left.get_lock():
            if self.left.value <= 0:
                return False
            self.left.value -= 1
            return True


def start_workers(
    groups: list[_Group], jobs: int, blocklist: Blocklist, options: SniffOptions, budget: _Budget | None
) -> list[_Worker]:
    """Fork ``jobs`` workers, each with its sockets of every interface; kill them all if one cannot start."""
    workers: list[_Worker] = []
    try:
        for index in range(jobs):
            control_r, control_w = os.pipe()
            reports_r, reports_w = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the worker: it never returns from here
                os.close(control_w)
                os.close(reports_r)
                _child(index, jobs, groups, blocklist, options, control_r, reports_w, budget)
            os.close(control_r)
            os.close(reports_w)
            os.set_blocking(reports_r, False)
            workers.append(_Worker(index, pid, control_w, reports_r))
    except BaseException:
        stop_workers(workers, kill=True)
        raise
    return workers


def _child(
    index: int,
    jobs: int,
    groups: list[_Group],
    blocklist: Blocklist,
    options: SniffOptions,
    control: int,
    reports: int,
    budget: _Budget | None,
) -> None:
    """The body of a forked worker; leaves through ``os._exit`` (a traceback on stderr for a bug)."""
    status = 0
    try:
        for group in groups:  # the other workers' sockets are theirs
            for other, pair in enumerate(group.sockets):
                if other != index:
                    pair.close()
        mine = [(g.name, g.sockets[index]) for g in groups]
        run_worker(index, jobs, mine, blocklist, options.redact, options.fold_pool, control, reports, budget)
    except BaseException:
        traceback.print_exc()
        status = 70
    finally:
        sys.stderr.flush()
        os._exit(status)


def stop_workers(workers: list[_Worker], kill: bool = False) -> None:
    """Close the pipes (a worker left running exits when it sees that) and reap the processes."""
    for w in workers:
        if kill:
            try:
                os.kill(w.pid, 9)
            except ProcessLookupError:
                pass
        for fd in (w.control, w.reports):
            with contextlib.suppress(OSError):
                os.close(fd)
        if w.status is None:
            w.status = os.waitpid(w.pid, 0)[1]


def sniff_fanout(
    options: SniffOptions,
    jobs: int,
    blocklist: Blocklist,
    *,
    log: Log,
    stdout: IO[str] | None = None,
    outputs: OutputsFactory | None = None,
    confirmer: ConfirmerFactory | None = None,
) -> SniffResult:
    """``sniff`` with ``jobs`` workers per interface (see the module docstring)."""
    groups: list[_Group] = []
    workers: list[_Worker] = []
    output = sink = None
    try:
        groups.extend(
            _Group(name, open_group(name, options.bpf, jobs, options.buffer_mib << 20), wire_packets(name))
            for name in dict.fromkeys(options.interfaces)
        )
        if options.user:
            drop_privileges(options.user)
        budget = _Budget(options.count) if options.count is not None else None
        workers = start_workers(groups, jobs, blocklist, options, budget)
        output = AlertOutput(options.output, stdout)
        sink = outputs(output) if outputs is not None else None
        for group in groups:
            log_listening([group.sockets[0].flows], log, f" with {jobs} processes")
        with _signal_socket() as wake:
            prober = confirmer() if confirmer is not None else None
            loop = _FanoutLoop(groups, workers, output, options, log, wake, sink, prober)
            result = loop.run()
        if loop.failed:
            raise CaptureError(loop.failed)
        return result
    finally:
        stop_workers(workers, kill=not all(w.done for w in workers))
        for group in groups:
            for pair in group.sockets:
                pair.close()
        try:
            if sink is not None:
                sink.close()
        finally:
            if output is not None:
                output.close()


class _FanoutLoop(_Loop):
    """The service loop of the parent: records and counts come from the workers, not from sockets."""

    def __init__(
        self,
        groups: list[_Group],
        workers: list[_Worker],
        output: AlertOutput,
        options: SniffOptions,
        log: Log,
        wake: socket.socket,
        sink: SniffOutputs | None,
        confirmer: AlertConfirmer | None,
    ) -> None:
        super().__init__([], output, options, log, wake, sink, confirmer)
        self.groups = groups
        self.workers = workers
        self.failed = ""
        self.left = None  # the workers count down --count themselves (the budget)

    def _handlers(self) -> dict[int, Callable[[], object]]:
        return {w.reports: functools.partial(self._receive, w) for w in self.workers}

    def _receive(self, worker: _Worker) -> None:
        """Write the worker's records, note its counts; a pipe closed before its last report is a failure."""
        reports = worker.read()
        if reports is None:
            if not worker.done and not self.failed:
                _, status = os.waitpid(worker.pid, 0)
                worker.status = status
                self.failed = (
                    f"capture worker {worker.index} stopped unexpectedly ({_describe(status)}); "
                    "its error is above; run with --jobs 1 to carry on without workers"
                )
                self.stopped_by = "a failed worker"
            worker.done = True
            return
        for report in reports:
            for record, detection in report.records:
                self.sink.write(record)
                if detection and self.confirmer is not None:
                    self.confirmer.offer(record)
            for group, counts in zip(self.groups, report.counts, strict=True):
                group.counts[worker.index] = counts
            if report.count_reached and not self.stopped_by:
                self.stopped_by = "--count"
            worker.done = worker.done or report.done

    def _wind_down(self) -> None:
        """Ask every worker to stop, then write what they send until each has sent its last report."""
        for w in self.workers:
            w.done = w.done or not _send_stop(w)
        until = time.monotonic() + FINISH_S
        while not all(w.done for w in self.workers) and time.monotonic() < until:
            waiting = [w for w in self.workers if not w.done]
            ready, _, _ = select.select([w.reports for w in waiting], [], [], 0.5)
            for w in waiting:
                if w.reports in ready:
                    self._receive(w)

    def _tick_sources(self, now_us: int) -> None:
        """The workers run their own hold checks."""

    def _summaries(self) -> list[InterfaceSummary]:
        return [g.summary() for g in self.groups]


def _send_stop(worker: _Worker) -> bool:
    """Ask ``worker`` to stop; False if it has exited already."""
    try:
        os.write(worker.control, STOP)
    except OSError:
        return False
    return True


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
