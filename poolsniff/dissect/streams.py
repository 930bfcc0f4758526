"""One direction of a TCP flow: reassembly, then the dissector its first bytes call for.

flows -> **streams** -> (tunnels | websocket) -> (jsonlines | http | tls | dns-over-tcp | sv2) -> events

The first bytes of a direction pick its mode: ``{``/``[`` means JSON lines (Stratum,
eth-proxy, CryptoNote), a tunnel prefix (SOCKS4/4a/5, HTTP ``CONNECT``, PROXY v1/v2: the
client's request, then the server's reply, which the server's direction expects once the
client's has named the tunnel) is read and the bytes after it decide again, an HTTP method
or status line means HTTP/1.x (a WebSocket Upgrade then turns the rest into frames whose
messages decide again), a TLS handshake record means a ClientHello to read, a Stratum V2
``SetupConnection`` frame is parsed, and port 53 means DNS over TCP. Anything else is
ignored from then on. A direction the capture joined mid-session looks for the next
``\\n{`` before it decides (and never for a tunnel prefix).
"""

from __future__ import annotations

from collections import Counter
from enum import IntEnum
from typing import Any, Final

from poolsniff.dissect import dns, hellos, http, tls, tunnels
from poolsniff.dissect.interface import NEED_MORE
from poolsniff.dissect.jsonlines import OPENERS, WHITE, JsonLines, objects_of
from poolsniff.dissect.reassembly import Reassembler
from poolsniff.dissect.sv2 import parse_setup_connection, sv2_frame_length
from poolsniff.dissect.websocket import WsFrames
from poolsniff.model import (
    DnsMessage,
    Event,
    FlowKey,
    HttpMessage,
    JsonMessage,
    Sv2Handshake,
    TunnelOpen,
)

MAX_INSPECT: Final = 1 << 20
"""Bytes inspected per direction; long mining sessions have alerted long before."""
MAX_RESYNC: Final = 64 * 1024
"""Bytes searched for a line start in a direction joined mid-session."""
MAX_HTTP_BODY: Final = 64 * 1024
DECIDE_BYTES: Final = 8
MAX_TUNNELS: Final = 3
"""Tunnel prefixes read one inside the other in a direction (PROXY v2, then SOCKS5, ...)."""


class Mode(IntEnum):
    """What a direction carries."""

    UNDECIDED = 0
    RESYNC = 1
    JSON = 2
    HTTP = 3
    TLS = 4
    DNS = 5
    IGNORE = 6
    TUNNEL = 7


# the modes as module constants: an enum member looked up on its class costs a dict walk
_UNDECIDED: Final = Mode.UNDECIDED
_RESYNC: Final = Mode.RESYNC
_JSON: Final = Mode.JSON
_HTTP: Final = Mode.HTTP
_TLS: Final = Mode.TLS
_DNS: Final = Mode.DNS
_IGNORE: Final = Mode.IGNORE
_TUNNEL: Final = Mode.TUNNEL


class Direction:
    """Reassembled bytes of one direction, handed to the dissector for its mode."""

    __slots__ = (
        "key", "from_client", "synced", "mode", "reasm", "buf", "lines", "inspected",
        "first", "http_body", "http_head", "http_skip", "published", "tunnels", "tunnel_kind", "peer", "ws",
        "counters",
    )  # fmt: skip

    def __init__(
        self,
        key: FlowKey,
        from_client: bool,
        synced: bool,
        dns_port: bool,
        counters: Counter[str] | None = None,
        peer: Direction | None = None,
    ) -> None:
        """Create the direction; ``dns_port`` selects DNS over TCP.

        ``counters`` counts malformed tunnel prefixes and WebSocket frames; a server's
        direction gets its client's as ``peer``, to know which tunnel reply to expect.
        """
        self.key = key
        self.from_client = from_client
        self.synced = synced
        self.mode = _DNS if dns_port else _UNDECIDED
        self.reasm = Reassembler()
        self.buf = b""
        self.lines: JsonLines | None = None
        self.inspected = 0
        self.first: bytes | None = None
        self.http_body = -1
        """Body bytes still expected for the current HTTP message (-1: in a head)."""
        self.http_head: http.HttpHead | None = None
        self.http_skip = 0
        """Body bytes of the current HTTP message still to pass over unread (its head is reported)."""
        self.published = -1
        """Where the last range handed out (``unread``) ends: -1 for none."""
        self.tunnels: list[str] = []
        """The tunnel prefixes read (or being read) in this direction, outermost first."""
        self.tunnel_kind = ""
        """The tunnel whose prefix ``_TUNNEL`` mode reads."""
        self.peer = peer
        self.ws: WsFrames | None = None
        """The WebSocket framing that the bytes go through, after an Upgrade."""
        self.counters = counters

    @property
    def ignored(self) -> bool:
        """True once nothing more will be read from this direction."""
        return self.mode == _IGNORE

    def buffered(self) -> int:
        """Bytes this direction holds: undecided or partial messages and out-of-order segments."""
        held = len(self.buf) + self.reasm.pending_bytes
        if self.ws is not None:
            held += self.ws.buffered()
        return held + len(self.lines.buf) if self.lines is not None else held

    def give_up(self) -> None:
        """Stop reading this direction and free what it holds (the buffer budget ran out)."""
        self.mode = _IGNORE
        self.buf = b""
        self.lines = None
        self.ws = None
        self.reasm = Reassembler()

    def syn(self, seq: int) -> None:
        """A SYN fixes the initial sequence number (and drops whatever was queued before it)."""
        reasm = self.reasm
        if reasm.next_seq is None and not reasm.pending and not reasm.gaps:
            reasm.next_seq = (seq + 1) & 0xFFFFFFFF  # untouched: as good as a new one
        else:
            self.reasm = Reassembler((seq + 1) & 0xFFFFFFFF)
        self.synced = True

    def segment(self, ts: int, seq: int, payload: bytes) -> list[Event]:
        """Feed one TCP segment; return the events completed by it."""
        if self.mode == _IGNORE:
            return []
        if self.http_skip:
            self._pass_over(seq)
        gaps = self.reasm.gaps
        data = self.reasm.feed(seq, payload)
        if not data:
            return []
        if self.reasm.gaps != gaps:
            self._lost_bytes()
        self.inspected += len(data)
        if self.inspected > MAX_INSPECT:
            self.mode = _IGNORE
            self.buf = b""
            return []
        if self.ws is not None:
            return self._framed(ts, data)
        return self._consume(ts, data)

    def unread(self) -> tuple[int, int] | None:
        """The bytes ahead that need not be seen, as (first seq, length), when they have changed since
        the last call; None otherwise. The prefilter may skip a segment wholly inside them: the
        direction takes the hole it finds later as those bytes (``_pass_over``)."""
        nxt = self.reasm.next_seq
        if not self.http_skip or nxt is None or self.mode != _HTTP or self.ws is not None:
            return None
        end = (nxt + self.http_skip) & 0xFFFFFFFF
        if end == self.published:
            return None
        self.published = end
        return nxt, self.http_skip

    def _pass_over(self, seq: int) -> None:
        """A segment starts ahead of the stream inside a body nobody reads: take the hole as that body
        (the prefilter skipped it, or the capture lost or reordered it: either way unread)."""
        reasm = self.reasm
        nxt = reasm.next_seq
        if nxt is None or self.ws is not None:  # framed: the TCP bytes are not the message's
            return
        hole = (seq - nxt) & 0xFFFFFFFF
        if 0 < hole < 0x80000000:
            n = min(hole, self.http_skip)
            reasm.pass_over(n)
            self.http_skip -= n
            self.inspected += n

    def _lost_bytes(self) -> None:
        if self.ws is not None or self.mode == _TUNNEL:  # framing cannot resynchronise
            self.give_up()
        elif self.lines is not None:
            self.lines.resync()
        elif self.mode in (_HTTP, _TLS, _DNS):
            self.mode = _IGNORE
            self.buf = b""

    def _count(self, what: str) -> None:
        if self.counters is not None:
            self.counters[what] += 1

    # ------------------------------------------------------------------ dispatch

    def _consume(self, ts: int, data: bytes) -> list[Event]:
        mode = self.mode
        if mode == _JSON:
            return self._json(ts, data)
        if mode == _UNDECIDED or mode == _RESYNC:
            return self._decide(ts, data)
        if mode == _HTTP:
            return self._http(ts, data)
        if mode == _TLS:
            return self._tls(ts, data) if self.from_client else self._server_hello(ts, data)
        if mode == _DNS:
            return self._dns(ts, data)
        if mode == _TUNNEL:
            return self._tunnel(ts, data)
        return []

    def _decide(self, ts: int, data: bytes) -> list[Event]:
        buf = self.buf + data
        head = buf.lstrip(WHITE)
        if len(head) < DECIDE_BYTES and len(buf) < MAX_RESYNC:
            self.buf = buf
            return []
        self.buf = b""
        first = head[:1]
        if first in OPENERS:
            self.mode = _JSON
            self.lines = JsonLines(synced=True)
            return self._json(ts, head)
        if self.synced and self.mode == _UNDECIDED:
            kind = self._tunnel_due(buf)
            if kind is not None:
                events = self._tunnel_start(ts, kind, buf)
                if events is not None:
                    return events
        if http.looks_like_http_request(head) or http.looks_like_http_response(head):
            self.mode = _HTTP
            return self._http(ts, buf)
        if tls.looks_like_tls(buf):
            self.mode = _TLS
            return self._tls(ts, buf) if self.from_client else self._server_hello(ts, buf)
        if self.from_client and self.mode == _UNDECIDED:
            need = sv2_frame_length(buf)
            if need is not None and len(buf) < need and len(buf) < MAX_RESYNC:
                self.buf = buf  # a SetupConnection frame cut over segments: wait for the rest
                return []
            setup = parse_setup_connection(buf)
            if setup is not None:
                self.mode = _IGNORE
                return [Sv2Handshake(ts, self.key, True, False, setup)]
        if not self.synced:
            return self._resync(ts, buf)
        self.mode = _IGNORE
        return []

    def _resync(self, ts: int, buf: bytes) -> list[Event]:
        """Mid-session: start JSON lines at the first ``\\n{`` or ``\\n[``."""
        for marker in (b"\n{", b"\n["):
            pos = buf.find(marker)
            if pos >= 0:
                self.mode = _JSON
                self.lines = JsonLines(synced=True)
                return self._json(ts, buf[pos + 1 :])
        if len(buf) >= MAX_RESYNC or self.inspected >= MAX_RESYNC:
            self.mode = _IGNORE
            return []
        self.mode = _RESYNC
        self.buf = buf[-1:]
        return []

    # ------------------------------------------------------------------ tunnels

    def _tunnel_due(self, buf: bytes) -> str | None:
        """The tunnel whose prefix ``buf`` may start: a client's by its first bytes; a server's
        reply to the client's next tunnel that wants one."""
        if self.from_client:
            return tunnels.client_kind(buf) if len(self.tunnels) < MAX_TUNNELS else None
        peer = self.peer
        if peer is None or not peer.tunnels:
            return None
        due = [k for k in peer.tunnels if k in tunnels.REPLIED]
        done = sum(1 for k in self.tunnels if k in tunnels.REPLIED)
        return due[done] if len(due) > done else None

    def _tunnel_start(self, ts: int, kind: str, buf: bytes) -> list[Event] | None:
        """Read a ``kind`` prefix; None when ``buf`` does not hold one after all (counted)."""
        parse = tunnels.parse_client if self.from_client else tunnels.parse_server
        found = parse(kind, buf)
        if found is None:
            self._count("tunnel-malformed")
            return None
        self.tunnels.append(kind)
        if found is NEED_MORE:
            self.mode = _TUNNEL
            self.tunnel_kind = kind
            self.buf = buf
            return []
        return self._tunnel_done(ts, found, buf)

    def _tunnel(self, ts: int, data: bytes) -> list[Event]:
        """More bytes of a prefix being read."""
        buf = self.buf + data
        parse = tunnels.parse_client if self.from_client else tunnels.parse_server
        found = parse(self.tunnel_kind, buf)
        if found is NEED_MORE:
            self.buf = buf
            return []
        if found is None:
            self._count("tunnel-malformed")
            self.mode = _IGNORE
            self.buf = b""
            return []
        return self._tunnel_done(ts, found, buf)

    def _tunnel_done(self, ts: int, found: tunnels.Prefix, buf: bytes) -> list[Event]:
        """A whole prefix: name the tunnel (client side), then decide again on the bytes after it."""
        self.tunnels[-1] = found.kind
        self.mode = _UNDECIDED
        self.buf = b""
        out: list[Event] = []
        if self.from_client and (found.host or found.source):
            kind, host, port = found.kind, found.host, found.port
            out.append(TunnelOpen(ts, self.key, True, kind, host, port, found.target, found.source))
        rest = buf[found.length :]
        if rest:
            out.extend(self._decide(ts, rest))
        return out

    def _upgrade(self, ts: int, head: http.HttpHead, rest: bytes) -> list[Event]:
        """An HTTP head that switched to WebSocket: the bytes after it are frames."""
        self.mode = _UNDECIDED
        self.buf = b""
        self.tunnels.append(tunnels.WEBSOCKET)
        self.ws = WsFrames()
        out: list[Event] = []
        if self.from_client:
            host, port = tunnels.split_host_port(head.headers.get("host", ""), self.key.server_port)
            if host:
                target = tunnels.Prefix(tunnels.WEBSOCKET, 0, host, port).target
                out.append(TunnelOpen(ts, self.key, True, tunnels.WEBSOCKET, host, port, target))
        if rest:
            out.extend(self._framed(ts, rest))
        return out

    def _framed(self, ts: int, data: bytes) -> list[Event]:
        """Bytes of a WebSocket direction: the messages of its frames go to the usual dissectors."""
        ws = self.ws
        assert ws is not None
        oversized = ws.oversized
        data = ws.feed(data)
        out = self._consume(ts, data) if data else []
        if ws.oversized != oversized:
            self._count("websocket-oversized")
        if ws.done:
            if ws.failed:
                self._count("websocket-malformed")
            self.give_up()
        return out

    # ------------------------------------------------------------------ JSON lines

    def _json(self, ts: int, data: bytes) -> list[Event]:
        lines = self.lines
        assert lines is not None
        dropped = lines.dropped
        out: list[Event] = [JsonMessage(ts, self.key, self.from_client, v) for v in lines.feed(data)]
        # bytes of an oversized line are skipped, not parsed: they do not use up the budget,
        # so padding a session with one huge line does not blind the detector
        self.inspected -= lines.dropped - dropped
        if lines.gave_up:
            self.mode = _IGNORE
            lines.buf = b""
        return out

    # ------------------------------------------------------------------ HTTP

    def _http(self, ts: int, data: bytes) -> list[Event]:
        if self.http_skip:  # inside a body nobody reads: count it off, keep nothing
            if len(data) <= self.http_skip:
                self.http_skip -= len(data)
                return []
            data = data[self.http_skip :]
            self.http_skip = 0
        buf = self.buf + data
        out: list[Event] = []
        while buf and self.mode == _HTTP:
            if self.http_head is None:
                head = http.parse_head(buf)
                if head is NEED_MORE:
                    break
                if head is None:
                    self.mode = _IGNORE
                    break
                self.http_head = head
                buf = buf[head.head_length :]
                if self.ws is None and tunnels.is_websocket_upgrade(head):
                    out.extend(self._http_done(ts, head, b""))
                    out.extend(self._upgrade(ts, head, buf))
                    return out
                length = http.body_length(head)
                if length is None or length < 0 or (not head.is_request and length > MAX_HTTP_BODY):
                    # chunked, unknown or large response body: report the head, stop reading
                    out.extend(self._http_done(ts, head, b""))
                    self.mode = _IGNORE
                    break
                self.http_body = length
            head = self.http_head
            length = self.http_body
            text = buf.lstrip(WHITE)
            if text and text[:1] not in b"{[" and length > len(buf) - len(text):
                # a body that is not JSON: only its length matters (to find the next head)
                out.extend(self._http_done(ts, head, b""))
                if len(buf) < length:
                    self.http_skip = length - len(buf)
                    buf = b""
                    break
                buf = buf[length:]
                continue
            if len(buf) < self.http_body and len(buf) < MAX_HTTP_BODY:
                break
            body, buf = buf[: self.http_body], buf[self.http_body :]
            out.extend(self._http_done(ts, head, body))
        self.buf = buf if self.mode == _HTTP else b""
        return out

    def _http_done(self, ts: int, head: http.HttpHead, body: bytes) -> list[Event]:
        self.http_head = None
        self.http_body = -1
        msg = HttpMessage(
            ts, self.key, self.from_client, head.is_request, head.method, head.uri,
            head.status, head.headers, body[:MAX_HTTP_BODY],
        )  # fmt: skip
        out: list[Event] = [msg]
        stripped = body.lstrip(WHITE)
        if stripped[:1] in OPENERS:  # one JSON text, read as one line (its line breaks are white space)
            values: list[Any] = []
            objects_of(stripped.replace(b"\n", b" "), values)
            out.extend([JsonMessage(ts, self.key, self.from_client, v, True, msg) for v in values])
        return out

    # ------------------------------------------------------------------ TLS, DNS

    def _tls(self, ts: int, data: bytes) -> list[Event]:
        buf = self.buf + data
        hello = hellos.client_hello(ts, self.key, buf)
        if hello is NEED_MORE:
            self.buf = buf
            return []
        self.buf = b""
        self.mode = _IGNORE
        return [] if hello is None else [hello]

    def _server_hello(self, ts: int, data: bytes) -> list[Event]:
        """A server's first TLS handshake record: the ServerHello's JA3S."""
        buf = self.buf + data
        try:
            hello = hellos.server_hello(ts, self.key, buf)
        except ValueError:
            self._count("tls-server-hello-malformed")
            hello = None
        if hello is NEED_MORE:
            self.buf = buf
            return []
        self.buf = b""
        self.mode = _IGNORE
        return [] if hello is None else [hello]

    def _dns(self, ts: int, data: bytes) -> list[Event]:
        messages, self.buf = dns.split_tcp_dns(self.buf + data)
        out: list[Event] = []
        for raw in messages:
            parsed = dns.parse_dns(raw)
            if parsed is not None:
                out.append(dns_event(ts, self.key, self.from_client, parsed))
        if len(self.buf) > 70_000:
            self.mode = _IGNORE
            self.buf = b""
        return out


def dns_event(ts_us: int, key: FlowKey, from_client: bool, parsed: dns.DnsParse) -> DnsMessage:
    """Build a DnsMessage event from a parsed DNS message."""
    return DnsMessage(
        ts_us, key, from_client, parsed.msg_id, parsed.is_response, parsed.opcode,
        parsed.rcode, parsed.flags, parsed.questions, parsed.answers,
    )  # fmt: skip
