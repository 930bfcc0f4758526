"""Tunnel prefixes at the start of a TCP direction (pipeline stage: flows/dissectors).

flows -> streams -> **tunnels** (prefix) -> the usual dissectors on the bytes after it -> events

A miner told to use a proxy (``xmrig -x HOST:1080``), a browser miner behind a WebSocket
bridge, or a pool behind a load balancer sends its Stratum after a short tunnel prefix.
This module reads those prefixes; ``streams`` hands the bytes after them to the usual
dissectors (JSON lines, TLS, HTTP, ...). It knows:

- SOCKS4 and SOCKS4a ``CONNECT`` (by address, or by name with 0.0.0.x), and the 8-byte reply;
- SOCKS5 (RFC 1928): the method negotiation, the username/password sub-negotiation
  (RFC 1929), ``CONNECT`` by IPv4, IPv6 or name, and the server's replies;
- HTTP ``CONNECT host:port`` (RFC 9110 §9.3.6) and its ``2xx`` reply;
- the PROXY protocol v1 (text) and v2 (binary) headers of HAProxy's specification.

WebSocket (RFC 6455) is read by ``streams`` from its HTTP Upgrade; ``is_websocket_upgrade``
says which heads switch, ``websocket.WsFrames`` reads the frames after them.

``client_kind`` names the tunnel that a client's first bytes start (or None); the parsers
answer with a ``Prefix``, ``NEED_MORE`` or ``None`` (malformed, refused, or over
``MAX_PREFIX``: stop looking), as every dissector of this stage does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final, Literal

from poolsniff.dissect import http
from poolsniff.dissect.interface import NEED_MORE, Incomplete

SOCKS4: Final = "socks4"
SOCKS4A: Final = "socks4a"
SOCKS5: Final = "socks5"
HTTP_CONNECT: Final = "http-connect"
PROXY_V1: Final = "proxy-v1"
PROXY_V2: Final = "proxy-v2"
WEBSOCKET: Final = "websocket"
KINDS: Final = (SOCKS4, SOCKS4A, SOCKS5, HTTP_CONNECT, PROXY_V1, PROXY_V2, WEBSOCKET)
"""The names of the tunnels, as ``alert.metadata.tunnel`` gives them."""
REPLIED: Final = frozenset({SOCKS4, SOCKS4A, SOCKS5, HTTP_CONNECT})
"""Tunnels whose server answers with a prefix of its own before the tunnelled bytes."""

MAX_PREFIX: Final = 4096
"""Longest binary prefix read (SOCKS names and credentials are at most 255 bytes each;
a PROXY v2 header with its TLVs is rarely over a few hundred)."""
PROXY_V1_MAX: Final = 107
"""The longest PROXY v1 line, CRLF included (HAProxy's proxy-protocol.txt §2.1)."""
PROXY_V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
"""The 12 bytes that open a PROXY v2 header (proxy-protocol.txt §2.2)."""

_SOCKS5_AUTH_USERPASS: Final = 0x02
_SOCKS5_NO_ACCEPTABLE: Final = 0xFF
_CONNECT: Final = 0x01


@dataclass(frozen=True, slots=True)
class Prefix:
    """A whole tunnel prefix at the start of one direction."""

    kind: str
    length: int
    """Bytes of the prefix; the tunnelled stream starts after them."""
    host: str = ""
    """The target the client asked for: a name or an address ("" where the direction names none)."""
    port: int = 0
    source: str = ""
    """PROXY protocol: the original client, ``ip:port``."""

    @property
    def target(self) -> str:
        """``host:port`` (IPv6 addresses in brackets), or "" without a host."""
        if not self.host:
            return ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port else host


def client_kind(buf: bytes) -> str | None:
    """The tunnel that a client's first bytes (eight or more, or the whole stream) start, if any."""
    if len(buf) < 2:
        return None
    first = buf[0]
    if first == 4 and buf[1] == _CONNECT:
        return SOCKS4
    if first == 5 and 1 <= buf[1] <= 32:
        return SOCKS5
    if buf.startswith(b"CONNECT "):
        return HTTP_CONNECT
    if buf.startswith(b"PROXY "):
        return PROXY_V1
    if buf.startswith(PROXY_V2_SIGNATURE[: len(buf)]) and len(buf) >= 8:
        return PROXY_V2
    return None


def parse_client(kind: str, buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """Read the client's prefix of a ``kind`` tunnel at the start of ``buf``."""
    if kind in (SOCKS4, SOCKS4A):
        found = _socks4_request(buf)
    elif kind == SOCKS5:
        found = _socks5_request(buf)
    elif kind == HTTP_CONNECT:
        return _connect_request(buf)
    elif kind == PROXY_V1:
        return _proxy_v1(buf)
    elif kind == PROXY_V2:
        found = _proxy_v2(buf)
    else:
        return None
    if found is NEED_MORE and len(buf) >= MAX_PREFIX:
        return None
    return found


def parse_server(kind: str, buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """Read the server's reply prefix of a ``kind`` tunnel; ``None`` also when it refuses."""
    if kind in (SOCKS4, SOCKS4A):
        if len(buf) < 8:
            return NEED_MORE
        return Prefix(kind, 8) if buf[0] == 0 and buf[1] == 0x5A else None
    if kind == SOCKS5:
        return _socks5_reply(buf)
    if kind == HTTP_CONNECT:
        head = http.parse_head(buf)
        if head is NEED_MORE or head is None:
            return head
        return Prefix(kind, head.head_length) if not head.is_request and 200 <= head.status < 300 else None
    return None


def is_websocket_upgrade(head: http.HttpHead) -> bool:
    """Whether an HTTP head opens a WebSocket: a GET asking to upgrade to it, or the 101 reply."""
    if "websocket" not in head.headers.get("upgrade", "").lower():
        return False
    return head.method == "GET" if head.is_request else head.status == 101


def split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or a bare host -> (host, port); the port ``default_port`` if absent."""
    host, port = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        if end > 0:
            host, rest = authority[1:end], authority[end + 1 :]
            port = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, port = authority.split(":")
    number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else default_port
    return host.lower().rstrip("."), number if number <= 0xFFFF else default_port


# --------------------------------------------------------------------------- SOCKS


def _cstring(buf: bytes, off: int) -> tuple[bytes, int] | None:
    """The NUL-terminated string at ``off`` and the offset after its NUL, or None if not whole yet."""
    end = buf.find(b"\x00", off, off + 256)
    if end < 0:
        return None
    return buf[off:end], end + 1


def _socks4_request(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """``04 01 port ip userid\\0`` (+ ``host\\0`` for SOCKS4a, whose ip is 0.0.0.x, x > 0)."""
    if buf[:2] != b"\x04\x01"[: len(buf)]:
        return None
    if len(buf) < 9:
        return NEED_MORE
    port = (buf[2] << 8) | buf[3]
    user = _cstring(buf, 8)
    if user is None:
        return NEED_MORE if len(buf) < 8 + 256 else None
    end = user[1]
    if buf[4:7] == b"\x00\x00\x00" and buf[7]:
        name = _cstring(buf, end)
        if name is None:
            return NEED_MORE if len(buf) < end + 256 else None
        host = _name(name[0])
        return Prefix(SOCKS4A, name[1], host, port) if host else None
    return Prefix(SOCKS4, end, str(ipaddress.IPv4Address(buf[4:8])), port)


def _socks5_request(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """Greeting ``05 n methods``, the RFC 1929 sub-negotiation if any, then ``05 01 00 atyp addr port``."""
    if len(buf) < 2:
        return NEED_MORE if buf[:1] in (b"", b"\x05") else None
    if buf[0] != 5 or not buf[1]:
        return None
    off = 2 + buf[1]
    if len(buf) < off + 1:
        return NEED_MORE
    methods = buf[2:off]
    if buf[off] == 1 and _SOCKS5_AUTH_USERPASS in methods:  # username/password (RFC 1929)
        if len(buf) < off + 2:
            return NEED_MORE
        plen_at = off + 2 + buf[off + 1]
        if len(buf) < plen_at + 1:
            return NEED_MORE
        off = plen_at + 1 + buf[plen_at]
        if len(buf) < off + 1:
            return NEED_MORE
    if buf[off] != 5:
        return None
    if len(buf) < off + 5:
        return NEED_MORE
    if buf[off + 1] != _CONNECT or buf[off + 2] != 0:
        return None
    found = _socks5_address(buf, off + 3)
    if found is None or found is NEED_MORE:
        return found
    host, end = found
    return Prefix(SOCKS5, end + 2, host, (buf[end] << 8) | buf[end + 1]) if host else None


def _socks5_address(buf: bytes, off: int) -> tuple[str, int] | Literal[Incomplete.NEED_MORE] | None:
    """The address at ``off`` (type byte first) and the offset of the port after it."""
    atyp = buf[off]
    if atyp == 1:
        end = off + 5
        host = str(ipaddress.IPv4Address(buf[off + 1 : end])) if len(buf) >= end else ""
    elif atyp == 4:
        end = off + 17
        host = str(ipaddress.IPv6Address(buf[off + 1 : end])) if len(buf) >= end else ""
    elif atyp == 3 and len(buf) > off + 1:
        end = off + 2 + buf[off + 1]
        host = _name(buf[off + 2 : end]) if len(buf) >= end else ""
        if len(buf) >= end and not host:
            return None
    elif atyp == 3:
        return NEED_MORE
    else:
        return None
    if len(buf) < end + 2:
        return NEED_MORE
    return host, end


def _socks5_reply(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """``05 method``, ``01 00`` after a username/password, then ``05 00 00 atyp addr port``."""
    if len(buf) < 2:
        return NEED_MORE
    if buf[0] != 5 or buf[1] == _SOCKS5_NO_ACCEPTABLE:
        return None
    off = 2
    if len(buf) < off + 1:
        return NEED_MORE
    if buf[off] == 1:  # the sub-negotiation's status
        if len(buf) < off + 2:
            return NEED_MORE
        if buf[off + 1] != 0:
            return None
        off += 2
    if len(buf) < off + 5:
        return NEED_MORE
    if buf[off] != 5 or buf[off + 1] != 0 or buf[off + 2] != 0:
        return None
    found = _socks5_address(buf, off + 3)
    if found is None or found is NEED_MORE:
        return found
    return Prefix(SOCKS5, found[1] + 2)


def _name(raw: bytes) -> str:
    """A host name from the wire, lower case; "" unless it is printable ASCII without spaces."""
    if not raw or not raw.isascii():
        return ""
    text = raw.decode("ascii")
    return text.lower().rstrip(".") if text.isprintable() and " " not in text else ""


# --------------------------------------------------------------------------- HTTP CONNECT


def _connect_request(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    head = http.parse_head(buf)
    if head is NEED_MORE or head is None:
        return head
    if not head.is_request or head.method != "CONNECT":
        return None
    host, port = split_host_port(head.uri, 0)
    return Prefix(HTTP_CONNECT, head.head_length, host, port) if host and port else None


# --------------------------------------------------------------------------- PROXY protocol


def _proxy_v1(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """``PROXY TCP4|TCP6 src dst sport dport\\r\\n`` or ``PROXY UNKNOWN ...\\r\\n``."""
    end = buf.find(b"\r\n", 0, PROXY_V1_MAX)
    if end < 0:
        return NEED_MORE if len(buf) < PROXY_V1_MAX else None
    fields = buf[:end].split(b" ")
    if fields[1:2] == [b"UNKNOWN"]:
        return Prefix(PROXY_V1, end + 2)
    if len(fields) != 6 or fields[1] not in (b"TCP4", b"TCP6"):
        return None
    try:
        src = ipaddress.ip_address(fields[2].decode("ascii"))
        dst = ipaddress.ip_address(fields[3].decode("ascii"))
        sport, dport = int(fields[4]), int(fields[5])
    except (ValueError, UnicodeDecodeError):
        return None
    if not (0 <= sport <= 0xFFFF and 0 <= dport <= 0xFFFF):
        return None
    source = Prefix(PROXY_V1, 0, str(src), sport).target
    return Prefix(PROXY_V1, end + 2, str(dst), dport, source)


def _proxy_v2(buf: bytes) -> Prefix | Literal[Incomplete.NEED_MORE] | None:
    """The 16-byte header (signature, version/command, family, length) and its addresses."""
    if len(buf) < 16:
        return NEED_MORE if PROXY_V2_SIGNATURE.startswith(buf[:12]) else None
    if not buf.startswith(PROXY_V2_SIGNATURE) or buf[12] >> 4 != 2 or buf[12] & 0x0F > 1:
        return None
    end = 16 + ((buf[14] << 8) | buf[15])
    if end > MAX_PREFIX:
        return None
    if len(buf) < end:
        return NEED_MORE
    family, local = buf[13], buf[12] & 0x0F == 0
    size = {0x11: 4, 0x12: 4, 0x21: 16, 0x22: 16}.get(family)
    if local or size is None:
        return Prefix(PROXY_V2, end)  # LOCAL (a health check), UNSPEC or UNIX: no address to name
    ports = 16 + 2 * size
    if end < ports + 4:
        return None
    src = ipaddress.ip_address(buf[16 : 16 + size])
    dst = ipaddress.ip_address(buf[16 + size : ports])
    sport, dport = (buf[ports] << 8) | buf[ports + 1], (buf[ports + 2] << 8) | buf[ports + 3]
    return Prefix(PROXY_V2, end, str(dst), dport, Prefix(PROXY_V2, 0, str(src), sport).target)
