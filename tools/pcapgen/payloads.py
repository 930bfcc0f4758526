"""Payloads shared by several scenarios: DNS messages, TLS hellos, HTTP messages, Bitcoin job fields.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import base64
import ipaddress
import struct
import time
from collections.abc import Sequence
from typing import Any

from .data import T0_NS, hexs, stream
from .wire import Capture, Host, TcpFlow


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


def vec(width: int, body: bytes) -> bytes:
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
        exts += _ext(0, vec(2, b"\x00" + vec(2, sni.encode())))
    exts += _ext(11, vec(1, b"\x00\x01\x02"))
    exts += _ext(10, vec(2, struct.pack("!5H", 0x001D, 0x0017, 0x001E, 0x0019, 0x0018)))
    exts += _ext(35, b"")
    if alpn:
        exts += _ext(16, vec(2, b"".join(vec(1, proto.encode()) for proto in alpn)))
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
    exts += _ext(13, vec(2, struct.pack(f"!{len(sigalgs)}H", *sigalgs)))
    exts += _ext(43, vec(1, b"\x03\x04\x03\x03")) + _ext(45, vec(1, b"\x01"))
    exts += _ext(51, vec(2, struct.pack("!HH", 0x001D, 32) + stream(label + "/keyshare", 32)))
    body = b"\x03\x03" + stream(label + "/random", 32) + vec(1, stream(label + "/sid", 32))
    body += vec(2, struct.pack(f"!{len(suites)}H", *suites)) + b"\x01\x00" + vec(2, exts)
    handshake = b"\x01" + vec(3, body)
    return b"\x16\x03\x01" + vec(2, handshake)


def server_hello_flight(label: str) -> bytes:
    """TLS 1.3 ServerHello, the compatibility ChangeCipherSpec, then the encrypted rest of the flight."""
    exts = _ext(43, b"\x03\x04") + _ext(51, struct.pack("!HH", 0x001D, 32) + stream(label + "/skeyshare", 32))
    body = (
        b"\x03\x03"
        + stream(label + "/srandom", 32)
        + vec(1, stream(label + "/sid", 32))
        + b"\x13\x02\x00"
        + vec(2, exts)
    )
    return (
        b"\x16\x03\x03"
        + vec(2, b"\x02" + vec(3, body))
        + b"\x14\x03\x03\x00\x01\x01"
        + app_data(label + "/sflight", 2980)
    )


def app_data(label: str, size: int) -> bytes:
    """One opaque TLS application_data record of ``size`` payload bytes."""
    return b"\x17\x03\x03" + vec(2, stream(label, size))


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
    *,
    tcp_handshake: bool = True,
) -> None:
    """TCP+TLS handshakes (ClientHello, server flight, Finished), then (from_client, size, wait) rows.

    ``tcp_handshake=False``: the flow is open already (the TLS runs inside a tunnel).
    """
    if tcp_handshake:
        flow.handshake()
    flow.wait(0.2)
    flow.exchange(client_hello(label, sni, alpn), server_hello_flight(label))
    flow.wait(2.0)
    flow.send(True, b"\x14\x03\x03\x00\x01\x01" + app_data(label + "/cfin", 53))
    for i, (from_client, size, wait_ms) in enumerate(records):
        flow.wait(wait_ms)
        flow.send(from_client, app_data(f"{label}/rec{i}", size))
    flow.close()




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
