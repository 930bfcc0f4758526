"""The rate limits of active probing, as plain data and rules (confirmation stage, no I/O).

confirm request -> **may this endpoint be probed now?** -> probe -> **remember what it said**

Two rules, both kept across restarts (``ledger`` stores this state in the data directory):

* one probe per endpoint (``ip:port``) per :data:`PER_ENDPOINT_S` (a day): the probe is claimed
  before the first connection, so a second process or a crash cannot probe the same server twice;
* at most :data:`MAX_PER_HOUR` probes in any hour, all endpoints together.

NEMEA's miner_detector users report that unbounded probes get the collector blocked as a scanner
(DETECTORS.md §4.1); these caps keep a sensor's footprint to a few connections an hour. The caller
passes the clock, so the rules are tested without waiting a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

PER_ENDPOINT_S: Final = 24 * 3600
"""An endpoint is probed at most once in this many seconds."""
MAX_PER_HOUR: Final = 10
"""Probes at most in any hour, all endpoints together."""
HOUR_S: Final = 3600
MAX_REMEMBERED: Final = 10_000
"""Endpoints remembered at most (the oldest go first; a day holds at most 24 × MAX_PER_HOUR)."""


@dataclass
class Seen:
    """The last probe of one endpoint."""

    at: float
    """When it was claimed (seconds since the epoch)."""
    verdict: str = "in progress"
    """What it said: ``mining (cryptonote-job: …)``, ``not mining (SSH banner)``, …"""


@dataclass
class LimitState:
    """The probes of the last day: per endpoint, and the times of all of them."""

    per_endpoint_s: float = PER_ENDPOINT_S
    max_per_hour: int = MAX_PER_HOUR
    seen: dict[str, Seen] = field(default_factory=dict)
    recent: list[float] = field(default_factory=list)
    """Claim times of the last hour."""

    def refusal(self, key: str, now: float) -> str | None:
        """Why ``key`` may not be probed at ``now``, or None when it may."""
        last = self.seen.get(key)
        if last is not None and now - last.at < self.per_endpoint_s:
            hours = (now - last.at) / 3600
            return f"probed {hours:.1f} h ago ({last.verdict}); one probe per endpoint per day"
        if len(self._last_hour(now)) >= self.max_per_hour:
            return f"{self.max_per_hour} probes in the last hour already (the global cap)"
        return None

    def claim(self, key: str, now: float) -> None:
        """Count a probe of ``key`` starting at ``now``."""
        self.recent = [*self._last_hour(now), now]
        self.seen[key] = Seen(now)
        self._forget(now)

    def record(self, key: str, verdict: str) -> None:
        """Remember what the probe of ``key`` said."""
        if key in self.seen:
            self.seen[key].verdict = verdict

    def _last_hour(self, now: float) -> list[float]:
        return [t for t in self.recent if now - HOUR_S < t <= now]

    def _forget(self, now: float) -> None:
        for key in [k for k, s in self.seen.items() if now - s.at >= self.per_endpoint_s]:
            del self.seen[key]
        while len(self.seen) > MAX_REMEMBERED:
            del self.seen[next(iter(self.seen))]

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        seen = {k: {"at": s.at, "verdict": s.verdict} for k, s in self.seen.items()}
        return {"version": 1, "seen": seen, "recent": self.recent}

    def load_json(self, data: Any) -> None:
        """Take the state from :meth:`to_json` data; what does not fit is ignored (never an error)."""
        if not isinstance(data, dict):
            return
        seen = data.get("seen")
        if isinstance(seen, dict):
            for key, item in seen.items():
                if isinstance(item, dict) and isinstance(item.get("at"), (int, float)):
                    self.seen[str(key)] = Seen(float(item["at"]), str(item.get("verdict", "")))
        recent = data.get("recent")
        if isinstance(recent, list):
            self.recent = [float(t) for t in recent if isinstance(t, (int, float))]
