"""EVE ``stats`` records: Suricata's keys only, schema-valid."""

from __future__ import annotations

from typing import Any

from poolsniff.output.eventid import event_id_of
from poolsniff.output.evestats import RunCounts, stats_record

NOW = 1_764_936_000_250_000


def test_scan_stats() -> None:
    record = stats_record(NOW, RunCounts(12.7, packets=160, flows=20, alerts=20, suppressed=18))
    assert record == {
        "timestamp": "2025-12-05T12:00:00.250000+0000",
        "event_type": "stats",
        "stats": {
            "uptime": 12, "decoder": {"pkts": 160}, "flow": {"total": 20},
            "detect": {"alert": 20, "alerts_suppressed": 18},
        },
        "metadata": {"flowvars": [{"event_id": event_id_of(record)}]},
    }  # fmt: skip


def test_forwarded_losses_are_the_alert_queue_overflow(eve_validator: Any) -> None:
    """Without forwarders the key is absent; with them it says how many alerts they lost for good."""
    assert "alert_queue_overflow" not in stats_record(NOW, RunCounts(1, 1, 1, 1))["stats"]["detect"]
    record = stats_record(NOW, RunCounts(1, 1, 1, 1, forward_dropped=7))
    assert record["stats"]["detect"]["alert_queue_overflow"] == 7
    assert not list(eve_validator.iter_errors(record))


def test_live_stats_carry_the_kernel_counts_and_the_interface() -> None:
    counts = RunCounts(60.0, 81230, 4211, 2, 0, bytes=9_000_000, kernel_packets=81240, kernel_drops=10)
    record = stats_record(NOW, counts, in_iface="lan0")
    assert record["in_iface"] == "lan0"
    assert record["stats"]["capture"] == {"kernel_packets": 81240, "kernel_drops": 10}
    assert record["stats"]["decoder"] == {"pkts": 81230, "bytes": 9_000_000}


def test_stats_records_validate(eve_validator: Any) -> None:
    for counts in (RunCounts(0, 0, 0, 0), RunCounts(1.5, 10, 2, 1, 1, 100, 12, 2)):
        for iface in (None, "eth0"):
            record = stats_record(NOW, counts, iface)
            assert not list(eve_validator.iter_errors(record)), record
