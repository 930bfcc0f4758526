"""The frames of other link types as the walks read them (``engine.fast.link``, and ``link_view`` in C).

The walks read Ethernet frames; a frame of another link type is read as the Ethernet frame that
``ethernet_view`` makes of it. That is only right if the decoder reads the two the same: the same
packet, or the same reason to count the frame. Where there is no view, the decoder must count the
frame (the walk leaves it to the decoder, which could not make a packet of it either way). The C walk's
``link_view`` is held to this reference through the walks' differential tests (``test_walk``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.engine.decode import Decoder
from poolsniff.engine.fast.link import LINKTYPES, ethernet_view
from tests.factories_frames import eth, ipv4, ipv6, null, relinked, sll, sll2, tcp, udp

TS = 1_700_000_000_000_000


def decoded(linktype: int, frame: bytes) -> tuple[object, dict[str, int]]:
    """What a fresh decoder makes of ``frame``, and what it counted."""
    decoder = Decoder()
    return decoder.decode(TS, linktype, frame), dict(decoder.skipped)


@st.composite
def frames(draw: st.DrawFn) -> tuple[int, bytes]:
    """A frame of a link type the walks read: a real packet as captured there, cut short or not, or bytes."""
    linktype = draw(st.sampled_from(sorted(LINKTYPES)))
    payload = draw(st.binary(max_size=40))
    l4 = draw(st.sampled_from([tcp(payload, 40000, 3333, 7, 0x18), udp(payload, 5353, 53), b"\x00" * 8]))
    v6 = draw(st.booleans())
    proto = draw(st.sampled_from([6, 17, 1]))
    l3 = ipv6(l4, nxt=proto) if v6 else ipv4(l4, proto=proto)
    etype = 0x86DD if v6 else draw(st.sampled_from([0x0800, 0x0800, 0x0806, 0x8100]))
    frame = relinked(eth(l3, etype=etype), linktype)
    frame = frame[: draw(st.sampled_from([len(frame), len(frame), draw(st.integers(0, len(frame)))]))]
    if draw(st.integers(0, 5)) == 0:
        frame = draw(st.binary(max_size=60))
    return linktype, frame


def test_the_walks_read_every_link_type_the_decoder_reads() -> None:
    """A link type the decoder learns must be read by the walks too (or its frames go slowly, one by one)."""
    from poolsniff.engine.decode import LINK_PARSERS

    assert set(LINK_PARSERS) == LINKTYPES


@settings(max_examples=2000, deadline=None)
@given(case=frames())
def test_the_decoder_reads_the_view_as_it_reads_the_frame(case: tuple[int, bytes]) -> None:
    linktype, frame = case
    view = ethernet_view(linktype, frame)
    packet, counted = decoded(linktype, frame)
    if view is None:
        assert packet is None and sum(counted.values()) == 1, (linktype, frame)
    else:
        assert decoded(1, view) == (packet, counted), (linktype, frame)


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (113, sll(ipv4(tcp(b"x", 1, 2, 3, 0x18)))),
        (276, sll2(ipv4(tcp(b"x", 1, 2, 3, 0x18)))),
        (276, sll2(ipv6(udp(b"q", 5353, 53), nxt=17), protocol=0x86DD)),
        (101, ipv4(tcp(b"x", 1, 2, 3, 0x18))),
        (101, ipv6(udp(b"q", 5353, 53), nxt=17)),
        (228, ipv4(udp(b"q", 5353, 53), proto=17)),
        (229, ipv6(tcp(b"x", 1, 2, 3, 0x18))),
        (0, null(ipv4(tcp(b"x", 1, 2, 3, 0x18)), 2)),
        (0, null(ipv6(tcp(b"x", 1, 2, 3, 0x18)), 30, ">")),
        (108, null(ipv6(tcp(b"x", 1, 2, 3, 0x18)), 24, ">")),
        (104, relinked(eth(ipv4(tcp(b"x", 1, 2, 3, 0x18))), 104)),
        (9, b"\xff\x03\x00\x21" + ipv4(tcp(b"x", 1, 2, 3, 0x18))),
        (9, b"\x57" + ipv6(tcp(b"x", 1, 2, 3, 0x18))),  # protocol-field compression
    ],
)
def test_a_packet_of_each_link_type_has_a_view_with_the_same_packet(linktype: int, frame: bytes) -> None:
    view = ethernet_view(linktype, frame)
    assert view is not None and view[14:] == frame[-(len(view) - 14) :]
    packet, counted = decoded(linktype, frame)
    assert packet is not None and not counted
    assert decoded(1, view) == (packet, counted)


@pytest.mark.parametrize(
    ("linktype", "frame", "reason"),
    [
        (113, bytes(15), "truncated"),
        (276, bytes(19), "truncated"),
        (101, b"", "empty"),
        (101, b"\x50" + bytes(30), "bad-ip-header"),
        (0, b"\x07\0\0\0" + bytes(40), "not-ip"),  # loopback of another family
        (104, bytes(3), "truncated"),
        (9, b"\xff\x03\xc0\x21" + bytes(40), "not-ip"),  # PPP's link control protocol
        (9, b"\xff\x03\x00", "truncated"),
        (147, bytes(40), None),  # a link type the decoder does not read: its frames go to it, counted
    ],
)
def test_no_view_where_the_decoder_reads_the_link_header_otherwise(
    linktype: int, frame: bytes, reason: str | None
) -> None:
    assert ethernet_view(linktype, frame) is None
    packet, counted = decoded(linktype, frame)
    assert packet is None
    if reason is not None:
        assert counted == {reason: 1}
