"""Offline scan of one capture file: source -> pipeline -> records (composition layer).

``scan_file`` opens a capture, streams its frames through a fresh ``Pipeline`` and hands
each released alert, as an EVE record, to ``emit``. A capture damaged part-way is not an
error: the alerts found before the damage are released and the damage is returned in the
result for the caller to warn about. The CLI and tests both call this.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poolsniff.blocklist import Blocklist
from poolsniff.errors import CaptureDamaged
from poolsniff.model import Alert
from poolsniff.pipeline import Pipeline
from poolsniff.sources.pcap import open_capture, read_frames

PROGRESS_EVERY = 4096
"""Frames between two progress callbacks."""


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
) -> ScanResult:
    """Scan one capture; call ``emit`` with each alert record; return the counts."""
    pipeline = Pipeline(blocklist, redact=redact)
    name = os.path.basename(path)
    result = ScanResult()
    with open_capture(path) as fileobj:
        count = 0
        try:
            for frame in read_frames(fileobj, path):
                for det in pipeline.feed(frame):
                    emit(to_record(Alert(det, name)))
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(fileobj.tell())
        except CaptureDamaged as e:
            result.damage = e
        except KeyboardInterrupt:
            # keep what was found: release the held alerts, then let the caller stop
            for det in pipeline.finish():
                emit(to_record(Alert(det, name)))
            raise
        for det in pipeline.finish():
            emit(to_record(Alert(det, name)))
        if progress is not None:
            progress(os.path.getsize(path))
    stats = pipeline.stats
    result.packets = stats.packets
    result.alerts = stats.alerts
    result.flows = pipeline.flows.counters["flows"]
    result.skipped = dict(stats.skipped)
    return result
