"""DNS in the workers of ``sniff --jobs``: one worker alerts on a message, every worker learns its answers."""

from __future__ import annotations

import pytest

from poolsniff.detect.signatures import DNS_POOL, RESOLVED_POOL
from poolsniff.engine.decode import Decoder
from poolsniff.engine.dnsshare import DnsShare, owner
from poolsniff.engine.pipeline import Pipeline
from poolsniff.intel.lists import load_shipped
from poolsniff.model import Alert, Frame, Released
from poolsniff.output.eve import to_eve

from ..factories import dns_query, dns_response, tcp_dns
from ..factories_frames import eth, ipv4, tcp, udp

POOL = "pool.supportxmr.com"
"""In the shipped lists."""
CLIENT, RESOLVER, POOL_IP = bytes([10, 0, 0, 7]), bytes([10, 0, 0, 53]), bytes([203, 0, 113, 9])
SYN, SYN_ACK, ACK, PSH = 0x02, 0x12, 0x10, 0x18


def lookup(port: int, ts: int) -> list[Frame]:
    """A query for the pool over UDP from ``port``, and its answer (``POOL_IP``)."""
    answer = dns_response(POOL, [(1, POOL_IP, 300)])
    return [
        (ts, 1, eth(ipv4(udp(dns_query(POOL), sport=port, dport=53), proto=17, src=CLIENT, dst=RESOLVER))),
        (ts + 1000, 1, eth(ipv4(udp(answer, sport=53, dport=port), proto=17, src=RESOLVER, dst=CLIENT))),
    ]


def tcp_lookup(port: int, ts: int) -> list[Frame]:
    """The same lookup over TCP: handshake, query, answer (a reassembled stream)."""
    answer = tcp_dns(dns_response(POOL, [(1, POOL_IP, 300)]))
    query = tcp_dns(dns_query(POOL))
    out, back = {"src": CLIENT, "dst": RESOLVER}, {"src": RESOLVER, "dst": CLIENT}
    segments = [
        (ipv4(tcp(sport=port, dport=53, seq=100, flags=SYN), **out)),
        (ipv4(tcp(sport=53, dport=port, seq=500, flags=SYN_ACK), **back)),
        (ipv4(tcp(query, sport=port, dport=53, seq=101, flags=PSH), **out)),
        (ipv4(tcp(answer, sport=53, dport=port, seq=501, flags=PSH), **back)),
    ]
    return [(ts + i * 100, 1, eth(s)) for i, s in enumerate(segments)]


def connect(port: int, ts: int) -> list[Frame]:
    """A connection to the pool's address (no readable protocol: only the address can name it)."""
    return [
        (ts, 1, eth(ipv4(tcp(sport=port, dport=443, seq=1, flags=SYN), src=CLIENT, dst=POOL_IP))),
        (ts + 100, 1, eth(ipv4(tcp(sport=443, dport=port, seq=9, flags=SYN_ACK), src=POOL_IP, dst=CLIENT))),
    ]


def records(released: list[Released]) -> list[dict[str, object]]:
    return [to_eve(Alert(d, "x")) for d in released]


def signatures(found: list[dict[str, object]]) -> list[int]:
    return sorted(r["alert"]["signature_id"] for r in found if r["event_type"] == "alert")  # type: ignore[index]


def one_process(frames: list[Frame]) -> list[dict[str, object]]:
    pipeline = Pipeline(load_shipped())
    out: list[Released] = []
    for frame in frames:
        out += pipeline.feed(frame)
    return records(out + pipeline.finish())


def test_owner_is_the_same_for_both_directions_and_spreads() -> None:
    decoder = Decoder()
    owners = set()
    for port in range(40000, 40064):
        query, answer = (decoder.decode(*f) for f in lookup(port, 0))
        assert query is not None and answer is not None
        assert owner(query, 2) == owner(answer, 2)
        owners.add(owner(query, 2))
    assert owners == {0, 1}


@pytest.mark.parametrize("make", [lookup, tcp_lookup], ids=["udp", "tcp"])
def test_the_answer_reaches_the_worker_of_the_connection(make: object) -> None:
    """Worker A gets the DNS, as every worker does; worker B also gets the connection. The lookup
    alerts once, on its owner, and the connection alerts on B even when B does not own the lookup."""
    assert callable(make)
    lists = load_shipped()
    for port in (40001, 40002, 40003, 40004):  # both owners
        dns: list[Frame] = make(port, 1_000_000)
        flow = connect(port + 1000, 2_000_000)
        expected = one_process(dns + flow)
        found: list[dict[str, object]] = []
        for index in (0, 1):
            pipeline = Pipeline(lists)
            share = DnsShare(pipeline, index, 2)
            out: list[Released] = []
            for frame in dns:
                out += share.feed(frame)
            if index == 1:
                for frame in flow:
                    out += pipeline.feed(frame)
            found += records(out + pipeline.finish())
        assert signatures(expected) == [DNS_POOL.sid, RESOLVED_POOL.sid]  # the lookup, the connection
        assert sorted(map(str, found)) == sorted(map(str, expected)), port


def test_a_lookup_is_counted_and_alerted_once_over_the_workers() -> None:
    lists = load_shipped()
    frames = [f for port in range(41000, 41016) for f in lookup(port, port * 10_000)]
    shares = [DnsShare(Pipeline(lists), i, 2) for i in (0, 1)]
    alerts = []
    for share in shares:
        out: list[Released] = []
        for frame in frames:
            out += share.feed(frame)
        alerts += records(out + share.pipeline.finish())
    assert sorted(map(str, alerts)) == sorted(map(str, one_process(frames)))
    assert sum(s.pipeline.stats.packets for s in shares) == len(frames)
    assert sum(s.learnt for s in shares) == len(frames)
    assert all(s.pipeline.stats.packets for s in shares)  # both own some
    assert [len(s.pipeline.memory) for s in shares] == [1, 1]  # and both learnt the answer


def test_undecodable_frames_count_on_worker_zero_only() -> None:
    frame: Frame = (1, 1, b"\x00" * 10)
    shares = [DnsShare(Pipeline(load_shipped()), i, 2) for i in (0, 1)]
    for share in shares:
        share.feed(frame)
    assert [s.pipeline.stats.packets for s in shares] == [1, 0]
    assert [s.owned(frame) for s in shares] == [True, False]


def quiet_lookup(port: int, ts: int) -> list[Frame]:
    """A query for a name no list holds over UDP from ``port``, and its answer (``POOL_IP``)."""
    query = udp(dns_query("www.example.org"), sport=port, dport=53)
    answer = udp(dns_response("www.example.org", [(1, POOL_IP, 300)]), sport=53, dport=port)
    return [
        (ts, 1, eth(ipv4(query, proto=17, src=CLIENT, dst=RESOLVER))),
        (ts + 1000, 1, eth(ipv4(answer, proto=17, src=RESOLVER, dst=CLIENT))),
    ]


def test_a_query_for_no_listed_name_is_counted_by_its_owner_and_read_by_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its owner counts it (as one process counts it), the others skip it unread; every worker still
    learns the answer's address, and the counts over the workers are one process's."""
    frames = [f for port in range(42000, 42016) for f in quiet_lookup(port, port * 10_000)]
    lists = load_shipped()
    shares = [DnsShare(Pipeline(lists), i, 2) for i in (0, 1)]
    read: list[object] = []
    for share in shares:
        process = share.learner.process
        monkeypatch.setattr(
            share.learner, "process", lambda p, size=None, f=process: read.append(p) or f(p, size)
        )
        for frame in frames:
            assert share.feed(frame) == []
        assert share.pipeline.finish() == []
    one = Pipeline(lists)
    for frame in frames:
        one.feed(frame)
    assert sum(s.pipeline.stats.packets for s in shares) == one.stats.packets == len(frames)
    assert sum(s.learnt for s in shares) == len(frames)
    assert [len(s.pipeline.memory) for s in shares] == [1, 1]
    assert len(read) == len(frames) // 2  # the others' answers only: their queries were not read
