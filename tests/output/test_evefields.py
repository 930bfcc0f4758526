"""Facts read back from EVE records: timestamps, host, pool, signature, suppressed count."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.output import evefields
from poolsniff.output.evefields import (
    MAX_TS_US,
    _parse_slow,
    dest_of,
    endpoint,
    format_ts,
    host_of,
    meta,
    parse_ts,
    pool_of,
    record_ts,
    signature_of,
    suppressed_count,
)

from ..factories_eve import T0, eve


@pytest.mark.parametrize(
    "text, expected_us",
    [
        ("2024-05-01T12:00:00.010060+0000", T0 * 1_000_000 + 10_060),
        ("2024-05-01T12:00:00+0000", T0 * 1_000_000),
        ("2024-05-01T14:00:00.5+02:00", T0 * 1_000_000 + 500_000),
        ("2024-05-01T07:00:00.000001-0500", T0 * 1_000_000 + 1),
        ("2024-05-01T12:00:00Z", T0 * 1_000_000),
    ],
)
def test_parse_ts(text: str, expected_us: int) -> None:
    assert parse_ts(text) == expected_us


@pytest.mark.parametrize("text", ["", "2024-05-01", "2024-05-01 12:00:00", "12:00:00+0000", "yesterday"])
def test_parse_ts_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad timestamp"):
        parse_ts(text)


@pytest.mark.parametrize("ts_us", [0, 1, T0 * 1_000_000 + 10_060, 4_102_444_799_999_999])
def test_format_ts_round_trips(ts_us: int) -> None:
    assert parse_ts(format_ts(ts_us)) == ts_us


@pytest.mark.parametrize("ts_us", [MAX_TS_US + 1, 2**64 * 1_000_000, 2**127])
def test_format_ts_clamps_times_beyond_year_9999(ts_us: int) -> None:
    assert format_ts(ts_us) == "9999-12-31T23:59:59.999999+0000"
    assert parse_ts(format_ts(ts_us)) == MAX_TS_US


def test_format_ts_clamps_times_before_the_epoch() -> None:
    assert format_ts(-5) == "1970-01-01T00:00:00.000000+0000"


@pytest.mark.parametrize(
    "record, host, pool",
    [
        (eve(0, pool_host="xmr.pool.example", pool="pool.example"), "192.0.2.10", "xmr.pool.example"),
        (eve(0, pool="pool.example"), "192.0.2.10", "pool.example"),
        (eve(0), "192.0.2.10", "198.51.100.10:3333"),
        (eve(0, "pool"), "192.0.2.10", "198.51.100.10:3333"),  # pool role: src is still the miner
        (eve(0, host="2001:db8::5", dest="2001:db8::99", dport=9999), "2001:db8::5", "[2001:db8::99]:9999"),
        (eve(0, "dns", pool_host="pool.supportxmr.com"), "192.0.2.10", "pool.supportxmr.com"),
    ],
)
def test_host_and_pool(record: dict[str, Any], host: str, pool: str) -> None:
    assert host_of(record) == host
    assert pool_of(record) == pool


@pytest.mark.parametrize(
    "ip, port, text",
    [
        ("192.0.2.1", 80, "192.0.2.1:80"),
        ("2001:db8::1", 443, "[2001:db8::1]:443"),
        ("192.0.2.1", None, "192.0.2.1"),
    ],
)
def test_endpoint(ip: str, port: object, text: str) -> None:
    assert endpoint(ip, port) == text


def test_signature_time_and_meta() -> None:
    record = eve(1.5, wallet="1J97HrqvJYFVrNtnTZF1C8WgFuBL87QTzN")
    assert signature_of(record) == (9300101, "POOLSNIFF COINMINER Stratum v1 miner session")
    assert record_ts(record) == (T0 * 1_000_000) + 1_500_000
    assert meta(record, "wallet") == "1J97HrqvJYFVrNtnTZF1C8WgFuBL87QTzN"
    assert meta(record, "role") == "miner"
    assert meta(record, "absent") is None


@pytest.mark.parametrize(
    "value, count",
    [(None, 0), (["0"], 0), (["7"], 7), ("12", 12), ([], 0)],
)
def test_suppressed_count(value: object, count: int) -> None:
    record = eve(0)
    if value is not None:
        record["alert"]["metadata"]["suppressed_count"] = value
    assert suppressed_count(record) == count


@pytest.mark.parametrize(
    "mutate, call, message",
    [
        (lambda r: r.pop("timestamp"), record_ts, "no 'timestamp'"),
        (lambda r: r.pop("src_ip"), host_of, "no 'src_ip'"),
        (lambda r: r.pop("dest_ip"), dest_of, "no 'dest_ip'"),
        (lambda r: r.pop("alert"), signature_of, "no 'alert' object"),
        (lambda r: r["alert"].pop("signature_id"), signature_of, "signature_id"),
        (
            lambda r: r["alert"]["metadata"].update(suppressed_count=["x"]),
            suppressed_count,
            "suppressed_count",
        ),
        (
            lambda r: r["alert"]["metadata"].update(suppressed_count=["-2"]),
            suppressed_count,
            "suppressed_count",
        ),
    ],
)
def test_missing_or_bad_fields_raise_value_error(mutate: Any, call: Any, message: str) -> None:
    record = eve(0)
    mutate(record)
    with pytest.raises(ValueError, match=message):
        call(record)


@given(st.integers(min_value=-(10**18), max_value=MAX_TS_US + 10**12))
def test_format_then_parse_is_the_clamped_time(ts_us: int) -> None:
    """The cached writer and the sliced reader agree with the strptime reference on every time."""
    text = format_ts(ts_us)
    assert parse_ts(text) == _parse_slow(text) == min(max(ts_us, 0), MAX_TS_US)


@given(st.lists(st.integers(min_value=-(10**18), max_value=MAX_TS_US + 10**12), min_size=1, max_size=50))
def test_a_text_just_written_is_read_back_from_the_cache_as_a_fresh_parse_reads_it(times: list[int]) -> None:
    """``parse_ts`` looks up what ``format_ts`` wrote: the same microseconds as parsing the text."""
    texts = [format_ts(ts_us) for ts_us in times]
    assert all(text in evefields._FORMATTED for text in texts[-evefields._CACHE_SIZE :])
    cached = [parse_ts(text) for text in texts]
    evefields._FORMATTED.clear()
    assert cached == [parse_ts(text) for text in texts] == [min(max(t, 0), MAX_TS_US) for t in times]


@given(
    st.text(alphabet="0123456789:. +-x\u0663", min_size=2, max_size=2),
    st.text(alphabet="0123456789 x\u0663", min_size=6, max_size=6),
)
def test_sliced_reader_accepts_exactly_what_strptime_accepts(seconds: str, micros: str) -> None:
    """A canonical-looking timestamp with odd seconds or fraction digits is read, or refused, as
    ``strptime`` does (no sign, space or non-ASCII digit slips through the fast path)."""
    text = f"2024-05-01T12:00:{seconds}.{micros}+0000"
    try:
        expected: int | None = _parse_slow(text)
    except ValueError:
        expected = None
    try:
        got: int | None = parse_ts(text)
    except ValueError:
        got = None
    assert got == expected
