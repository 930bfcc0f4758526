"""Tests for poolsniff.enrich.dnsmemory: address -> name memory with TTL expiry and a size bound."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from poolsniff.dissect.dns import parse_dns
from poolsniff.dissect.streams import dns_event
from poolsniff.engine.decode import ip_to_str
from poolsniff.enrich.dnsmemory import GRACE_US, MIN_TTL_S, DnsMemory
from poolsniff.model import PROTO_UDP, DnsMessage, FlowKey
from tests.factories import dns_response
from tests.factories_frames import SRC6

KEY = FlowKey("10.0.0.1", 5353, "10.0.0.53", 53, PROTO_UDP)
T0 = 1_700_000_000_000_000
S = 1_000_000
POOL = "xmr-eu1.nanopool.org"
A, CNAME, AAAA, HTTPS = 1, 5, 28, 65


def response(
    answers: tuple[tuple[str, int, str, int], ...],
    *,
    ts_us: int = T0,
    qname: str = POOL,
    is_response: bool = True,
) -> DnsMessage:
    """A DNS response event for ``qname`` with the given (rrname, rrtype, rdata, ttl) answers."""
    return DnsMessage(
        ts_us, KEY, not is_response, 7, is_response, 0, 0, 0x8180 if is_response else 0x0100,
        ((qname, A),), answers,
    )  # fmt: skip


def a(address: str, ttl: int = 300, name: str = POOL) -> tuple[str, int, str, int]:
    """An A answer."""
    return (name, A, address, ttl)


# --------------------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    ("ttl", "offset_us", "remembered"),
    [
        pytest.param(300, 0, True, id="at-once"),
        pytest.param(300, 299 * S, True, id="within-ttl"),
        pytest.param(300, 300 * S, True, id="at-ttl"),
        pytest.param(300, 300 * S + GRACE_US, True, id="end-of-grace"),
        pytest.param(300, 300 * S + GRACE_US + 1, False, id="after-grace"),
        pytest.param(300, 3600 * S, False, id="long-after"),
        pytest.param(0, MIN_TTL_S * S + GRACE_US, True, id="ttl-0-kept-for-the-minimum"),
        pytest.param(0, MIN_TTL_S * S + GRACE_US + 1, False, id="ttl-0-after-the-minimum"),
        pytest.param(5, 20 * S, True, id="short-ttl-raised-to-the-minimum"),
        pytest.param(MIN_TTL_S + 1, (MIN_TTL_S + 1) * S + GRACE_US, True, id="just-over-minimum"),
        pytest.param(MIN_TTL_S + 1, (MIN_TTL_S + 1) * S + GRACE_US + 1, False, id="just-over-min-expired"),
        pytest.param(2**32 - 1, 86_400 * S * 365, True, id="max-ttl"),
    ],
)
def test_answer_is_remembered_for_its_ttl(ttl: int, offset_us: int, remembered: bool) -> None:
    memory = DnsMemory()
    memory.observe(response((a("51.255.1.2", ttl),)))
    assert memory.lookup("51.255.1.2", T0 + offset_us) == (POOL if remembered else None)


def test_unknown_address_is_not_found() -> None:
    memory = DnsMemory()
    memory.observe(response((a("51.255.1.2"),)))
    assert memory.lookup("51.255.1.3", T0) is None


def test_newer_answer_replaces_name_and_expiry() -> None:
    memory = DnsMemory()
    memory.observe(response((a("51.255.1.2", ttl=30),), qname="old.example"))
    memory.observe(response((a("51.255.1.2", ttl=600),), ts_us=T0 + 10 * S))
    assert memory.lookup("51.255.1.2", T0 + 500 * S) == POOL
    assert len(memory) == 1


# --------------------------------------------------------------------------- what is remembered


@pytest.mark.parametrize(
    ("answers", "found"),
    [
        pytest.param((a("51.255.1.2"),), {"51.255.1.2": POOL}, id="a"),
        pytest.param(((POOL, AAAA, "2001:db8::1", 60),), {"2001:db8::1": POOL}, id="aaaa"),
        pytest.param(
            ((POOL, CNAME, "eu1.nanopool.org", 300), a("51.255.1.2", name="eu1.nanopool.org")),
            {"51.255.1.2": POOL},
            id="named-after-the-question-not-the-cname-target",
        ),
        pytest.param(
            (a("51.255.1.2", name="eu1.nanopool.org"),), {"51.255.1.2": POOL}, id="owner-other-than-question"
        ),
        pytest.param(((POOL, CNAME, "eu1.nanopool.org", 300),), {}, id="cname-only"),
        pytest.param(((POOL, HTTPS, "1 . alpn=h2", 300),), {}, id="other-type"),
        pytest.param(
            (a("51.255.1.2"), a("51.255.1.3"), (POOL, AAAA, "2001:db8::7", 60)),
            {"51.255.1.2": POOL, "51.255.1.3": POOL, "2001:db8::7": POOL},
            id="several-addresses",
        ),
    ],
)
def test_only_a_and_aaaa_answers_are_remembered(
    answers: tuple[tuple[str, int, str, int], ...], found: dict[str, str]
) -> None:
    memory = DnsMemory()
    memory.observe(response(answers))
    assert len(memory) == len(found)
    for address, name in found.items():
        assert memory.lookup(address, T0) == name
    assert memory.lookup("eu1.nanopool.org", T0) is None


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(response((a("51.255.1.2"),), is_response=False), id="query-carrying-answers"),
        pytest.param(response(()), id="response-without-answers"),
        pytest.param(
            DnsMessage(T0, KEY, False, 7, True, 0, 0, 0x8180, (), (a("51.255.1.2"),)), id="no-question"
        ),
    ],
)
def test_only_responses_with_a_question_and_answers_count(msg: DnsMessage) -> None:
    memory = DnsMemory()
    memory.observe(msg)
    assert len(memory) == 0
    assert memory.lookup("51.255.1.2", T0) is None


def test_parsed_aaaa_answer_matches_the_address_a_packet_carries() -> None:
    # dns.py prints AAAA rdata with ipaddress, decode.py prints packet addresses with inet_ntop
    raw = dns_response("Pool.SupportXMR.com", [(AAAA, SRC6, 60), (A, bytes([192, 0, 2, 7]), 60)], qtype=AAAA)
    parsed = parse_dns(raw)
    assert parsed is not None
    memory = DnsMemory()
    memory.observe(dns_event(T0, KEY, False, parsed))
    assert memory.lookup(ip_to_str(SRC6), T0) == "pool.supportxmr.com"
    assert memory.lookup(ip_to_str(bytes([192, 0, 2, 7])), T0) == "pool.supportxmr.com"


# --------------------------------------------------------------------------- bound


def addresses(count: int, start: int = 0) -> list[str]:
    """Distinct IPv4 addresses in 198.51.100.0/22."""
    return [f"198.51.{100 + (i >> 8)}.{i & 255}" for i in range(start, start + count)]


@pytest.mark.parametrize(("max_entries", "observed"), [(3, 3), (3, 5), (1, 4), (10, 100)])
def test_memory_is_bounded_and_evicts_the_oldest(max_entries: int, observed: int) -> None:
    memory = DnsMemory(max_entries=max_entries)
    for i, address in enumerate(addresses(observed)):
        memory.observe(response((a(address),), ts_us=T0 + i))
    kept = min(max_entries, observed)
    assert len(memory) == kept
    assert memory.evicted == observed - kept
    every = addresses(observed)
    assert [memory.lookup(x, T0) for x in every] == [None] * (observed - kept) + [POOL] * kept


def test_one_response_with_more_answers_than_the_bound() -> None:
    memory = DnsMemory(max_entries=4)
    memory.observe(response(tuple(a(x) for x in addresses(10))))
    assert len(memory) == 4
    assert memory.evicted == 6
    assert memory.lookup(addresses(10)[-1], T0) == POOL


def test_seeing_an_address_again_makes_it_recent() -> None:
    memory = DnsMemory(max_entries=3)
    first, second, third, fourth = addresses(4)
    for address in (first, second, third, first, fourth):
        memory.observe(response((a(address),)))
    assert memory.lookup(first, T0) == POOL
    assert memory.lookup(second, T0) is None
    assert memory.evicted == 1


class OrderedModel:
    """The memory's order and bound as one OrderedDict keeps them (set, move to the end, drop oldest)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.map: OrderedDict[str, str] = OrderedDict()
        self.evicted = 0

    def observe(self, addresses: list[str], name: str) -> None:
        for address in addresses:
            self.map[address] = name
            self.map.move_to_end(address)
        while len(self.map) > self.max_entries:
            self.map.popitem(last=False)
            self.evicted += 1


# each response: (addresses answered, by index into a pool of 8 addresses)
SEQUENCES = [
    pytest.param(3, [[0], [1], [2], [0], [3]], id="refresh-before-full"),
    pytest.param(3, [[0], [1], [2], [3], [1], [4], [2]], id="refresh-after-full"),
    pytest.param(2, [[0, 1, 2, 3]], id="fills-inside-one-response"),
    pytest.param(4, [[0, 1], [2, 1], [3, 4, 0], [5], [0, 6, 7], [1]], id="mixed"),
    pytest.param(8, [[0], [1], [0], [1]], id="never-full"),
]


@pytest.mark.parametrize(("max_entries", "responses"), SEQUENCES)
def test_order_and_eviction_before_and_after_the_memory_fills(
    max_entries: int, responses: list[list[int]]
) -> None:
    # the memory is a plain dict until it first fills, an OrderedDict after: the same order either way
    pool = addresses(8)
    memory, model = DnsMemory(max_entries=max_entries), OrderedModel(max_entries)
    for i, picks in enumerate(responses):
        name = f"n{i}.example"
        memory.observe(response(tuple(a(pool[p], name=name) for p in picks), qname=name))
        model.observe([pool[p] for p in picks], name)
        assert [memory.lookup(x, T0) for x in pool] == [model.map.get(x) for x in pool]
        assert (len(memory), memory.evicted) == (len(model.map), model.evicted)
