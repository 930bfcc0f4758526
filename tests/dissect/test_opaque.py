"""Opaque TCP message shapes: random-looking sessions, shaped by their messages, bounded, skippable."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import flows as flowtable
from poolsniff.dissect import opaque
from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.opaque import MessageShape, random_looking
from poolsniff.dissect.shape import unpack
from poolsniff.model import TcpMessages

from ..factories import Session, run

SECOND = 1_000_000
_RNG = random.Random(13)


def noise(n: int) -> bytes:
    """``n`` random bytes, as an encrypting relay sends (seeded: the same every run).

    The first is kept off ASCII: a session whose first byte is ``{`` or ``[`` (2 in 256 relay
    sessions) goes to the JSON lines dissector instead, and is not shaped.
    """
    data = _RNG.randbytes(n)
    return bytes([data[0] | 0x80]) + data[1:] if data else data


def session(steps: list[tuple[float, bool, bytes]], close: bool = True, syn: bool = True) -> Session:
    """A TCP session of ``(seconds, from_client, bytes)`` steps; with ``syn``, its start is captured."""
    s = Session(sport=8388)
    if syn:
        s.handshake()
    start = s.ts_us
    for seconds, from_client, data in steps:
        s.ts_us = start + int(seconds * SECOND)
        s.send(from_client, data)
    if close:
        s.close()
    return s


def shapes(s: Session, table: FlowTable | None = None) -> list[TcpMessages]:
    """The TcpMessages events of a session."""
    return [e for e in run(s.packets, table) if isinstance(e, TcpMessages)]


# the real shadowsocks XMRig session's sizes (tests/data/real-xmrig/xmrig-shadowsocks.pcap)
RELAYED = [(0.0, True, noise(682)), (0.001, False, noise(562))] + [
    (t, c, noise(245 if c else 97))
    for when in (5.2, 45.6, 89.8, 93.7)
    for t, c in ((when, True), (when + 0.001, False))
]


@pytest.mark.parametrize(
    "payload, expected, why",
    [
        (noise(64), True, "random bytes"),
        (noise(682), True, "a relay's first segment"),
        (noise(31), False, "too short to judge"),
        (b'{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"x"}}\n', False, "text"),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" + noise(40), False, "a text banner"),
        (bytes(64), False, "zeros"),
        (b"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=a\r\n" + bytes(20), False, "RDP"),
        (b"\xfeSMB" + bytes(12) + b"\x00\x00\x01\x00" + bytes(44), False, "an SMB2 header"),
        (bytes(range(64)), True, "64 distinct values, a quarter printable: looks random"),
        (bytes(range(32, 96)), False, "64 distinct values, all printable"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_random_looking(payload: bytes, expected: bool, why: str) -> None:
    assert random_looking(payload) is expected, why


def test_the_messages_of_both_sides() -> None:
    found = shapes(session(RELAYED))
    assert found, "a 94 s session is reported"
    assert [(c, n) for _, c, _, n in unpack(found[-1].records)] == [(c, len(data)) for _, c, data in RELAYED]
    assert unpack(found[-1].records)[0][0] == 0  # times count from the client's first byte


def test_segments_sent_back_to_back_are_one_message() -> None:
    job = noise(1800)
    s = session([(0.0, True, noise(682))], close=False)
    s.send(False, job, cuts=(1448,))
    s.ts_us += 2 * SECOND
    s.send(False, noise(400))  # a pause: another message
    table = FlowTable()
    run(s.packets, table)
    (flow,) = {id(e[0]): e[0] for e in table.fast.values()}.values()
    assert isinstance(flow.shape, MessageShape)
    assert [(c, n) for _, c, _, n in unpack(bytes(flow.shape.records))] == [
        (True, 682),
        (False, 1800),
        (False, 400),
    ]


def test_bytes_the_capture_missed_still_count() -> None:
    """sniff's kernel filter drops random-looking segments over 1 KiB: their bytes count by their seq."""
    s = session([(0.0, True, noise(682)), (0.001, False, noise(300))], close=False)
    s.skip(False, 1448)
    s.send(False, noise(100))
    s.send(False, noise(100), cuts=())  # and a retransmission of what was seen adds nothing
    s.packets.append(s.packets[-1])
    table = FlowTable()
    run(s.packets, table)
    (flow,) = {id(e[0]): e[0] for e in table.fast.values()}.values()
    assert isinstance(flow.shape, MessageShape)
    assert [n for _, _, _, n in unpack(bytes(flow.shape.records))] == [682, 300 + 1448 + 100 + 100]


@pytest.mark.parametrize(
    "steps, why",
    [
        (
            [
                (0.0, True, noise(682)),
                (
                    0.1,
                    False,
                    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n"
                    + b"Content-Length: 40\r\n\r\n"
                    + noise(40),
                ),
            ],
            "a text answer",
        ),
        ([(0.0, True, noise(682)), (0.1, False, bytes(64))], "a structured answer"),
        ([(0.0, True, noise(300)), (0.1, False, noise(opaque.BULK_BYTES + 1))], "a bulk message"),
        (
            [(0.0, True, noise(300)), (0.1, False, noise(1000)), (0.12, False, noise(3200))],
            "a message grown bulk",
        ),
        ([(i * 2.0, i % 2 == 0, noise(100)) for i in range(opaque.MAX_MESSAGES + 2)], "too many messages"),
        (
            [(0.0, True, noise(300)), (0.1, False, noise(300)), (opaque.MAX_SECONDS + 1, True, noise(100))],
            "too long",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_shaping_stops_and_the_prefilter_may_skip_the_flow(
    steps: list[tuple[float, bool, bytes]], why: str
) -> None:
    table = FlowTable()
    s = session(steps, close=False)
    s.send(True, noise(40))
    run(s.packets, table)
    assert table.dissector.shaping == 0, why
    (flow,) = {id(e[0]): e[0] for e in table.fast.values()}.values()
    assert table.fast[flow.raw[0]][1], f"{why}: the client's side is left to the prefilter"


def test_a_shaped_session_stays_open_to_the_prefilter() -> None:
    table = FlowTable()
    run(session(RELAYED[:4], close=False).packets, table)
    assert not any(closed for _, closed, _ in table.fast.values())
    assert table.dissector.shaping == 1


@pytest.mark.parametrize(
    "steps, syn, why",
    [
        ([(0.0, True, b'{"id":1,"method":"login","params":{}}\n' + noise(40))], True, "text first"),
        ([(0.0, False, noise(200)), (0.1, True, noise(682))], True, "the server speaks first"),
        (RELAYED[:4], False, "the start was not captured"),
        ([(0.0, True, bytes(200))], True, "a structured start"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_only_random_looking_sessions_from_their_start_are_shaped(
    steps: list[tuple[float, bool, bytes]], syn: bool, why: str
) -> None:
    table = FlowTable()
    run(session(steps, close=False, syn=syn).packets, table)
    assert table.dissector.shaping == 0, why


def test_shaped_sessions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flowtable, "MAX_SHAPED", 0)
    table = FlowTable()
    run(session(RELAYED[:4], close=False).packets, table)
    assert table.counters["opaque-shapes-full"] == 1
    assert table.dissector.shaping == 0


def test_snapshots_after_a_minute_at_answers_then_every_few_messages_and_at_the_end() -> None:
    steps = RELAYED[:2] + [(61 + i, i % 2 == 0, noise(100 + i)) for i in range(10)]
    found = shapes(session(steps))
    messages = [unpack(e.records) for e in found]
    assert [len(m) for m in messages][0] == 4, "the first answer after a minute"
    assert all(not m[-1][1] for m in messages), "each snapshot ends at a server's message"
    counts = [len(m) for m in messages]
    assert all(b - a >= opaque.REPORT_EVERY for a, b in zip(counts, counts[1:], strict=False))
    assert counts[-1] == len(steps)
    assert not shapes(session(RELAYED[:4]))  # shorter than a minute: nothing to judge


def _random_looking_reference(payload: bytes) -> bool:
    """The definition, checked in its first order (distinct values, then the printable share)."""
    head = payload[:opaque.SAMPLE]
    n = len(head)
    if n < opaque.MIN_SAMPLE:
        return False
    if len(set(head)) < opaque.MIN_DISTINCT * 256 * (1 - (255 / 256) ** n):
        return False
    return sum(0x20 <= b < 0x7F for b in head) <= opaque.MAX_PRINTABLE * n


@given(st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode), st.randoms().map(
    lambda r: bytes(r.getrandbits(8) if r.random() < 0.8 else 0x41 for _ in range(r.randint(0, 80)))
)))
def test_random_looking_is_its_definition(payload: bytes) -> None:
    assert random_looking(payload) == _random_looking_reference(payload)
