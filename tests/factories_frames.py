"""Test builders for frames and capture files (source and decode stages).

Small, explicit byte builders, so each test states the one field it cares about:
``eth``/``ipv4``/``ipv6``/``tcp``/``udp`` for frames, ``pcap_file`` for classic pcap and
``shb``/``idb``/``epb``/``spb``/``packet_block``/``block`` for pcapng.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

SRC4 = bytes([10, 0, 0, 1])
DST4 = bytes([192, 168, 1, 2])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")
MAC_DST = bytes.fromhex("001122334455")
MAC_SRC = bytes.fromhex("66778899aabb")


# --------------------------------------------------------------------------- frames


def tcp(
    payload: bytes = b"",
    sport: int = 40000,
    dport: int = 3333,
    seq: int = 1000,
    flags: int = 0x18,
    options: bytes = b"",
    data_offset: int | None = None,
) -> bytes:
    """A TCP segment (checksum left 0)."""
    words = data_offset if data_offset is not None else 5 + len(options) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, words << 4, flags, 65535, 0, 0)
    return head + options + payload


def udp(payload: bytes = b"", sport: int = 5353, dport: int = 53, length: int | None = None) -> bytes:
    """A UDP datagram (checksum left 0); ``length`` overrides the length field."""
    size = 8 + len(payload) if length is None else length
    return struct.pack("!HHHH", sport, dport, size, 0) + payload


def ipv4(
    body: bytes,
    proto: int = 6,
    src: bytes = SRC4,
    dst: bytes = DST4,
    total: int | None = None,
    frag: int = 0,
    options: bytes = b"",
    version: int = 4,
    ihl: int | None = None,
) -> bytes:
    """An IPv4 packet; ``frag`` is the flags+offset field, ``total`` overrides total length."""
    words = ihl if ihl is not None else 5 + len(options) // 4
    size = 20 + len(options) + len(body) if total is None else total
    head = struct.pack("!BBHHHBBH4s4s", (version << 4) | words, 0, size, 1, frag, 64, proto, 0, src, dst)
    return head + options + body


def ipv6(
    body: bytes,
    nxt: int = 6,
    src: bytes = SRC6,
    dst: bytes = DST6,
    length: int | None = None,
    version: int = 6,
) -> bytes:
    """An IPv6 packet whose first next-header is ``nxt`` (extension headers go in ``body``)."""
    size = len(body) if length is None else length
    return struct.pack("!IHBB16s16s", version << 28, size, nxt, 64, src, dst) + body


def ext8(nxt: int, size: int = 8) -> bytes:
    """An IPv6 extension header measured in 8-byte units (hop-by-hop, routing, dest opts)."""
    return bytes([nxt, size // 8 - 1]) + b"\x00" * (size - 2)


def ext_frag(nxt: int, offset: int = 0, more: bool = False) -> bytes:
    """An IPv6 fragment header; ``offset`` in 8-byte units."""
    return struct.pack("!BBHI", nxt, 0, (offset << 3) | int(more), 7)


def ext_ah(nxt: int, size: int = 12) -> bytes:
    """An IPv6 authentication header of ``size`` bytes (length in 4-byte units, minus 2)."""
    return bytes([nxt, size // 4 - 2]) + b"\x00" * (size - 2)


def eth(l3: bytes, etype: int = 0x0800, tags: Sequence[int] = ()) -> bytes:
    """An Ethernet frame; ``tags`` are TPIDs of VLAN tags in order (e.g. 0x88A8, 0x8100)."""
    head = MAC_DST + MAC_SRC
    for i, tpid in enumerate(tags):
        head += struct.pack("!HH", tpid, 100 + i)
    return head + struct.pack("!H", etype) + l3


def only_counted(src: bytes = SRC4, dst: bytes = DST4) -> list[bytes]:
    """Frames the decoder only counts, 5 as "not-ip" and 4 as "other-proto", and 3 of their kind it
    decodes further (a tagged ARP, an ICMP fragment, ICMPv6 behind a hop-by-hop header): 6 "not-ip", 5
    "other-proto" and 1 "fragment" in all."""
    arp = bytes.fromhex("0001080006040001") + bytes(20)
    return [
        eth(arp, etype=0x0806),  # ARP
        eth(bytes.fromhex("424203") + bytes(35), etype=38),  # 802.3 length, LLC: spanning tree
        eth(bytes(46), etype=0x8808),  # Ethernet flow control
        eth(bytes(46), etype=0x88CC),  # LLDP
        eth(bytes(46), etype=0x888E),  # 802.1X
        eth(ipv4(b"\x08\x00" + bytes(30), proto=1, src=src, dst=dst)),  # ICMP echo
        eth(ipv4(bytes(8), proto=2, src=src, dst=dst, options=b"\x94\x04\x00\x00")),  # IGMP, router alert
        eth(ipv4(bytes(30), proto=1, src=src, dst=dst, total=0)),  # ICMP, total length 0 (offload)
        eth(ipv6(b"\x80\x00" + bytes(30), nxt=58), etype=0x86DD),  # ICMPv6
        eth(arp, etype=0x0806, tags=(0x8100,)),  # a tagged ARP: the decoder reads the tag first
        eth(ipv4(bytes(30), proto=1, src=src, dst=dst, frag=0x0005)),  # an ICMP fragment: "fragment"
        eth(ipv6(bytes([58, 0]) + bytes(6) + b"\x80\x00" + bytes(30), nxt=0), etype=0x86DD),  # hop-by-hop
    ]


def sll(l3: bytes, protocol: int = 0x0800) -> bytes:
    """A Linux cooked v1 (SLL) frame."""
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_SRC + b"\0\0", protocol) + l3


def sll2(l3: bytes, protocol: int = 0x0800) -> bytes:
    """A Linux cooked v2 (SLL2) frame."""
    return struct.pack("!HHIHBB8s", protocol, 0, 3, 1, 0, 6, MAC_SRC + b"\0\0") + l3


def relinked(frame: bytes, linktype: int) -> bytes:
    """The Ethernet ``frame`` as a frame of ``linktype`` (as ``tcpdump -i any`` or a tunnel writes it):
    Linux cooked v1 (113) or v2 (276) with its EtherType as protocol, or its network header on, past any
    VLAN tag (raw IP: 12, 14, 101; IPv4 or IPv6 alone: 228, 229), or behind a loopback header (0, 108),
    PPP's (9) or Cisco HDLC's (104). A frame too short for an Ethernet header stays as it is."""
    if linktype == 1 or len(frame) < 14:
        return frame
    protocol = struct.unpack_from("!H", frame, 12)[0]
    if linktype == 113:
        return sll(frame[14:], protocol)
    if linktype == 276:
        return sll2(frame[14:], protocol)
    if linktype == 9:  # PPP in HDLC-like framing: address, control, the IP protocol (others: LCP's)
        ppp = {0x0800: b"\x00\x21", 0x86DD: b"\x00\x57"}.get(protocol, b"\xc0\x21")
        return b"\xff\x03" + ppp + frame[14:]
    if linktype == 104:  # Cisco HDLC: unicast address, control, EtherType
        return bytes([0x0F, 0]) + frame[12:]
    if linktype in (0, 108):  # loopback: the address family (0: little-endian, as most writers; 108: big)
        family = {0x0800: 2, 0x86DD: 30}.get(protocol, 7)
        return null(frame[14:], family, "<" if linktype == 0 else ">")
    assert linktype in (12, 14, 101, 228, 229), linktype
    start = 14
    while protocol in (0x8100, 0x88A8) and len(frame) >= start + 4:  # IP alone: no VLAN tag either
        protocol = struct.unpack_from("!H", frame, start + 2)[0]
        start += 4
    return frame[start:]


def null(l3: bytes, family: int, order: str = "<") -> bytes:
    """A BSD loopback (NULL, link type 0) frame with ``family`` in byte order ``order``."""
    return struct.pack(order + "I", family) + l3


# --------------------------------------------------------------------------- classic pcap


def pcap_header(order: str = "<", nano: bool = False, linktype: int = 1, snaplen: int = 65535) -> bytes:
    """A classic pcap file header."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(
    ts: int, data: bytes, order: str = "<", nano: bool = False, caplen: int | None = None
) -> bytes:
    """A pcap record; ``ts`` in ns when ``nano`` else µs; ``caplen`` overrides the header."""
    unit = 1_000_000_000 if nano else 1_000_000
    size = len(data) if caplen is None else caplen
    return struct.pack(order + "IIII", ts // unit, ts % unit, size, len(data)) + data


def pcap_file(
    frames: Iterable[tuple[int, bytes]],
    order: str = "<",
    nano: bool = False,
    linktype: int = 1,
    snaplen: int = 65535,
) -> bytes:
    """A whole classic pcap file of ``(ts, data)`` frames."""
    body = b"".join(pcap_record(ts, data, order, nano) for ts, data in frames)
    return pcap_header(order, nano, linktype, snaplen) + body


# --------------------------------------------------------------------------- pcapng


def block(btype: int, body: bytes, order: str = "<", trailer: int | None = None) -> bytes:
    """A pcapng block: body padded to 4 bytes; ``trailer`` overrides the trailing length."""
    body += b"\0" * (-len(body) % 4)
    size = 12 + len(body)
    tail = size if trailer is None else trailer
    return struct.pack(order + "II", btype, size) + body + struct.pack(order + "I", tail)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    """A pcapng option, padded to 4 bytes."""
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(order: str = "<", options: bytes = b"") -> bytes:
    """A section header block (version 1.0, unknown section length)."""
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options, order)


def idb(
    linktype: int = 1,
    order: str = "<",
    tsresol: int | None = None,
    tsoffset: int | None = None,
    snaplen: int = 0,
) -> bytes:
    """An interface description block with optional if_tsresol and if_tsoffset."""
    opts = option(2, b"eth0", order)  # if_name, to be skipped
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), order)
    if tsoffset is not None:
        opts += option(14, struct.pack(order + "q", tsoffset), order)
    opts += option(0, b"", order)
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + opts, order)


def epb(ifid: int, ts: int, data: bytes, order: str = "<", caplen: int | None = None) -> bytes:
    """An enhanced packet block; ``ts`` in the interface's units."""
    size = len(data) if caplen is None else caplen
    head = struct.pack(order + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, size, len(data))
    return block(6, head + data, order)


def spb(data: bytes, order: str = "<", origlen: int | None = None) -> bytes:
    """A simple packet block."""
    size = len(data) if origlen is None else origlen
    return block(3, struct.pack(order + "I", size) + data, order)


def packet_block(ifid: int, ts: int, data: bytes, order: str = "<") -> bytes:
    """An obsolete packet block (type 2)."""
    head = struct.pack(order + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return block(2, head + data, order)
