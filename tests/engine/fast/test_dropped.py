"""The frames the walks count for the decoder (``engine.fast.dropped``, and ``dropped_kind`` in C)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.engine.decode import Decoder
from poolsniff.engine.fast import walk
from poolsniff.engine.fast.dropped import (
    FEED,
    REASONS,
    SKIP_NOT_IP,
    SKIP_OTHER_PROTO,
    count,
    dropped,
    new_dropped,
    take,
    taken,
)
from tests.factories_frames import eth, ipv4, ipv6, pcap_record, tcp, udp

try:
    from poolsniff.engine.fast._walk import decide as c_decide
    from poolsniff.engine.fast._walk import skip as c_skip
except ImportError:  # not built here (no compiler): the tests that need it skip
    c_decide = c_skip = None
NOT_BUILT = "the C record walk (poolsniff/engine/fast/_walk.c) is not built here"
ARP = bytes.fromhex("0001080006040001") + bytes(20)


def decoded(frame: bytes) -> tuple[bool, dict[str, int]]:
    """Whether the decoder makes a packet of ``frame``, and what it counts."""
    decoder = Decoder()
    packet = decoder.decode(1, 1, frame)
    return packet is not None, dict(decoder.skipped)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """Ethernet frames of every kind the decoder tells apart: other EtherTypes and 802.3 lengths, IPv4
    and IPv6 of every protocol, behind tags or not, with odd header fields, cut anywhere; noise."""
    kind = draw(st.sampled_from(["other", "v4", "v4", "v6", "v6", "noise"]))
    tags = draw(st.sampled_from([(), (), (), (0x8100,), (0x88A8, 0x8100)]))
    if kind == "other":
        etype = draw(st.sampled_from([0x0806, 0x88CC, 0x8808, 0x8864, 0x9100, 38, 0x05FF, 0x0600, 0xFFFF]))
        frame = eth(draw(st.binary(max_size=60)), etype=etype, tags=tags)
    elif kind == "v4":
        proto = draw(st.sampled_from([1, 2, 6, 17, 47, 50, 89, 103, 255]))
        body = tcp(b"x" * 4, 1, 2, 3, 0x18) if proto == 6 else udp(b"u", 5, 6) if proto == 17 else b"\0" * 30
        ip = ipv4(
            body,
            proto=proto,
            total=draw(st.sampled_from([None] * 4 + [0, 10, 20, 23, 24, 28, 2000])),
            frag=draw(st.sampled_from([0, 0, 0x4000, 0x2000, 0x0005])),
            options=draw(st.sampled_from([b"", b"", b"\x94\x04\x00\x00"])),
            version=draw(st.sampled_from([4, 4, 4, 6])),
            ihl=draw(st.sampled_from([None] * 5 + [4, 15])),
        )
        frame = eth(ip, tags=tags)
    elif kind == "v6":
        nxt = draw(st.sampled_from([58, 58, 0, 43, 44, 50, 51, 59, 60, 135, 6, 17, 4, 41]))
        ip = ipv6(
            draw(st.binary(min_size=0, max_size=40)),
            nxt=nxt,
            length=draw(st.sampled_from([None, None, 0, 8, 9000])),
            version=draw(st.sampled_from([6, 6, 6, 4])),
        )
        frame = eth(ip, etype=0x86DD, tags=tags)
    else:
        frame = draw(st.binary(max_size=80))
    cut = draw(st.sampled_from([None, None, None, 12, 13, 14, 20, 33, 34, 37, 53, 54, -1]))
    return frame if cut is None else frame[:cut]


@settings(max_examples=3000)
@given(frame=frames())
def test_a_frame_taken_is_one_the_decoder_only_counts_by_that_reason(frame: bytes) -> None:
    """Whatever the frame, ``dropped`` takes it only where the decoder makes no packet of it and counts it
    under that reason; and it takes every untagged ARP, ICMP and ICMPv6 frame whole enough to count."""
    kind = dropped(frame, 0, len(frame))
    made, skipped = decoded(frame)
    if kind != FEED:
        assert not made and skipped == {REASONS[kind - SKIP_NOT_IP]: 1}
    elif not made and len(frame) >= 14 and skipped in ({"not-ip": 1}, {"other-proto": 1}):
        # what is left to the decoder for these reasons: behind a tag or PPPoE, or IPv6 extensions
        etype = (frame[12] << 8) | frame[13]
        assert etype in (0x8100, 0x88A8, 0x9100, 0x9200, 0x8864) or (etype == 0x86DD and frame[20] != 58)


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (eth(ARP, etype=0x0806), SKIP_NOT_IP),
        (eth(bytes.fromhex("424203") + bytes(35), etype=38), SKIP_NOT_IP),  # 802.3, spanning tree
        (eth(ipv4(b"\x08\x00" + bytes(30), proto=1)), SKIP_OTHER_PROTO),  # ICMP
        (eth(ipv4(bytes(8), proto=2, options=b"\x94\x04\x00\x00")), SKIP_OTHER_PROTO),  # IGMP
        (eth(ipv6(b"\x80\x00" + bytes(30), nxt=58), etype=0x86DD), SKIP_OTHER_PROTO),  # ICMPv6
        (eth(ARP, etype=0x0806, tags=(0x8100,)), FEED),  # the decoder reads the tag
        (eth(ipv4(bytes(30), proto=1, frag=0x0005)), FEED),  # a fragment
        (eth(ipv4(bytes(30), proto=1, total=10)), FEED),  # unsound: shorter than its header
        (eth(ipv4(tcp(b"x", 1, 2, 3, 0x18))), FEED),
        (eth(ipv6(udp(b"u", 5, 53), nxt=17), etype=0x86DD), FEED),
        (eth(ipv6(bytes(8), nxt=0), etype=0x86DD), FEED),  # hop-by-hop: the decoder steps over it
        (eth(ARP, etype=0x0806)[:13], FEED),
    ],
    ids=["arp", "stp", "icmp", "igmp", "icmpv6", "tagged-arp", "fragment", "short-total", "tcp", "udp6",
         "hop-by-hop", "cut"],
)  # fmt: skip
def test_common_frames(frame: bytes, kind: int) -> None:
    assert dropped(frame, 0, len(frame)) == kind
    if c_decide is not None:  # live capture's decision in C says the same
        assert c_decide({}, frame, 1) == kind


@pytest.mark.skipif(c_decide is None, reason=NOT_BUILT)
@settings(max_examples=2000, deadline=None)
@given(frame=frames())
def test_c_decides_what_python_decides(frame: bytes) -> None:
    assert c_decide({}, frame, 7) == walk.decide_frame({}, frame, 7)


def test_counts_are_added_by_reason_and_taken_once() -> None:
    counts = new_dropped()
    for kind in (SKIP_NOT_IP, SKIP_OTHER_PROTO, SKIP_NOT_IP):
        count(counts, kind)
    skipped: Counter[str] = Counter({"fragment": 1})
    take(counts, skipped)
    assert skipped == {"fragment": 1, "not-ip": 2, "other-proto": 1}
    take(counts, skipped)  # nothing twice, and no reason with none
    assert skipped == {"fragment": 1, "not-ip": 2, "other-proto": 1}
    only_icmp: Counter[str] = Counter()
    count(counts, SKIP_OTHER_PROTO)
    take(counts, only_icmp)
    assert "not-ip" not in only_icmp and only_icmp["other-proto"] == 1


def test_taken_steps_over_all_but_feed_and_counts_dropped_frames_only_given_counts() -> None:
    counts = new_dropped()
    assert not taken(FEED, counts) and not taken(SKIP_NOT_IP, None) and not taken(SKIP_OTHER_PROTO, None)
    assert taken(1, None) and taken(2, None) and taken(1, counts) and taken(2, counts)  # TCP, UDP
    assert taken(SKIP_OTHER_PROTO, counts) and taken(SKIP_OTHER_PROTO, counts) and taken(SKIP_NOT_IP, counts)
    skipped: Counter[str] = Counter()
    take(counts, skipped)
    assert skipped == {"not-ip": 1, "other-proto": 2}


@pytest.mark.parametrize("walker", ["python", "c"])
def test_the_walk_steps_over_them_given_counts_and_stops_at_them_without(walker: str) -> None:
    if walker == "c" and c_skip is None:
        pytest.skip(NOT_BUILT)
    skip = walk.skip if walker == "python" else c_skip
    taken = [eth(ARP, etype=0x0806), eth(ipv4(bytes(30), proto=1)), eth(ipv6(bytes(8), nxt=58), etype=0x86DD)]
    buf = b"".join(pcap_record(1_000 + i, f, "<", False) for i, f in enumerate(taken))
    counts = new_dropped()
    walked = skip(buf, 0, len(buf), False, 1, 65535, {}, 10, 1 << 62, None, None, None, counts)
    assert walked == (len(buf), 10, 3)
    skipped: Counter[str] = Counter()
    take(counts, skipped)
    assert skipped == {"not-ip": 1, "other-proto": 2}
    assert skip(buf, 0, len(buf), False, 1, 65535, {}, 10, 1 << 62) == (0, 10, 0)  # no counts: fed


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@pytest.mark.parametrize("counts", [bytearray(8), b"\0" * 16, [0, 0]])
def test_c_walk_refuses_counts_of_another_kind(counts: object) -> None:
    with pytest.raises(TypeError, match="counts"):
        c_skip(b"", 0, 0, False, 1, 65535, {}, 10, 1 << 62, None, None, None, counts)
