"""Scenario captures: Stratum behind tunnels (SOCKS5, HTTP CONNECT, PROXY v2, WebSocket); a benign SOCKS5.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py). The prefixes
follow RFC 1928 (SOCKS5), RFC 9110 §9.3.6 (CONNECT), HAProxy's proxy-protocol.txt §2.2 (v2) and RFC 6455
(WebSocket; the client masks its frames, the server does not).
"""

from __future__ import annotations

import struct
from typing import Any

from ..data import BTC_P2PKH, XMR_WALLET, compact, hexs, lines, stream
from ..formats import LINKTYPE_ETHERNET, link_ethernet, write_pcap
from ..payloads import tls_session
from ..wire import Capture, Host, TcpFlow
from .cryptonote import RPC_ID, XMRIG_ALGOS, cryptonote_job

XMRIG_AGENT = "XMRig/6.16.0 (Linux x86_64) libuv/1.42.0 gcc/9.3.0"


def socks5_connect(host: bytes, port: int) -> tuple[bytes, bytes, bytes, bytes]:
    """Greeting (no authentication), method choice, CONNECT by name, success reply bound to 10.0.0.1:1080."""
    request = b"\x05\x01\x00\x03" + bytes([len(host)]) + host + struct.pack("!H", port)
    return b"\x05\x01\x00", b"\x05\x00", request, b"\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38"


def xmrig_login(label: str) -> tuple[bytes, bytes]:
    """XMRig's login line and the pool's reply with the first job."""
    login = {"login": XMR_WALLET, "pass": "x", "agent": XMRIG_AGENT, "rigid": "", "algo": XMRIG_ALGOS}
    reply: dict[str, Any] = {
        "id": 1,
        "jsonrpc": "2.0",
        "error": None,
        "result": {"id": RPC_ID, "job": cryptonote_job(label, "b88d0600"), "status": "OK"},
    }
    request = {"id": 1, "jsonrpc": "2.0", "method": "login", "params": login}
    return lines(compact(request)), lines(compact(reply))


def _tunnelled_xmrig(f: TcpFlow, label: str) -> None:
    """Login, job, a pushed job, a submit: what XMRig says once the tunnel is up."""
    login, reply = xmrig_login(label)
    f.exchange(login, reply)
    f.wait(30_000)
    job2 = cryptonote_job(label + "/2", "91fd0600")
    f.send(False, lines(compact({"jsonrpc": "2.0", "method": "job", "params": job2})))
    f.wait(9_000)
    nonce, result = hexs(label + "/n", 4), hexs(label, 32)
    share = {"id": RPC_ID, "job_id": job2["job_id"], "nonce": nonce, "result": result}
    f.exchange(
        lines(compact({"id": 2, "jsonrpc": "2.0", "method": "submit", "params": share})),
        lines(compact({"id": 2, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})),
    )


def cap_socks5_xmrig() -> bytes:
    """14. xmrig -x 10.0.0.8:1080 -o gulf.moneroocean.stream:10128: SOCKS5 by name, then the clear login."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.160", 51820), Host("10.0.0.8", 1080), 0.0, rtt_ms=1.0)
    f.handshake()
    greeting, method, request, reply = socks5_connect(b"gulf.moneroocean.stream", 10128)
    f.exchange(greeting, method)
    f.wait(40.0)  # the proxy connects to the pool before it answers
    f.exchange(request, reply)
    _tunnelled_xmrig(f, "socks5/xmr")
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_socks5_https_benign() -> bytes:
    """15. curl --socks5-hostname 10.0.0.8:1080 https://www.example.com/: a tunnel to no pool (no alert)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.161", 51900), Host("10.0.0.8", 1080), 0.0, rtt_ms=1.0)
    f.handshake()
    greeting, method, request, reply = socks5_connect(b"www.example.com", 443)
    f.exchange(greeting, method)
    f.wait(25.0)
    f.exchange(request, reply)
    browser_like = [(True, 420, 1.0), (False, 1200, 40.0), (True, 60, 200.0)]
    alpn = ("h2", "http/1.1")
    tls_session(f, "tls/socks-example", "www.example.com", alpn, browser_like, tcp_handshake=False)
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_http_connect_stratum() -> bytes:
    """16. cgminer through an HTTP proxy: CONNECT pool.supportxmr.com:3333, 200, subscribe and authorize."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.162", 52010), Host("10.0.0.9", 8080), 0.0, rtt_ms=2.0)
    f.handshake()
    f.exchange(
        b"CONNECT pool.supportxmr.com:3333 HTTP/1.1\r\nHost: pool.supportxmr.com:3333\r\n"
        b"User-Agent: cgminer/4.11.1\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\nProxy-Agent: squid/5.7\r\n\r\n",
        think_ms=35.0,
    )
    sid, en1 = hexs("connect/sid", 4), hexs("connect/en1", 4)
    f.exchange(
        lines(compact({"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]})),
        lines(compact({"id": 1, "result": [[["mining.notify", sid]], en1, 8], "error": None})),
    )
    f.exchange(
        lines(compact({"id": 2, "method": "mining.authorize", "params": [BTC_P2PKH, "x"]})),
        lines(compact({"id": 2, "result": True, "error": None})),
    )
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_proxy_v2_stratum() -> bytes:
    """17. A load balancer (192.0.2.170) hands a miner's connection to a pool, PROXY v2 header first."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.170", 40110), Host("10.1.0.20", 3333), 0.0, rtt_ms=0.3)
    f.handshake()
    addresses = bytes([203, 0, 113, 45, 198, 51, 100, 200]) + struct.pack("!HH", 49152, 3333)
    header = b"\r\n\r\n\x00\r\nQUIT\n" + b"\x21\x11" + struct.pack("!H", len(addresses)) + addresses
    login, reply = xmrig_login("proxyv2/xmr")
    f.exchange(header + login, reply)  # HAProxy sends the header with the client's first bytes
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def ws_frame(payload: bytes, mask: bytes | None) -> bytes:
    """One final text frame (RFC 6455 §5.2), masked with ``mask`` when given."""
    n = len(payload)
    head = b"\x81" + (bytes([n | (0x80 if mask else 0)]) if n < 126 else bytes([126 | (0x80 if mask else 0)]))
    if n >= 126:
        head += struct.pack("!H", n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def cap_websocket_stratum() -> bytes:
    """18. A browser miner: WebSocket to a Stratum bridge, XMRig-style login in masked text frames."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.180", 53100), Host("198.51.100.90", 8181, ttl=55), 0.0, rtt_ms=18.0)
    f.handshake()
    f.exchange(
        b"GET /proxy HTTP/1.1\r\nHost: ws.bridge.example.net:8181\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Origin: https://games.example.org\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    )
    login, reply = xmrig_login("ws/xmr")
    f.exchange(ws_frame(login.strip(), stream("ws/mask1", 4)), ws_frame(reply.strip(), None))
    f.wait(20_000)
    keepalive = b'{"id":2,"jsonrpc":"2.0","method":"keepalived","params":{"id":"x"}}'
    f.send(True, ws_frame(keepalive, stream("ws/m2", 4)))
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
