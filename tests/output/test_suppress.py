"""Suppression: one line per window per host, pool and signature, and every alert accounted for."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.output.evefields import meta, record_ts, suppressed_count
from poolsniff.output.suppress import Suppressor, parse_duration

from ..factories_eve import T0, eve

Record = dict[str, Any]


@pytest.mark.parametrize(
    "text, seconds",
    [("30s", 30), ("10m", 600), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), ("2d3h4m5s", 183845),
     ("90", 90), ("0", 0), (" 2H ", 7200)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "-1h", "1.5h", "1m1h", "1 h", "1hh"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def run(window_s: int, records: list[Record]) -> tuple[list[Record], Suppressor]:
    """Feed every record, then finish; return what was written."""
    s = Suppressor(window_s)
    out: list[Record] = []
    for r in records:
        out.extend(s.feed(r))
    out.extend(s.finish())
    return out, s


def minutes(records: list[Record]) -> list[int]:
    return [(record_ts(r) // 1_000_000 - T0) // 60 for r in records]


def counts(records: list[Record]) -> list[int]:
    return [suppressed_count(r) for r in records]


@pytest.mark.parametrize(
    "window, sessions, written_at, written_counts",
    [
        # a miner reconnecting every minute for three hours, 1 h window: one line per hour,
        # and the count of the last hour on the last alert
        (3600, 180, [0, 60, 120, 179], [0, 59, 59, 58]),
        (600, 25, [0, 10, 20, 24], [0, 9, 9, 3]),
        (0, 3, [0, 1, 2], [0, 0, 0]),  # 0 turns suppression off
        (3600, 1, [0], [0]),
        (3600, 2, [0, 1], [0, 0]),  # the one held alert is written at the end, without a count
    ],
)
def test_reconnecting_miner(
    window: int, sessions: int, written_at: list[int], written_counts: list[int]
) -> None:
    records = [eve(60 * i, sport=40000 + i, pool_host="xmr.pool.example") for i in range(sessions)]
    out, s = run(window, records)
    assert minutes(out) == written_at
    assert counts(out) == written_counts
    assert len(out) + s.suppressed == sessions


def test_the_kept_alert_says_since_when() -> None:
    records = [eve(t) for t in (0, 10, 20, 70)]
    out, _ = run(60, records)
    assert [record_ts(r) for r in out] == [record_ts(records[0]), record_ts(records[3])]
    assert meta(out[1], "suppressed_count") == "2"
    assert meta(out[1], "suppressed_since") == records[1]["timestamp"]


@pytest.mark.parametrize(
    "second, separate",
    [
        ({"host": "192.0.2.11"}, True),
        ({"dest": "198.51.100.11"}, True),  # no pool_host: the endpoint is the pool
        ({"dport": 4444}, True),
        ({"kind": "pool"}, True),  # another signature of the same session
        ({"kind": "dns", "pool_host": "xmr.pool.example"}, True),
        ({"pool_host": "other.pool.example"}, True),
        ({"sport": 1234}, False),  # a new flow to the same pool
        ({"source": "other.pcap"}, False),
    ],
)
def test_what_makes_a_window(second: dict[str, Any], separate: bool) -> None:
    first = eve(0)
    kind = second.pop("kind", "miner")
    out, _ = run(3600, [first, eve(5, kind, **second), eve(6, kind, **second)])
    # the third alert always repeats the second; it is held, then written at the end
    expected = [0, 0, 0] if separate else [0, 1]
    assert counts(out) == expected


def test_quiet_pair_is_flushed_by_tick_after_a_whole_window() -> None:
    s = Suppressor(60)
    records = [eve(t) for t in (0, 10, 20)]
    written = [r for rec in records for r in s.feed(rec)]
    assert written == [records[0]]
    assert s.tick((T0 + 79) * 1_000_000) == []  # quiet for 59 s only
    flushed = s.tick((T0 + 80) * 1_000_000)
    assert [record_ts(r) for r in flushed] == [record_ts(records[2])]
    assert counts(flushed) == [1] and meta(flushed[0], "suppressed_since") == records[1]["timestamp"]
    assert s.finish() == []


def test_a_later_alert_of_another_pair_advances_time() -> None:
    out, _ = run(60, [eve(0), eve(10), eve(200, host="192.0.2.99")])
    assert minutes(out) == [0, 0, 3]  # the held alert of the quiet pair comes before the new one
    assert [r["src_ip"] for r in out] == ["192.0.2.10", "192.0.2.10", "192.0.2.99"]


def test_slightly_out_of_order_alert_is_inside_the_window() -> None:
    records = [eve(10), eve(5)]
    s = Suppressor(60)
    assert s.feed(records[0]) == [records[0]]
    assert s.feed(records[1]) == []
    assert s.finish() == [records[1]]


def test_bounded_state_flushes_the_least_recent_window() -> None:
    s = Suppressor(3600, max_keys=2)
    a, a2 = eve(0, host="192.0.2.1"), eve(1, host="192.0.2.1")
    b, c = eve(2, host="192.0.2.2"), eve(3, host="192.0.2.3")
    assert s.feed(a) == [a] and s.feed(a2) == [] and s.feed(b) == [b]
    assert s.feed(c) == [c, a2]  # a's window is closed to make room; its held alert is written


def test_input_records_are_not_mutated() -> None:
    records = [eve(t) for t in (0, 1, 2, 3700)]
    before = copy.deepcopy(records)
    out, _ = run(3600, records)
    assert records == before
    assert "suppressed_count" in out[1]["alert"]["metadata"]


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Suppressor(-1)


@given(
    window=st.sampled_from([0, 30, 60, 3600]),
    events=st.lists(st.tuples(st.integers(0, 7200), st.integers(0, 3), st.sampled_from(["miner", "pool"])),
                    max_size=60),
    tick_every=st.integers(1, 5),
)  # fmt: skip
def test_every_alert_is_accounted_for(
    window: int, events: list[tuple[int, int, str]], tick_every: int
) -> None:
    s = Suppressor(window)
    out: list[Record] = []
    for i, (at, host, kind) in enumerate(sorted(events)):
        out.extend(s.feed(eve(at, kind, host=f"192.0.2.{host}", sport=i + 1)))
        if i % tick_every == 0:
            out.extend(s.tick((T0 + at) * 1_000_000))
    out.extend(s.finish())
    assert len(out) + sum(counts(out)) == len(events)
    assert s.suppressed == sum(counts(out))
    first_lines: dict[tuple[str, int], int] = {}
    for r in out:
        first_lines.setdefault((r["src_ip"], r["alert"]["signature_id"]), record_ts(r))
    assert len(first_lines) == len({(h, k) for _, h, k in events})  # every pair is written at least once
