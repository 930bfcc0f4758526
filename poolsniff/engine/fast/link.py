"""The frames the record walks read: their link layers, and the pcapng blocks that hold them (prefilter).

source -> **prefilter** (the frame's link layer) -> decode -> flows/dissectors -> ...

The walks (``walk``, ``_walk.c``) read Ethernet frames: the EtherType at byte 12, the network header at
14. The decoder (``engine.decode``) peels every link layer it knows down to the same two facts and reads
on from there as it reads Ethernet, so a frame of another link type is read by the decoder as the
Ethernet frame made of its EtherType and its network header and what follows. ``ethernet_view`` makes
that frame for the link layers of ``tcpdump -i any`` (Linux cooked v1 and v2), of raw IP (tunnels,
WireGuard, some taps), of loopback (BSD, macOS), of PPP and of Cisco HDLC: every one the decoder reads,
so that the walks skip what they skip of Ethernet in those captures too; where the decoder reads the
link header otherwise (cut short, raw IP of neither version, an empty frame: it counts those) there is
none, and the frame goes to the decoder. The flow's tally still counts the frame's own bytes. This is
the reference of ``link_view`` in ``_link.h``, made of the decoder's own link parsers. ``packet_epb``
says which enhanced packet blocks of a pcapng file the walks read (``packet_epb`` in ``_walk.c``).
"""

from __future__ import annotations

import struct
from typing import Final

from poolsniff.engine.decode import LINK_PARSERS
from poolsniff.sources.pcap import Interface

LINKTYPES: Final = frozenset(LINK_PARSERS)
"""The link types the walks read: every one the decoder reads (``decode.LINK_PARSERS``)."""
_NO_ADDRESSES: Final = bytes(12)
_EPB_HEAD = (struct.Struct("<IIIIII").unpack_from, struct.Struct(">IIIIII").unpack_from)
"""An enhanced packet block's type, length, interface, time high and low, captured length."""
_U32 = (struct.Struct("<I").unpack_from, struct.Struct(">I").unpack_from)
MAX_BLOCK: Final = 16 << 20
"""``poolsniff.sources.pcap.MAX_BLOCK``: larger blocks are left to the reader."""
_EPB: Final = 6
MAX_IFACES: Final = 64
"""Interfaces the C walk keeps (``MAX_IFACES`` in _walk.c); blocks of later ones go to the reader."""


def ethernet_view(linktype: int, frame: bytes) -> bytes | None:
    """``frame`` of ``linktype`` as the Ethernet frame the decoder reads the same, or None: the frame
    goes to the decoder as it is (a link type not in ``LINKTYPES``, an empty frame, or a link header the
    decoder's own parser (``decode.LINK_PARSERS``) refuses, which the decoder counts)."""
    if linktype == 1:
        return frame
    parse = LINK_PARSERS.get(linktype)
    if parse is None or not frame:
        return None
    found = parse(frame)
    if isinstance(found, str):
        return None
    off, etype = found
    return _NO_ADDRESSES + etype.to_bytes(2, "big") + frame[off:]


def packet_epb(
    buf: bytes, pos: int, end: int, big_endian: bool, ifaces: list[Interface]
) -> tuple[int, int, int, int] | None:
    """``(ts, caplen, block length, link type)`` of the block at ``buf[pos:end]`` if it is a sound enhanced
    packet block (as the reader checks it: length, trailer, captured length, interface) of an interface
    of a link type the walks read (``link.LINKTYPES``) whose time fits 64 bits (as the C walk keeps it)."""
    if end - pos < 32:
        return None
    btype, blen, ifid, high, low, caplen = _EPB_HEAD[big_endian](buf, pos)
    if btype != _EPB or blen < 32 or blen & 3 or blen > MAX_BLOCK:
        return None
    if blen > end - pos or _U32[big_endian](buf, pos + blen - 4)[0] != blen:
        return None
    if caplen > blen - 32 or ifid >= min(len(ifaces), MAX_IFACES):
        return None
    linktype, mul, div, offset, _ = ifaces[ifid]
    if linktype not in LINKTYPES or mul > 1 << 40 or not -(1 << 63) <= offset < 1 << 63 or div >= 1 << 63:
        return None
    ts = ((high << 32) | low) * mul // div + offset
    if not -(1 << 63) <= ts < 1 << 63:
        return None
    return ts, caplen, blen, linktype
