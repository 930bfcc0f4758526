"""The flow table: TCP and UDP packets in, application events out (dissection layer).

decode -> **flows** -> (reassembly, stream dissectors) -> events -> detectors

Each TCP flow is looked up by its directed 4-tuple (both directions are stored, so no
canonicalisation runs per packet). The client is the side that sent the SYN; without one
(a capture that starts mid-session) it is the side with the higher port. A flow whose two
directions carry nothing a detector can use is *bypassed*: its later packets cost one dict
lookup. The table is bounded: idle flows expire, and past ``max_flows`` the least recently
seen flows are evicted (each with a counter).
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from poolsniff.decode import ip_to_str
from poolsniff.dissect import dns
from poolsniff.dissect.streams import Direction, dns_event
from poolsniff.dissect.sv2 import is_noise_handshake
from poolsniff.model import (
    PROTO_TCP,
    Event,
    FlowEnd,
    FlowKey,
    FlowStart,
    Packet,
    Sv2Handshake,
)

SYN: Final = 0x02
FIN: Final = 0x01
RST: Final = 0x04
ACK: Final = 0x10
DNS_PORT: Final = 53
MAX_FLOWS: Final = 100_000
IDLE_TIMEOUT_US: Final = 600 * 1_000_000
SWEEP_EVERY: Final = 65_536

_Key = tuple[bytes, int, bytes, int]


_ip = ip_to_str


class Flow:
    """State of one TCP flow: its key, both directions, and bookkeeping."""

    __slots__ = ("key", "ckey", "skey", "c", "s", "last_ts", "bypass", "fins", "sv2_done")

    def __init__(self, key: FlowKey, ckey: _Key, skey: _Key, synced: bool, dns_port: bool) -> None:
        """Create a flow; ``synced`` is False when the capture joined it mid-session."""
        self.key = key
        self.ckey = ckey
        self.skey = skey
        self.c = Direction(key, True, synced, dns_port)
        self.s = Direction(key, False, synced, dns_port)
        self.last_ts = 0
        self.bypass = False
        self.fins = 0
        self.sv2_done = False


class FlowTable:
    """Tracks flows and turns packets into events."""

    def __init__(self, max_flows: int = MAX_FLOWS, idle_timeout_us: int = IDLE_TIMEOUT_US) -> None:
        """Create an empty table with the given bounds."""
        self.flows: dict[_Key, Flow] = {}
        self.max_flows = max_flows
        self.idle_timeout_us = idle_timeout_us
        self.counters: Counter[str] = Counter()
        self._since_sweep = 0
        self._evicted: list[Event] = []

    # ------------------------------------------------------------------ packets

    def process(self, p: Packet) -> list[Event]:
        """Feed one packet; return the events it completes (usually none)."""
        if p.proto == PROTO_TCP:
            return self._tcp(p)
        if p.sport == DNS_PORT or p.dport == DNS_PORT:
            return self._udp_dns(p)
        return []

    def _udp_dns(self, p: Packet) -> list[Event]:
        parsed = dns.parse_dns(p.payload)
        if parsed is None:
            self.counters["dns-malformed"] += 1
            return []
        if parsed.is_response:
            key = FlowKey(_ip(p.dst), p.dport, _ip(p.src), p.sport, p.proto)
        else:
            key = FlowKey(_ip(p.src), p.sport, _ip(p.dst), p.dport, p.proto)
        return [dns_event(p.ts_us, key, not parsed.is_response, parsed)]

    def _tcp(self, p: Packet) -> list[Event]:
        k = (p.src, p.sport, p.dst, p.dport)
        flow = self.flows.get(k)
        events: list[Event] = []
        if flow is None:
            flow = self._new_flow(p, k)
            if flow is None:
                return events
            if self._evicted:
                events.extend(self._evicted)
                self._evicted.clear()
            events.append(FlowStart(p.ts_us, flow.key, k == flow.ckey))
        flow.last_ts = p.ts_us
        from_client = k == flow.ckey
        d = flow.c if from_client else flow.s
        flags = p.flags
        if flags & SYN:
            d.syn(p.seq)
        if p.payload and not flow.bypass:
            if not flow.sv2_done:
                self._sv2_check(flow, d, p, events)
            # data on a SYN (TCP Fast Open) starts after the SYN's sequence number
            seq = (p.seq + 1) & 0xFFFFFFFF if flags & SYN else p.seq
            events.extend(d.segment(p.ts_us, seq, p.payload))
            if d.ignored and (flow.c.ignored and flow.s.ignored):
                flow.bypass = True
                self.counters["flows-bypassed"] += 1
        if flags & (FIN | RST):
            # one bit per side, so a retransmitted FIN does not close the flow
            flow.fins |= 3 if flags & RST else (1 if from_client else 2)
            if flow.fins == 3:
                events.append(self._close(flow, p.ts_us, from_client))
        self._since_sweep += 1
        if self._since_sweep >= SWEEP_EVERY:
            events.extend(self.sweep(p.ts_us))
        return events

    def _new_flow(self, p: Packet, k: _Key) -> Flow | None:
        flags = p.flags
        rk = (p.dst, p.dport, p.src, p.sport)
        if flags & SYN and not flags & ACK:
            client_is_src, synced = True, True
        elif flags & SYN:
            client_is_src, synced = False, True
        elif p.payload:
            client_is_src, synced = p.sport >= p.dport, False
            self.counters["flows-midsession"] += 1
        else:
            return None
        if len(self.flows) >= 2 * self.max_flows:
            self._evicted.extend(self._evict_oldest())
        ckey, skey = (k, rk) if client_is_src else (rk, k)
        src, dst = _ip(p.src), _ip(p.dst)
        if client_is_src:
            key = FlowKey(src, p.sport, dst, p.dport, p.proto)
        else:
            key = FlowKey(dst, p.dport, src, p.sport, p.proto)
        dns_port = p.sport == DNS_PORT or p.dport == DNS_PORT
        flow = Flow(key, ckey, skey, synced, dns_port)
        self.flows[ckey] = flow
        self.flows[skey] = flow
        self.counters["flows"] += 1
        return flow

    def _sv2_check(self, flow: Flow, d: Direction, p: Packet, events: list[Event]) -> None:
        """Record first payload sizes; once both sides spoke, test the Noise handshake shape."""
        if d.first is None:
            d.first = p.payload
        c, s = flow.c.first, flow.s.first
        if c is None or s is None:
            return
        flow.sv2_done = True
        if is_noise_handshake(c, s):
            events.append(Sv2Handshake(p.ts_us, flow.key, True, True))

    # ------------------------------------------------------------------ expiry

    def _close(self, flow: Flow, ts_us: int, from_client: bool) -> FlowEnd:
        self.flows.pop(flow.ckey, None)
        self.flows.pop(flow.skey, None)
        return FlowEnd(ts_us, flow.key, from_client)

    def _evict_oldest(self) -> list[Event]:
        """Drop the least recently seen tenth of the flows (counted); return their FlowEnds."""
        flows = sorted({id(f): f for f in self.flows.values()}.values(), key=lambda f: f.last_ts)
        out: list[Event] = []
        for f in flows[: max(1, len(flows) // 10)]:
            out.append(self._close(f, f.last_ts, True))
            self.counters["flows-evicted"] += 1
        return out

    def sweep(self, now_us: int) -> list[Event]:
        """Expire flows idle for longer than the timeout; return their FlowEnd events."""
        self._since_sweep = 0
        out: list[Event] = []
        for f in {id(f): f for f in self.flows.values()}.values():
            if now_us - f.last_ts > self.idle_timeout_us:
                out.append(self._close(f, f.last_ts, True))
                self.counters["flows-expired"] += 1
        return out

    def close_all(self) -> list[Event]:
        """End every flow (end of input); return their FlowEnd events."""
        out: list[Event] = [
            self._close(f, f.last_ts, True) for f in {id(f): f for f in self.flows.values()}.values()
        ]
        return out
