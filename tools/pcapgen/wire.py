"""IP, TCP and UDP packets built with struct, checksums included, and TCP flows with fixed sequence numbers.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .data import T0_NS, stream, u32

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTIONS = bytes.fromhex("020405b4010303070101 0402".replace(" ", ""))
"""MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted."""
GATEWAY_MAC = bytes.fromhex("0200000000fe")




def csum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_packet(
    src: str, dst: str, proto: int, l4: Callable[[bytes], bytes], ident: int, ttl: int, hbh: bool
) -> bytes:
    """IPv4 (DF set) or IPv6 (optionally with a hop-by-hop header) around a checksummed L4 segment.

    ``l4`` receives the pseudo-header and returns the finished segment.
    """
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        seg = l4(s.packed + d.packed + struct.pack("!BBH", 0, proto, 0))
        head = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident & 0xFFFF, 0x4000, ttl, proto, 0, s.packed, d.packed
        )
        return head[:10] + struct.pack("!H", csum(head)) + head[12:] + seg
    seg = l4(s.packed + d.packed + struct.pack("!IxxxB", 0, proto))
    ext = struct.pack("!BB", proto, 0) + b"\x01\x04\x00\x00\x00\x00" if hbh else b""
    head = struct.pack(
        "!IHBB16s16s",
        0x60000000 | (ident & 0xFFFFF),
        len(ext) + len(seg),
        0 if hbh else proto,
        ttl,
        s.packed,
        d.packed,
    )
    return head + ext + seg


def _with_length(pseudo: bytes, seg_len: int) -> bytes:
    if len(pseudo) == 12:
        return pseudo[:10] + struct.pack("!H", seg_len)
    return pseudo[:32] + struct.pack("!I", seg_len) + pseudo[36:]


def tcp_builder(
    sport: int, dport: int, seq: int, ack: int, flags: int, win: int, payload: bytes
) -> Callable[[bytes], bytes]:
    """A TCP segment factory for :func:`ip_packet`."""

    def build(pseudo: bytes) -> bytes:
        opts = SYN_OPTIONS if flags & SYN else b""
        off = (20 + len(opts)) // 4
        head = (
            struct.pack(
                "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags, win, 0, 0
            )
            + opts
        )
        seg = head + payload
        return seg[:16] + struct.pack("!H", csum(_with_length(pseudo, len(seg)) + seg)) + seg[18:]

    return build


def udp_builder(sport: int, dport: int, payload: bytes) -> Callable[[bytes], bytes]:
    """A UDP datagram factory for :func:`ip_packet`."""

    def build(pseudo: bytes) -> bytes:
        seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        value = csum(_with_length(pseudo, len(seg)) + seg) or 0xFFFF
        return seg[:6] + struct.pack("!H", value) + seg[8:]

    return build


def host_mac(ip: str) -> bytes:
    """A fixed locally administered MAC for a host address."""
    return b"\x02\x00" + stream("mac/" + ip, 4)


@dataclass(frozen=True)
class Pkt:
    """One captured IP packet plus what the link layers need to wrap it."""

    ts_ns: int
    order: int
    l3: bytes
    v6: bool
    outgoing: bool
    """Sent by the capturing host (the flow's client side)."""
    smac: bytes
    dmac: bytes
    vlans: tuple[tuple[int, int], ...] = ()


@dataclass
class Capture:
    """The packets of one capture file, in emission order; written sorted by time."""

    pkts: list[Pkt] = field(default_factory=list)

    def add(
        self,
        ts_ns: int,
        l3: bytes,
        v6: bool,
        outgoing: bool,
        macs: tuple[bytes, bytes],
        vlans: tuple[tuple[int, int], ...],
    ) -> None:
        """Record one packet."""
        self.pkts.append(Pkt(ts_ns, len(self.pkts), l3, v6, outgoing, macs[0], macs[1], vlans))

    def ordered(self) -> list[Pkt]:
        """Packets by timestamp (ties keep emission order)."""
        return sorted(self.pkts, key=lambda p: (p.ts_ns, p.order))


@dataclass
class Host:
    """One end of a flow: address, port, TTL/hop limit seen at the sensor."""

    ip: str
    port: int
    ttl: int = 64


class TcpFlow:
    """A TCP connection with correct sequence/acknowledgement numbers, timed from the client side."""

    def __init__(
        self,
        cap: Capture,
        client: Host,
        server: Host,
        start_s: float,
        rtt_ms: float = 20.0,
        *,
        hbh: bool = False,
        vlans: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.cap, self.client, self.server = cap, client, server
        self.t = T0_NS + round(start_s * 1e9)
        self.rtt = round(rtt_ms * 1e6)
        self.hbh, self.vlans = hbh, vlans
        name = f"{client.ip}:{client.port}-{server.ip}:{server.port}"
        self.next_seq = {True: u32("isn/c/" + name), False: u32("isn/s/" + name)}
        self.ipid = {True: u32("ipid/c/" + name) & 0xFFFF, False: u32("ipid/s/" + name) & 0xFFFF}
        self.v6 = ipaddress.ip_address(client.ip).version == 6
        self.mss = 1440 if self.v6 else 1460

    def wait(self, ms: float) -> None:
        """Advance this flow's clock."""
        self.t += round(ms * 1e6)

    def segment(self, from_client: bool, flags: int, payload: bytes = b"", seq: int | None = None) -> None:
        """Emit one segment; ``seq`` overrides the next sequence number (retransmissions, reordering)."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        seq_no = self.next_seq[from_client] if seq is None else seq
        ack_no = self.next_seq[not from_client] if flags & ACK else 0
        win = 64240 if flags & SYN else (502 if from_client else 509)
        l4 = tcp_builder(src.port, dst.port, seq_no, ack_no, flags, win, payload)
        l3 = ip_packet(src.ip, dst.ip, 6, l4, self.ipid[from_client], src.ttl, self.hbh)
        self.ipid[from_client] += 1
        cmac, smac = host_mac(self.client.ip), GATEWAY_MAC
        self.cap.add(
            self.t, l3, self.v6, from_client, (cmac, smac) if from_client else (smac, cmac), self.vlans
        )

    def handshake(self) -> None:
        """SYN, SYN/ACK one RTT later, ACK."""
        self.segment(True, SYN)
        self.next_seq[True] += 1
        self.wait(self.rtt / 1e6)
        self.segment(False, SYN | ACK)
        self.next_seq[False] += 1
        self.wait(0.05)
        self.segment(True, ACK)

    def send(self, from_client: bool, data: bytes, *, ack: bool = True) -> None:
        """Send ``data`` in MSS-sized segments (PSH on the last); the peer ACKs unless ``ack`` is False."""
        for off in range(0, len(data), self.mss):
            chunk = data[off : off + self.mss]
            last = off + self.mss >= len(data)
            self.segment(from_client, ACK | (PSH if last else 0), chunk)
            self.next_seq[from_client] += len(chunk)
            self.wait(0.01)
        if ack:
            self.wait(self.rtt / 1e6 if from_client else 0.04)
            self.segment(not from_client, ACK)

    def exchange(self, request: bytes, reply: bytes, think_ms: float = 0.0) -> None:
        """Client request, server reply one RTT later (its ACK piggybacked), client ACK."""
        self.send(True, request, ack=False)
        self.wait(self.rtt / 1e6 + think_ms)
        self.send(False, reply)

    def close(self, from_client: bool = True) -> None:
        """FIN/ACK from one side, FIN/ACK from the other, final ACK."""
        self.wait(1.0)
        self.segment(from_client, FIN | ACK)
        self.next_seq[from_client] += 1
        self.wait(self.rtt / 1e6)
        self.segment(not from_client, FIN | ACK)
        self.next_seq[not from_client] += 1
        self.wait(0.05)
        self.segment(from_client, ACK)


def udp_packet(
    cap: Capture, t_ns: int, src: Host, dst: Host, payload: bytes, outgoing: bool, ident: int
) -> None:
    """Record one UDP datagram (the client side is the capturing host)."""
    l3 = ip_packet(src.ip, dst.ip, 17, udp_builder(src.port, dst.port, payload), ident, src.ttl, False)
    local_mac = host_mac(src.ip if outgoing else dst.ip)
    macs = (local_mac, GATEWAY_MAC) if outgoing else (GATEWAY_MAC, local_mac)
    cap.add(t_ns, l3, ipaddress.ip_address(src.ip).version == 6, outgoing, macs, ())
