"""poolsniff.dissect.flow: a flow's counts, the tallies the prefilter keeps, the raw keys it looks up."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect.flow import TALLY, Flow, raw_key, tally
from poolsniff.engine.decode import Decoder
from poolsniff.model import FlowKey
from tests.factories_frames import DST4, DST6, SRC4, SRC6, eth, ipv4, ipv6, tcp


def a_flow() -> Flow:
    return Flow(FlowKey("10.0.0.1", 40000, "10.0.0.2", 3333, 6), None, None, (b"c", b"s"), 7)


@given(sizes=st.lists(st.integers(0, 1 << 40), max_size=20))
def test_a_tally_counts_packets_and_bytes_in_two_native_64_bit_numbers(sizes: list[int]) -> None:
    """The layout ``_walk.c`` writes into (two native uint64): what ``tally`` adds, ``TALLY`` reads."""
    counts = bytearray(TALLY.size)
    for size in sizes:
        tally(counts, size)
    assert len(counts) == 16
    assert struct.unpack("=QQ", counts) == (len(sizes), sum(sizes))


def test_a_flows_totals_add_what_the_table_saw_to_what_the_prefilter_tallied() -> None:
    flow = a_flow()
    flow.counts[:] = [3, 2, 300, 2000]
    tally(flow.tallies[0], 60)
    tally(flow.tallies[1], 1500)
    tally(flow.tallies[1], 1500)
    assert flow.totals() == (4, 4, 360, 5000)
    assert a_flow().totals() == (0, 0, 0, 0)


@given(sport=st.integers(0, 65535), dport=st.integers(0, 65535), v6=st.booleans())
def test_a_raw_key_is_the_bytes_a_packet_carries_for_its_addresses_and_ports(
    sport: int, dport: int, v6: bool
) -> None:
    """The prefilter reads a direction's key straight out of the headers: IPv4's addresses at 12-20,
    IPv6's at 8-40, then the TCP ports; ``raw_key`` of the decoded packet must be those bytes."""
    segment = tcp(b"x", sport, dport)
    l3 = ipv6(segment, src=SRC6, dst=DST6) if v6 else ipv4(segment, src=SRC4, dst=DST4)
    packet = Decoder().decode(0, 1, eth(l3, 0x86DD if v6 else 0x0800))
    assert packet is not None
    addresses = l3[8:40] if v6 else l3[12:20]
    assert raw_key(packet.src, packet.dst, packet.sport, packet.dport) == addresses + segment[:4]
