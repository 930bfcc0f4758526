"""Raw-byte prefilter: most packets are dealt with before any object is built for them.

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Most packets of a busy link belong to long flows that have nothing left to read (bulk downloads, TLS after
the ClientHello, video), are bare ACKs, or are UDP that is not DNS (QUIC, VoIP, games, NTP, mDNS). For
such a packet the whole pipeline only stamps the flow with the packet's time (or not even that) and counts
it. ``detections`` walks the records of a classic pcap itself, and the enhanced packet blocks of a pcapng
file (through the reader's ``Walker`` hook, any ``if_tsresol`` and interface), of every link type the
decoder reads (``link``: Ethernet, and the Ethernet frame it makes of the others), and decides for each
frame (``walk.decide``): for an IPv4 or IPv6 TCP packet (behind up to two VLAN tags or none) whose headers
are plain and whole, it takes the addresses and ports straight out of the record as a key of
``FlowTable.fast``: a known direction that is closed (or a packet with no data, no SYN, FIN or RST) is
stamped and counted right there, and so is an in-order segment of a TLS session being shaped that only
advances its record shape (``shape.quiet``: the headers are read here, into the state the shaper shares),
and so is a FIN with no data that is not its flow's last (the side is marked finished in ``Flow.fins``
here); a SYN or SYN-ACK without data of a known flow and the packet without data that ends one (its last
FIN, an RST) are stamped and counted here and handed to the flow table's hooks (``FlowTable.on_syn``,
``on_end``: where the table has none, to the pipeline); a packet with no data, no SYN or RST of no known
flow is only counted; a plain, whole UDP datagram with neither port 53 is only counted (the flow table
drops it), and so is a frame the decoder would only count (not IP; IP neither TCP nor UDP: ``dropped``),
by reason; in the split's front, whose recorder only records DNS, a DNS datagram is recorded here
(``udp.dns_item``). Everything else -- and one packet in a while, so the idle sweep and the hold check run
exactly where they would -- goes through ``engine.feed`` as a frame. The result is what feeding every
frame gives (tests/engine/fast/test_prefilter.py checks it). A frame of a link type the decoder does not
read goes through ``engine.feed``, which counts it. ``poolsniff.engine.fast.walk`` holds the walks in
Python, the references of the C ones.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

from poolsniff.dissect import flows as flowtable
from poolsniff.engine.fast.dropped import new_dropped, take, taken
from poolsniff.engine.fast.link import LINKTYPES
from poolsniff.engine.fast.udp import forward_full
from poolsniff.engine.fast.walk import (
    ACCELERATED,
    SKIP,
    SKIP_NG,
    SKIP_TCP,
    STEP,
    STEP_NG,
    decide,
)
from poolsniff.engine.fast.walk import step as python_step
from poolsniff.engine.fast.walk import step_ng as python_step_ng
from poolsniff.engine.tracker import CHECK_EVERY_US, Tracker
from poolsniff.model import Frame, Packet, Released
from poolsniff.sources.pcap import Buffer, Interface, PcapRecords, open_records

__all__ = ["ACCELERATED", "SKIP", "SKIP_NG", "STEP", "STEP_NG", "Engine", "detections"]
REPORT_EVERY: Final = 4096
"""Frames between two ``on_read`` calls on the frame-by-frame path."""


Engine = Tracker
"""What the prefilter drives: a ``Pipeline``, or the front half of ``poolsniff.engine.split.parallel``."""


def detections(
    fileobj: BinaryIO,
    name: str,
    engine: Engine,
    *,
    on_read: Callable[[], None] | None = None,
    every: int = 1 << 30,
) -> Iterator[Released]:
    """Run every frame of a capture through ``engine``; yield the detections it releases.

    ``on_read`` is called after each read of the file (progress); ``engine.feed`` gets a
    frame at least once every ``every`` skipped packets. Raises like ``read_frames``.
    """
    room = _Room()
    walker = _pcapng_walker(engine, on_read, every, room)
    c_walks = STEP is not python_step and STEP_NG is not python_step_ng  # they read a mapped file's windows
    found = open_records(fileobj, name, walker, mapped=c_walks)
    if isinstance(found, PcapRecords) and found.linktype in LINKTYPES:
        yield from _records(found, engine, on_read, every)
    else:
        yield from _frames(found, engine, on_read, every, room)


class _Room:
    """The frame-by-frame loop's skip state, shared with the pcapng walker."""

    __slots__ = ("budget", "granted", "next_check", "others", "count", "released", "dropped")

    def __init__(self) -> None:
        self.budget = self.granted = self.next_check = self.others = self.count = 0
        self.released: list[Released] = []
        """What the frames the walker fed released, for ``_frames`` to yield before the next frame."""
        self.dropped = new_dropped()
        """Frames dealt with that the decoder only counts, by reason (``dropped.take``: to the decoder)."""

    def take(self) -> list[Released]:
        """Hand over ``released`` and start a new list."""
        out, self.released = self.released, []
        return out

    def reset(self, engine: Engine, every: int) -> None:
        """After a frame was fed: the budget until the engine must see one, the next hold check."""
        self.budget = self.granted = _room(engine, every)
        self.next_check = engine.last_check + CHECK_EVERY_US
        self.others = 0

    def settle(self, engine: Engine) -> None:
        """Count the packets skipped since the last reset in the engine."""
        if self.budget != self.granted or self.others:
            _settle(engine, self.granted - self.budget, self.others)
            self.granted, self.others = self.budget, 0


def _frames(
    found: PcapRecords | Iterator[Frame],
    engine: Engine,
    on_read: Callable[[], None] | None,
    every: int,
    room: _Room,
) -> Iterator[Released]:
    """The frame-by-frame loop (pcapng, other link types): the same skips, one call per frame.

    For pcapng, ``room`` is shared with the walker that steps over enhanced packet blocks
    before the reader builds their frames (``_pcapng_walker``).
    """
    frames = iter(found.frames() if isinstance(found, PcapRecords) else found)
    get = engine.flows.fast.get
    names, on_syn, on_end = engine.flows.dns_names, engine.flows.on_syn, engine.flows.on_end
    forward = engine.flows.dns_forward
    feed = engine.feed
    room.reset(engine, every)
    try:
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except BaseException:  # damage or an interrupt: what was found before it first
                if room.released:
                    yield from room.take()
                raise
            if room.released:
                yield from room.take()
            room.count += 1
            if on_read is not None and room.count >= REPORT_EVERY:
                room.count = 0
                on_read()
            ts, linktype, data = frame
            walkable = linktype in LINKTYPES and room.budget > 0 and ts < room.next_check
            if walkable and not forward_full(forward):
                kind = decide(get, data, 0, len(data), ts, names, on_syn, on_end, forward, linktype)
                if taken(kind, room.dropped):
                    if kind == SKIP_TCP:
                        room.budget -= 1
                    else:
                        room.others += 1
                    continue
            room.settle(engine)
            released = feed(frame)
            room.reset(engine, every)
            if released:
                yield from released
        if room.released:
            yield from room.take()
    finally:
        room.settle(engine)
        take(room.dropped, engine.decoder.skipped)


_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


def _pcapng_walker(
    engine: Engine, on_read: Callable[[], None] | None, every: int, room: _Room
) -> Callable[[Buffer, int, int, bool, list[Interface], int], tuple[int, int]]:
    """The pcapng reader's ``Walker``: ``STEP_NG`` over the blocks, within ``room``'s budget.

    It takes every enhanced packet block it can (``link.packet_epb``): the skipped ones are counted, the
    others fed (decoded by the fast lane where it can), their detections kept in ``room``
    for ``_frames``; it leaves any other block to the reader.
    """
    fast, names = engine.flows.fast, engine.flows.dns_names
    on_syn, on_end, dns_forward = engine.flows.on_syn, engine.flows.on_end, engine.flows.dns_forward
    feed, feed_packet = engine.feed, engine.feed_packet
    packet_type = Packet

    def walk(
        buf: Buffer, pos: int, end: int, big_endian: bool, ifaces: list[Interface], last_ts: int
    ) -> tuple[int, int]:
        while True:
            if not _INT64_MIN <= last_ts <= _INT64_MAX:  # the C walk keeps times in 64 bits
                return pos, last_ts
            # feeding a packet the walk could skip changes nothing, so a later check is as good
            next_check = min(max(room.next_check, _INT64_MIN), _INT64_MAX)
            start_budget = room.budget
            pos, room.budget, others, last_ts, _size, got = STEP_NG(
                buf, pos, end, big_endian, ifaces, fast, room.budget, next_check, last_ts, packet_type, names,
                on_syn, on_end, room.dropped, dns_forward,
            )  # fmt: skip
            room.others += others
            room.count += others + start_budget - room.budget
            if on_read is not None and room.count >= REPORT_EVERY:
                room.count = 0
                on_read()
            if got is None:
                return pos, last_ts
            ts, caplen, linktype, packet = got
            room.settle(engine)
            if type(packet) is bytes:
                released = feed((ts, linktype, packet))
            else:
                released = feed_packet(ts, caplen, packet)  # type: ignore[arg-type]
            room.reset(engine, every)
            room.count += 1
            if released:
                room.released += released

    return walk


def _room(engine: Engine, every: int) -> int:
    """How many packets may be skipped before the engine must see one (the idle sweep is due)."""
    return max(0, min(flowtable.SWEEP_EVERY - 1 - engine.flows.since_sweep, every))


def _settle(engine: Engine, tcp: int, others: int) -> None:
    """Count ``tcp`` skipped TCP packets and ``others`` skipped UDP ones."""
    engine.stats.packets += tcp + others
    engine.flows.since_sweep += tcp


def _records(
    records: PcapRecords, engine: Engine, on_read: Callable[[], None] | None, every: int
) -> Iterator[Released]:
    """The fused loop: walk pcap records (of a link type the walks read: ``link.LINKTYPES``), skip what
    the flow table allows, feed the rest.

    ``STEP`` hands back each record to feed, decoded where the fast lane could; the loop reads
    more of the file, or reports damage, where it hands back none.
    """
    s, div, limit = records.stream, records.frac_div, records.limit
    big_endian = records.order == ">"
    header = struct.Struct(records.order + "IIII").unpack_from
    step = STEP
    fast, names = engine.flows.fast, engine.flows.dns_names
    on_syn, on_end, dns_forward = engine.flows.on_syn, engine.flows.on_end, engine.flows.dns_forward
    feed, feed_packet = engine.feed, engine.feed_packet
    flows = engine.flows
    buf, pos, end = s.view, records.start, len(s.view)
    budget = granted = _room(engine, every)
    others = 0  # UDP records skipped since the last record fed
    next_check = engine.last_check + CHECK_EVERY_US
    sweep_room = flowtable.SWEEP_EVERY - 1
    check_every = CHECK_EVERY_US
    stats = engine.stats
    packet_type = Packet
    dropped = new_dropped()
    linktype = records.linktype
    try:
        while True:
            pos, budget, more, got = step(
                buf, pos, end, big_endian, div, limit, fast, budget, next_check, packet_type, names,
                on_syn, on_end, dropped, dns_forward, linktype,
            )  # fmt: skip
            others += more
            if got is None:
                if end - pos < 16:
                    end, buf, pos = s.fill(pos, 16), s.view, 0
                    if on_read is not None:
                        on_read()
                    if end < 16:
                        if end:
                            raise records.truncated(end)
                        return
                    continue
                caplen = header(buf, pos)[2]
                if caplen > limit:
                    raise records.caplen_damage(pos, caplen)
                end, buf, pos = s.fill(pos, 16 + caplen), s.view, 0
                if on_read is not None:
                    on_read()
                if 16 + caplen > end:
                    raise records.truncated(end)
                continue
            ts, caplen, _, packet = got
            if budget != granted or others:  # the records skipped since the last one fed (_settle)
                tcp = granted - budget
                stats.packets += tcp + others
                flows.since_sweep += tcp
            if type(packet) is bytes:
                released = feed((ts, linktype, packet))
            else:
                released = feed_packet(ts, caplen, packet)  # type: ignore[arg-type]
            others = 0
            budget = sweep_room - flows.since_sweep  # _room, inline
            if budget > every:
                budget = every
            elif budget < 0:
                budget = 0
            granted = budget
            next_check = engine.last_check + check_every
            if released:
                yield from released
    finally:
        if budget != granted or others:
            _settle(engine, granted - budget, others)
        take(dropped, engine.decoder.skipped)
