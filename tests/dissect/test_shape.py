"""TLS record shapes: headers of both directions after a ClientHello, bounded, kept from the prefilter."""

from __future__ import annotations

import pytest

from poolsniff.dissect import flows as flowtable
from poolsniff.dissect import shape as shaping
from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.shape import RecordShape, unpack
from poolsniff.model import TlsClientHello, TlsRecords

from ..factories import Session, client_hello, run, server_hello

SECOND = 1_000_000


def record(ctype: int, length: int) -> bytes:
    """One TLS record of ``length`` (zero) bytes."""
    return bytes([ctype, 3, 3]) + length.to_bytes(2, "big") + bytes(length)


def app(length: int) -> bytes:
    """One application-data record."""
    return record(23, length)


Steps = list[tuple[float, bool, bytes]]


def session(steps: Steps, close: bool = True, alpn: tuple[str, ...] = ()) -> Session:
    """A TLS session: handshake, hello (offering ``alpn``), server hello, then ``(seconds, from_client,
    bytes)`` steps."""
    s = Session(sport=443)
    s.handshake()
    s.send(True, client_hello("pool.example", alpn=alpn))
    s.send(False, server_hello() + record(20, 1) + app(800))
    start = s.ts_us
    for seconds, from_client, data in steps:
        s.ts_us = start + int(seconds * SECOND)
        s.send(from_client, data)
    if close:
        s.close()
    return s


def shapes(s: Session, table: FlowTable | None = None) -> list[TlsRecords]:
    """The TlsRecords events of a session."""
    return [e for e in run(s.packets, table) if isinstance(e, TlsRecords)]


MINER = [(0.1, True, app(592)), (0.2, False, app(513))] + [
    (t, c, app(228 if c else 80))
    for when in (21, 31, 77, 90)
    for t, c in ((when, True), (when + 0.01, False))
]


def test_records_of_both_directions_after_the_hello() -> None:
    found = shapes(session(MINER))
    assert found, "a 90 s session is reported"
    records = unpack(found[-1].records)
    hello_size = len(server_hello()) - 5
    assert [(c, kind, n) for _, c, kind, n in records[:3]] == [
        (False, 22, hello_size),
        (False, 20, 1),
        (False, 23, 800),
    ]
    assert [(c, n) for _, c, kind, n in records[3:] if kind == 23] == [(c, len(d) - 5) for _, c, d in MINER]
    assert found[-1].sni == "pool.example"


def test_nothing_is_reported_before_a_minute() -> None:
    assert shapes(session([(t, c, d) for t, c, d in MINER if t < 55])) == []
    found = shapes(session(MINER, close=False))
    assert found and all(unpack(e.records)[-1][0] >= shaping.REPORT_AFTER_S * 1000 for e in found)


def test_a_header_cut_over_segments_and_a_retransmission() -> None:
    hello = TlsClientHello(0, None, True, None, "TLS 1.3")  # type: ignore[arg-type]
    shape = RecordShape(hello, 100, 500)
    data = app(30) + app(40)
    assert shape.feed(True, 1, 100, data[:3]) is None
    assert shape.feed(True, 2, 103, data[3:40]) is None
    assert shape.feed(True, 3, 100, data[:40]) is None  # seen before: ignored
    assert shape.feed(True, 4, 140, data[40:]) is None
    assert [(c, n) for _, c, _, n in unpack(bytes(shape.records))] == [(True, 30), (True, 40)]
    assert not shape.done


@pytest.mark.parametrize(
    "segments, why",
    [
        ([(100, app(30)), (200, app(30))], "a gap: the next header is lost"),
        ([(100, b"\x17\x03\x03\x00\x10" + bytes(16) + b"GET / HTTP/1.1")], "not TLS records"),
        ([(100, app(shaping.HUGE_RECORD + 1))], "a huge record is bulk even among the first ones"),
    ],
)
def test_shaping_stops(segments: list[tuple[int, bytes]], why: str) -> None:
    hello = TlsClientHello(0, None, True, None, "TLS 1.3")  # type: ignore[arg-type]
    shape = RecordShape(hello, 100, 500)
    for seq, data in segments:
        shape.feed(True, 1, seq, data)
    assert shape.done, why


def test_bulk_data_stops_shaping_and_the_prefilter_may_skip_the_flow() -> None:
    table = FlowTable()
    handshake = [(0.05, False, app(100))] * shaping.HANDSHAKE_RECORDS
    bulk = [(0.1, True, app(300)), (0.2, False, app(shaping.BULK_RECORD + 1)), (0.3, True, app(50))]
    run(session(handshake + bulk, close=False).packets, table)
    assert all(closed for _, closed, _ in table.fast.values())
    assert table.dissector.shaping == 0


def test_a_shaped_session_stays_open_to_the_prefilter() -> None:
    table = FlowTable()
    run(session(MINER[:4], close=False).packets, table)
    assert not any(entry[1] for entry in table.fast.values())
    assert table.dissector.shaping == 1
    # both sides have spoken: the prefilter may read the record headers of either side itself
    assert sorted(len(entry) for entry in table.fast.values()) == [6, 6]


def test_shaped_sessions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flowtable, "MAX_SHAPED", 0)
    table = FlowTable()
    run(session(MINER[:4], close=False).packets, table)
    assert table.counters["tls-shapes-full"] == 1
    assert table.dissector.shaping == 0


def test_records_kept_are_bounded() -> None:
    chatter = [(61 + i / 10, i % 2 == 0, app(50)) for i in range(3 * shaping.MAX_RECORDS)]
    found = shapes(session(chatter))
    assert len(found[-1].records) == 8 * shaping.MAX_RECORDS


def test_a_session_is_judged_at_the_answer_that_completes_a_pair() -> None:
    """A snapshot ends at a server's record (an answer), not at a submit still waiting for one: a sparse
    miner's fourth answered submit is judged when its answer comes, not a few records later."""
    found = shapes(session(MINER))
    assert found
    assert all(not unpack(e.records)[-1][1] for e in found), "each snapshot ends at a server's record"
    counts = [len(e.records) // 8 for e in found]
    assert all(b - a >= shaping.REPORT_EVERY for a, b in zip(counts, counts[1:], strict=False))
    last_answer = max(ms for ms, c, _, _ in unpack(found[-1].records) if not c)
    assert unpack(found[0].records)[-1][0] == min(
        ms for ms, c, _, _ in unpack(found[-1].records) if not c and ms >= shaping.REPORT_AFTER_S * 1000
    )
    assert last_answer == unpack(found[-1].records)[-1][0]


@pytest.mark.parametrize(
    "alpn, shaped",
    [
        ((), True),
        (("stratum",), True),
        (("h2", "http/1.1"), False),
        (("spdy/3.1",), False),
        (("x-miner", "http/1.1"), False),
    ],
)
def test_a_session_of_the_web_is_not_shaped(alpn: tuple[str, ...], shaped: bool) -> None:
    """The behaviour detector judges no session whose ClientHello offers a web protocol: its shape is not
    read, and once the hellos are through the prefilter may skip both of its directions."""
    table = FlowTable()
    events = run(session(MINER, close=False, alpn=alpn).packets, table)
    hellos = [e for e in events if isinstance(e, TlsClientHello)]
    assert len(hellos) == 1 and hellos[0].alpns == alpn
    assert bool([e for e in events if isinstance(e, TlsRecords)]) is shaped
    assert table.dissector.shaping == (1 if shaped else 0)
    assert all(entry[1] for entry in table.fast.values()) is not shaped
