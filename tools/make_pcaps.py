"""Developer tool outside the package: writes the demo captures in ``pcaps/`` (input for the *source* stage).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Every capture is built from scratch with the standard library only (headers packed with ``struct``, checksums
computed here), so re-running ``python tools/make_pcaps.py [--out pcaps]`` writes byte-identical files: fixed
timestamps from 2024-05-01T12:00:00Z, documentation addresses, fixed ports and sequence numbers, and a
SHA-256 counter stream instead of a random generator. The JSON lines follow the per-implementation formats in
``../shared/reference/PROTOCOLS.md``; every line is checked with ``json.loads`` before it is written.
``pcaps/README.md`` says what each capture must and must not trigger.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import ipaddress
import json
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

T0_NS = 1_714_564_800 * 1_000_000_000
"""2024-05-01T12:00:00Z, the first timestamp of every capture."""

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTIONS = bytes.fromhex("020405b4010303070101 0402".replace(" ", ""))
"""MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted."""
GATEWAY_MAC = bytes.fromhex("0200000000fe")

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW = 0, 1, 101
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 113, 276


# --------------------------------------------------------------------------- deterministic data


def stream(label: str, size: int) -> bytes:
    """Pseudo-random bytes: SHA-256 in counter mode over ``label`` (the seeded PRNG of every capture)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def hexs(label: str, size: int) -> str:
    """``size`` pseudo-random bytes as lower-case hex."""
    return stream(label, size).hex()


def u32(label: str) -> int:
    """A fixed 32-bit number (initial sequence numbers, nonces) derived from ``label``."""
    return int.from_bytes(stream(label, 4), "big")


_KECCAK_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
_KECCAK_ROT = (
    (0, 36, 3, 41, 18),
    (1, 44, 10, 45, 2),
    (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)
_M64 = (1 << 64) - 1


def _rol(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (64 - shift))) & _M64 if shift else value


def _keccak_f(s: list[list[int]]) -> None:
    for rc in _KECCAK_RC:
        c = [s[x][0] ^ s[x][1] ^ s[x][2] ^ s[x][3] ^ s[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(s[x][y] ^ d[x], _KECCAK_ROT[x][y])
        for x in range(5):
            for y in range(5):
                s[x][y] = b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y] & _M64)
        s[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Original Keccak-256 (Monero and Ethereum checksums; not NIST SHA3-256)."""
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * (-len(msg) % rate)
    msg[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        for i in range(rate // 8):
            state[i % 5][i // 5] ^= int.from_bytes(msg[off + 8 * i : off + 8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(version: bytes, payload: bytes) -> str:
    """Bitcoin-style Base58Check (Bitcoin, Litecoin, Zcash transparent addresses)."""
    raw = version + payload
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    num = int.from_bytes(raw, "big")
    text = ""
    while num:
        num, rem = divmod(num, 58)
        text = B58[rem] + text
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + text


def monero_address(label: str) -> str:
    """A 95-character standard Monero address (prefix 18) with a valid Keccak checksum."""
    raw = b"\x12" + stream(label + "/spend", 32) + stream(label + "/view", 32)
    raw += keccak256(raw)[:4]
    sizes = (0, 2, 3, 5, 6, 7, 9, 10, 11)
    out = []
    for off in range(0, len(raw), 8):
        block = raw[off : off + 8]
        num, chars = int.from_bytes(block, "big"), ""
        for _ in range(sizes[len(block)]):
            num, rem = divmod(num, 58)
            chars = B58[rem] + chars
        out.append(chars)
    return "".join(out)


def eth_address(label: str, checksum: bool) -> str:
    """``0x`` + 40 hex; EIP-55 mixed case when ``checksum``."""
    plain = hexs(label, 20)
    if not checksum:
        return "0x" + plain
    digest = keccak256(plain.encode()).hex()
    return "0x" + "".join(ch.upper() if int(digest[i], 16) >= 8 else ch for i, ch in enumerate(plain))


BTC_P2PKH = base58check(b"\x00", stream("btc/cgminer", 20))
BTC_P2SH = base58check(b"\x05", stream("btc/nicehash", 20))
BTC_BITAXE = base58check(b"\x00", stream("btc/bitaxe", 20))
LTC_ADDR = base58check(b"\x30", stream("ltc/miner", 20))
ZEC_T1 = base58check(b"\x1c\xb8", stream("zec/ewbf", 20))
XMR_WALLET = monero_address("xmr/xmrig")
ETH_CLAYMORE = eth_address("eth/claymore", checksum=False)
ETH_GETWORK = eth_address("eth/getwork", checksum=False)
ETH_ES2 = eth_address("eth/es2", checksum=True)


# --------------------------------------------------------------------------- JSON lines


def spaced(obj: Any) -> str:
    """``json.dumps`` default separators: the spaced style of cgminer/jansson, Claymore and NiceHash."""
    return json.dumps(obj)


def compact(obj: Any) -> str:
    """Compact JSON: XMRig (rapidjson), NOMP, ckpool, ethminer (jsoncpp, keys already alphabetical)."""
    return json.dumps(obj, separators=(",", ":"))


def lines(*items: str) -> bytes:
    """Newline-terminated JSON lines, each checked to parse."""
    for item in items:
        json.loads(item)
    return "".join(item + "\n" for item in items).encode()


# --------------------------------------------------------------------------- IP / TCP / UDP


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


# --------------------------------------------------------------------------- link layers and file formats


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


# --------------------------------------------------------------------------- DNS, TLS, HTTP payloads


def dns_name(name: str) -> bytes:
    """Wire-format name; label case is kept, a trailing dot is the root label every wire name ends with."""
    return b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\x00"


def dns_message(
    ident: int,
    name: str,
    qtype: int,
    *,
    response: bool = False,
    answers: Sequence[tuple[int, bytes, int]] = (),
    rcode: int = 0,
) -> bytes:
    """A one-question DNS query (RD) or response (RD RA); ``answers`` are (type, rdata, ttl) for the qname."""
    flags = (0x8180 | rcode) if response else 0x0100
    out = (
        struct.pack("!HHHHHH", ident, flags, 1, len(answers), 0, 0)
        + dns_name(name)
        + struct.pack("!HH", qtype, 1)
    )
    for rtype, rdata, ttl in answers:
        out += struct.pack("!HHHIH", 0xC00C, rtype, 1, ttl, len(rdata)) + rdata
    return out


def a_record(ip: str, ttl: int = 300) -> tuple[int, bytes, int]:
    """An A or AAAA answer."""
    addr = ipaddress.ip_address(ip)
    return (1 if addr.version == 4 else 28), addr.packed, ttl


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _vec(width: int, body: bytes) -> bytes:
    return len(body).to_bytes(width, "big") + body


def client_hello(label: str, sni: str | None, alpn: Sequence[str] = ()) -> bytes:
    """A TLS 1.3-capable ClientHello record (OpenSSL-like extension order), built by hand."""
    suites = [
        0x1302,
        0x1303,
        0x1301,
        0xC02C,
        0xC030,
        0xCCA9,
        0xCCA8,
        0xC02B,
        0xC02F,
        0xC024,
        0xC028,
        0xC023,
        0xC027,
        0x009D,
        0x009C,
        0x003D,
        0x003C,
        0x0035,
        0x002F,
        0x00FF,
    ]
    exts = b""
    if sni is not None:
        exts += _ext(0, _vec(2, b"\x00" + _vec(2, sni.encode())))
    exts += _ext(11, _vec(1, b"\x00\x01\x02"))
    exts += _ext(10, _vec(2, struct.pack("!5H", 0x001D, 0x0017, 0x001E, 0x0019, 0x0018)))
    exts += _ext(35, b"")
    if alpn:
        exts += _ext(16, _vec(2, b"".join(_vec(1, proto.encode()) for proto in alpn)))
    exts += _ext(22, b"") + _ext(23, b"")
    sigalgs = (
        0x0403,
        0x0503,
        0x0603,
        0x0807,
        0x0808,
        0x0809,
        0x080A,
        0x080B,
        0x0804,
        0x0805,
        0x0806,
        0x0401,
        0x0501,
        0x0601,
    )
    exts += _ext(13, _vec(2, struct.pack(f"!{len(sigalgs)}H", *sigalgs)))
    exts += _ext(43, _vec(1, b"\x03\x04\x03\x03")) + _ext(45, _vec(1, b"\x01"))
    exts += _ext(51, _vec(2, struct.pack("!HH", 0x001D, 32) + stream(label + "/keyshare", 32)))
    body = b"\x03\x03" + stream(label + "/random", 32) + _vec(1, stream(label + "/sid", 32))
    body += _vec(2, struct.pack(f"!{len(suites)}H", *suites)) + b"\x01\x00" + _vec(2, exts)
    handshake = b"\x01" + _vec(3, body)
    return b"\x16\x03\x01" + _vec(2, handshake)


def server_hello_flight(label: str) -> bytes:
    """TLS 1.3 ServerHello, the compatibility ChangeCipherSpec, then the encrypted rest of the flight."""
    exts = _ext(43, b"\x03\x04") + _ext(51, struct.pack("!HH", 0x001D, 32) + stream(label + "/skeyshare", 32))
    body = (
        b"\x03\x03"
        + stream(label + "/srandom", 32)
        + _vec(1, stream(label + "/sid", 32))
        + b"\x13\x02\x00"
        + _vec(2, exts)
    )
    return (
        b"\x16\x03\x03"
        + _vec(2, b"\x02" + _vec(3, body))
        + b"\x14\x03\x03\x00\x01\x01"
        + app_data(label + "/sflight", 2980)
    )


def app_data(label: str, size: int) -> bytes:
    """One opaque TLS application_data record of ``size`` payload bytes."""
    return b"\x17\x03\x03" + _vec(2, stream(label, size))


def http_date(t_ns: int) -> str:
    """RFC 7231 date for ``t_ns``."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t_ns // 1_000_000_000))


def http_message(start: str, headers: Sequence[tuple[str, str]], body: bytes = b"") -> bytes:
    """An HTTP/1.1 message; Content-Length is added when there is a body."""
    head = start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization: Basic`` value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tls_session(
    flow: TcpFlow,
    label: str,
    sni: str | None,
    alpn: Sequence[str] = (),
    records: Sequence[tuple[bool, int, float]] = (),
) -> None:
    """TCP+TLS handshakes (ClientHello, server flight, Finished), then (from_client, size, wait) rows."""
    flow.handshake()
    flow.wait(0.2)
    flow.exchange(client_hello(label, sni, alpn), server_hello_flight(label))
    flow.wait(2.0)
    flow.send(True, b"\x14\x03\x03\x00\x01\x01" + app_data(label + "/cfin", 53))
    for i, (from_client, size, wait_ms) in enumerate(records):
        flow.wait(wait_ms)
        flow.send(from_client, app_data(f"{label}/rec{i}", size))
    flow.close()


# --------------------------------------------------------------------------- Bitcoin-family job fields


def btc_notify_params(label: str, ntime: int, branches: int, clean: bool) -> list[Any]:
    """``mining.notify`` params: job, prevhash, coinb1, coinb2, branch, version, nbits, ntime, clean."""
    coinb1 = (
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4b03"
        + "f8dc0c"
        + hexs(label + "/cb1", 18)
    )
    coinb2 = (
        "ffffffff02"
        + hexs(label + "/cb2", 8)
        + "160014"
        + hexs(label + "/out", 20)
        + "0000000000000000266a24aa21a9ed"
        + hexs(label + "/wc", 32)
        + "00000000"
    )
    merkle = [hexs(f"{label}/branch{i}", 32) for i in range(branches)]
    prev = "00000000" + hexs(label + "/prev", 28)
    return [
        hexs(label + "/job", 3),
        prev,
        coinb1,
        coinb2,
        merkle,
        "20000000",
        "17034219",
        f"{ntime:08x}",
        clean,
    ]


NTIME = T0_NS // 1_000_000_000


# --------------------------------------------------------------------------- the captures


def cap_stratum_v1_cgminer() -> bytes:
    """1. cgminer <-> pool on 3333: configure, subscribe, authorize, notify, submit (Ethernet, LE pcap)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.10", 50312), Host("198.51.100.10", 3333, ttl=52), 0.0)
    f.handshake()
    sid, en1 = hexs("c1/sid", 4), hexs("c1/en1", 4)
    f.exchange(
        lines(
            spaced(
                {
                    "id": 1,
                    "method": "mining.configure",
                    "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}],
                }
            )
        ),
        lines(
            '{"id": 1, "result": { "version-rolling": true, "version-rolling.mask": "1fffe000" }, '
            '"error": null}'
        ),
    )
    f.exchange(
        lines(spaced({"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]})),
        lines(
            compact(
                {
                    "id": 2,
                    "result": [[["mining.set_difficulty", sid], ["mining.notify", sid]], en1, 8],
                    "error": None,
                }
            )
        ),
    )
    notify = btc_notify_params("c1", NTIME, 6, True)
    f.exchange(
        lines(spaced({"id": 3, "method": "mining.authorize", "params": [BTC_P2PKH, "x"]})),
        lines(
            compact({"id": 3, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [65536]}),
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    f.wait(41_000)
    submit = [BTC_P2PKH, notify[0], hexs("c1/en2", 8), f"{NTIME + 41:08x}", hexs("c1/nonce", 4), "04d46000"]
    f.exchange(
        lines(spaced({"params": submit, "id": 5, "method": "mining.submit"})),
        lines(compact({"id": 5, "result": True, "error": None})),
    )
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


XMRIG_ALGOS = (
    "rx/0 cn/2 cn/r cn/fast cn/half cn/xao cn/rto cn/rwz cn/zls cn/double cn/ccx cn-lite/1 cn-heavy/0 "
    "cn-heavy/tube cn-heavy/xhv cn-pico cn-pico/tlo cn/upx2 rx/wow rx/arq rx/graft rx/sfx rx/yada "
    "argon2/chukwa argon2/chukwav2 argon2/ninja ghostrider"
).split()


def cryptonote_job(label: str, target: str) -> dict[str, Any]:
    """A RandomX job object: 76-byte hashing blob, job id, target, algo, height, seed hash, rpc id."""
    blob = "1010" + "c0dfc9b106" + hexs(label + "/prev", 32) + "00000000" + hexs(label + "/root", 32) + "2b"
    job_id = "".join(B58[b % 58] for b in stream(label + "/jobid", 28))
    return {
        "blob": blob,
        "job_id": job_id,
        "target": target,
        "algo": "rx/0",
        "height": 3152876,
        "seed_hash": hexs("xmr/seed", 32),
        "id": RPC_ID,
    }


def uuid_like(label: str) -> str:
    """A UUID-shaped session id."""
    h = hexs(label, 16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


RPC_ID = uuid_like("xmr/rpcid")


def cap_xmrig_login() -> bytes:
    """2. XMRig login to plain-TCP 443, job, pushed job, submit, keepalived (pcapng)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.20", 49822), Host("203.0.113.50", 443, ttl=50), 0.0, rtt_ms=35.0)
    f.handshake()
    agent = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"
    login = {"login": XMR_WALLET, "pass": "x", "agent": agent, "rigid": "rig01", "algo": XMRIG_ALGOS}
    job1 = cryptonote_job("xmr/job1", "b88d0600")
    f.exchange(
        lines(compact({"id": 1, "jsonrpc": "2.0", "method": "login", "params": login})),
        lines(
            compact(
                {
                    "id": 1,
                    "jsonrpc": "2.0",
                    "error": None,
                    "result": {
                        "id": RPC_ID,
                        "job": job1,
                        "extensions": ["algo", "nicehash", "connect", "tls", "keepalive"],
                        "status": "OK",
                    },
                }
            )
        ),
    )
    f.wait(28_000)
    job2 = cryptonote_job("xmr/job2", "91fd0600")
    f.send(False, lines(compact({"jsonrpc": "2.0", "method": "job", "params": job2})))
    f.wait(17_000)
    share = {
        "id": RPC_ID,
        "job_id": job2["job_id"],
        "nonce": hexs("xmr/nonce", 4),
        "result": hexs("xmr/result", 28) + "2a070000",
        "algo": "rx/0",
    }
    f.exchange(
        lines(compact({"id": 2, "jsonrpc": "2.0", "method": "submit", "params": share})),
        lines(compact({"id": 2, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})),
    )
    f.wait(60_000)
    f.exchange(
        lines(compact({"id": 3, "jsonrpc": "2.0", "method": "keepalived", "params": {"id": RPC_ID}})),
        lines(compact({"id": 3, "jsonrpc": "2.0", "error": None, "result": {"status": "KEEPALIVED"}})),
    )
    f.close()
    return write_pcapng(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_dns_pool_lookup() -> bytes:
    """3. DNS over UDP (pool, case variant, benign, look-alike, ntp pool) and over TCP (Linux SLL)."""
    cap = Capture()
    client, server = Host("192.0.2.30", 0), Host("192.0.2.53", 53)
    queries: list[tuple[str, int, list[tuple[int, bytes, int]], int]] = [
        ("pool.supportxmr.com", 1, [a_record("198.51.100.21", 300)], 0),
        ("XMR.2Miners.Com.", 1, [a_record("198.51.100.22", 60)], 0),
        ("www.example.org", 1, [a_record("203.0.113.80", 3600)], 0),
        ("notsupportxmr.com", 1, [], 3),
        ("0.debian.pool.ntp.org", 1, [a_record("198.51.100.123", 150), a_record("203.0.113.123", 150)], 0),
    ]
    for i, (name, qtype, answers, rcode) in enumerate(queries):
        ident, port = 0x1F00 + i * 0x111, 41000 + i * 7
        t = T0_NS + i * 1_500_000_000
        src = Host(client.ip, port)
        udp_packet(cap, t, src, server, dns_message(ident, name, qtype), True, 0x3000 + i)
        reply = dns_message(ident, name, qtype, response=True, answers=answers, rcode=rcode)
        udp_packet(cap, t + 11_250_000, server, src, reply, False, 0x7000 + i)
    f = TcpFlow(cap, Host(client.ip, 40001), Host(server.ip, 53), 9.0, rtt_ms=4.0)
    f.handshake()
    query = dns_message(0x5A5A, "gulf.moneroocean.stream", 1)
    reply = dns_message(
        0x5A5A, "gulf.moneroocean.stream", 1, response=True, answers=[a_record("203.0.113.66", 120)]
    )
    f.exchange(_vec(2, query), _vec(2, reply))
    f.close()
    return write_pcap(cap.ordered(), link_sll, LINKTYPE_LINUX_SLL)


def cap_tls_sni_donate() -> bytes:
    """4. ClientHellos: donate.ssl.xmrig.com:443, pool.hashvault.pro:80, www.example.com (BE pcap)."""
    cap = Capture()
    stratum_like = [(False, 410, 900.0), (True, 190, 30_000.0), (False, 60, 35.0), (False, 410, 12_000.0)]
    browser_like = [(True, 420, 1.0), (False, 1200, 40.0), (True, 60, 200.0)]
    sessions = [
        ("192.0.2.40", 51000, "198.51.100.40", 443, "donate.ssl.xmrig.com", (), stratum_like, 0.0),
        ("192.0.2.40", 51001, "203.0.113.60", 80, "pool.hashvault.pro", (), stratum_like, 5.0),
        ("192.0.2.40", 51002, "203.0.113.80", 443, "www.example.com", ("h2", "http/1.1"), browser_like, 10.0),
    ]
    for cip, cport, sip, sport, sni, alpn, records, start in sessions:
        f = TcpFlow(cap, Host(cip, cport), Host(sip, sport, ttl=54), start, rtt_ms=25.0)
        tls_session(f, "tls/" + sni, sni, alpn, records)
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET, endian=">")


def cap_eth_proxy_claymore() -> bytes:
    """5. Claymore eth-proxy on 9999 over IPv6 with a hop-by-hop header, nanosecond pcap."""
    cap = Capture()
    f = TcpFlow(
        cap,
        Host("2001:db8:10::20", 50123),
        Host("2001:db8:99::9", 9999, ttl=56),
        0.000000417,
        rtt_ms=31.4159,
        hbh=True,
    )
    f.handshake()
    work = [
        "0x" + hexs("eth/header", 32),
        "0x" + hexs("eth/seed", 32),
        "0x00000000dbe6fecebdedd5beb573440e5a884d1b2fbf06fcce912adcb8d8422e",
    ]
    login_user = f"{ETH_CLAYMORE}/rig1/ops@example.org"
    f.exchange(
        lines(
            spaced(
                {
                    "worker": "eth1.0",
                    "jsonrpc": "2.0",
                    "params": [login_user, "x"],
                    "id": 2,
                    "method": "eth_submitLogin",
                }
            )
        ),
        lines(compact({"jsonrpc": "2.0", "id": 2, "result": True})),
    )
    f.exchange(
        lines(spaced({"worker": "", "jsonrpc": "2.0", "params": [], "id": 3, "method": "eth_getWork"})),
        lines(compact({"jsonrpc": "2.0", "id": 3, "result": work})),
    )
    f.wait(12_345.678)
    work2 = ["0x" + hexs("eth/header2", 32), work[1], work[2]]
    f.send(False, lines(compact({"jsonrpc": "2.0", "id": 0, "result": work2})))
    f.wait(7_000.001)
    f.exchange(
        lines(
            '{"id":6,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x1d08a61", "0x'
            + hexs("eth/hrid", 32)
            + '"]}'
        ),
        lines(compact({"jsonrpc": "2.0", "id": 6, "result": True})),
    )
    f.wait(3_000.5)
    sol = ["0x" + hexs("eth/nonce", 8), work2[0], "0x" + hexs("eth/mix", 32)]
    f.exchange(
        lines(spaced({"worker": "", "jsonrpc": "2.0", "params": sol, "id": 4, "method": "eth_submitWork"})),
        lines(compact({"jsonrpc": "2.0", "id": 4, "result": True})),
    )
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET, nanos=True)


def cap_ethereumstratum_nicehash() -> bytes:
    """6. EthereumStratum/1.0.0 on 3353 in 802.1Q frames; EthereumStratum/2.0.0 mining.hello in QinQ."""
    cap = Capture()
    f = TcpFlow(
        cap, Host("192.0.2.60", 50200), Host("198.51.100.60", 3353, ttl=53), 0.0, vlans=((0x8100, 100),)
    )
    f.handshake()
    user = BTC_P2SH + ".rig60"
    f.exchange(
        lines(
            compact(
                {
                    "id": 1,
                    "method": "mining.subscribe",
                    "params": ["ethminer-0.19.0", "EthereumStratum/1.0.0"],
                }
            )
        ),
        lines(
            spaced(
                {
                    "id": 1,
                    "result": [["mining.notify", hexs("es1/sub", 16), "EthereumStratum/1.0.0"], "080c"],
                    "error": None,
                }
            )
        ),
    )
    f.exchange(
        lines(compact({"id": 2, "method": "mining.authorize", "params": [user, "x"]})),
        lines(
            spaced({"id": 2, "result": True, "error": None}),
            spaced({"id": None, "method": "mining.set_difficulty", "params": [0.5]}),
            spaced(
                {
                    "id": None,
                    "method": "mining.notify",
                    "params": ["bf0488aa", hexs("es1/seed", 32), hexs("es1/header", 32), True],
                }
            ),
        ),
    )
    f.wait(9_000)
    f.exchange(
        lines(compact({"id": 3, "method": "mining.submit", "params": [user, "bf0488aa", "6a909d9bbc0f"]})),
        lines(spaced({"id": 3, "result": True, "error": None})),
    )
    f.close()
    g = TcpFlow(
        cap,
        Host("192.0.2.61", 50201),
        Host("198.51.100.61", 3353, ttl=53),
        20.0,
        vlans=((0x88A8, 200), (0x8100, 100)),
    )
    g.handshake()
    hello = {
        "agent": "ethminer-0.19.0",
        "host": "es2.pool.example",
        "port": f"{3353:x}",
        "proto": "EthereumStratum/2.0.0",
    }
    reply = {
        "proto": "EthereumStratum/2.0.0",
        "encoding": "plain",
        "resume": "1",
        "timeout": "b4",
        "maxerrors": "5",
        "node": "Geth/v1.8.18-unstable-f08f596a/linux-amd64/go1.10.4",
    }
    g.exchange(
        lines(compact({"id": 1, "method": "mining.hello", "params": hello})),
        lines(compact({"id": 1, "result": reply})),
    )
    g.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


GBT_CAPABILITIES = [
    "coinbasetxn",
    "workid",
    "longpoll",
    "coinbase/append",
    "time/increment",
    "version/force",
    "version/reduce",
    "submit/coinbase",
    "submit/truncate",
]


def cap_getwork_http() -> bytes:
    """7. bfgminer getblocktemplate over HTTP on 8332; Ethereum getwork POST /?miner=... (Linux SLL2)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.70", 50300), Host("198.51.100.70", 8332, ttl=55), 0.0)
    f.handshake()
    body = spaced(
        {
            "id": 0,
            "method": "getblocktemplate",
            "params": [{"capabilities": GBT_CAPABILITIES, "maxversion": 4}],
        }
    ).encode()
    request = http_message(
        "POST / HTTP/1.1",
        [
            ("Host", "198.51.100.70:8332"),
            ("Authorization", basic_auth(BTC_BITAXE + ".gbt", "x")),
            ("Content-type", "application/json"),
            ("X-Mining-Extensions", "longpoll midstate rollntime submitold"),
            ("User-Agent", "bfgminer/5.2.0"),
        ],
        body,
    )
    template = {
        "coinbasetxn": {"data": btc_notify_params("gbt", NTIME, 0, True)[2] + hexs("gbt/tail", 40)},
        "previousblockhash": "00000000" + hexs("gbt/prev", 28),
        "transactions": [],
        "version": 536870912,
        "bits": "17034219",
        "curtime": NTIME,
        "height": 842406,
        "mutable": ["coinbase/append", "time/increment"],
        "noncerange": "00000000ffffffff",
        "longpollid": hexs("gbt/lp", 8),
        "workid": "1",
    }
    reply_body = spaced({"result": template, "error": None, "id": 0}).encode()
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json"), ("X-Long-Polling", "/LP"), ("X-Roll-NTime", "expire=120")],
        reply_body,
    )
    f.exchange(request, reply, think_ms=3.0)
    f.close()
    g = TcpFlow(cap, Host("192.0.2.70", 50301), Host("203.0.113.70", 80, ttl=49), 4.0, rtt_ms=48.0)
    g.handshake()
    getwork = compact({"id": 1, "jsonrpc": "2.0", "method": "eth_getWork"}).encode()
    request = http_message(
        f"POST /?miner=30@{ETH_GETWORK}@rig7 HTTP/1.1",
        [("Host", "pool.eth.pp.ua"), ("Content-Type", "application/json")],
        getwork,
    )
    work = [
        "0x" + hexs("ethgw/header", 32),
        "0x" + hexs("ethgw/seed", 32),
        "0x0000000112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba",
    ]
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        compact({"id": 1, "jsonrpc": "2.0", "result": work}).encode(),
    )
    g.exchange(request, reply, think_ms=2.0)
    g.close()
    return write_pcap(cap.ordered(), link_sll2, LINKTYPE_LINUX_SLL2)


def cap_stratum_split_midsession() -> bytes:
    """8. Two lines in one segment; a reordered, retransmitted 3-segment notify; a mid-session flow."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.80", 50400), Host("198.51.100.80", 3333, ttl=52), 0.0)
    f.handshake()
    user = BTC_BITAXE + ".bitaxe01"
    f.exchange(
        lines(
            spaced({"id": 1, "method": "mining.subscribe", "params": ["bitaxe/BM1370/v2.4.1"]}),
            spaced({"id": 2, "method": "mining.authorize", "params": [user, "x"]}),
        ),
        lines(
            compact(
                {
                    "id": 1,
                    "result": [["mining.notify", "deadbeefcafebabe0300000000000000"], hexs("c8/en1", 4), 4],
                    "error": None,
                }
            ),
            compact({"id": 2, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [512]}),
        ),
    )
    notify = btc_notify_params("c8", NTIME, 12, True)
    long_line = lines(compact({"id": None, "method": "mining.notify", "params": notify}))
    cut1, cut2 = len(long_line) // 3, 2 * len(long_line) // 3
    parts = [long_line[:cut1], long_line[cut1:cut2], long_line[cut2:]]
    base = f.next_seq[False]
    starts = [base, base + cut1, base + cut2]
    f.wait(150.0)
    f.segment(False, ACK, parts[0], seq=starts[0])  # part 1
    f.next_seq[False] = starts[1]
    f.wait(0.04)
    f.segment(True, ACK)  # ACK part 1
    f.wait(0.3)
    f.segment(False, ACK | PSH, parts[2], seq=starts[2])  # part 3 overtakes part 2
    f.wait(0.04)
    f.segment(True, ACK)  # duplicate ACK, still waiting for part 2
    f.wait(0.6)
    f.segment(False, ACK, parts[1], seq=starts[1])  # part 2, late
    f.next_seq[False] = base + len(long_line)
    f.wait(0.04)
    f.segment(True, ACK)  # everything acknowledged
    f.wait(200.0)
    f.segment(False, ACK, parts[1], seq=starts[1])  # spurious retransmission of part 2
    f.wait(0.04)
    f.segment(True, ACK)  # duplicate ACK
    f.wait(25_000)
    submit = [user, notify[0], hexs("c8/en2", 4), f"{NTIME + 25:08x}", hexs("c8/nonce", 4)]
    f.exchange(
        lines(spaced({"id": 3, "method": "mining.submit", "params": submit})),
        lines(compact({"id": 3, "result": True, "error": None})),
    )
    f.close()

    g = TcpFlow(cap, Host("192.0.2.81", 50401), Host("203.0.113.81", 3333, ttl=50), 3.0)
    old = compact(
        {"params": btc_notify_params("c8b/old", NTIME - 30, 4, False), "id": None, "method": "mining.notify"}
    )
    new = btc_notify_params("c8b/new", NTIME + 3, 4, False)
    g.send(
        False,
        (old[len(old) * 3 // 5 :] + "\n").encode()
        + lines(compact({"params": new, "id": None, "method": "mining.notify"})),
    )
    g.wait(14_000)
    worker = "kvetak.worker1"
    g.send(
        True,
        lines(
            spaced(
                {
                    "params": [worker, new[0], hexs("c8b/en2a", 4), f"{NTIME + 17:08x}", hexs("c8b/n1", 4)],
                    "id": 41,
                    "method": "mining.submit",
                }
            )
        ),
    )
    g.wait(11_000)
    newer = btc_notify_params("c8b/newer", NTIME + 28, 4, True)
    g.send(False, lines(compact({"params": newer, "id": None, "method": "mining.notify"})))
    g.wait(6_000)
    g.send(
        True,
        lines(
            spaced(
                {
                    "params": [worker, newer[0], hexs("c8b/en2b", 4), f"{NTIME + 34:08x}", hexs("c8b/n2", 4)],
                    "id": 42,
                    "method": "mining.submit",
                }
            )
        ),
    )
    g.close()
    return write_pcap(cap.ordered(), link_raw, LINKTYPE_RAW)


def cap_equihash_zcash() -> bytes:
    """9. EWBF Equihash stratum (pool host in params); gzip-compressed pcap, BSD loopback link type."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.90", 49201), Host("198.51.100.90", 3333, ttl=51), 0.0, rtt_ms=28.0)
    f.handshake()
    nonce1 = hexs("zec/nonce1", 4)
    worker = ZEC_T1 + ".rig4"
    f.exchange(
        lines(
            compact(
                {
                    "id": 1,
                    "method": "mining.subscribe",
                    "params": ["EWBF 0.3.4b", None, "eu1-zcash.flypool.org", "3333"],
                }
            )
        ),
        lines(compact({"id": 1, "result": [None, nonce1], "error": None})),
    )
    job = hexs("zec/job", 3)
    notify = [
        job,
        "04000000",
        hexs("zec/prev", 28) + "00000000",
        hexs("zec/merkle", 32),
        "0" * 64,
        struct.pack("<I", NTIME).hex(),
        "1d9a011c",
        True,
    ]
    f.exchange(
        lines(compact({"id": 2, "method": "mining.authorize", "params": [worker, "x"]})),
        lines(
            compact({"id": 2, "result": True, "error": None}),
            '{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a"]}',
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    f.wait(33_000)
    solution = "fd4005" + hexs("zec/solution", 1344)
    submit = [worker, job, notify[5], hexs("zec/nonce2", 28), solution]
    f.exchange(
        lines(compact({"id": 4, "method": "mining.submit", "params": submit})),
        lines(compact({"id": 4, "result": True, "error": None})),
    )
    f.close()
    return gzip.compress(write_pcap(cap.ordered(), link_null, LINKTYPE_NULL), compresslevel=9, mtime=0)


def http_json_flow(
    cap: Capture,
    client: Host,
    server: Host,
    start_s: float,
    request: bytes,
    reply: bytes,
    rtt_ms: float = 20.0,
) -> None:
    """A complete TCP connection carrying one HTTP request and its reply."""
    f = TcpFlow(cap, client, server, start_s, rtt_ms=rtt_ms)
    f.handshake()
    f.exchange(request, reply, think_ms=1.5)
    f.close()


def cap_benign_mix() -> bytes:
    """10. Benign near-misses: DNS, HTTPS, HTTP, JSON-RPC web login, bitcoind, zabbix, Redis, SSH."""
    cap = Capture()
    client, resolver = "192.0.2.100", Host("192.0.2.53", 53)
    dns_names = [
        ("www.wikipedia.org", 1, "198.51.100.100"),
        ("www.example.org", 1, "203.0.113.101"),
        ("github.com", 28, "2001:db8:140::3"),
        ("api.example.net", 1, "203.0.113.102"),
    ]
    for i, (name, qtype, addr) in enumerate(dns_names):
        src, t = Host(client, 53000 + i * 13), T0_NS + i * 400_000_000
        udp_packet(cap, t, src, resolver, dns_message(0x2200 + i, name, qtype), True, 0x100 + i)
        udp_packet(
            cap,
            t + 9_000_000,
            resolver,
            src,
            dns_message(0x2200 + i, name, qtype, response=True, answers=[a_record(addr, 300)]),
            False,
            0x900 + i,
        )
    tls = TcpFlow(cap, Host(client, 52000), Host("198.51.100.100", 443, ttl=57), 2.0)
    tls_session(
        tls,
        "benign/wikipedia",
        "www.wikipedia.org",
        ("h2", "http/1.1"),
        [(True, 380, 1.0), (False, 1350, 30.0), (False, 1350, 0.2), (True, 90, 50.0)],
    )
    get = http_message(
        "GET / HTTP/1.1", [("Host", "www.example.org"), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]
    )
    page = b"<!doctype html>\n<html><head><title>Example Domain</title></head><body>Example.</body></html>\n"
    ok = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "text/html; charset=UTF-8"), ("Date", http_date(T0_NS + 4 * 10**9))],
        page,
    )
    http_json_flow(cap, Host(client, 52001), Host("203.0.113.101", 80, ttl=55), 4.0, get, ok)
    login = b'{"method":"login","params":{"login":"alice","password":"x"},"id":1}'
    json.loads(login)
    request = http_message(
        "POST /api/rpc HTTP/1.1",
        [
            ("Host", "api.example.net:8080"),
            ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
            ("Content-Type", "application/json"),
        ],
        login,
    )
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        lines(
            compact({"id": 1, "result": {"token": hexs("benign/token", 16), "user": "alice"}, "error": None})
        ),
    )
    http_json_flow(cap, Host(client, 52002), Host("203.0.113.102", 8080, ttl=55), 6.0, request, reply)
    rpc = compact({"jsonrpc": "1.0", "id": "curltest", "method": "getblockchaininfo", "params": []}).encode()
    request = http_message(
        "POST / HTTP/1.1",
        [
            ("Host", "203.0.113.120:8332"),
            ("Authorization", basic_auth("rpcuser", "rpcpass")),
            ("User-Agent", "curl/8.5.0"),
            ("Accept", "*/*"),
            ("content-type", "text/plain;"),
        ],
        rpc,
    )
    info = {
        "chain": "main",
        "blocks": 842406,
        "headers": 842406,
        "bestblockhash": "00000000000000000002" + hexs("benign/best", 22),
        "difficulty": 88104191118793.16,
        "time": NTIME - 420,
        "mediantime": NTIME - 2400,
        "verificationprogress": 0.9999983,
        "initialblockdownload": False,
        "chainwork": "0000000000000000000000000000000000000000" + hexs("benign/work", 12),
        "size_on_disk": 650123456789,
        "pruned": False,
        "warnings": "",
    }
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json"), ("Date", http_date(T0_NS + 8 * 10**9))],
        lines(compact({"result": info, "error": None, "id": "curltest"})),
    )
    http_json_flow(cap, Host(client, 52003), Host("203.0.113.120", 8332, ttl=60), 8.0, request, reply)
    zbx = compact(
        {
            "jsonrpc": "2.0",
            "method": "user.login",
            "params": {"username": "Admin", "password": "zabbix"},
            "id": 1,
        }
    ).encode()
    request = http_message(
        "POST /zabbix/api_jsonrpc.php HTTP/1.1",
        [("Host", "monitor.example.net"), ("Content-Type", "application/json-rpc")],
        zbx,
    )
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        compact({"jsonrpc": "2.0", "result": hexs("benign/zbx", 16), "id": 1}).encode(),
    )
    http_json_flow(cap, Host(client, 52004), Host("203.0.113.103", 80, ttl=58), 10.0, request, reply)
    redis = TcpFlow(cap, Host(client, 52005), Host("203.0.113.104", 6379, ttl=61), 12.0, rtt_ms=2.0)
    redis.handshake()
    doc = compact(
        {
            "id": "doc:42",
            "title": "Stratum V1 primer",
            "text": 'After subscribing, a miner sends {"id": 2, "method": "mining.authorize", '
            '"params": ["user", "pass"]} to log in.',
        }
    )
    redis.exchange(b"*2\r\n$3\r\nGET\r\n$6\r\ndoc:42\r\n", f"${len(doc)}\r\n{doc}\r\n".encode())
    redis.close()
    ssh = TcpFlow(cap, Host(client, 52006), Host("203.0.113.105", 22, ttl=56), 14.0)
    ssh.handshake()
    ssh.wait(3.0)
    ssh.send(False, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n", ack=False)
    ssh.wait(0.3)
    ssh.send(True, b"SSH-2.0-OpenSSH_9.6\r\n")
    ssh.close()
    return write_pcapng(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def sv2_frame(msg_type: int, payload: bytes, channel_msg: bool = False) -> bytes:
    """Plaintext SV2 frame: extension_type U16 (MSB = channel_msg), msg_type U8, msg_length U24 (LE)."""
    return (
        struct.pack("<HB", 0x8000 if channel_msg else 0, msg_type)
        + len(payload).to_bytes(3, "little")
        + payload
    )


def str0_255(text: str) -> bytes:
    """SV2 STR0_255."""
    return bytes([len(text)]) + text.encode()


def cap_sv2_handshake() -> bytes:
    """11. Stratum V2: Noise handshake sizes (64 -> 234) and encrypted frames; plaintext on 3336."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.110", 50600), Host("198.51.100.110", 34255, ttl=52), 0.0)
    f.handshake()
    f.exchange(stream("sv2/act1", 64), stream("sv2/act2", 234))
    for i, (from_client, plain_len) in enumerate(
        [(True, 75), (False, 6), (True, 57), (False, 81), (False, 45), (False, 48), (True, 24), (False, 20)]
    ):
        f.wait(0.5 if from_client else 25.0)
        f.send(from_client, stream(f"sv2/frame{i}", 22 + plain_len + 16))
    f.close()

    g = TcpFlow(cap, Host("192.0.2.111", 50601), Host("198.51.100.111", 3336, ttl=52), 10.0)
    g.handshake()
    setup = struct.pack("<BHHI", 0, 2, 2, 1) + str0_255("sv2.pool.example") + struct.pack("<H", 3336)
    setup += str0_255("bitaxe") + str0_255("Gamma 601") + str0_255("v2.4.1") + str0_255("bitaxe-a1b2c3d4e5f6")
    g.exchange(sv2_frame(0x00, setup), sv2_frame(0x01, struct.pack("<HI", 2, 0)))
    open_channel = (
        struct.pack("<I", 1) + str0_255(BTC_BITAXE + ".bitaxe02") + struct.pack("<f", 1.2e12) + b"\xff" * 32
    )
    target = b"\xff" * 24 + b"\x00" * 8
    opened = struct.pack("<II", 1, 7) + target + bytes([4]) + stream("sv2/prefix", 4) + struct.pack("<I", 0)
    job = struct.pack("<IIB", 7, 1, 0) + struct.pack("<I", 0x20000000) + stream("sv2/merkle", 32)
    prevhash = (
        struct.pack("<II", 7, 1)
        + stream("sv2/prev", 28)
        + b"\x00" * 4
        + struct.pack("<II", NTIME, 0x17034219)
    )
    g.exchange(
        sv2_frame(0x10, open_channel),
        sv2_frame(0x11, opened) + sv2_frame(0x15, job, True) + sv2_frame(0x20, prevhash, True),
    )
    g.wait(18_000)
    share = struct.pack("<IIIIII", 7, 0, 1, u32("sv2/nonce"), NTIME + 18, 0x20000000)
    g.exchange(sv2_frame(0x1A, share, True), sv2_frame(0x1C, struct.pack("<IIIQ", 7, 0, 1, 1), True))
    g.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_dns_then_tls_stratum() -> bytes:
    """12. DNS answer pool.supportxmr.com -> 198.51.100.77 (TTL 300), then TLS without SNI to it on 9000."""
    cap = Capture()
    client, resolver = Host("192.0.2.150", 43210), Host("192.0.2.53", 53)
    udp_packet(cap, T0_NS, client, resolver, dns_message(0x4D2, "pool.supportxmr.com", 1), True, 0x4242)
    answer = dns_message(
        0x4D2, "pool.supportxmr.com", 1, response=True, answers=[a_record("198.51.100.77", 300)]
    )
    udp_packet(cap, T0_NS + 14_000_000, resolver, client, answer, False, 0x5151)
    f = TcpFlow(cap, Host(client.ip, 50700), Host("198.51.100.77", 9000, ttl=50), 0.2, rtt_ms=38.0)
    records = [
        (True, 230, 5.0),
        (False, 420, 40.0),
        (False, 400, 28_000.0),
        (True, 190, 31_000.0),
        (False, 60, 38.0),
        (False, 410, 20_000.0),
    ]
    tls_session(f, "tls/supportxmr-nosni", None, (), records)
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_coin_daemon_rpc() -> bytes:
    """13. Pool -> litecoind getblocktemplate/submitblock over HTTP, and the pool's stratum on 3333."""
    cap = Capture()
    pool, node = "10.0.0.13", Host("10.0.0.40", 9332)
    auth = basic_auth("litecoinrpc", "0d3f6a9c5e1b")

    def rpc(start_s: float, port: int, body: str, result_json: str) -> None:
        json.loads(body)
        request = http_message(
            "POST / HTTP/1.1",
            [("Host", "10.0.0.40:9332"), ("Authorization", auth), ("Content-Type", "application/json")],
            body.encode(),
        )
        t = T0_NS + round(start_s * 1e9)
        headers = [
            ("Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t // 10**9))),
            ("Connection", "close"),
            ("Content-Length", str(len(result_json) + 1)),
            ("Content-Type", "application/json"),
            ("Server", "litecoin-json-rpc/v0.8.6.2-beta"),
        ]
        reply = http_message("HTTP/1.1 200 OK", headers) + lines(result_json)
        f = TcpFlow(cap, Host(pool, port), node, start_s, rtt_ms=0.3)
        f.handshake()
        f.exchange(request, reply, think_ms=2.0)
        f.close(from_client=False)

    prev_block = hexs("ltc/prev", 28) + "00000000"
    gbt: dict[str, Any] = {
        "version": 2,
        "previousblockhash": prev_block,
        "transactions": [],
        "coinbaseaux": {"flags": "062f503253482f"},
        "coinbasevalue": 2500000000,
        "target": "00000000000" + "1d0f0" + "0" * 48,
        "mintime": NTIME - 1200,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 20000,
        "sizelimit": 1000000,
        "curtime": NTIME,
        "bits": "1a01d0f0",
        "height": 2683112,
    }
    rpc(
        0.0,
        45000,
        '{"method":"getblocktemplate","params":[],"id":1}',
        compact({"result": gbt, "error": None, "id": 1}),
    )

    s = TcpFlow(cap, Host("203.0.113.25", 50800), Host(pool, 3333), 1.0, rtt_ms=42.0)
    s.handshake()
    user = LTC_ADDR + ".l3"
    s.exchange(
        lines(spaced({"id": 0, "method": "mining.subscribe", "params": ["cgminer/3.7.2"]})),
        lines(
            compact(
                {
                    "id": 0,
                    "result": [["mining.notify", "deadbeefcafebabe0100000000000000"], hexs("ltc/en1", 4), 4],
                    "error": None,
                }
            )
        ),
    )
    notify = btc_notify_params("ltc", NTIME + 1, 3, True)
    notify[5], notify[6] = "00000002", "1a01d0f0"
    s.exchange(
        lines(spaced({"id": 1, "method": "mining.authorize", "params": [user, "x"]})),
        lines(
            compact({"id": 1, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [512]}),
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    s.wait(21_000)
    submit = [user, notify[0], hexs("ltc/en2", 4), notify[7], hexs("ltc/nonce", 4)]
    s.exchange(
        lines(spaced({"params": submit, "id": 2, "method": "mining.submit"})),
        lines(compact({"id": 2, "result": True, "error": None})),
    )
    s.close()
    block = (
        "02000000"
        + prev_block
        + hexs("ltc/mroot", 32)
        + struct.pack("<I", NTIME + 1).hex()
        + "f0d0011a"
        + hexs("ltc/nonce", 4)
        + "01"
        + notify[2]
        + hexs("ltc/en1", 4)
        + hexs("ltc/en2", 4)
        + notify[3]
    )
    rpc(
        22.5,
        45001,
        compact({"method": "submitblock", "params": [block], "id": 2}),
        compact({"result": None, "error": None, "id": 2}),
    )
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


CAPTURES: dict[str, Callable[[], bytes]] = {
    "stratum-v1-cgminer.pcap": cap_stratum_v1_cgminer,
    "xmrig-login.pcapng": cap_xmrig_login,
    "dns-pool-lookup.pcap": cap_dns_pool_lookup,
    "tls-sni-donate.pcap": cap_tls_sni_donate,
    "eth-proxy-claymore.pcap": cap_eth_proxy_claymore,
    "ethereumstratum-nicehash.pcap": cap_ethereumstratum_nicehash,
    "getwork-http.pcap": cap_getwork_http,
    "stratum-split-midsession.pcap": cap_stratum_split_midsession,
    "equihash-zcash.pcap.gz": cap_equihash_zcash,
    "benign-mix.pcapng": cap_benign_mix,
    "sv2-handshake.pcap": cap_sv2_handshake,
    "dns-then-tls-stratum.pcap": cap_dns_then_tls_stratum,
    "coin-daemon-rpc.pcap": cap_coin_daemon_rpc,
}
MAX_SIZE = 30 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    """Write every capture into ``--out`` and print name, size and SHA-256 of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "pcaps",
        help="output directory (default: the repository's pcaps/)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, build in CAPTURES.items():
        data = build()
        if len(data) > MAX_SIZE:
            raise SystemExit(f"{name}: {len(data)} bytes, over the {MAX_SIZE}-byte budget")
        (out / name).write_bytes(data)
        print(f"{name:34} {len(data):6d}  {hashlib.sha256(data).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
