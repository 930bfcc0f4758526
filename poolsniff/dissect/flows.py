"""The flow table: TCP and UDP packets in, application events out (dissection layer).

decode -> **flows** -> (reassembly, stream dissectors) -> events -> detectors

Each TCP flow is looked up by its directed 4-tuple (both directions are stored, so no
canonicalisation runs per packet). The client is the side that sent the SYN; without one
(a capture that starts mid-session) it is the side with the higher port. A flow whose two
directions carry nothing a detector can use is *bypassed*: its later packets cost one dict
lookup. The table is bounded: idle flows expire, and past ``max_flows`` the least recently
seen flows are evicted (each with a counter).

Tracking (which flows exist, when each was last seen, closing, expiry, eviction) is kept
apart from dissection: ``FlowTable`` calls a ``Dissector`` at fixed points (a flow starts, a
SYN, a segment with data, a flow ends, a DNS datagram), and every event comes out of the
dissector. ``poolsniff.engine.split.parallel`` runs the two halves in two processes by handing the
table a recorder of these calls instead. ``FlowTable.fast`` maps the raw bytes of each
direction's addresses and ports (``src + dst + sport + dport``, as they sit in the
IPv4/IPv6 and TCP headers) to ``(flow, closed, tally)``; ``closed`` says the direction has
nothing more to read, and ``tally`` counts the packets and bytes of that direction that the
prefilter deals with itself (``dissect/flow``: the ``Flow``, the tallies and the entries' shapes). A
direction of a TLS session being shaped, once its segments can only advance the shape, also carries
the shape's state and records (``Entry``), so the prefilter reads their record headers itself.
``poolsniff.engine.fast.prefilter`` looks packets up there before decoding them, and hands the SYN
without data of a known flow, and the packet that ends one, to the table's hooks (``on_syn``,
``on_end``) once it has counted them. Each flow counts its packets and bytes (captured frame sizes)
each way and knows when it started, for the EVE ``flow`` record of a flow that alerted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set as AbstractSet
from functools import lru_cache
from typing import Any, Final

from poolsniff.dissect import dns
from poolsniff.dissect.flow import Entry, FastMap, Flow, Hook, Key, Lane, Unread, raw_key
from poolsniff.dissect.opaque import MessageShape, random_looking
from poolsniff.dissect.shape import WEB_ALPNS, RecordShape
from poolsniff.dissect.streams import Direction, Mode, dns_event
from poolsniff.dissect.sv2 import is_noise_handshake
from poolsniff.engine.decode import ip_to_str
from poolsniff.model import (
    PROTO_TCP,
    Event,
    FlowEnd,
    FlowKey,
    FlowStart,
    Packet,
    Sv2Handshake,
    TlsClientHello,
)

SYN: Final = 0x02
FIN: Final = 0x01
RST: Final = 0x04
ACK: Final = 0x10
DNS_PORT: Final = 53
MAX_FLOWS: Final = 65_536
IDLE_TIMEOUT_US: Final = 600 * 1_000_000
SWEEP_EVERY: Final = 65_536
"""TCP packets between two idle sweeps (every decoded TCP packet counts, flow or not)."""
MAX_SHAPED: Final = 16_384
"""Sessions shaped at once (``dissect/shape``, ``dissect/opaque``; 1 KiB each at most)."""
MAX_BUFFERED: Final = 64 << 20
"""Bytes all flows may hold in buffers together (partial lines, out-of-order segments, heads)."""

_IGNORE = Mode.IGNORE
_UNDECIDED = Mode.UNDECIDED
_new = tuple.__new__

MAX_CACHED_ADDRESSES: Final = 65_536
"""Packed addresses whose text form is remembered (every flow and DNS message names two)."""
_ip = lru_cache(maxsize=MAX_CACHED_ADDRESSES)(ip_to_str)


class Dissector:
    """The dissection half: each flow's two directions, the Stratum V2 shape, DNS over UDP."""

    def __init__(self, counters: Counter[str], max_buffered: int | None = None) -> None:
        """Count bypassed flows and malformed DNS in ``counters``; hold at most ``max_buffered`` bytes."""
        self.counters = counters
        self.max_buffered = MAX_BUFFERED if max_buffered is None else max_buffered
        self.live: dict[int, Flow] = {}
        """Flows being dissected, by id, for the buffer budget."""
        self.fed = 0
        """Bytes fed since the buffers were last counted: an upper bound of their growth."""
        self.shaping = 0
        """Flows whose TLS record shape is being read (at most ``MAX_SHAPED``)."""
        self.unread: list[Unread] = []
        """Directions' bytes ahead that nobody reads, found since the flow table last took them."""

    def start(self, flow: Flow, ts_us: int, from_client: bool, synced: bool, events: list[Event]) -> None:
        """A flow starts (``synced`` is False when the capture joined it mid-session)."""
        key = flow.key
        dns_port = key.client_port == DNS_PORT or key.server_port == DNS_PORT
        flow.c = Direction(key, True, synced, dns_port, self.counters)
        flow.s = Direction(key, False, synced, dns_port, self.counters, flow.c)
        self.live[id(flow)] = flow
        events.append(FlowStart(ts_us, key, from_client))

    def syn(self, flow: Flow, from_client: bool, seq: int) -> None:
        """A SYN (or SYN-ACK) fixes a side's initial sequence number."""
        self.restart(flow, from_client, flow.c if from_client else flow.s, seq)

    def restart(self, flow: Flow, from_client: bool, d: Direction, seq: int) -> None:
        """Direction ``d`` of ``flow`` (re)starts at a SYN: a range of bytes it handed out no longer holds."""
        d.syn(seq)
        if d.published >= 0:
            d.published = -1
            self.unread.append((flow, from_client, 0, 0))

    def hand_out(self, flow: Flow, from_client: bool, d: Direction) -> None:
        """Direction ``d`` skips a body nobody reads: hand out the bytes ahead, if they changed."""
        if (ahead := d.unread()) is not None:
            self.unread.append((flow, from_client, *ahead))

    def data(
        self, flow: Flow, from_client: bool, ts_us: int, seq: int, payload: bytes, events: list[Event]
    ) -> bool:
        """A segment with data; return True when its direction has nothing more to read."""
        if flow.bypass:
            return True
        d = flow.c if from_client else flow.s
        if not flow.sv2_done:
            self._sv2_check(flow, d, ts_us, payload, events)
        mode = d.mode
        found = d.segment(ts_us, seq, payload)
        if d.http_skip:
            self.hand_out(flow, from_client, d)
        shape = flow.shape
        if found:
            events.extend(found)
            if from_client and shape is None and isinstance(found[-1], TlsClientHello):
                shape = self._shape(flow, found[-1], (seq + len(payload)) & 0xFFFFFFFF)
                if shape is not None:
                    return False  # its records start after this segment
        elif mode == _UNDECIDED and d.mode == _IGNORE and from_client and shape is None:
            if self._opaque(flow, ts_us, seq, payload):
                return False  # this segment is its first message
        if shape is not None and shape.active():
            snapshot = shape.feed(from_client, ts_us, seq, payload)
            if snapshot is not None:
                events.append(snapshot)
            if shape.active():
                return False
            self.shaping -= 1
        self.fed += len(payload)
        if self.fed > self.max_buffered // 2:
            self.enforce_budget()
        if d.mode != _IGNORE:
            return False
        if flow.c.mode == _IGNORE and flow.s.mode == _IGNORE:
            flow.bypass = True
            self.counters["flows-bypassed"] += 1
        return True

    def lane(self, flow: Flow, from_client: bool) -> Lane | None:
        """The shape a direction's segments do nothing but advance, for the prefilter (see ``Entry``).

        A TLS session being shaped, the direction has spoken and has nothing else to read: its
        segments then only advance the shape, until a snapshot or a stop (which the prefilter leaves
        to :meth:`data`). Its having spoken is what makes the Stratum V2 check (``_sv2_check``) a no-op
        for it: that check waits for the other side's first bytes, and those come through ``data``.
        """
        shape = flow.shape
        if type(shape) is not RecordShape or shape.done or flow.bypass:
            return None
        d = flow.c if from_client else flow.s
        if d.mode != _IGNORE or d.first is None:
            return None
        return shape.state, shape.records

    def end(
        self, flow: Flow, ts_us: int, from_client: bool, events: list[Event], reason: str = "shutdown"
    ) -> None:
        """A flow ended (closed, expired, evicted or the input ended: ``reason``, as ``FlowEnd`` says)."""
        self.live.pop(id(flow), None)
        shape = flow.shape
        if shape is not None and not shape.done:
            shape.done = True
            self.shaping -= 1
            snapshot = shape.final(ts_us)
            if snapshot is not None:
                events.append(snapshot)
        closed = flow.fins == 3
        events.append(FlowEnd(ts_us, flow.key, from_client, flow.first_ts, flow.totals(), reason, closed))

    def _shape(self, flow: Flow, hello: TlsClientHello, client_next: int) -> RecordShape | None:
        """Start reading the record shape of a TLS session whose server has not spoken yet (not of the web's:
        ``shape.WEB_ALPNS``)."""
        if WEB_ALPNS.intersection(hello.alpns):
            return None
        if self.shaping >= MAX_SHAPED or flow.s.inspected or not flow.c.synced:
            if self.shaping >= MAX_SHAPED:
                self.counters["tls-shapes-full"] += 1
            return None
        flow.shape = RecordShape(hello, client_next, flow.s.reasm.next_seq)
        self.shaping += 1
        return flow.shape

    def _opaque(self, flow: Flow, ts_us: int, seq: int, payload: bytes) -> bool:
        """Start the message shape of a session whose client's first bytes matched no protocol.

        Only where they look random, the client spoke first, outside any tunnel, and the flow's
        start was captured (an encrypting relay, an obfuscating proxy; ``dissect/opaque``).
        """
        c = flow.c
        if flow.s.inspected or c.tunnels or not c.synced or not random_looking(payload):
            return False
        if self.shaping >= MAX_SHAPED:
            self.counters["opaque-shapes-full"] += 1
            return False
        flow.shape = MessageShape(flow.key, ts_us, seq, payload, flow.s.reasm.next_seq)
        self.shaping += 1
        return True

    def enforce_budget(self) -> None:
        """Count the bytes all flows hold; past the budget, give up the largest holders (counted).

        Runs only after half the budget has been fed since the last count, so its cost (one
        pass over the flows) is spread over at least that many bytes of inspected payload.
        """
        self.fed = 0
        holders = [(d.buffered(), d) for f in self.live.values() for d in (f.c, f.s)]
        total = sum(n for n, _ in holders)
        if total <= self.max_buffered:
            return
        holders.sort(key=lambda x: x[0], reverse=True)
        for n, d in holders:
            if total <= self.max_buffered // 2 or n == 0:
                break
            d.give_up()
            total -= n
            self.counters["buffer-budget-given-up"] += 1

    def dns(self, p: Packet) -> list[Event]:
        """A UDP datagram to or from port 53."""
        parsed = dns.parse_dns(p.payload)
        if parsed is None:
            self.counters["dns-malformed"] += 1
            return []
        if parsed.is_response:
            key = _new(FlowKey, (_ip(p.dst), p.dport, _ip(p.src), p.sport, p.proto))
        else:
            key = _new(FlowKey, (_ip(p.src), p.sport, _ip(p.dst), p.dport, p.proto))
        return [dns_event(p.ts_us, key, not parsed.is_response, parsed)]

    def _sv2_check(self, flow: Flow, d: Direction, ts_us: int, payload: bytes, events: list[Event]) -> None:
        """Record first payload sizes; once both sides spoke, test the Noise handshake shape."""
        if d.first is None:
            d.first = payload
        c, s = flow.c.first, flow.s.first
        if c is None or s is None:
            return
        flow.sv2_done = True
        if is_noise_handshake(c, s):
            events.append(Sv2Handshake(ts_us, flow.key, True, True))


class FlowTable:
    """Tracks flows and turns packets into events (through its dissector)."""

    def __init__(
        self,
        max_flows: int | None = None,
        idle_timeout_us: int | None = None,
        dissector: Dissector | None = None,
        fast: FastMap | None = None,
    ) -> None:
        """Create an empty table (bounds default to ``MAX_FLOWS`` and ``IDLE_TIMEOUT_US``).

        The table dissects in this process unless it is given another ``dissector``. Its ``fast`` map is
        a dict unless it is given an empty one of another kind (the prefilter's, ``walk.new_fast_map``).
        """
        self.flows: dict[Key, Flow] = {}
        empty: dict[bytes, Entry] = {}
        self.fast: FastMap = empty if fast is None else fast
        """Raw key of a direction -> (its flow, True once it has nothing more to read, its tally)."""
        self.dns_names: AbstractSet[bytes] | None = None
        """The listed names (``Blocklist.wire_names``): the prefilter counts a DNS query for none of them
        itself (``engine.fast.udp.dns_quiet``); None: every DNS datagram comes here."""
        self.dns_forward: tuple[list[tuple[Any, ...]], int] | None = None
        """Where the prefilter appends the other DNS datagrams itself, as the dissector would record them
        (``engine.fast.udp.DnsForward``: the split's front, whose recorder only records them); None: here."""
        self.on_syn: Hook | None = self.syn_seen
        self.on_end: Hook | None = None
        """The prefilter's hooks (``engine.fast.walk.Hook``): it stamps and counts a SYN without data of a
        known flow and hands it to ``on_syn``; so with the packet that ends one, to ``on_end``: ``end_seen``
        where the dissector makes no events when a flow ends (the split's front), else None."""
        self.max_flows = MAX_FLOWS if max_flows is None else max_flows
        self.idle_timeout_us = IDLE_TIMEOUT_US if idle_timeout_us is None else idle_timeout_us
        self.counters: Counter[str] = Counter()
        self.dissector = dissector if dissector is not None else Dissector(self.counters)
        self.since_sweep = 0
        """Decoded TCP packets since the last idle sweep."""
        self._next_fid = 0

    # ------------------------------------------------------------------ packets

    def process(self, p: Packet, size: int | None = None) -> list[Event]:
        """Feed one packet of a frame of ``size`` bytes; return the events it completes (usually none).

        A TCP packet finds or starts its flow, then its SYN, data and FIN/RST are handled;
        a UDP datagram to or from port 53 goes to the DNS dissector. Without ``size`` the
        flow counts the payload's length.
        """
        ts_us, src, dst, proto, sport, dport, flags, seq, payload = p
        if proto != PROTO_TCP:
            return self.dissector.dns(p) if sport == DNS_PORT or dport == DNS_PORT else []
        k = (src, sport, dst, dport)
        flow = self.flows.get(k)
        events: list[Event] = []
        if flow is None and (flags & SYN or payload):  # only a SYN or data starts a flow
            flow = self._new_flow(p, k, events)
        if flow is not None:
            from_client = k == flow.ckey
            flow.last_ts = ts_us
            counts = flow.counts
            side = 0 if from_client else 1
            counts[side] += 1
            counts[side + 2] += len(payload) if size is None else size
            if flags & SYN:
                self.syn_seen(flow, from_client, seq)
                seq = (seq + 1) & 0xFFFFFFFF  # data on a SYN (TCP Fast Open) starts after it
            if payload and self.dissector.data(flow, from_client, ts_us, seq, payload, events):
                self.mark_closed(flow, from_client)
            elif payload and flow.shape is not None:
                self._open_lane(flow, from_client)
            if self.dissector.unread:  # taken at once, whatever else the packet did
                self.open_unread(self.dissector.unread)
            if flags & (FIN | RST):
                # one bit per side, so a retransmitted FIN does not close the flow
                flow.fins |= 3 if flags & RST else (1 if from_client else 2)
                if flow.fins == 3:
                    self._close(flow, ts_us, from_client, events, "timeout")
        self.since_sweep += 1
        if self.since_sweep >= SWEEP_EVERY:
            events.extend(self.sweep(ts_us))
        return events

    def syn_seen(self, flow: Flow, from_client: bool, seq: int) -> None:
        """A SYN of ``flow``: the dissector's, and the unread ranges it changes, taken at once (``process``
        calls it, and the prefilter for a SYN without data that it stamped and counted)."""
        self.dissector.syn(flow, from_client, seq)
        if self.dissector.unread:
            self.open_unread(self.dissector.unread)

    def end_seen(self, flow: Flow, from_client: bool, ts_us: int) -> None:
        """``process`` for the packet without data that ends ``flow`` (its last FIN, an RST), which the
        prefilter stamped and counted, where ending a flow makes no events (``on_end``)."""
        flow.fins = 3
        events: list[Event] = []
        self._close(flow, ts_us, from_client, events, "timeout")
        assert not events, "on_end is for a table whose dissector makes no events when a flow ends"

    def mark_closed(self, flow: Flow, from_client: bool) -> None:
        """A direction has nothing more to read: the prefilter may skip its packets."""
        bit = 1 if from_client else 2
        if flow.closed & bit:
            return
        flow.closed |= bit
        raw = flow.raw[0 if from_client else 1]
        if raw in self.fast:
            self.fast[raw] = (flow, True, flow.tallies[0 if from_client else 1])

    def _open_lane(self, flow: Flow, from_client: bool) -> None:
        """Give a direction's ``fast`` entry the shape its segments only advance (``Dissector.lane``)."""
        raw = flow.raw[0 if from_client else 1]
        entry = self.fast.get(raw)
        if entry is None or entry[1] or len(entry) > 3:
            return
        lane = self.dissector.lane(flow, from_client)
        if lane is not None:
            self.fast[raw] = (flow, False, entry[2], lane[0], lane[1], from_client)

    def open_unread(self, unread: list[Unread]) -> None:
        """Let the prefilter skip segments inside these bytes of open directions (``Entry``).

        Empties ``unread``; a length of 0 takes a direction's range away."""
        fast = self.fast
        for flow, from_client, first, length in unread:
            raw = flow.raw[0 if from_client else 1]
            entry = fast.get(raw)
            if entry is not None and entry[0] is flow and not entry[1]:
                fast[raw] = (flow, False, entry[2], first, length) if length else (flow, False, entry[2])
        unread.clear()

    def _new_flow(self, p: Packet, k: Key, events: list[Event]) -> Flow:
        """Start the flow of a SYN, a SYN-ACK or a packet with data."""
        ts_us, src, dst, proto, sport, dport, flags, _seq, _payload = p
        if flags & SYN and not flags & ACK:
            client_is_src, synced = True, True
        elif flags & SYN:
            client_is_src, synced = False, True
        else:  # data without a SYN: the capture joined the flow mid-session
            client_is_src, synced = sport >= dport, False
            self.counters["flows-midsession"] += 1
        if len(self.flows) >= 2 * self.max_flows:
            self._evict_oldest(events)
        rk = (dst, dport, src, sport)
        here, back = raw_key(src, dst, sport, dport), raw_key(dst, src, dport, sport)
        src_ip, dst_ip = _ip(src), _ip(dst)
        fid = self._next_fid
        if client_is_src:
            flow = Flow(_new(FlowKey, (src_ip, sport, dst_ip, dport, proto)), k, rk, (here, back), fid)
        else:
            flow = Flow(_new(FlowKey, (dst_ip, dport, src_ip, sport, proto)), rk, k, (back, here), fid)
        self._next_fid = fid + 1
        self.flows[k] = self.flows[rk] = flow
        flow.first_ts = ts_us
        self.fast[flow.raw[0]] = (flow, False, flow.tallies[0])
        self.fast[flow.raw[1]] = (flow, False, flow.tallies[1])
        self.counters["flows"] += 1
        self.dissector.start(flow, ts_us, client_is_src, synced, events)
        return flow

    # ------------------------------------------------------------------ expiry

    def _close(self, flow: Flow, ts_us: int, from_client: bool, events: list[Event], reason: str) -> None:
        assert flow.ckey is not None and flow.skey is not None
        self.flows.pop(flow.ckey, None)
        self.flows.pop(flow.skey, None)
        self.fast.pop(flow.raw[0], None)
        self.fast.pop(flow.raw[1], None)
        self.dissector.end(flow, ts_us, from_client, events, reason)

    def _evict_oldest(self, events: list[Event]) -> None:
        """Drop the least recently seen tenth of the flows (counted), each with a FlowEnd."""
        flows = sorted({id(f): f for f in self.flows.values()}.values(), key=lambda f: f.last_ts)
        for f in flows[: max(1, len(flows) // 10)]:
            self._close(f, f.last_ts, True, events, "forced")
            self.counters["flows-evicted"] += 1

    def sweep(self, now_us: int) -> list[Event]:
        """Expire flows idle for longer than the timeout; return their FlowEnd events."""
        self.since_sweep = 0
        out: list[Event] = []
        for f in {id(f): f for f in self.flows.values()}.values():
            if now_us - f.last_ts > self.idle_timeout_us:
                self._close(f, f.last_ts, True, out, "timeout")
                self.counters["flows-expired"] += 1
        return out

    def close_all(self) -> list[Event]:
        """End every flow (end of input); return their FlowEnd events."""
        out: list[Event] = []
        for f in {id(f): f for f in self.flows.values()}.values():
            self._close(f, f.last_ts, True, out, "shutdown")
        return out
