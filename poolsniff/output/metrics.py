"""Counters in the Prometheus text format, rewritten atomically to a file (a side output of the sinks).

source -> decode -> flows -> detectors -> enrichment -> sinks, and beside them: **metrics**

``--metrics FILE`` keeps ``FILE`` up to date for node_exporter's textfile collector (or any
scraper that reads a file): it is written when the run starts, every ``--metrics-interval``
seconds from a background thread, and when the run ends. Each write goes to a temporary file
in the same directory that is then renamed over ``FILE``, so a reader never sees half of it.

=====================================  =======  ==================================================
metric                                 type     meaning
=====================================  =======  ==================================================
``poolsniff_packets_total``            counter  packets read (from capture files or interfaces)
``poolsniff_drops_total``              counter  packets the kernel dropped before they were read
                                                (live capture; always 0 for files)
``poolsniff_flows_total``              counter  flows seen
``poolsniff_alerts_total``             counter  alerts raised, by ``signature_id`` and
                                                ``signature``, before suppression
``poolsniff_alerts_suppressed_total``  counter  alerts not written, folded into the counts of
                                                others by ``--suppress``
``poolsniff_forward_dropped_total``    counter  alerts an output (``syslog``, ``redis``) lost for
                                                good (its spool was full, or a UDP send failed),
                                                by ``output``
``poolsniff_forward_spooled``          gauge    alerts waiting in an output's spool for its
                                                collector, by ``output``
``poolsniff_blocklist_age_seconds``    gauge    seconds since the oldest block list in use was
                                                updated (absent when that is unknown)
=====================================  =======  ==================================================
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from poolsniff.errors import OutputError
from poolsniff.files import write_atomic
from poolsniff.output.evefields import signature_of
from poolsniff.output.options import Option, nonempty
from poolsniff.output.suppress import parse_duration

DEFAULT_INTERVAL_S: Final = 60
"""Seconds between two writes of the metrics file."""
PREFIX: Final = "poolsniff_"
HELP: Final = {
    "packets_total": ("counter", "Packets read, from capture files or interfaces."),
    "drops_total": ("counter", "Packets the kernel dropped before poolsniff read them (0 for files)."),
    "flows_total": ("counter", "Flows seen."),
    "alerts_total": ("counter", "Alerts raised, by signature, before suppression."),
    "alerts_suppressed_total": ("counter", "Alerts not written, counted into a kept alert by --suppress."),
    "forward_dropped_total": ("counter", "Alerts an output (syslog, redis) lost: spool full, UDP error."),
    "forward_spooled": ("gauge", "Alerts waiting in an output's spool for its collector."),
    "blocklist_age_seconds": ("gauge", "Seconds since the oldest block list in use was updated."),
}

Warn = Callable[[str], None]


@dataclass
class Counters:
    """The numbers behind the metrics; safe to update while the writer thread reads them."""

    packets: int = 0
    drops: int = 0
    flows: int = 0
    suppressed: int = 0
    written: int = 0
    """Alert records written (after suppression; the ``alerts`` counters count them before)."""
    alerts: Counter[tuple[int, str]] = field(default_factory=Counter)
    forward_dropped: dict[str, int] = field(default_factory=dict)
    forward_spooled: dict[str, int] = field(default_factory=dict)
    blocklist_updated: float | None = None
    """Unix time of the oldest block list in use (None when unknown, e.g. the shipped lists)."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_alert(self, record: dict[str, Any]) -> None:
        """Count one alert record by its signature."""
        self.count_signature(signature_of(record))

    def count_signature(self, signature: tuple[int, str]) -> None:
        """Count one alert of ``(signature_id, signature)``."""
        with self.lock:
            self.alerts[signature] += 1

    def add(self, *, packets: int = 0, drops: int = 0, flows: int = 0) -> None:
        """Add to the packet, drop and flow counters."""
        with self.lock:
            self.packets += packets
            self.drops += drops
            self.flows += flows


def escape_label(value: str) -> str:
    """A label value as the text format wants it (backslash, double quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(counters: Counters, now: float) -> str:
    """The Prometheus text exposition of ``counters`` at Unix time ``now``."""
    with counters.lock:
        samples = _samples(counters, now)
    lines: list[str] = []
    for name, (kind, text) in HELP.items():
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} {kind}"]
        lines += [f"{PREFIX}{name}{labels} {_number(value)}" for labels, value in samples[name]]
    return "\n".join(lines) + "\n"


def _samples(c: Counters, now: float) -> dict[str, list[tuple[str, float]]]:
    """``(labels, value)`` of every sample, by metric name (without the prefix)."""
    alerts: list[tuple[str, float]] = [
        (f'{{signature_id="{sid}",signature="{escape_label(msg)}"}}', n)
        for (sid, msg), n in sorted(c.alerts.items())
    ]
    dropped: list[tuple[str, float]] = [
        (f'{{output="{escape_label(name)}"}}', n) for name, n in sorted(c.forward_dropped.items())
    ]
    spooled: list[tuple[str, float]] = [
        (f'{{output="{escape_label(name)}"}}', n) for name, n in sorted(c.forward_spooled.items())
    ]
    age = [] if c.blocklist_updated is None else [("", round(max(0.0, now - c.blocklist_updated), 3))]
    return {
        "packets_total": [("", c.packets)],
        "drops_total": [("", c.drops)],
        "flows_total": [("", c.flows)],
        "alerts_total": alerts,
        "alerts_suppressed_total": [("", c.suppressed)],
        "forward_dropped_total": dropped,
        "forward_spooled": spooled,
        "blocklist_age_seconds": age,
    }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_interval(value: str) -> int:
    """A ``--metrics-interval``: a duration of at least one second."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be at least 1s")
    return seconds


OPTIONS: Final = (
    Option(
        "metrics", "FILE", "Keep Prometheus counters in FILE (for node_exporter's textfile collector).",
        nonempty, "path",
    ),
    Option(
        "metrics-interval", "DURATION", "How often --metrics FILE is rewritten (default: 60s).",
        parse_interval, "duration (default `60s`)",
    ),
)  # fmt: skip
"""The output stage's options this module takes (see :mod:`poolsniff.output.options`)."""


class MetricsFile:
    """Writes ``counters`` to ``path`` now, every ``interval_s`` seconds (a thread), and at ``close``."""

    def __init__(
        self, path: str, counters: Counters, *, interval_s: float = DEFAULT_INTERVAL_S,
        refresh: Callable[[Counters], None] | None = None, warn: Warn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        """Prepare the writer; ``refresh`` is called before each write to bring counters up to date."""
        if interval_s <= 0:
            raise ValueError("the metrics interval must be positive")
        self.path, self.counters, self.interval_s = path, counters, interval_s
        self.refresh, self.clock = refresh, clock
        self.warn = warn or (lambda _message: None)
        self.writes = 0
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Write once (OutputError if the file cannot be written), then keep writing in the background."""
        self.write()
        self._writer = threading.Thread(target=self._run, name="poolsniff-metrics", daemon=True)
        self._writer.start()

    def write(self) -> None:
        """Write the file now; OutputError if that fails."""
        if self.refresh is not None:
            self.refresh(self.counters)
        try:
            write_atomic(self.path, render(self.counters, self.clock()))
        except OSError as e:
            raise OutputError(f"{self.path}: cannot write metrics: {e.strerror}") from e
        self.writes += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._write_in_background()

    def _write_in_background(self) -> None:
        """Write; a failure warns once (until a write succeeds again) instead of ending the thread."""
        try:
            self.write()
        except OutputError as e:
            if not self._failing:
                self.warn(f"poolsniff: warning: {e}; will try again every {self.interval_s:g} s")
            self._failing = True
        else:
            self._failing = False

    def close(self) -> None:
        """Stop the thread and write the final numbers; OutputError if that last write fails."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join()
        self.write()
