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
the reference of ``link_view`` in ``_link.h``. ``packet_epb`` says which enhanced packet blocks of a
pcapng file the walks read (``packet_epb`` in ``_walk.c``).
"""

from __future__ import annotations

import struct
from typing import Final

from poolsniff.engine.decode import AF_INET6_VALUES, PPP_PROTOCOLS
from poolsniff.sources.pcap import Interface

LINKTYPES: Final = frozenset({0, 1, 9, 12, 14, 101, 104, 108, 113, 228, 229, 276})
"""The link types the walks read, every one the decoder reads (``decode.LINK_PARSERS``): Ethernet, raw IP
(12, 14, 101), Linux cooked v1 (113) and v2 (276), IPv4 (228) and IPv6 (229) alone, BSD and macOS
loopback (0), OpenBSD loopback (108), PPP (9), Cisco HDLC (104) (https://www.tcpdump.org/linktypes.html)."""
_IPV4: Final = b"\x08\x00"
_IPV6: Final = b"\x86\xdd"
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
    goes to the decoder as it is (a link type not in ``LINKTYPES``, or a link header it reads otherwise)."""
    if linktype == 1:
        return frame
    if linktype == 113:  # packet type, ARPHRD type, address length, 8-byte address, protocol
        return frame[2:] if len(frame) >= 16 else None
    if linktype == 276:  # protocol, reserved, ifindex, ARPHRD type, packet type, address length, address
        return _NO_ADDRESSES + frame[:2] + frame[20:] if len(frame) >= 20 else None
    if linktype in (0, 108):  # loopback: the address family, in the writer's order (0) or big-endian (108)
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big")
        if linktype == 0 and int.from_bytes(frame[:4], "little") <= 0xFFFF:
            family = int.from_bytes(frame[:4], "little")
        etype = _IPV4 if family == 2 else _IPV6 if family in AF_INET6_VALUES else None
        return None if etype is None else _NO_ADDRESSES + etype + frame[4:]
    if linktype == 9:  # PPP: an optional ff 03 address and control, a 1- or 2-byte protocol
        off = 2 if frame[:2] == b"\xff\x03" else 0
        if len(frame) < off + 1 or (not frame[off] & 1 and len(frame) < off + 2):
            return None
        if frame[off] & 1:  # protocol-field compression: one byte
            protocol, off = frame[off], off + 1
        else:
            protocol, off = (frame[off] << 8) | frame[off + 1], off + 2
        ppp = PPP_PROTOCOLS.get(protocol)
        return None if ppp is None else _NO_ADDRESSES + ppp.to_bytes(2, "big") + frame[off:]
    if linktype == 104:  # Cisco HDLC: address, control, EtherType
        return _NO_ADDRESSES + frame[2:] if len(frame) >= 4 else None
    if not frame or linktype not in LINKTYPES:
        return None
    if linktype == 228:
        return _NO_ADDRESSES + _IPV4 + frame
    if linktype == 229:
        return _NO_ADDRESSES + _IPV6 + frame
    version = frame[0] >> 4  # raw IP: the version says which
    if version == 4:
        return _NO_ADDRESSES + _IPV4 + frame
    return _NO_ADDRESSES + _IPV6 + frame if version == 6 else None


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
