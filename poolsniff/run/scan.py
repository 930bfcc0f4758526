"""Offline scan of capture files: source -> pipeline -> records (composition layer).

``scan_file`` opens a capture, streams its frames through the prefilter and a fresh
``Pipeline`` and hands each released alert, as an EVE record, to ``emit`` (unless ``take``, the
output stage's short way, takes it first: ``Outputs.take``); with ``jobs``
of 2 or more, a large file is scanned by two processes (``poolsniff.engine.split.parallel``) with the
same alerts in the same order. ``FileScans`` scans a list of files in order, several at a
time in a pool of processes, and still emits each file's alerts in the order of the files.
A capture damaged part-way is not an error: the alerts found before the damage are
released and the damage is returned in the result for the caller to warn about. The CLI
and tests both call this.
"""

from __future__ import annotations

import os
import signal
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO

from poolsniff.engine.fast.prefilter import detections
from poolsniff.engine.pipeline import Pipeline
from poolsniff.errors import CaptureDamaged, InputError
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, FlowSummary
from poolsniff.output.eventid import flow_line
from poolsniff.run.collector import settle
from poolsniff.sources.pcap import STDIN, open_capture

SPLIT_MIN_BYTES = 16 << 20
"""Smallest capture that ``jobs`` of 2 or more splits over two processes."""
POOL_MIN_BYTES = 4 << 20
"""Least total size of several captures for which a pool of processes is started: starting one
costs ~0.1 s, more than a single process takes over a few MB (the 13 demo captures: 0.24 s in one
process, 0.34 s with a pool; the 36 MB corpus: 0.88 s in one, 0.73 s with two)."""
Take = Callable[[Alert], bool]
"""Writes or folds an alert itself (True), or leaves it to ``emit(to_record(alert))`` (``Outputs.take``)."""
TakeLine = Callable[[str, int], None]
"""Writes an alerted flow's line made elsewhere, given its flow's end time (``Outputs.take_line``)."""


@dataclass
class ScanResult:
    """What a scan saw; ``add`` sums results over files."""

    packets: int = 0
    flows: int = 0
    alerts: int = 0
    damage: CaptureDamaged | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, other: ScanResult) -> None:
        """Add another file's counts to this one."""
        self.packets += other.packets
        self.flows += other.flows
        self.alerts += other.alerts
        for k, v in other.skipped.items():
            self.skipped[k] = self.skipped.get(k, 0) + v


def scan_file(
    path: str,
    blocklist: Blocklist,
    *,
    emit: Callable[[dict[str, Any]], None],
    to_record: Callable[[Alert], dict[str, Any]],
    redact: bool = False,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    fold_pool: bool = True,
    take: Take | None = None,
    take_line: TakeLine | None = None,
) -> ScanResult:
    """Scan one capture; call ``emit`` with each alert record; return the counts.

    ``take``: the output stage's short way (``Outputs.take``): an alert it takes (True) is not made a
    record here, nor emitted. ``take_line``: where the output takes alerted flows' lines alone, how
    it takes one made by a split scan's back (``Outputs.take_line``).

    ``fold_pool``: the pool side of a session whose miner side alerted goes into the miner's
    alert (``Pipeline``); False keeps both alerts.

    With ``jobs`` of 2 or more, a regular file of ``SPLIT_MIN_BYTES`` or more is scanned by
    two processes (``poolsniff.engine.split.parallel``); the alerts and their order are the same.
    """
    release = _releaser(emit, to_record, take)
    label = "stdin" if path == STDIN else path  # `scan -` reads standard input
    name = os.path.basename(label)
    with open_capture(path) as fileobj:
        # a FIFO or a pipe has no position: no progress for it (tell() would raise)
        on_read = None if progress is None or not fileobj.seekable() else (lambda: progress(fileobj.tell()))
        if jobs > 1 and _worth_splitting(fileobj):
            lines = None if take_line is None else (_line_maker(name), take_line)
            result = _scan_split(fileobj, label, blocklist, name, release, redact, on_read, fold_pool, lines)
        else:
            result = _scan_here(fileobj, label, blocklist, name, release, redact, on_read, fold_pool)
        if on_read is not None and progress is not None:
            progress(os.fstat(fileobj.fileno()).st_size)
    return result


def _releaser(
    emit: Callable[[dict[str, Any]], None], to_record: Callable[[Alert], dict[str, Any]], take: Take | None
) -> Callable[[Alert], None]:
    """What a scan does with each alert: ``emit(to_record(alert))``, unless ``take`` takes it."""
    if take is None:
        return lambda alert: emit(to_record(alert))

    def release(alert: Alert) -> None:
        if not take(alert):
            emit(to_record(alert))

    return release


def _line_maker(name: str) -> Callable[[FlowSummary], str]:
    """How an alerted flow of capture ``name`` is made its line (``eventid.flow_line``, as ``take`` does)."""
    return partial(flow_line, source_name=name)  # no interpreted frame per alerted flow


def _worth_splitting(fileobj: BinaryIO) -> bool:
    """A regular file big enough that a second process pays for itself."""
    try:
        info = os.fstat(fileobj.fileno())
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size >= SPLIT_MIN_BYTES and _parallel_available()


def _scan_here(
    fileobj: BinaryIO,
    path: str,
    blocklist: Blocklist,
    name: str,
    release: Callable[[Alert], None],
    redact: bool,
    on_read: Callable[[], None] | None,
    fold_pool: bool = True,
) -> ScanResult:
    """The scan in this process."""
    pipeline = Pipeline(blocklist, redact=redact, fold_pool=fold_pool)
    result = ScanResult()
    try:
        for found in detections(fileobj, path, pipeline, on_read=on_read):
            release(Alert(found, name))
    except CaptureDamaged as e:
        result.damage = e
    except KeyboardInterrupt:
        # keep what was found: release the held alerts, then let the caller stop
        for found in pipeline.finish():
            release(Alert(found, name))
        raise
    for found in pipeline.finish():
        release(Alert(found, name))
    stats = pipeline.stats
    result.packets = stats.packets
    result.alerts = stats.alerts
    result.flows = pipeline.flows.counters["flows"]
    result.skipped = dict(stats.skipped)
    return result


def _scan_split(
    fileobj: BinaryIO,
    path: str,
    blocklist: Blocklist,
    name: str,
    release: Callable[[Alert], None],
    redact: bool,
    on_read: Callable[[], None] | None,
    fold_pool: bool = True,
    lines: tuple[Callable[[FlowSummary], str], TakeLine] | None = None,
) -> ScanResult:
    """The scan over two processes."""
    from poolsniff.engine.split import parallel

    front, damage = parallel.scan_split(
        fileobj, path, blocklist, release=release, redact=redact, name=name, on_read=on_read,
        fold_pool=fold_pool, lines=lines,
    )  # fmt: skip
    result = ScanResult(damage=damage)
    report = front.report or {}
    result.packets = front.stats.packets
    result.alerts = report.get("alerts", 0)
    result.flows = front.flows.counters["flows"]
    result.skipped = dict(front.decoder.skipped + front.flows.counters + Counter(report.get("counters", {})))
    return result


# --------------------------------------------------------------------------- several files


class FileScans:
    """Scans a list of captures in order, ``jobs`` at a time when there are several.

    ``scan(path)`` is called for each path, in the order given, and emits that file's
    alerts before it returns, so the output is in the order of the files whatever the
    number of processes. With ``jobs`` of 2 or more, a single file is split over two
    processes (``scan_file``); several files are scanned by a pool of ``jobs`` forked
    processes, a few files ahead of the one being written.
    """

    def __init__(
        self,
        paths: list[str],
        blocklist: Blocklist,
        *,
        to_record: Callable[[Alert], dict[str, Any]],
        redact: bool = False,
        jobs: int = 1,
        fold_pool: bool = True,
    ) -> None:
        """Start the pool (if any) over ``paths``; ``jobs`` 0 means one per CPU this process may use."""
        settle()  # the collector, before any process is forked
        if jobs == 0:
            jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.blocklist, self.to_record, self.redact, self.jobs = blocklist, to_record, redact, jobs
        self.fold_pool = fold_pool
        self.paths = [path for path in paths if path != STDIN]  # stdin is read here, not in a pool process
        self._next = 0
        self._started: dict[int, Any] = {}
        self._pool: Any = None
        if jobs > 1 and len(paths) > 1 and _total_size(paths) >= POOL_MIN_BYTES and _parallel_available():
            import multiprocessing

            self._pool = multiprocessing.get_context("fork").Pool(
                processes=jobs, initializer=_pool_init, initargs=(blocklist, to_record, redact, fold_pool)
            )

    def scan(
        self,
        path: str,
        *,
        emit: Callable[[dict[str, Any]], None],
        progress: Callable[[int], None] | None = None,
        take: Take | None = None,
        take_line: TakeLine | None = None,
    ) -> ScanResult:
        """Scan ``path``, the next of the paths; emit its alerts; return its counts (``take``,
        ``take_line``: see :func:`scan_file`; a file a pool process scans comes back as records, every
        one emitted)."""
        if self._pool is None or self._next >= len(self.paths) or path != self.paths[self._next]:
            return scan_file(
                path, self.blocklist, emit=emit, to_record=self.to_record, redact=self.redact,
                progress=progress, jobs=self.jobs, fold_pool=self.fold_pool, take=take, take_line=take_line,
            )  # fmt: skip
        index = self._next
        self._next += 1
        for ahead in range(index, min(index + 2 * self.jobs, len(self.paths))):
            if ahead not in self._started:
                self._started[ahead] = self._pool.apply_async(_pool_scan, (self.paths[ahead],))
        records, outcome = self._started.pop(index).get()
        for record in records:
            emit(record)
        if progress is not None:
            progress(os.path.getsize(path))
        if isinstance(outcome, str):
            raise InputError(outcome)
        packets, flows, alerts, skipped, damage = outcome
        found = CaptureDamaged(*damage) if damage is not None else None
        return ScanResult(packets, flows, alerts, found, skipped)

    def close(self) -> None:
        """Stop the pool (files not yet written are dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> FileScans:
        """Use as a context manager: the pool stops at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the pool."""
        self.close()


def _parallel_available() -> bool:
    """``parallel.available()``; the module is imported when first needed (most scans never are)."""
    from poolsniff.engine.split import parallel

    return parallel.available()


_worker: dict[str, Any] = {}
"""A pool process's blocklist, record builder and redaction, set once by ``_pool_init``."""


def _total_size(paths: list[str]) -> int:
    """The summed size of the regular files among ``paths`` (others count 0)."""
    return sum(_size(path) for path in paths)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # reported when its turn comes
        return 0


def _pool_init(
    blocklist: Blocklist, to_record: Callable[[Alert], dict[str, Any]], redact: bool, fold_pool: bool
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _worker.update(blocklist=blocklist, to_record=to_record, redact=redact, fold_pool=fold_pool)


PooledOutcome = tuple[int, int, int, dict[str, int], "tuple[str, int, str] | None"] | str


def _pool_scan(path: str) -> tuple[list[dict[str, Any]], PooledOutcome]:
    """Scan one file in a pool process: its records and its counts (or the input error)."""
    records: list[dict[str, Any]] = []
    try:
        r = scan_file(
            path, _worker["blocklist"], emit=records.append, to_record=_worker["to_record"],
            redact=_worker["redact"], fold_pool=_worker["fold_pool"],
        )  # fmt: skip
    except InputError as e:
        return records, str(e)
    damage = (r.damage.path, r.damage.offset, r.damage.reason) if r.damage is not None else None
    return records, (r.packets, r.flows, r.alerts, r.skipped, damage)
