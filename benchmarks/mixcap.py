"""Deterministic generator of the mixed benchmark capture (benchmark input, not part of the package).

The capture stands in for an enterprise uplink: long bulk TCP downloads (MSS-size segments
and delayed ACKs; HTTP or an opaque binary protocol), TLS sessions (a ClientHello with SNI,
the server's handshake, then application data both ways), DNS over UDP (queries and
answers, a few for pool names), bulk TCP over IPv6, 802.1Q VLAN-tagged bulk TCP, and a little
mining: Stratum v1 (cgminer) and XMRig login/job/submit sessions whose JSON lines follow the
formats of PROTOCOLS.md §2 and §4, and DNS-then-connection sessions (a pool name is resolved,
then a TLS connection without SNI goes to the address). Everything comes from one seeded
``random.Random``: the same options give the same bytes.

    python benchmarks/mixcap.py /tmp/mix.pcap --packets 1000000

About 1,000,000 packets make 1 GB. Next to the capture, ``<capture>.manifest.json`` lists
the mining flows (each must be alerted) and the packets per traffic kind.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

BASE_TS = 1_714_564_800_000_000
"""2024-05-01 12:00:00 UTC, in microseconds."""
PPS = 10_000
"""Average packet rate of the generated traffic (packets per second of capture time)."""
MSS4, MSS6 = 1460, 1440
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10

SHARES = {"bulk": 0.52, "bulk6": 0.12, "vlan": 0.10, "tls": 0.235, "dns": 0.022}
"""Share of the packets per benign traffic kind (mining adds ``mining_share`` on top)."""
MINING_EVERY = 25_000
"""One session of each mining kind per this many packets (at least one of each)."""

BENIGN_NAMES = (
    "www.example.com", "cdn.example.net", "api.example.org", "static.example.com",
    "mail.example.net", "updates.example.org", "images.example.com", "login.example.net",
    "files.example.org", "video.example.com", "news.example.net", "shop.example.org",
)  # fmt: skip
POOL_NAMES = ("pool.supportxmr.com", "xmr.2miners.com", "donate.v2.xmrig.com", "xmr-eu1.nanopool.org")
"""Names on the shipped pool and donation lists (blocklists/pool.txt, donation.txt)."""
XMR_WALLET = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
"""Monero Project general fund, a published standard address."""
BTC_WALLET = "1J97Hrqv8vAwXf2o4ZhZ7YfN7o2n4kRqcd"

_RNG_BLOB = random.Random(7)
BLOB = bytes(_RNG_BLOB.getrandbits(8) for _ in range(65536))
"""Opaque payload bytes (encrypted or compressed content) that bulk and TLS segments slice."""


def blob(rng: random.Random, size: int) -> bytes:
    """``size`` opaque bytes from a random place of ``BLOB``."""
    start = rng.randrange(0, len(BLOB) - size)
    return BLOB[start : start + size]


# --------------------------------------------------------------------------- frames


@dataclass
class Endpoints:
    """Addresses, ports and link encapsulation of one flow."""

    client: bytes
    server: bytes
    cport: int
    sport: int
    vlan: int | None = None

    @property
    def v6(self) -> bool:
        """True for an IPv6 flow."""
        return len(self.client) == 16


MAC_C = bytes.fromhex("0200000000aa")
MAC_S = bytes.fromhex("0200000000bb")


def l2(from_client: bool, vlan: int | None, ethertype: int) -> bytes:
    """Ethernet header, with an 802.1Q tag when ``vlan`` is set."""
    macs = MAC_S + MAC_C if from_client else MAC_C + MAC_S
    if vlan is None:
        return macs + struct.pack("!H", ethertype)
    return macs + struct.pack("!HHH", 0x8100, vlan, ethertype)


def ip_header(ep: Endpoints, from_client: bool, proto: int, body_len: int, ident: int) -> bytes:
    """IPv4 or IPv6 header (checksums left 0, as offloading NICs leave them)."""
    src, dst = (ep.client, ep.server) if from_client else (ep.server, ep.client)
    if ep.v6:
        return struct.pack("!IHBB", 0x60000000, body_len, proto, 64) + src + dst
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + body_len, ident & 0xFFFF, 0x4000, 64, proto, 0) + src + dst


def udp_frame(ep: Endpoints, from_client: bool, payload: bytes, ident: int) -> bytes:
    """A whole UDP frame."""
    sp, dp = (ep.cport, ep.sport) if from_client else (ep.sport, ep.cport)
    udp = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
    etype = 0x86DD if ep.v6 else 0x0800
    return l2(from_client, ep.vlan, etype) + ip_header(ep, from_client, 17, len(udp), ident) + udp


class Conn:
    """One TCP connection: builds its frames and keeps both sequence numbers."""

    def __init__(self, rng: random.Random, ep: Endpoints) -> None:
        """Pick initial sequence numbers."""
        self.ep = ep
        self.seq = [rng.getrandbits(32), rng.getrandbits(32)]  # client, server
        self.ident = rng.getrandbits(16)
        etype = 0x86DD if ep.v6 else 0x0800
        self.l2 = (l2(True, ep.vlan, etype), l2(False, ep.vlan, etype))
        self.mss = MSS6 if ep.v6 else MSS4

    def frame(self, from_client: bool, flags: int, payload: bytes = b"") -> bytes:
        """The next frame from one side; SYN and FIN take one sequence number."""
        ep, side = self.ep, 0 if from_client else 1
        sp, dp = (ep.cport, ep.sport) if from_client else (ep.sport, ep.cport)
        seq, ack = self.seq[side], self.seq[1 - side]
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack if flags & ACK else 0, 0x50, flags, 65535, 0, 0)
        self.seq[side] = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        self.ident += 1
        ip = ip_header(ep, from_client, 6, 20 + len(payload), self.ident)
        return self.l2[side] + ip + tcp + payload


# --------------------------------------------------------------------------- sessions

Packet = tuple[int, bytes, "dict[str, object] | None"]
"""(timestamp µs, frame, manifest entry that this frame makes a mining flow)."""
Session = Iterator[Packet]


def handshake(conn: Conn, t: int, rtt: int) -> Iterator[Packet]:
    """SYN, SYN-ACK, ACK."""
    yield t, conn.frame(True, SYN), None
    yield t + rtt, conn.frame(False, SYN | ACK), None
    yield t + rtt + 20, conn.frame(True, ACK), None


def close(conn: Conn, t: int, rtt: int, server_first: bool = True) -> Iterator[Packet]:
    """FIN from one side, FIN-ACK from the other, last ACK."""
    yield t, conn.frame(not server_first, FIN | ACK), None
    yield t + rtt, conn.frame(server_first, FIN | ACK), None
    yield t + rtt + 20, conn.frame(not server_first, ACK), None


def send(conn: Conn, t: int, from_client: bool, data: bytes, gap: int) -> Iterator[Packet]:
    """``data`` cut into MSS-size segments ``gap`` µs apart (PSH on the last)."""
    for i in range(0, len(data), conn.mss):
        piece = data[i : i + conn.mss]
        last = i + conn.mss >= len(data)
        yield t, conn.frame(from_client, ACK | (PSH if last else 0), piece), None
        t += gap


def stream(
    conn: Conn, t: int, from_client: bool, segments: int, gap: int, rng: random.Random
) -> Iterator[Packet]:
    """``segments`` full opaque segments from one side, a delayed ACK every second one."""
    for i in range(segments):
        yield t, conn.frame(from_client, ACK, blob(rng, conn.mss)), None
        if i % 2 == 1:
            yield t + gap // 2, conn.frame(not from_client, ACK), None
        t += gap


@dataclass
class Generator:
    """Builds sessions of each kind from one random source; hands out addresses and ports."""

    rng: random.Random
    next_port: int = 32768
    next_host: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def port(self) -> int:
        """A fresh ephemeral client port (cycles through 32768-60999)."""
        self.next_port = 32768 + (self.next_port - 32768 + 1) % 28232
        return self.next_port

    def client4(self) -> bytes:
        """One of 4096 client hosts in 10.1.0.0/16."""
        n = self.rng.randrange(4096)
        return bytes((10, 1, n >> 8, n & 0xFF))

    def server4(self, net: int = 198) -> bytes:
        """A server address in a documentation-like public range."""
        return bytes((net, 51 if net == 198 else 0, self.rng.randrange(1, 255), self.rng.randrange(1, 255)))

    def client6(self) -> bytes:
        """A client in 2001:db8:1::/64."""
        return bytes.fromhex("20010db8000100000000000000000000")[:14] + self.rng.randrange(1, 65535).to_bytes(
            2, "big"
        )

    def server6(self) -> bytes:
        """A server in 2001:db8:2::/64."""
        return bytes.fromhex("20010db8000200000000000000000000")[:14] + self.rng.randrange(1, 65535).to_bytes(
            2, "big"
        )

    # ------------------------------------------------------------------ benign

    def bulk(self, t: int, v6: bool = False, vlan: int | None = None) -> Session:
        """A long download: HTTP (70 %) or an opaque binary protocol, then FIN."""
        rng = self.rng
        if v6:
            ep = Endpoints(self.client6(), self.server6(), self.port(), rng.choice((80, 443, 8080, 873)))
        else:
            ep = Endpoints(
                self.client4(), self.server4(), self.port(), rng.choice((80, 8080, 873, 445)), vlan
            )
        conn, rtt = Conn(rng, ep), rng.randrange(2_000, 40_000)
        gap = rng.randrange(100, 1_000)
        segments = int(rng.lognormvariate(6.3, 0.8)) + 20
        yield from handshake(conn, t, rtt)
        t += rtt + 100
        if rng.random() < 0.7:
            name = rng.choice(BENIGN_NAMES)
            request = f"GET /files/{rng.getrandbits(32):08x}.bin HTTP/1.1\r\nHost: {name}\r\n"
            request += "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
            yield t, conn.frame(True, PSH | ACK, request.encode()), None
            t += rtt
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            head += b"Content-Length: %d\r\n\r\n" % (segments * conn.mss)
            yield t, conn.frame(False, ACK, head + blob(rng, conn.mss - len(head))), None
        else:
            yield t, conn.frame(True, PSH | ACK, blob(rng, rng.randrange(40, 300))), None
            t += rtt
            yield t, conn.frame(False, ACK, blob(rng, conn.mss)), None
        t += gap
        yield from stream(conn, t, False, segments, gap, rng)
        t += segments * gap + rtt
        yield from close(conn, t, rtt)

    def tls(self, t: int, sni: str | None = None, server: bytes | None = None) -> Session:
        """A TLS session: ClientHello with SNI, server handshake, a few request/response rounds."""
        rng = self.rng
        ep = Endpoints(self.client4(), server or self.server4(), self.port(), 443)
        conn, rtt = Conn(rng, ep), rng.randrange(2_000, 60_000)
        yield from handshake(conn, t, rtt)
        t += rtt + 100
        yield t, conn.frame(True, PSH | ACK, client_hello(rng, sni)), None
        t += rtt
        yield from send(conn, t, False, server_hello(rng), 50)
        t += 200
        yield t, conn.frame(True, ACK), None
        finished = tls_record(0x14, b"\x01") + tls_record(0x17, blob(rng, 53))
        yield t + 100, conn.frame(True, PSH | ACK, finished), None
        t += rtt
        tickets = tls_record(0x17, blob(rng, 250)) + tls_record(0x17, blob(rng, 250))
        yield t, conn.frame(False, PSH | ACK, tickets), None
        for _ in range(rng.randrange(1, 6)):
            t += rng.randrange(1_000, 200_000)
            yield t, conn.frame(True, PSH | ACK, tls_record(0x17, blob(rng, rng.randrange(200, 900)))), None
            t += rtt
            size = int(rng.lognormvariate(9.0, 1.0)) + 100
            yield from stream_records(conn, t, size, rng)
            t += (size // conn.mss + 1) * 150
        yield from close(conn, t + rtt, rtt, server_first=False)

    def dns(
        self, t: int, name: str | None = None, answer: bytes | None = None, mark: bool = False
    ) -> Session:
        """A DNS query over UDP and its answer (A or AAAA, 1-3 addresses, sometimes a CNAME)."""
        rng = self.rng
        ep = Endpoints(self.client4(), bytes((10, 0, 0, 53)), self.port(), 53)
        qname = (
            name
            or f"{rng.choice(('www', 'api', 'cdn', 'img', 's'))}{rng.randrange(100)}."
            + rng.choice(BENIGN_NAMES).partition(".")[2]
        )
        qtype = 1 if answer is not None or rng.random() < 0.7 else 28
        msg_id = rng.getrandbits(16)
        entry = self._mining("dns-pool", ep, 17) if mark else None
        yield t, udp_frame(ep, True, dns_message(msg_id, qname, qtype, None, rng), 1), entry
        addresses = [answer] if answer is not None else None
        response = dns_message(msg_id, qname, qtype, addresses or [], rng)
        yield t + rng.randrange(500, 30_000), udp_frame(ep, False, response, 2), None

    # ------------------------------------------------------------------ mining

    def _mining(self, kind: str, ep: Endpoints, proto: int) -> dict[str, object]:
        from ipaddress import ip_address

        return {
            "kind": kind,
            "client_ip": str(ip_address(ep.client)),
            "client_port": ep.cport,
            "server_ip": str(ip_address(ep.server)),
            "server_port": ep.sport,
            "proto": proto,
        }

    def stratum(self, t: int) -> Session:
        """A cgminer Stratum v1 session: subscribe, authorize, difficulty, notify, submits."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(203), self.port(), 3333)
        conn, rtt = Conn(rng, ep), rng.randrange(5_000, 80_000)
        yield from handshake(conn, t, rtt)
        t += rtt + 200
        user = f"{BTC_WALLET}.rig{rng.randrange(1, 50)}"
        sub = '{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}\n'
        yield t, conn.frame(True, PSH | ACK, sub.encode()), self._mining("stratum", ep, 6)
        t += rtt
        sid = f"{rng.getrandbits(32):08x}"
        reply = f'{{"id":2,"result":[[["mining.set_difficulty","{sid}"],["mining.notify","{sid}"]],"{sid}",8],"error":null}}\n'  # noqa: E501
        yield t, conn.frame(False, PSH | ACK, reply.encode()), None
        t += 500
        auth = f'{{"id": 3, "method": "mining.authorize", "params": ["{user}", "x"]}}\n'
        yield t, conn.frame(True, PSH | ACK, auth.encode()), None
        t += rtt
        lines = '{"id":3,"result":true,"error":null}\n{"id":null,"method":"mining.set_difficulty","params":[512]}\n'  # noqa: E501
        yield t, conn.frame(False, PSH | ACK, lines.encode() + notify(rng, 1)), None
        for job in range(2, rng.randrange(3, 8)):
            t += rng.randrange(20_000, 400_000)
            submit = (
                f'{{"params": ["{user}", "{job - 1:x}", "{rng.getrandbits(32):08x}", "{rng.getrandbits(32):08x}", '  # noqa: E501
                f'"{rng.getrandbits(32):08x}"], "id": {job + 3}, "method": "mining.submit"}}\n'
            )
            yield t, conn.frame(True, PSH | ACK, submit.encode()), None
            t += rtt
            yield (
                t,
                conn.frame(False, PSH | ACK, f'{{"id":{job + 3},"result":true,"error":null}}\n'.encode()),
                None,
            )
            t += 30_000
            yield t, conn.frame(False, PSH | ACK, notify(rng, job)), None
            yield t + 200, conn.frame(True, ACK), None
        yield from close(conn, t + 100_000, rtt, server_first=False)

    def xmrig(self, t: int) -> Session:
        """An XMRig session: login, job in the reply, pushed jobs, submits."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(203), self.port(), rng.choice((3333, 14444, 5555)))
        conn, rtt = Conn(rng, ep), rng.randrange(5_000, 80_000)
        yield from handshake(conn, t, rtt)
        t += rtt + 200
        login = (
            '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"' + XMR_WALLET + '","pass":"x",'
            '"agent":"XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1","rigid":"rig'
            + str(rng.randrange(1, 50))
            + '","algo":["rx/0","cn/2","cn/r","cn/fast"]}}\n'
        )
        yield t, conn.frame(True, PSH | ACK, login.encode()), self._mining("xmrig", ep, 6)
        t += rtt
        rpc_id = f"{rng.getrandbits(64):016x}"
        reply = (
            '{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"' + rpc_id + '","job":' + xmr_job(rng, rpc_id)  # noqa: E501
            + ',"extensions":["algo","nicehash","connect","tls","keepalive"],"status":"OK"}}\n'
        )  # fmt: skip
        yield from send(conn, t, False, reply.encode(), 50)
        for n in range(2, rng.randrange(3, 8)):
            t += rng.randrange(20_000, 400_000)
            submit = (
                '{"id":' + str(n) + ',"jsonrpc":"2.0","method":"submit","params":{"id":"' + rpc_id
                + f'","job_id":"{rng.getrandbits(64):016x}","nonce":"{rng.getrandbits(32):08x}",'
                + f'"result":"{rng.getrandbits(256):064x}","algo":"rx/0"}}}}\n'
            )  # fmt: skip
            yield t, conn.frame(True, PSH | ACK, submit.encode()), None
            t += rtt
            ok = '{"id":' + str(n) + ',"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}\n'
            yield t, conn.frame(False, PSH | ACK, ok.encode()), None
            t += 30_000
            push = '{"jsonrpc":"2.0","method":"job","params":' + xmr_job(rng, rpc_id) + "}\n"
            yield from send(conn, t, False, push.encode(), 50)
            yield t + 200, conn.frame(True, ACK), None
        yield from close(conn, t + 100_000, rtt, server_first=False)

    def resolved(self, t: int) -> Session:
        """A pool name resolved over DNS, then a TLS connection without SNI to its address."""
        address = self.server4(203)
        name = self.rng.choice(POOL_NAMES)
        yield from self.dns(t, name, address, mark=True)
        t += self.rng.randrange(40_000, 200_000)
        session = self.tls(t, sni="", server=address)
        first = next(session)
        ep_entry = self._mining("dns-then-connection", self._last_ep(first[1]), 6)
        yield first[0], first[1], ep_entry
        yield from session

    def _last_ep(self, frame: bytes) -> Endpoints:
        """Endpoints of an Ethernet/IPv4/TCP frame (the SYN just built)."""
        src, dst = frame[26:30], frame[30:34]
        sport, dport = struct.unpack_from("!HH", frame, 34)
        return Endpoints(src, dst, sport, dport)


# --------------------------------------------------------------------------- payloads


def tls_record(content_type: int, body: bytes) -> bytes:
    """One TLS 1.2 record."""
    return struct.pack("!BHH", content_type, 0x0303, len(body)) + body


def client_hello(rng: random.Random, sni: str | None) -> bytes:
    """A TLS 1.3-style ClientHello: SNI (unless ``sni`` is ""), ALPN, supported_versions."""
    name = sni if sni is not None else rng.choice(BENIGN_NAMES)
    ext = b""
    if name:
        host = name.encode()
        names = b"\x00" + struct.pack("!H", len(host)) + host
        ext += struct.pack("!HHH", 0, len(names) + 2, len(names)) + names
    alpn = b"\x02h2\x08http/1.1"
    ext += struct.pack("!HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    ext += struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    ext += struct.pack("!HH", 21, 180) + bytes(180)  # padding, as browsers send
    suites = bytes.fromhex("130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035")
    body = b"\x03\x03" + blob(rng, 32) + b"\x20" + blob(rng, 32)
    body += struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    return tls_record(0x16, b"\x01" + len(body).to_bytes(3, "big") + body)


def server_hello(rng: random.Random) -> bytes:
    """A TLS 1.3 server flight: ServerHello, ChangeCipherSpec, then the encrypted handshake."""
    ext = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHHH", 51, 36, 0x001D, 32) + blob(rng, 32)
    body = b"\x03\x03" + blob(rng, 32) + b"\x20" + blob(rng, 32) + b"\x13\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hello = tls_record(0x16, b"\x02" + len(body).to_bytes(3, "big") + body)
    encrypted = b"".join(tls_record(0x17, blob(rng, n)) for n in (rng.randrange(2500, 4000), 281, 69))
    return hello + tls_record(0x14, b"\x01") + encrypted


def stream_records(conn: Conn, t: int, size: int, rng: random.Random) -> Iterator[Packet]:
    """``size`` bytes of TLS application data from the server, with the client's ACKs."""
    data = b"".join(tls_record(0x17, blob(rng, min(16384, size - i))) for i in range(0, size, 16384))
    for n, i in enumerate(range(0, len(data), conn.mss)):
        yield t, conn.frame(False, ACK, data[i : i + conn.mss]), None
        if n % 2 == 1:
            yield t + 75, conn.frame(True, ACK), None
        t += 150


def notify(rng: random.Random, job: int) -> bytes:
    """A Stratum v1 ``mining.notify`` line."""
    return (
        f'{{"id":null,"method":"mining.notify","params":["{job:x}","{rng.getrandbits(256):064x}",'
        f'"{rng.getrandbits(256):064x}","{rng.getrandbits(64):016x}",[],"20000000","1d00ffff",'
        f'"{rng.getrandbits(32):08x}",true]}}\n'
    ).encode()


def xmr_job(rng: random.Random, rpc_id: str) -> str:
    """A CryptoNote job object (xmrig-proxy doc/STRATUM.md shape)."""
    return (
        f'{{"blob":"0707{rng.getrandbits(300):075x}","job_id":"{rng.getrandbits(64):016x}",'
        f'"target":"b88d0600","id":"{rpc_id}","algo":"rx/0","height":3100000}}'
    )


def dns_name(name: str) -> bytes:
    """A name in DNS wire format."""
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"


def dns_message(
    msg_id: int, qname: str, qtype: int, answers: list[bytes] | None, rng: random.Random
) -> bytes:
    """A query (``answers`` None) or a response with ``answers`` (the name's own when empty).

    Like a real resolver's, the answer to a name is always the same 1-3 addresses (a fixed
    function of the name), with a TTL of 60 s, 5 min or 1 h.
    """
    question = dns_name(qname) + struct.pack("!HH", qtype, 1)
    if answers is None:
        return (
            struct.pack("!HHHHHH", msg_id, 0x0100, 1, 0, 0, 1)
            + question
            + bytes.fromhex("0000291000000000000000")
        )
    own = random.Random(f"{qname}/{qtype}")
    if not answers:
        size = 4 if qtype == 1 else 16
        answers = [bytes(own.getrandbits(8) for _ in range(size)) for _ in range(own.randrange(1, 4))]
    ttl = own.choice((60, 300, 3600))
    records = b""
    for address in answers:
        rtype = 1 if len(address) == 4 else 28
        records += b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, ttl, len(address)) + address
    head = struct.pack("!HHHHHH", msg_id, 0x8180, 1, len(answers), 0, 0)
    return head + question + records


# --------------------------------------------------------------------------- the capture


@dataclass
class Kind:
    """A traffic kind: how to start a session and how often sessions start."""

    name: str
    start: Callable[[int], Session]
    every_us: float


def kinds(gen: Generator, packets: int) -> list[Kind]:
    """Every traffic kind with its mean time between session starts."""
    duration = packets / PPS * 1e6
    mean_packets = {"bulk": 900.0, "bulk6": 900.0, "vlan": 900.0, "tls": 52.0, "dns": 2.0}
    starts: dict[str, Callable[[int], Session]] = {
        "bulk": gen.bulk,
        "bulk6": lambda t: gen.bulk(t, v6=True),
        "vlan": lambda t: gen.bulk(t, vlan=gen.rng.choice((10, 20, 30))),
        "tls": gen.tls,
        "dns": gen.dns,
    }
    out = [Kind(k, starts[k], duration / (packets * share / mean_packets[k])) for k, share in SHARES.items()]
    sessions = max(1, packets // MINING_EVERY)
    mining = {"stratum": gen.stratum, "xmrig": gen.xmrig, "resolved": gen.resolved}
    out += [Kind(k, start, duration / sessions) for k, start in mining.items()]
    out.append(
        Kind("dns-pool", lambda t: gen.dns(t, gen.rng.choice(POOL_NAMES), mark=True), duration / sessions)
    )
    return out


KindsOf = Callable[[int, int], "tuple[Generator, list[Kind]]"]
"""(packets, seed) -> the generator and its traffic kinds (``default_kinds``, shortmix's)."""


def default_kinds(packets: int, seed: int) -> tuple[Generator, list[Kind]]:
    """This module's bulk-heavy mix."""
    gen = Generator(random.Random(seed))
    return gen, kinds(gen, packets)


def packets_of(
    packets: int, seed: int = 1, kinds_of: KindsOf = default_kinds
) -> Iterator[tuple[int, bytes, str, dict[str, object] | None]]:
    """Yield ``packets`` (ts, frame, kind, manifest entry) in time order."""
    gen, all_kinds = kinds_of(packets, seed)
    heap: list[tuple[int, int, int, object]] = []
    order = 0
    for i, kind in enumerate(all_kinds):
        # the first mining sessions start early, so that even a short capture has them
        first = kind.every_us * (
            0.1 if kind.name in ("stratum", "xmrig", "resolved", "dns-pool") else gen.rng.random()
        )
        heapq.heappush(heap, (BASE_TS + int(first), order, -1 - i, None))
        order += 1
    emitted = 0
    while emitted < packets:
        ts, _, who, item = heapq.heappop(heap)
        if who < 0:  # a session of kind ~who starts now; schedule the next one
            kind = all_kinds[-1 - who]
            session = kind.start(ts)
            step = int(gen.rng.expovariate(1.0 / kind.every_us)) + 1
            heapq.heappush(heap, (ts + step, order, who, None))
            heapq.heappush(heap, (ts, order + 1, 0, (session, kind.name)))
            order += 2
            continue
        session, name = item  # type: ignore[misc]
        packet = next(session, None)
        if packet is None:
            continue
        pts, frame, entry = packet
        pts = max(pts, ts)
        yield pts, frame, name, entry
        emitted += 1
        heapq.heappush(heap, (pts, order, 0, item))
        order += 1


def write(out: BinaryIO, packets: int, seed: int = 1, kinds_of: KindsOf = default_kinds) -> dict[str, object]:
    """Write the capture as classic pcap (µs, Ethernet) to ``out``; return its manifest."""
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    per_kind: Counter[str] = Counter()
    mining: list[dict[str, object]] = []
    batch: list[bytes] = []
    size = 0
    pack = struct.Struct("<IIII").pack
    for ts, frame, kind, entry in packets_of(packets, seed, kinds_of):
        batch.append(pack(ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
        batch.append(frame)
        size += len(frame)
        per_kind[kind] += 1
        if entry is not None:
            mining.append(entry)
        if len(batch) >= 8192:
            out.write(b"".join(batch))
            batch.clear()
    out.write(b"".join(batch))
    return {"packets": packets, "seed": seed, "frame_bytes": size, "kinds": dict(per_kind), "mining": mining}


def generate(path: str, packets: int, seed: int = 1, kinds_of: KindsOf = default_kinds) -> dict[str, object]:
    """Write the capture to ``path`` and its manifest to ``path.manifest.json``; return the manifest."""
    with open(path, "wb") as out:
        manifest = write(out, packets, seed, kinds_of)
    with open(path + ".manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main(make: Callable[[str, int, int], dict[str, object]] | None = None, doc: str | None = None) -> None:
    """Command line: write one capture (with ``make``: another generator's, e.g. shortmix's)."""
    make = make or generate
    parser = argparse.ArgumentParser(description=(doc or __doc__ or "").splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    manifest = make(args.path, args.packets, args.seed)
    print(json.dumps({k: v for k, v in manifest.items() if k != "mining"}))
    print(f"{len(manifest['mining'])} mining flows")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
