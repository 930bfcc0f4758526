"""Suppression: one alert per window per host, pool and signature (between to_eve and the outputs).

source -> decode -> flows/dissectors -> detectors -> enrichment -> to_eve -> **suppress** -> sinks

A miner that reconnects every minute raises a new alert per flow; ``--suppress 1h`` turns that
into one line per hour. The stage works on EVE records and keeps one *window* per
``(host, pool, signature_id)`` (host and pool as :mod:`poolsniff.output.evefields` defines them;
the signature is part of the key so that the DNS lookup naming a pool does not hide the
Stratum session with the wallet that follows it). Time is the alerts' capture time, passed
in with each record (``tick`` takes it explicitly); the stage reads no clock.

* The first alert of a window is written **at once**: a new miner is never delayed.
* Alerts inside the window (``|t - start| < window``) are not written; they are counted.
* The next alert after the window is written at once and opens the next window; it carries
  ``alert.metadata.suppressed_count`` (how many were not written since the previous line)
  and ``suppressed_since`` (the capture time of the first of them). A steady miner gives
  exactly one line per window.
* When no next alert comes (the pair has been quiet for a whole window, or the input ends:
  ``finish``), the count is not lost: the *last* suppressed alert is written, late, carrying
  the count of the others. So every alert is accounted for:
  ``lines + sum(suppressed_count) == alerts in``.

State is bounded (``max_keys``); the least recently active window is closed first.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from poolsniff.output.evefields import format_ts, host_of, pool_of, record_ts, signature_of
from poolsniff.output.eventid import KEY
from poolsniff.output.options import Option

DEFAULT_SUPPRESS_S: Final = 600
"""The window when none is given: 10 minutes, Zeek's default ``Notice::default_suppression_interval``
is one hour; ten minutes keeps a miner that stops visible within minutes. ``--suppress 0`` turns it off."""
MAX_KEYS: Final = 100_000
"""Open windows kept at most; beyond this the least recently active is closed (and flushed)."""

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")

Key = tuple[str, str, int]
"""(host, pool, signature_id)."""
Record = dict[str, Any]
Held = Record | Callable[[], Record]


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``10m``, ``1h``, ``1d``, ``1h30m`` or a bare number; ValueError if bad."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"bad duration {text!r} (use e.g. 30s, 10m, 1h, 1d or 1h30m)")
    parts = zip(match.groups(), "dhms", strict=True)
    return sum(int(n) * _UNITS[u] for n, u in parts if n)


OPTIONS: Final = (
    Option(
        "suppress", "DURATION",
        "One alert per host, pool and signature per DURATION (30s, 10m, 1h, 1d; default 10m; "
        "0: every alert).",
        parse_duration, "duration (`10m`, `1h`, or seconds; `0`: off)",
    ),
)  # fmt: skip
"""The output stage's options this module takes (see :mod:`poolsniff.output.options`)."""


@dataclass
class _Window:
    start_us: int
    last_us: int
    count: int = 0
    since: str = ""
    held: Held | None = None
    """The last alert not written, or what makes its record (flushed with the count when no next
    alert comes)."""


class Suppressor:
    """Writes one EVE alert record per window per (host, pool, signature), counting the rest."""

    def __init__(self, window_s: int, *, max_keys: int = MAX_KEYS) -> None:
        """Suppress repeats within ``window_s`` seconds of capture time (0 turns suppression off)."""
        if window_s < 0:
            raise ValueError("the suppression window cannot be negative")
        self.window_us = window_s * 1_000_000
        self.max_keys = max_keys
        self.suppressed = 0
        """Sum of the ``suppressed_count`` values written so far (never decreases)."""
        self._windows: OrderedDict[Key, _Window] = OrderedDict()
        self._head: _Window | None = None
        """The first window in ``_windows``' order, the only one ``tick`` looks at first (None: not known,
        read again): ``tick`` runs at every alert and every alerted flow's end, and closes nothing at
        most of them."""

    def feed(self, record: Record) -> list[Record]:
        """Take one alert record; return the records to write now, in order.

        Raises ValueError for a record without a timestamp, source, destination or signature.
        """
        ts = record_ts(record)
        key = (host_of(record), pool_of(record), signature_of(record)[0])
        out, window = self._due(key, ts)
        if window is not None and abs(ts - window.start_us) < self.window_us:
            if window.count == 0:
                window.since = str(record["timestamp"])
            self._hold(key, window, record, ts)
            return out
        if window is not None:  # the window is over: this alert carries its count
            record = self._with_count(record, window.count, window.since)
        out.append(record)
        self._open(key, ts, out)
        return out

    def fold(self, key: Key, ts_us: int, make: Callable[[], Record]) -> tuple[list[Record], bool]:
        """Take an alert known by its ``key`` and time before its record is made: the records to write
        now, and True when the alert was folded into its window's count (``make`` is kept, and called
        only if this alert is the one written late). False: nothing was taken, ``feed`` the record."""
        out, window = self._due(key, ts_us)
        if window is None or abs(ts_us - window.start_us) >= self.window_us:
            return out, False
        if window.count == 0:
            window.since = format_ts(ts_us)
        self._hold(key, window, make, ts_us)
        return out, True

    def _due(self, key: Key, ts: int) -> tuple[list[Record], _Window | None]:
        """The windows the clock closes at ``ts``, and ``key``'s window (None: none, or no suppression)."""
        out = self.tick(ts)
        return out, (self._windows.get(key) if self.window_us > 0 else None)

    def _open(self, key: Key, ts: int, out: list[Record]) -> None:
        if self.window_us <= 0:
            return
        self._head = None  # a window replaced in place may have been the first
        self._windows[key] = _Window(ts, ts)
        self._windows.move_to_end(key)
        if len(self._windows) > self.max_keys:
            _, oldest = self._windows.popitem(last=False)
            out.extend(self._flush(oldest))

    def tick(self, now_us: int) -> list[Record]:
        """Capture time is now ``now_us``: flush the windows quiet for a whole window."""
        out: list[Record] = []
        head = self._head
        if head is not None and now_us - head.last_us < self.window_us:
            return out  # the first window is not quiet yet, so none is closed
        self._head = None
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if now_us - window.last_us < self.window_us:
                self._head = window
                break
            del self._windows[key]
            out.extend(self._flush(window))
        return out

    def finish(self) -> list[Record]:
        """End of input: flush every window that still holds a count."""
        out: list[Record] = []
        for window in self._windows.values():
            out.extend(self._flush(window))
        self._windows.clear()
        self._head = None
        return out

    def _hold(self, key: Key, window: _Window, held: Held, ts: int) -> None:
        window.count += 1
        window.held = held
        window.last_us = max(window.last_us, ts)
        self._windows.move_to_end(key)
        if window is self._head:  # moved from first to last
            self._head = None

    def _flush(self, window: _Window) -> list[Record]:
        """The held alert of a window nobody will close, carrying the count of the others."""
        held = window.held
        if held is None:
            return []
        record = held() if callable(held) else held
        return [self._with_count(record, window.count - 1, window.since)]

    def _with_count(self, record: Record, count: int, since: str) -> Record:
        """A copy of ``record`` whose metadata says ``count`` alerts since ``since`` were not written."""
        if count <= 0:
            return record
        self.suppressed += count
        alert = dict(record["alert"])
        metadata = dict(alert.get("metadata") or {})
        metadata.pop(KEY, None)  # a record of its own: the output stage gives it an id of its own
        metadata["suppressed_count"] = [str(count)]
        metadata["suppressed_since"] = [since]
        alert["metadata"] = metadata
        return {**record, "alert": alert}
