"""Link layers (Ethernet, Linux cooked v1/v2, BSD loopback, raw IP) and the pcap/pcapng file writers.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence

from .wire import Pkt

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW = 0, 1, 101
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 113, 276




def link_ethernet(p: Pkt) -> bytes:
    """Ethernet II, with 802.1Q / 802.1ad tags when the packet carries them (outermost first)."""
    head = p.dmac + p.smac
    for tpid, vid in p.vlans:
        head += struct.pack("!HH", tpid, vid)
    return head + struct.pack("!H", 0x86DD if p.v6 else 0x0800) + p.l3


def link_sll(p: Pkt) -> bytes:
    """Linux cooked capture v1: packet type (4 outgoing / 0 to us), ARPHRD_ETHER, sender address."""
    return struct.pack("!HHH8sH", 4 if p.outgoing else 0, 1, 6, p.smac, 0x86DD if p.v6 else 0x0800) + p.l3


def link_sll2(p: Pkt) -> bytes:
    """Linux cooked capture v2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, sender address."""
    return (
        struct.pack("!HHIHBB8s", 0x86DD if p.v6 else 0x0800, 0, 2, 1, 4 if p.outgoing else 0, 6, p.smac)
        + p.l3
    )


def link_null(p: Pkt) -> bytes:
    """BSD loopback / utun: address family in the writer's (little-endian) byte order."""
    return struct.pack("<I", 30 if p.v6 else 2) + p.l3


def link_raw(p: Pkt) -> bytes:
    """Raw IP: no link header."""
    return p.l3


def write_pcap(
    pkts: Iterable[Pkt],
    link: Callable[[Pkt], bytes],
    linktype: int,
    *,
    endian: str = "<",
    nanos: bool = False,
) -> bytes:
    """A classic pcap file: either byte order, micro- or nanosecond timestamps."""
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = bytearray(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
    for p in pkts:
        frame = link(p)
        sec, frac = divmod(p.ts_ns, 1_000_000_000)
        out += (
            struct.pack(endian + "IIII", sec, frac if nanos else frac // 1000, len(frame), len(frame)) + frame
        )
    return bytes(out)


def _pcapng_block(kind: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    size = len(body) + 12
    return struct.pack("<II", kind, size) + body + struct.pack("<I", size)


def _pcapng_options(options: Sequence[tuple[int, bytes]]) -> bytes:
    out = b""
    for code, value in options:
        out += struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)
    return out + b"\x00\x00\x00\x00"


def write_pcapng(pkts: Iterable[Pkt], link: Callable[[Pkt], bytes], linktype: int) -> bytes:
    """A pcapng file: SHB (with shb_userappl), one IDB (microsecond resolution), one EPB per packet."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _pcapng_options(
        [(4, b"poolsniff tools/make_pcaps.py")]
    )
    idb = struct.pack("<HHI", linktype, 0, 262144) + _pcapng_options([(2, b"eth0"), (9, b"\x06")])
    out = bytearray(_pcapng_block(0x0A0D0D0A, shb) + _pcapng_block(1, idb))
    for p in pkts:
        frame = link(p)
        ts = p.ts_ns // 1000
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
        out += _pcapng_block(6, body)
    return bytes(out)
