"""Test builders for decoded packets and whole TCP sessions (flows and dissector stages).

source -> decode -> **flows/dissectors** -> detectors -> enrichment -> sinks

``tcp``/``udp`` build one ``poolsniff.model.Packet`` with the field a test cares about;
``Session`` builds a TCP conversation packet by packet and keeps each side's sequence
number; ``tcp_session`` is the one-call form. ``dns_query``/``dns_response``/``tcp_dns``
and ``client_hello`` build the application bytes the flow-level tests send. Raw frames
and capture files are built by ``tests.factories_frames``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from poolsniff.dissect.flows import FlowTable
from poolsniff.model import PROTO_TCP, PROTO_UDP, Event, Packet
from tests.factories_frames import DST4, SRC4

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
MASK32 = 0xFFFFFFFF

CLIENT = SRC4
"""Packed address of the default client (10.0.0.1)."""
SERVER = DST4
"""Packed address of the default server (192.168.1.2)."""
CLIENT_IP = "10.0.0.1"
SERVER_IP = "192.168.1.2"
CLIENT_PORT = 40000
SERVER_PORT = 3333


# --------------------------------------------------------------------------- packets


def tcp(
    payload: bytes = b"",
    *,
    seq: int = 1000,
    flags: int = PSH | ACK,
    src: bytes = CLIENT,
    dst: bytes = SERVER,
    sport: int = CLIENT_PORT,
    dport: int = SERVER_PORT,
    ts_us: int = 1_000_000,
) -> Packet:
    """One decoded TCP packet (defaults: client -> server, PSH|ACK)."""
    return Packet(ts_us, src, dst, PROTO_TCP, sport, dport, flags, seq & MASK32, payload)


def udp(
    payload: bytes = b"",
    *,
    src: bytes = CLIENT,
    dst: bytes = SERVER,
    sport: int = 5353,
    dport: int = 53,
    ts_us: int = 1_000_000,
) -> Packet:
    """One decoded UDP packet (defaults: client -> server port 53)."""
    return Packet(ts_us, src, dst, PROTO_UDP, sport, dport, 0, 0, payload)


# --------------------------------------------------------------------------- sessions


@dataclass
class Session:
    """A TCP conversation built packet by packet; each side's next sequence number is kept."""

    client: bytes = CLIENT
    server: bytes = SERVER
    cport: int = CLIENT_PORT
    sport: int = SERVER_PORT
    client_isn: int = 1000
    server_isn: int = 5000
    ts_us: int = 1_000_000
    step_us: int = 1000
    packets: list[Packet] = field(default_factory=list)
    _next: dict[bool, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Data starts one past each side's ISN (the SYN takes one sequence number)."""
        self._next = {True: (self.client_isn + 1) & MASK32, False: (self.server_isn + 1) & MASK32}

    def next_seq(self, from_client: bool) -> int:
        """The sequence number the next byte from that side will carry."""
        return self._next[from_client]

    def packet(
        self, from_client: bool, payload: bytes = b"", *, flags: int = PSH | ACK, seq: int | None = None
    ) -> Packet:
        """Append one packet; ``seq`` defaults to the side's next sequence number (not advanced)."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        number = self._next[from_client] if seq is None else seq
        pkt = tcp(
            payload, seq=number, flags=flags, src=src, dst=dst, sport=sport, dport=dport, ts_us=self.ts_us
        )
        self.ts_us += self.step_us
        self.packets.append(pkt)
        return pkt

    def handshake(self) -> Session:
        """SYN, SYN-ACK, ACK."""
        self.packet(True, flags=SYN, seq=self.client_isn)
        self.packet(False, flags=SYN | ACK, seq=self.server_isn)
        self.packet(True, flags=ACK)
        return self

    def send(self, from_client: bool, data: bytes, cuts: Sequence[int] = ()) -> Session:
        """Send ``data`` in order, cut into segments at the offsets in ``cuts``."""
        bounds = [0, *sorted(cuts), len(data)]
        for start, end in pairwise(bounds):
            if end > start:
                self.packet(from_client, data[start:end])
                self._next[from_client] = (self._next[from_client] + end - start) & MASK32
        return self

    def skip(self, from_client: bool, size: int) -> Session:
        """Advance a side's sequence number as if ``size`` bytes were sent but not captured."""
        self._next[from_client] = (self._next[from_client] + size) & MASK32
        return self

    def fin(self, from_client: bool) -> Session:
        """A FIN|ACK from one side (the FIN takes one sequence number)."""
        self.packet(from_client, flags=FIN | ACK)
        self._next[from_client] = (self._next[from_client] + 1) & MASK32
        return self

    def close(self) -> Session:
        """FIN from the client, FIN from the server, last ACK from the client."""
        self.fin(True).fin(False)
        self.packet(True, flags=ACK)
        return self


def tcp_session(
    exchanges: Iterable[tuple[bool, bytes]],
    *,
    handshake: bool = True,
    close: bool = True,
    segment_size: int | None = None,
    cport: int = CLIENT_PORT,
    sport: int = SERVER_PORT,
) -> list[Packet]:
    """A whole TCP session: (from_client, data) exchanges, optionally cut into ``segment_size`` pieces."""
    s = Session(cport=cport, sport=sport)
    if handshake:
        s.handshake()
    for from_client, data in exchanges:
        cuts = range(segment_size, len(data), segment_size) if segment_size else ()
        s.send(from_client, data, cuts)
    if close:
        s.close()
    return s.packets


def run(packets: Iterable[Packet], table: FlowTable | None = None) -> list[Event]:
    """Feed packets to a flow table (a new one by default); return every event, in order."""
    t = FlowTable() if table is None else table
    return [event for p in packets for event in t.process(p)]


# --------------------------------------------------------------------------- application bytes


def dns_name(name: str) -> bytes:
    """Encode a DNS name (no compression)."""
    labels = [label.encode() for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def dns_query(name: str, qtype: int = 1, msg_id: int = 0x1A2B) -> bytes:
    """A recursive query for one name."""
    head = struct.pack(">HHHHHH", msg_id, 0x0100, 1, 0, 0, 0)
    return head + dns_name(name) + struct.pack(">HH", qtype, 1)


def dns_response(
    name: str,
    answers: Sequence[tuple[int, bytes, int]] = (),
    qtype: int = 1,
    msg_id: int = 0x1A2B,
) -> bytes:
    """A response to ``dns_query(name)`` with (rrtype, rdata, ttl) answers owned by the question name."""
    out = struct.pack(">HHHHHH", msg_id, 0x8180, 1, len(answers), 0, 0)
    out += dns_name(name) + struct.pack(">HH", qtype, 1)
    for rrtype, rdata, ttl in answers:
        out += b"\xc0\x0c" + struct.pack(">HHIH", rrtype, 1, ttl, len(rdata)) + rdata
    return out


def tcp_dns(message: bytes) -> bytes:
    """Prefix a DNS message with its two-byte length, as sent over TCP."""
    return len(message).to_bytes(2, "big") + message


def client_hello(sni: str, record_size: int = 2**14, alpn: tuple[str, ...] = (), padding: int = 0) -> bytes:
    """A TLS 1.2 ClientHello carrying one server_name (and ``alpn``'s protocols, if any; a padding extension
    of ``padding`` bytes, if any), cut into records of ``record_size`` bytes."""
    host = sni.encode()
    names = b"\x00" + len(host).to_bytes(2, "big") + host
    sni_data = len(names).to_bytes(2, "big") + names
    extensions = b"\x00\x00" + len(sni_data).to_bytes(2, "big") + sni_data
    if alpn:
        protocols = b"".join(len(p).to_bytes(1, "big") + p.encode() for p in alpn)
        alpn_data = len(protocols).to_bytes(2, "big") + protocols
        extensions += b"\x00\x10" + len(alpn_data).to_bytes(2, "big") + alpn_data
    if padding:
        extensions += b"\x00\x15" + padding.to_bytes(2, "big") + bytes(padding)
    body = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(extensions).to_bytes(2, "big") + extensions
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    out = b""
    for i in range(0, len(message), record_size):
        chunk = message[i : i + record_size]
        out += b"\x16\x03\x01" + len(chunk).to_bytes(2, "big") + chunk
    return out


def server_hello(version: int | None = 0x0304) -> bytes:
    """A ServerHello record choosing TLS_AES_128_GCM_SHA256, with supported_versions ``version`` if given."""
    exts = b"" if version is None else b"\x00\x2b\x00\x02" + version.to_bytes(2, "big")
    body = b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\x13\x01" + b"\x00"
    body += len(exts).to_bytes(2, "big") + exts
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message


def sv2_frame(msg_type: int, body: bytes, ext: int = 0) -> bytes:
    """A plaintext Stratum V2 frame: extension_type U16, msg_type U8, msg_length U24 (little-endian)."""
    return struct.pack("<HB", ext, msg_type) + len(body).to_bytes(3, "little") + body


def str0_255(text: bytes) -> bytes:
    """An SV2 STR0_255: one length byte, then the bytes."""
    return bytes([len(text)]) + text


def setup_connection(
    *,
    protocol: int = 0,
    min_version: int = 2,
    max_version: int = 2,
    flags: int = 0b110,
    host: bytes = b"pool.example.com",
    port: int = 34254,
    vendor: bytes = b"Bitmain",
    hardware: bytes = b"S19 Pro",
    firmware: bytes = b"braiins-os-2024.1",
    device: bytes = b"rig-7",
    ext: int = 0,
    msg_type: int = 0,
) -> bytes:
    """A SetupConnection frame (PROTOCOLS.md §7) with every field settable."""
    body = bytes([protocol]) + struct.pack("<HHI", min_version, max_version, flags)
    body += str0_255(host) + struct.pack("<H", port)
    body += str0_255(vendor) + str0_255(hardware) + str0_255(firmware) + str0_255(device)
    return sv2_frame(msg_type, body, ext)


def random_bytes(size: int, seed: int = 1) -> bytes:
    """Deterministic pseudo-random bytes (an encrypted or compressed payload)."""
    return random.Random(seed).randbytes(size)


# --------------------------------------------------------------------------- PROTOCOLS.md lines
# Verbatim JSON lines of /work/shared/reference/PROTOCOLS.md, each with the "\n" its sender appends.

CGMINER_SUBSCRIBE = b'{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}\n'
CGMINER_AUTHORIZE = b'{"id": 3, "method": "mining.authorize", "params": ["<user>", "<pass>"]}\n'
CGMINER_SUBMIT = (
    b'{"params": ["<user>", "<job_id>", "<extranonce2>", "<ntime>", "<nonce>"], "id": 5, '
    b'"method": "mining.submit"}\n'
)
NESFIT_SUBSCRIBE_REPLY = (
    b'{"id":0,"result":[[["mining.set_difficulty","865dd8ac"],["mining.notify","865dd8ac"]],'
    b'"865dd8ac",8],"error":null}\n'
)
BITMINTER_SUBSCRIBE_REPLY = (
    b'{"result":[[["mining.notify","1"],["mining.set_difficulty","2"]],"00b61738",4],"error":null,"id":0}\n'
)
NOMP_SET_DIFFICULTY = b'{"id":null,"method":"mining.set_difficulty","params":[512]}\n'
AUTHORIZE_ERROR = b'{"id":1,"result":null,"error":[29,"Invalid username",null]}\n'
EWBF_SUBSCRIBE = (
    b'{"id":1,"method":"mining.subscribe","params":["EWBF 0.3.4b",null,"eu1-zcash.flypool.org","3333"]}\n'
)
BIP310_REPLY = (
    b'{"id": 1, "result": { "version-rolling": true, "version-rolling.mask": "00003000" }, "error": null}\n'
)
NICEHASH_SUBSCRIBE = (
    b'{"id":1,"method":"mining.subscribe","params":["NiceHash/1.0.0","1662637786319",'
    b'"3e747837e632920e8cd11453c2558233e3822489a20d828fdf205a149b064afc"]}\n'
)
CLAYMORE_LOGIN = (
    b'{"worker": "eth1.0", "jsonrpc": "2.0", "params": '
    b'["0x9c99d212f7e5daa18ab50810e0fd255d1f04303b/tester.worker1/vvesely@mailinator", "x"], '
    b'"id": 2, "method": "eth_submitLogin"}\n'
)
CLAYMORE_LOGIN_REPLY = b'{"jsonrpc":"2.0","id":2,"result":true}\n'
XMRIG_KEEPALIVED = b'{"id":3,"jsonrpc":"2.0","method":"keepalived","params":{"id":"<rpc id>"}}\n'
XMR_STAK_LOGIN = (
    b'{"method":"login","params":{"login":"%s","pass":"%s","agent":"xmr-stak-cpu/1.0.0"},"id":1}\n'
)
ETH_GETWORK_URI = "/?miner=30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@OptionalRigName"
ETH_GETWORK_BODY = b'{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}'
GETWORK_BODY = b'{"method": "getwork", "params": [], "id":0}'
