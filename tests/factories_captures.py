"""Whole capture files built from ``Session`` packets, for tests that run the CLI (source stage up).

``capture(packets)`` renders decoded ``Packet`` records (IPv4 TCP) back into an Ethernet pcap;
``xmrig_daemon_polls`` is XMRig ``--daemon`` asking monerod for a template over a new HTTP
connection every second (PROTOCOLS.md §4); ``stratum_session`` is one cgminer session.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from poolsniff.model import Packet
from tests.factories import Session
from tests.factories_frames import eth, ipv4, pcap_file, tcp

SECOND = 1_000_000
T0 = 1_714_564_800 * SECOND
"""2024-05-01 12:00:00 UTC, the demo captures' epoch."""
# Monero Project general fund (a published standard address).
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
BTC = "1J97HrqvJYFVrNtnTZF1C8WgFuBL87QTzN"


def packed(ip: str) -> bytes:
    """The packed form of an IPv4 address."""
    return ipaddress.IPv4Address(ip).packed


def capture(packets: Iterable[Packet]) -> bytes:
    """A classic Ethernet pcap of IPv4 TCP ``packets``, in the order given."""
    frames = []
    for p in packets:
        segment = tcp(p.payload, sport=p.sport, dport=p.dport, seq=p.seq, flags=p.flags)
        frames.append((p.ts_us, eth(ipv4(segment, src=p.src, dst=p.dst))))
    return pcap_file(frames)


def http_post(host: str, body: bytes, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 POST of ``body`` to ``/json_rpc``."""
    head = f"POST /json_rpc HTTP/1.1\r\nHost: {host}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def xmrig_daemon_polls(
    count: int, *, miner: str = "192.0.2.20", daemon: str = "198.51.100.20", port: int = 18081
) -> list[Packet]:
    """XMRig ``--daemon``: ``count`` HTTP connections one second apart, each one getblocktemplate."""
    request = {"id": 1, "jsonrpc": "2.0", "method": "getblocktemplate",
               "params": {"wallet_address": XMR, "reserve_size": 60}}  # fmt: skip
    body = json.dumps(request).encode()
    reply = json.dumps({"id": 1, "jsonrpc": "2.0", "result": {"difficulty": 1, "height": 3100000}}).encode()
    answer = b"HTTP/1.1 200 Ok\r\nContent-Type: application/json\r\n"
    answer += b"Content-Length: %d\r\n\r\n" % len(reply) + reply
    packets: list[Packet] = []
    for i in range(count):
        s = Session(packed(miner), packed(daemon), 50000 + i, port, ts_us=T0 + i * SECOND)
        agent = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"
        s.handshake().send(True, http_post(f"{daemon}:{port}", body, {"User-Agent": agent}))
        s.send(False, answer).close()
        packets.extend(s.packets)
    return packets


def stratum_session(
    *, miner: str = "192.0.2.10", pool: str = "185.71.66.39", port: int = 9999, cport: int = 50312,
    start_us: int = T0, payload_pad: int = 0,
) -> list[Packet]:
    """One cgminer Stratum v1 session: subscribe, its result, authorize, a notify, a submit, close."""
    lines = [
        (True, {"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}),
        (False, {"id": 1, "result": [[["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4],
                 "error": None}),
        (True, {"id": 2, "method": "mining.authorize", "params": [BTC, "x"]}),
        (False, {"id": 2, "result": True, "error": None}),
        (False, {"id": None, "method": "mining.notify",
                 "params": ["bf", "ab" * 32, "01", "ff", [], "20000000", "1d00ffff", "5d5a0c1b", True]}),
        (True, {"id": 4, "method": "mining.submit", "params": [BTC, "bf", "00000000", "5d5a0c1b", "a1b2c3d4"],
                "pad": "x" * payload_pad}),
    ]  # fmt: skip
    s = Session(packed(miner), packed(pool), cport, port, ts_us=start_us)
    s.handshake()
    for from_client, line in lines:
        s.send(from_client, json.dumps(line).encode() + b"\n")
    s.close()
    return s.packets
