"""The front's stand-in for the dissector: the flow table's calls become items (engine, the split).

source -> prefilter -> decode -> flows -> **Recorder** (front) => dissectors -> detectors (back)

``engine.split.parallel`` runs the flow table in the front with a ``Recorder`` for its dissector:
each call the table makes (a flow starts, a SYN, a segment with data, a flow ends, a DNS datagram)
becomes an *item*, a plain tuple whose first element is its kind, and the back replays the items
through the real ``Dissector``. The recorder also shadows each new flow's server side, and reads
a web TLS session's ClientHello (``_web``), so that the front can skip what the back would only
ignore without waiting for the back to say so.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from poolsniff.dissect import tunnels
from poolsniff.dissect.flow import HELLO_DUE, HELLO_OFF, FastMap, Flow, Forward, Hello
from poolsniff.dissect.flows import DNS_PORT, Dissector
from poolsniff.dissect.jsonlines import starts_json
from poolsniff.dissect.opaque import random_looking
from poolsniff.dissect.streams import Direction, Mode
from poolsniff.dissect.tls import HANDSHAKE_CLIENT_HELLO, first_record_due, looks_like_tls
from poolsniff.engine.fast.walk import WEB_HELLO
from poolsniff.model import Event, Packet

START, SYN, DATA, END, DNS, TICK, FINISH = range(7)
"""Item kinds: the first element of every item tuple."""
SHADOW: Final = 4
"""Segments of a server's side the front dissects itself before it leaves it to the back."""
Item = tuple[Any, ...]
"""An item: its kind, then the values of the table's call."""
Shadow = tuple[Direction | None, int, bool, int]
"""A server's shadow: its ``Direction`` (None until the server's first segment), the segments it may
still read, whether the flow's start was captured, the server's last SYN-ACK sequence number (-1: none)."""
SPOKE: Final = -2
"""``Flow.client_next`` of a client that has sent data: its later segments are not its first."""
_MASK: Final = 0xFFFFFFFF
MAX_PARTIAL: Final = 1024
"""Clients whose ClientHello, still to come whole, the recorder keeps at once (``Recorder.partial``)."""
MAX_PARTIAL_BYTES: Final = 8192
"""The largest first record of a ClientHello kept so (a browser's is about 2,000 bytes)."""


class Recorder(Dissector):
    """Stands in for the dissector in the front: records the table's calls as items.

    The server side of each new flow is also dissected here, for its first ``SHADOW``
    segments, by a ``Direction`` of its own: most servers (downloads, video) say at
    once that there is nothing to read, and the front can skip their packets without
    waiting for the back to say so. The shadow sees what the back's direction sees, so
    when it has nothing more to read, neither has the back's, and the bytes of a body it
    will not read are the back's too. It steps aside for a TLS server and for one that
    speaks JSON, which only the back can be done with, and so, before the server has
    spoken, for a client that speaks TLS or JSON (its server will answer in kind): the
    server's first segments then go to the back from the prefilter (``_forward``), not
    through the table here. The shadow's ``Direction`` is made at the server's first
    segment (``Shadow``), so a flow whose shadow steps aside before that never pays for one.

    A TLS client that opens with a whole ClientHello offering a web protocol is one the back reads
    nothing more of, nor of its server after the ServerHello: the client's direction is closed at
    that segment and the server's forwarded until its hello (``_web``); a hello still to come whole
    is kept until it is (``_keep``).
    """

    def __init__(self) -> None:
        """Start with nothing recorded."""
        super().__init__(Counter())
        self.items: list[Item] = []
        self.shadows: dict[int, Shadow] = {}
        self.partial: dict[int, bytes] = {}
        """By flow: a client's first bytes, the start of a ClientHello still to come whole (``_keep``)."""
        self.fast: FastMap | None = None
        """The table's ``fast`` map, when the prefilter may append segments to ``items`` itself: once a
        flow has no shadow left, its open directions are forwarded (``_forward``)."""

    def start(self, flow: Flow, ts_us: int, from_client: bool, synced: bool, events: list[Event]) -> None:
        """Record a flow start; shadow its server side (from its first segment on). The key goes as a
        plain tuple: ``marshal``, the pipe's format, writes no tuple subclass such as ``FlowKey``
        (pickled, it cost a Python call each way, half the time the back spent loading messages)."""
        self.items.append((START, flow.fid, ts_us, from_client, synced, tuple(flow.key), flow.raw))
        key = flow.key
        if key.client_port != DNS_PORT and key.server_port != DNS_PORT:
            # DNS over TCP is read to its end, never done early: a shadow would only parse every answer
            # twice (2 % of the front's instructions on the real mix)
            self.shadows[flow.fid] = (None, SHADOW, synced, -1)

    def syn(self, flow: Flow, from_client: bool, seq: int) -> None:
        """Record a SYN: the one that started the flow (its start the last item) as the start's eighth
        value, one item less for each side to pass (60,443 of the real mix x10's 127,000 SYN items); any
        other SYN as an item of its own (a second SYN at once, with a new sequence number, is one too:
        the back reads one SYN from a start)."""
        items = self.items
        last: Item = items[-1] if items else ()
        if len(last) == 7 and last[0] == START and last[1] == flow.fid and last[3] == from_client:
            items[-1] = (*last, seq)
        else:
            items.append((SYN, flow.fid, from_client, seq))
        if from_client:
            if flow.client_next != SPOKE:  # where its first segment starts; after part of a hello, none does
                kept = self.partial.pop(flow.fid, None) if self.partial else None
                flow.client_next = (seq + 1) & _MASK if kept is None else SPOKE
            return
        hello = self._wait(flow)
        if hello is not None:  # the server starts again before speaking: its first segment follows this
            hello[1:5] = ((seq + 1) & _MASK).to_bytes(4, "big")
        shadow = self.shadows.get(flow.fid)
        if shadow is None:
            return
        if shadow[0] is None:  # the server has not spoken: its shadow starts at this SYN when it does
            self.shadows[flow.fid] = (None, SHADOW, shadow[2], seq)
        else:
            self.restart(flow, False, shadow[0], seq)

    def data(
        self, flow: Flow, from_client: bool, ts_us: int, seq: int, payload: bytes, events: list[Event]
    ) -> bool:
        """Record a segment; True when the server's shadow has nothing more to read. Once the flow has
        no shadow left, its segments are the prefilter's to record (``_forward``)."""
        self.items.append((DATA, flow.fid, from_client, ts_us, seq, payload))
        if not from_client:
            hello = self._wait(flow)
            if hello is not None and hello[0] == HELLO_DUE:  # the server's first segment came this way
                hello[0] = HELLO_OFF
        done = self._shadow(flow, from_client, ts_us, seq, payload)
        if flow.fid not in self.shadows:
            self._forward(flow)
        return done

    def _shadow(self, flow: Flow, from_client: bool, ts_us: int, seq: int, payload: bytes) -> bool:
        """The server's shadow reads the segment (or steps aside); True when it has nothing more to read."""
        if from_client:
            return self._client(flow, seq, payload)
        shadow = self.shadows.pop(flow.fid, None)
        if shadow is None:
            return False
        if self.partial:
            self.partial.pop(flow.fid, None)  # the server spoke first after all
        direction, left, synced, isn = shadow
        if direction is None:  # the server's first segment
            if looks_like_tls(payload):
                # a TLS server (by the test its direction decides with): the back may be reading the
                # session's record shape (dissect/shape), which only the back knows the end of: leave
                # the server's side to it
                return False
            if _speaks_json(payload):
                # JSON lines or a JSON answer (Stratum, JSON-RPC, getwork): the back reads all of it
                # and it is never done this early, so shadowing it would only parse every line twice
                return False
            direction = Direction(flow.key, False, synced, False)
            if isn >= 0:
                direction.syn(isn)  # the server's last SYN-ACK, as the back's direction saw it
        direction.segment(ts_us, seq, payload)
        if direction.mode == Mode.IGNORE:
            return True
        if direction.http_skip:  # a body nobody reads: the prefilter may skip its segments at once
            self.hand_out(flow, False, direction)
        if left > 1:
            self.shadows[flow.fid] = (direction, left - 1, synced, isn)
        return False

    def _client(self, flow: Flow, seq: int, payload: bytes) -> bool:
        """A client's segment, its server shadowed: the shadow steps aside (or not); True when the client's
        direction has nothing more to read (``_web``). A first segment that starts a ClientHello not yet
        whole is kept with the shadow (``partial``) until the hello is, as the back's direction keeps it."""
        fid = flow.fid
        shadow = self.shadows.get(fid)
        if shadow is None:
            return False
        first = shadow[0] is None and seq == flow.client_next  # the client's next bytes, its server silent
        following = (seq + len(payload)) & _MASK
        part = self.partial.pop(fid, None) if self.partial else None
        if first and part is not None:
            payload = part + payload
        if (
            (shadow[0] is None and _client_of_json_or_tls(payload))
            or tunnels.client_kind(payload) is not None
            or random_looking(payload)
        ):
            # a TLS or JSON client's server answers in kind, which the shadow would step aside for
            # (_shadow); the server's reply to a tunnel is read only with the client's side in view;
            # the back may shape an opaque session (dissect/opaque), which only the back knows the
            # end of: leave the server's side to the back
            if first and self._keep(flow, following, payload):
                return False
            del self.shadows[fid]
            return first and self._web(flow, payload, shadow[3])
        flow.client_next = SPOKE
        return False

    def _keep(self, flow: Flow, following: int, hello: bytes) -> bool:
        """Keep the first bytes of a ClientHello whose first record is still to come whole (a browser's,
        with post-quantum key shares, spans two segments), and the shadow, so that the client's next
        segment comes here too (at ``following``); False where they are no such start, or too many are
        kept."""
        due = first_record_due(hello, HANDSHAKE_CLIENT_HELLO)
        if not 0 < due <= MAX_PARTIAL_BYTES or len(self.partial) >= MAX_PARTIAL:
            return False
        self.partial[flow.fid] = hello
        flow.client_next = following
        return True

    def _web(self, flow: Flow, payload: bytes, server_isn: int) -> bool:
        """The client's first segment, its server not yet heard, which its shadow steps aside for: True when
        it is a whole ClientHello offering a web protocol in ALPN, read as the back's direction reads it.
        The back then reads nothing more of the client (its direction ignores what follows the hello, and
        no record shape is read of a web session: ``Dissector._shape``), nor of the server once it has
        read its ServerHello: the client's direction is closed at once (this segment forwarded), and
        the server's, where its SYN-ACK was seen, waits in the prefilter for its hello (``flow.Hello``).
        """
        if not WEB_HELLO(payload):  # it starts like TLS, so no tunnel's prefix: the back reads it as TLS
            return False
        due = (server_isn + 1) & _MASK
        self._forward(flow, bytearray((HELLO_DUE, *due.to_bytes(4, "big"))) if server_isn >= 0 else None)
        return True

    def _wait(self, flow: Flow) -> Hello | None:
        """The wait for its ServerHello that the server's ``fast`` entry carries, if any (``_web``)."""
        entry = self.fast.get(flow.raw[1]) if self.fast is not None else None
        if entry is None or len(entry) != 4:
            return None
        forward: Forward = entry[3]
        return forward[4] if len(forward) == 5 else None

    def _forward(self, flow: Flow, hello: Hello | None = None) -> None:
        """The flow has no shadow left: nothing here reads its segments any more, so the prefilter may
        append them to ``items`` itself, as :meth:`data` would (``flow.Forward``), from the next one
        on; each open direction's ``fast`` entry says so (a closed one, or one with bytes nobody reads,
        keeps its entry). The server's carries ``hello``, its wait for its ServerHello, if given."""
        fast = self.fast
        if fast is None:
            return
        for i in (0, 1):
            raw = flow.raw[i]
            entry = fast.get(raw)
            if entry is not None and len(entry) == 3 and not entry[1] and entry[0] is flow:
                to: Forward = (self.items, DATA, flow.fid, i == 0)
                if i and hello is not None:
                    to = (self.items, DATA, flow.fid, False, hello)
                fast[raw] = (flow, False, entry[2], to)

    def end(
        self, flow: Flow, ts_us: int, from_client: bool, events: list[Event], reason: str = "shutdown"
    ) -> None:
        """Record a flow end, with what the front counted of it."""
        totals = flow.totals()
        self.items.append((END, flow.fid, ts_us, from_client, flow.first_ts, totals, reason, flow.fins))
        self.shadows.pop(flow.fid, None)
        self.partial.pop(flow.fid, None)

    def dns(self, p: Packet) -> list[Event]:
        """Record a DNS datagram."""
        self.items.append((DNS, *p))
        return []


def _speaks_json(payload: bytes) -> bool:
    """Whether a server's first segment is JSON, or an HTTP head whose body starts as JSON does."""
    return starts_json(payload) or (payload.startswith(b"HTTP/") and _body_is_json(payload))


def _client_of_json_or_tls(payload: bytes) -> bool:
    """Whether a client's segment, before its server has spoken, is a TLS handshake, JSON, or an HTTP
    POST whose body starts as JSON (JSON-RPC, getwork): its server will answer in kind."""
    return (
        looks_like_tls(payload)
        or starts_json(payload)
        or (payload.startswith(b"POST ") and _body_is_json(payload))
    )


def _body_is_json(payload: bytes) -> bool:
    """Whether the HTTP head at the start of ``payload`` is whole and its body starts as JSON does."""
    end = payload.find(b"\r\n\r\n")
    return end >= 0 and starts_json(payload[end + 4 : end + 5])
