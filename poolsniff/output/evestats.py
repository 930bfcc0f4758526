"""Build a Suricata EVE ``stats`` record from a run's counts (output layer).

scan / sniff counts -> **stats_record** -> dict -> EVE writer

``scan`` writes one at the end, ``sniff`` one per interface every ``--stats-interval`` and at the
end. Only keys of Suricata's ``stats`` schema are used: ``uptime`` (seconds the run has taken),
``capture.kernel_packets``/``kernel_drops`` (live only), ``decoder.pkts``/``bytes``,
``flow.total`` and ``detect.alert`` (alerts raised, before suppression) with
``detect.alerts_suppressed`` (those suppression counted into a kept line instead of writing) and,
when alerts are forwarded (``--redis``, ``--syslog``), ``detect.alert_queue_overflow``: the alerts
the forwarders lost for good (a spool that was full dropped its oldest, a UDP send failed).
The caller passes the wall-clock time: this module reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from poolsniff.output.evefields import format_ts
from poolsniff.output.eventid import stamp


@dataclass(frozen=True)
class RunCounts:
    """What a run has seen so far."""

    uptime_s: float
    packets: int
    flows: int
    alerts: int
    suppressed: int = 0
    bytes: int | None = None
    kernel_packets: int | None = None
    kernel_drops: int | None = None
    forward_dropped: int | None = None
    """Alerts the forwarders lost (None without forwarders)."""


def stats_record(now_us: int, counts: RunCounts, in_iface: str | None = None) -> dict[str, Any]:
    """The EVE ``stats`` record of ``counts`` at wall-clock time ``now_us`` (one interface's, if named)."""
    decoder: dict[str, int] = {"pkts": counts.packets}
    if counts.bytes is not None:
        decoder["bytes"] = counts.bytes
    stats: dict[str, Any] = {"uptime": int(counts.uptime_s)}
    if counts.kernel_packets is not None:
        stats["capture"] = {"kernel_packets": counts.kernel_packets, "kernel_drops": counts.kernel_drops or 0}
    stats["decoder"] = decoder
    stats["flow"] = {"total": counts.flows}
    stats["detect"] = {"alert": counts.alerts, "alerts_suppressed": counts.suppressed}
    if counts.forward_dropped is not None:
        stats["detect"]["alert_queue_overflow"] = counts.forward_dropped
    record: dict[str, Any] = {"timestamp": format_ts(now_us)}
    if in_iface is not None:
        record["in_iface"] = in_iface
    record["event_type"] = "stats"
    record["stats"] = stats
    return stamp(record)
