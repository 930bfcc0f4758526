"""Frames to packets: the decode stage, right after the sources.

source -> decode (this module) -> flows/dissectors -> detectors -> enrichment -> sinks

``Decoder.decode(ts_us, linktype, data)`` peels the link layer (Ethernet with VLAN/QinQ tags
and PPPoE, Linux cooked v1/v2, raw IP, BSD loopback, PPP, Cisco HDLC), then IPv4 or IPv6
(with its extension headers), and returns a ``Packet`` for TCP and UDP. Anything else
returns ``None`` and is counted in ``Decoder.skipped`` under a short reason; no input makes
it raise. It is on the per-packet hot path: it works on offsets into the frame with
precompiled ``struct`` unpackers and only slices the addresses and the payload, and tries
Ethernet/IPv4 first, through a fast lane (``_ethernet_ipv4``) for the plain shape.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Callable
from typing import Final

from poolsniff.model import PROTO_TCP, PROTO_UDP, Packet

REASONS: Final = (
    "empty",  # a zero-length frame
    "truncated",  # the frame ends inside a header
    "unknown-linktype",  # a link type this decoder does not handle
    "not-ip",  # ARP, LLDP, 802.3/LLC, MPLS, PPP control, ...
    "vlan-depth",  # more stacked VLAN tags than MAX_TAGS
    "bad-ip-header",  # wrong version, header length or total length; too many extension headers
    "fragment",  # an IPv4/IPv6 fragment that is not the first one
    "other-proto",  # ICMP, GRE, ESP, tunnels, IPv6 "no next header", ...
    "bad-tcp-header",  # a TCP data offset below 5 words
)
"""Every reason ``Decoder.skipped`` may count."""

MAX_TAGS: Final = 8
"""Most VLAN tags peeled off one frame (802.1Q, QinQ)."""
MAX_EXT_HEADERS: Final = 16
"""Most IPv6 extension headers walked before giving up."""

ETH_IPV4: Final = 0x0800
ETH_IPV6: Final = 0x86DD
ETH_PPPOE: Final = 0x8864  # PPPoE session stage, RFC 2516
VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
IPV6_EXT_8: Final = frozenset({0, 43, 60, 135})
"""Hop-by-hop, routing, destination options, mobility: length in 8-byte units, plus 1."""
IPV6_FRAGMENT: Final = 44
IPV6_AH: Final = 51  # length in 4-byte units, plus 2 (RFC 4302)
IPV6_EXT_ALL: Final = IPV6_EXT_8 | {IPV6_FRAGMENT, IPV6_AH}
AF_INET6_VALUES: Final = frozenset({10, 24, 28, 30})
"""AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD/DragonFly, macOS (BSD loopback headers)."""
PPP_PROTOCOLS: Final = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}

_IP4 = struct.Struct("!BxHxxHxB2x4s4s").unpack_from  # vhl, total, frag, proto, src, dst
_ETH_IP4_TCP = struct.Struct("!12xHBxHxxHxB2x4s4sHHI4xBB").unpack_from  # EtherType, _IP4, _TCP
_IP6 = struct.Struct("!BxxxHBx16s16s").unpack_from  # version, payload length, next, src, dst
_TCP = struct.Struct("!HHI4xBB").unpack_from  # sport, dport, seq, offset, flags
_UDP = struct.Struct("!HHH").unpack_from  # sport, dport, length
_new = tuple.__new__

LinkResult = tuple[int, int] | str
"""(offset of the network header, EtherType) or the reason to skip the frame."""


def _ethernet(data: bytes) -> LinkResult:
    if len(data) < 14:
        return "truncated"
    return 14, (data[12] << 8) | data[13]


def _sll(data: bytes) -> LinkResult:
    # Linux cooked v1: packet type, ARPHRD type, address length, 8-byte address, protocol
    if len(data) < 16:
        return "truncated"
    return 16, (data[14] << 8) | data[15]


def _sll2(data: bytes) -> LinkResult:
    # Linux cooked v2: protocol, reserved, ifindex, ARPHRD type, packet type, addr len, addr
    if len(data) < 20:
        return "truncated"
    return 20, (data[0] << 8) | data[1]


def _raw(data: bytes) -> LinkResult:
    version = data[0] >> 4
    if version == 4:
        return 0, ETH_IPV4
    if version == 6:
        return 0, ETH_IPV6
    return "bad-ip-header"


def _family(family: int) -> LinkResult:
    if family == 2:
        return 4, ETH_IPV4
    if family in AF_INET6_VALUES:
        return 4, ETH_IPV6
    return "not-ip"


def _null(data: bytes) -> LinkResult:
    # BSD loopback: the address family in the byte order of the host that wrote the file
    if len(data) < 4:
        return "truncated"
    family = int.from_bytes(data[:4], "little")
    return _family(family if family <= 0xFFFF else int.from_bytes(data[:4], "big"))


def _loop(data: bytes) -> LinkResult:
    # OpenBSD loopback: the address family in network byte order
    if len(data) < 4:
        return "truncated"
    return _family(int.from_bytes(data[:4], "big"))


def _ppp(data: bytes) -> LinkResult:
    # RFC 1661/1662: optional ff 03 address/control, then a 1- or 2-byte protocol field
    off = 2 if data[:2] == b"\xff\x03" else 0
    if len(data) < off + 1:
        return "truncated"
    if data[off] & 1:  # protocol-field compression: a one-byte protocol
        protocol, off = data[off], off + 1
    elif len(data) < off + 2:
        return "truncated"
    else:
        protocol, off = (data[off] << 8) | data[off + 1], off + 2
    etype = PPP_PROTOCOLS.get(protocol)
    return "not-ip" if etype is None else (off, etype)


def _chdlc(data: bytes) -> LinkResult:
    # Cisco HDLC: address, control, EtherType
    if len(data) < 4:
        return "truncated"
    return 4, (data[2] << 8) | data[3]


def _ipv4_only(data: bytes) -> LinkResult:
    return 0, ETH_IPV4


def _ipv6_only(data: bytes) -> LinkResult:
    return 0, ETH_IPV6


LINK_PARSERS: Final[dict[int, Callable[[bytes], LinkResult]]] = {
    0: _null,
    1: _ethernet,
    9: _ppp,
    12: _raw,
    14: _raw,
    101: _raw,
    104: _chdlc,
    108: _loop,
    113: _sll,
    228: _ipv4_only,
    229: _ipv6_only,
    276: _sll2,
}
"""pcap link type -> parser of its header (https://www.tcpdump.org/linktypes.html)."""


class Decoder:
    """Turns frames into TCP/UDP ``Packet`` records and counts what it skips, by reason."""

    __slots__ = ("skipped",)

    def __init__(self) -> None:
        """Start with no frames skipped."""
        self.skipped: Counter[str] = Counter()
        """How many frames were skipped, by reason (see ``REASONS``)."""

    def decode(self, ts_us: int, linktype: int, data: bytes) -> Packet | None:
        """Decode one frame; ``None`` (counted in ``skipped``) unless it is IPv4/IPv6 TCP/UDP."""
        if linktype == 1:
            packet = _ethernet_ipv4(ts_us, data)
            if packet is not None:
                return packet
            if len(data) >= 14 and data[12] == 8 and data[13] == 0:
                return self._ipv4(ts_us, data, 14)
        if not data:
            return self._skip("empty")
        parse = LINK_PARSERS.get(linktype)
        if parse is None:
            return self._skip("unknown-linktype")
        found = parse(data)
        if isinstance(found, str):
            return self._skip(found)
        off, etype = found
        tags = 0
        while etype in VLAN_TYPES or etype == ETH_PPPOE:
            if etype == ETH_PPPOE:
                return self._pppoe(ts_us, data, off)
            tags += 1
            if tags > MAX_TAGS:
                return self._skip("vlan-depth")
            if len(data) < off + 4:
                return self._skip("truncated")
            etype, off = (data[off + 2] << 8) | data[off + 3], off + 4
        return self._network(ts_us, data, off, etype)

    def _skip(self, reason: str) -> Packet | None:
        """Count a skipped frame; return None so that callers can ``return self._skip(...)``."""
        self.skipped[reason] += 1
        return None

    def _network(self, ts_us: int, data: bytes, off: int, etype: int) -> Packet | None:
        if etype == ETH_IPV4:
            return self._ipv4(ts_us, data, off)
        if etype == ETH_IPV6:
            return self._ipv6(ts_us, data, off)
        return self._skip("not-ip")

    def _pppoe(self, ts_us: int, data: bytes, off: int) -> Packet | None:
        # RFC 2516 session header (6 bytes), then a 2-byte PPP protocol
        if len(data) < off + 8:
            return self._skip("truncated")
        etype = PPP_PROTOCOLS.get((data[off + 6] << 8) | data[off + 7])
        if etype is None:
            return self._skip("not-ip")
        return self._network(ts_us, data, off + 8, etype)

    def _ipv4(self, ts_us: int, data: bytes, off: int) -> Packet | None:
        size = len(data)
        if size - off < 20:
            return self._skip("truncated")
        vhl, total, frag, proto, src, dst = _IP4(data, off)
        ihl = (vhl & 0x0F) << 2
        if vhl >> 4 != 4 or ihl < 20:
            return self._skip("bad-ip-header")
        if frag & 0x1FFF:
            return self._skip("fragment")
        if total >= ihl:
            end = off + total if off + total < size else size
        elif total == 0:  # segmentation offload: the capture holds the real length
            end = size
        else:
            return self._skip("bad-ip-header")
        if off + ihl > end:
            return self._skip("truncated")
        return self._transport(ts_us, data, off + ihl, end, proto, src, dst)

    def _ipv6(self, ts_us: int, data: bytes, off: int) -> Packet | None:
        size = len(data)
        if size - off < 40:
            return self._skip("truncated")
        version, length, nxt, src, dst = _IP6(data, off)
        if version >> 4 != 6:
            return self._skip("bad-ip-header")
        off += 40
        end = off + length if length and off + length < size else size
        for _ in range(MAX_EXT_HEADERS):
            if nxt == PROTO_TCP or nxt == PROTO_UDP:
                return self._transport(ts_us, data, off, end, nxt, src, dst)
            if nxt not in IPV6_EXT_ALL:  # ESP, No Next Header, ICMPv6, tunnels, ...
                return self._skip("other-proto")
            if end - off < 8:  # every extension header is at least 8 bytes long
                return self._skip("truncated" if end == size else "bad-ip-header")
            if nxt == IPV6_FRAGMENT:
                if ((data[off + 2] << 8) | data[off + 3]) & 0xFFF8:
                    return self._skip("fragment")
                nxt, off = data[off], off + 8
            elif nxt == IPV6_AH:
                nxt, off = data[off], off + ((data[off + 1] + 2) << 2)
            else:
                nxt, off = data[off], off + ((data[off + 1] + 1) << 3)
        return self._skip("bad-ip-header")

    def _transport(
        self, ts_us: int, data: bytes, off: int, end: int, proto: int, src: bytes, dst: bytes
    ) -> Packet | None:
        if proto == PROTO_TCP:
            if end - off < 20:
                return self._skip("truncated")
            sport, dport, seq, offset, flags = _TCP(data, off)
            size = (offset >> 4) << 2
            if size < 20:
                return self._skip("bad-tcp-header")
            if off + size > end:
                return self._skip("truncated")
            payload = data[off + size : end]
            return _new(Packet, (ts_us, src, dst, PROTO_TCP, sport, dport, flags, seq, payload))
        if proto == PROTO_UDP:
            if end - off < 8:
                return self._skip("truncated")
            sport, dport, length = _UDP(data, off)
            if 8 <= length < end - off:  # the UDP length trims further; 0 is a jumbogram
                end = off + length
            payload = data[off + 8 : end]
            return _new(Packet, (ts_us, src, dst, PROTO_UDP, sport, dport, 0, 0, payload))
        return self._skip("other-proto")


def _ethernet_ipv4(ts_us: int, data: bytes) -> Packet | None:
    """The fast lane: untagged Ethernet, a 20-byte IPv4 header, whole TCP or UDP; else ``None``.

    ``None`` hands the frame to the general path, which decodes it or counts why not; when
    this returns a packet, it is the one the general path returns. One unpack reads the
    Ethernet, IPv4 and TCP headers (for UDP, the ports and the length sit where TCP's
    ports and the top of its sequence number do).
    """
    size = len(data)
    if size < 54:  # Ethernet, IPv4 and TCP headers
        return None
    etype, vhl, total, frag, proto, src, dst, sport, dport, seq, offset, flags = _ETH_IP4_TCP(data)
    if etype != ETH_IPV4 or vhl != 0x45 or frag & 0x1FFF or total < 20:
        return None
    end = 14 + total if 14 + total < size else size
    if proto == PROTO_TCP:
        start = 34 + ((offset >> 4) << 2)
        if start < 54 or start > end:
            return None
        return _new(Packet, (ts_us, src, dst, PROTO_TCP, sport, dport, flags, seq, data[start:end]))
    if proto == PROTO_UDP:
        if end < 42:
            return None
        length = seq >> 16
        if 8 <= length < end - 34:  # the UDP length trims further; 0 is a jumbogram
            end = 34 + length
        return _new(Packet, (ts_us, src, dst, PROTO_UDP, sport, dport, 0, 0, data[42:end]))
    return None


fast_lane: Final = _ethernet_ipv4
"""The fast lane, by a public name: ``poolsniff.engine.fast._walk.fast_lane`` is the same function in C."""


def ip_to_str(packed: bytes) -> str:
    """Text form of a packed IPv4/IPv6 address (IPv6 compressed, e.g. ``2001:db8::1``)."""
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    if len(packed) == 16:
        return socket.inet_ntop(socket.AF_INET6, packed)
    raise ValueError(f"a packed IP address is 4 or 16 bytes long, not {len(packed)}")
