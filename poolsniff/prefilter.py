"""Raw-byte prefilter: most packets are dealt with before any object is built for them.

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Most packets of a busy link belong to long flows that have nothing left to read (bulk
downloads, TLS after the ClientHello, video), are bare ACKs, or are UDP that is not DNS
(QUIC, VoIP, games, NTP, mDNS). For such a packet the whole pipeline only stamps the flow
with the packet's time (or not even that) and counts it. ``detections`` walks the records of
a classic Ethernet pcap itself, and the enhanced packet blocks of a pcapng file (through the
reader's ``Walker`` hook, any ``if_tsresol`` and interface, Ethernet interfaces only), and
decides for each frame (``_decide``): for an IPv4 or IPv6 TCP packet (802.1Q tagged or not)
whose headers are plain and whole, it takes the addresses and ports straight out of the
record as a key of ``FlowTable.fast``: a known direction that is closed (or a packet with
no data, no SYN, FIN or RST) is stamped and counted right there, and a packet with no data,
no SYN, FIN or RST of no known flow is only counted; a plain, whole UDP datagram with
neither port 53 is only counted (the flow table drops it). Everything else -- and one
packet in a while, so the idle sweep and the hold check run exactly where they would --
goes through ``engine.feed`` as a frame. The result is what feeding every frame gives
(tests/test_prefilter.py checks it). Other link types go through ``engine.feed`` frame by
frame. ``_skip`` and ``_skip_ng`` are the pure-Python references of the C walks.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final, Protocol

from poolsniff import pipeline
from poolsniff.dissect import flows as flowtable
from poolsniff.dissect.flows import Flow, FlowTable
from poolsniff.model import Detection, Frame
from poolsniff.pipeline import Stats
from poolsniff.sources.pcap import Interface, PcapRecords, open_records

LINKTYPE_ETHERNET: Final = 1
REPORT_EVERY: Final = 4096
"""Frames between two ``on_read`` calls on the frame-by-frame path."""

_ETH4 = struct.Struct("!12xHBxH2xHxB2x12s8xBB").unpack_from
"""EtherType, IPv4 version/IHL, total length, fragment field, protocol, addresses+ports, TCP offset, flags."""
_HEADER_LE = struct.Struct("<III").unpack_from
_HEADER_BE = struct.Struct(">III").unpack_from
"""A pcap record header's seconds, fraction and captured length."""
_IP6 = struct.Struct("!B3xHBx36s8xBB").unpack_from
"""IPv6 version byte, payload length, next header, addresses+ports, TCP offset, TCP flags."""
Entry = tuple[Flow, bool]
"""A ``FlowTable.fast`` value: the flow and whether this direction is closed."""
_VLAN: Final = 0x8100
_IPV4: Final = 0x0800
_IPV6: Final = 0x86DD
_UDP4 = struct.Struct("!BxH2xHxB10xHH").unpack_from
"""IPv4 version/IHL, total length, fragment field, protocol, UDP ports."""
_UDP6 = struct.Struct("!B3xHB33xHH").unpack_from
"""IPv6 version byte, payload length, next header, UDP ports."""
_EPB_HEAD = (struct.Struct("<IIIIII").unpack_from, struct.Struct(">IIIIII").unpack_from)
"""An enhanced packet block's type, length, interface, time high and low, captured length."""
_U32 = (struct.Struct("<I").unpack_from, struct.Struct(">I").unpack_from)
FEED: Final = 0
SKIP_TCP: Final = 1
"""Dealt with here: a TCP packet (it counts towards the idle sweep)."""
SKIP_UDP: Final = 2
"""Dealt with here: a UDP datagram that the flow table drops (it does not count)."""
MAX_BLOCK: Final = 16 << 20
"""``poolsniff.sources.pcap.MAX_BLOCK``: larger blocks are left to the reader."""
_EPB: Final = 6
MAX_IFACES: Final = 64
"""Interfaces the C walk keeps (``MAX_IFACES`` in _walk.c); blocks of later ones go to the reader."""


class Engine(Protocol):
    """What the prefilter drives: a ``Pipeline``, or the front half of ``poolsniff.parallel``."""

    flows: FlowTable
    stats: Stats
    last_check: int

    def feed(self, frame: Frame) -> list[Detection]:
        """Run one frame through; return the detections it releases."""


def detections(
    fileobj: BinaryIO,
    name: str,
    engine: Engine,
    *,
    on_read: Callable[[], None] | None = None,
    every: int = 1 << 30,
) -> Iterator[Detection]:
    """Run every frame of a capture through ``engine``; yield the detections it releases.

    ``on_read`` is called after each read of the file (progress); ``engine.feed`` gets a
    frame at least once every ``every`` skipped packets. Raises like ``read_frames``.
    """
    room = _Room()
    found = open_records(fileobj, name, _pcapng_walker(engine, on_read, room))
    if isinstance(found, PcapRecords) and found.linktype == LINKTYPE_ETHERNET:
        yield from _ethernet(found, engine, on_read, every)
    else:
        yield from _frames(found, engine, on_read, every, room)


def _lookup(get: Callable[[bytes], Entry | None], buf: bytes, f: int, stop: int) -> tuple[Entry | None, int]:
    """The ``fast`` entry of a plain, whole TCP packet in the Ethernet frame ``buf[f:stop]``.

    Returns (entry, payload length) -- the entry None for an unknown flow -- or (None, -1)
    for anything else: not IPv4/IPv6 TCP
    behind at most one 802.1Q tag, IP options or extension headers, a fragment, SYN, FIN
    or RST, a TCP header or IP packet that the frame does not hold whole, an unknown flow.
    """
    if stop - f < 54:
        return None, -1
    et, vhl, total, frag, proto, key, thl, flags = _ETH4(buf, f)
    l3 = f + 14
    if et == _VLAN and stop - f >= 58:
        et, vhl, total, frag, proto, key, thl, flags = _ETH4(buf, f + 4)
        l3 = f + 18
    if et == _IPV4:
        if vhl == 0x45 and proto == 6 and not frag & 0x1FFF and not flags & 7:
            hl = (thl >> 4) << 2
            data = total - 20 - hl
            if hl >= 20 and data >= 0 and l3 + total <= stop:
                return get(key), data
    elif et == _IPV6 and l3 + 54 <= stop:
        version, length, nxt, key, thl, flags = _IP6(buf, l3)
        if version >> 4 == 6 and nxt == 6 and not flags & 7:
            hl = (thl >> 4) << 2
            data = length - hl
            if hl >= 20 and data >= 0 and l3 + 40 + length <= stop:
                return get(key), data
    return None, -1


def _udp_other(buf: bytes, f: int, stop: int) -> bool:
    """Whether the Ethernet frame ``buf[f:stop]`` is a plain, whole UDP datagram with neither port 53.

    Plain: IPv4 without options or IPv6 without extension headers, behind at most one
    802.1Q tag, not a fragment, the IP length within the frame. The decoder makes a UDP
    packet of it and the flow table drops it (only port 53 is read, ``flows.DNS_PORT``).
    """
    if stop - f < 42:
        return False
    et = (buf[f + 12] << 8) | buf[f + 13]
    l3 = f + 14
    if et == _VLAN:
        et = (buf[f + 16] << 8) | buf[f + 17]
        l3 = f + 18
    room = stop - l3
    if et == _IPV4:
        if room < 28:
            return False
        vhl, total, frag, proto, sport, dport = _UDP4(buf, l3)
        if vhl != 0x45 or proto != 17 or frag & 0x1FFF or total < 28 or total > room:
            return False
    elif et == _IPV6:
        if room < 48:
            return False
        version, length, nxt, sport, dport = _UDP6(buf, l3)
        if version >> 4 != 6 or nxt != 17 or length < 8 or 40 + length > room:
            return False
    else:
        return False
    return bool(sport != flowtable.DNS_PORT and dport != flowtable.DNS_PORT)


def _decide(get: Callable[[bytes], Entry | None], buf: bytes, f: int, stop: int, ts: int) -> int:
    """What to do with the Ethernet frame ``buf[f:stop]`` of time ``ts``: FEED, SKIP_TCP or SKIP_UDP.

    SKIP_TCP: a plain TCP packet (``_lookup``) of a known direction that is closed or that
    carries no data (its flow is stamped with ``ts`` here), or with no data of no known flow.
    SKIP_UDP: ``_udp_other``. FEED: anything else.
    """
    entry, data = _lookup(get, buf, f, stop)
    if entry is None:
        if data == 0:
            return SKIP_TCP
        return SKIP_UDP if data < 0 and _udp_other(buf, f, stop) else FEED
    if entry[1] or not data:
        entry[0].last_ts = ts
        return SKIP_TCP
    return FEED


class _Room:
    """The frame-by-frame loop's skip state, shared with the pcapng walker."""

    __slots__ = ("budget", "granted", "next_check", "others", "size", "count")

    def __init__(self) -> None:
        self.budget = self.granted = self.next_check = self.others = self.size = self.count = 0

    def reset(self, engine: Engine, every: int) -> None:
        """After a frame was fed: the budget until the engine must see one, the next hold check."""
        self.budget = self.granted = _room(engine, every)
        self.next_check = engine.last_check + pipeline.CHECK_EVERY_US
        self.others = self.size = 0

    def settle(self, engine: Engine) -> None:
        """Count the packets skipped since the last reset in the engine."""
        if self.budget != self.granted or self.others:
            _settle(engine, self.granted - self.budget, self.others, self.size)
            self.granted, self.others, self.size = self.budget, 0, 0


def _frames(
    found: PcapRecords | Iterator[Frame],
    engine: Engine,
    on_read: Callable[[], None] | None,
    every: int,
    room: _Room,
) -> Iterator[Detection]:
    """The frame-by-frame loop (pcapng, other link types): the same skips, one call per frame.

    For pcapng, ``room`` is shared with the walker that steps over enhanced packet blocks
    before the reader builds their frames (``_pcapng_walker``).
    """
    frames = found.frames() if isinstance(found, PcapRecords) else found
    get = engine.flows.fast.get
    feed = engine.feed
    room.reset(engine, every)
    try:
        for frame in frames:
            room.count += 1
            if on_read is not None and room.count >= REPORT_EVERY:
                room.count = 0
                on_read()
            ts, linktype, data = frame
            if linktype == LINKTYPE_ETHERNET and room.budget > 0 and ts < room.next_check:
                kind = _decide(get, data, 0, len(data), ts)
                if kind != FEED:
                    if kind == SKIP_TCP:
                        room.budget -= 1
                    else:
                        room.others += 1
                    room.size += len(data)
                    continue
            room.settle(engine)
            released = feed(frame)
            room.reset(engine, every)
            if released:
                yield from released
    finally:
        room.settle(engine)


def _pcapng_walker(
    engine: Engine, on_read: Callable[[], None] | None, room: _Room
) -> Callable[[bytes, int, int, bool, list[Interface], int], tuple[int, int]]:
    """The pcapng reader's ``Walker``: ``SKIP_NG`` over the blocks, within ``room``'s budget."""
    fast = engine.flows.fast

    def walk(
        buf: bytes, pos: int, end: int, big_endian: bool, ifaces: list[Interface], last_ts: int
    ) -> tuple[int, int]:
        if room.budget <= 0:
            return pos, last_ts
        start_budget = room.budget
        pos, room.budget, others, last_ts, size = SKIP_NG(
            buf, pos, end, big_endian, ifaces, fast, room.budget, room.next_check, last_ts
        )
        room.others += others
        room.size += size
        room.count += others + start_budget - room.budget
        if on_read is not None and room.count >= REPORT_EVERY:
            room.count = 0
            on_read()
        return pos, last_ts

    return walk


def _room(engine: Engine, every: int) -> int:
    """How many packets may be skipped before the engine must see one (the idle sweep is due)."""
    return max(0, min(flowtable.SWEEP_EVERY - 1 - engine.flows.since_sweep, every))


def _settle(engine: Engine, tcp: int, others: int, size: int) -> None:
    """Count ``tcp`` skipped TCP packets and ``others`` skipped UDP ones, of ``size`` frame bytes."""
    engine.stats.packets += tcp + others
    engine.stats.bytes += size
    engine.flows.since_sweep += tcp


def _skip(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    div: int,
    limit: int,
    fast: dict[bytes, Entry],
    budget: int,
    next_check: int,
) -> tuple[int, int, int]:
    """Walk the records of ``buf[pos:end]``, dealing with the packets the flow table allows.

    A record is dealt with here when it is whole in the buffer, its captured length is at most
    ``limit``, ``budget`` is not spent, its time is before ``next_check`` and ``_decide`` says
    so: a TCP packet counts against ``budget``, a UDP one in ``others``. Stops at the first
    other record; returns ``(pos, budget, others)``. ``poolsniff._walk.skip`` is the same
    function in C, used when it is built; this one is the reference.
    """
    header = _HEADER_BE if big_endian else _HEADER_LE
    get = fast.get
    others = 0
    while budget > 0 and end - pos >= 16:
        sec, frac, caplen = header(buf, pos)
        f = pos + 16
        stop = f + caplen
        if caplen > limit or stop > end or caplen < 54:
            break
        ts = sec * 1000000 + frac // div
        if ts >= next_check:
            break
        kind = _decide(get, buf, f, stop, ts)
        if kind == FEED:
            break
        if kind == SKIP_TCP:
            budget -= 1
        else:
            others += 1
        pos = stop
    return pos, budget, others


def _skip_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[Interface],
    fast: dict[bytes, Entry],
    budget: int,
    next_check: int,
    last_ts: int,
) -> tuple[int, int, int, int, int]:
    """``_skip`` over the enhanced packet blocks of a pcapng section with interfaces ``ifaces``.

    Steps over whole, sound enhanced packet blocks of Ethernet interfaces (as the reader
    checks them: length, trailer, captured length, interface) whose frame ``_decide`` deals
    with; stops at any other block. Returns ``(pos, budget, others, last_ts, size)``:
    ``last_ts`` the time of the last frame stepped over, ``size`` their captured bytes.
    ``poolsniff._walk.skip_ng`` is the same function in C; this one is the reference.
    """
    head = _EPB_HEAD[big_endian]
    u32 = _U32[big_endian]
    get = fast.get
    others = size = 0
    while budget > 0 and end - pos >= 32:
        btype, blen, ifid, high, low, caplen = head(buf, pos)
        if btype != _EPB or blen < 32 or blen & 3 or blen > MAX_BLOCK:
            break
        if blen > end - pos or u32(buf, pos + blen - 4)[0] != blen:
            break
        if caplen > blen - 32 or ifid >= min(len(ifaces), MAX_IFACES):
            break
        linktype, mul, div, offset, _ = ifaces[ifid]
        if (
            linktype != LINKTYPE_ETHERNET
            or mul > 1 << 40
            or not -(1 << 63) <= offset < 1 << 63
            or div >= 1 << 63
        ):
            break
        ts = ((high << 32) | low) * mul // div + offset
        if not -(1 << 63) <= ts < 1 << 63 or ts >= next_check:
            break
        kind = _decide(get, buf, pos + 28, pos + 28 + caplen, ts)
        if kind == FEED:
            break
        if kind == SKIP_TCP:
            budget -= 1
        else:
            others += 1
        last_ts = ts
        size += caplen
        pos += blen
    return pos, budget, others, last_ts, size


try:  # the same walks in C, when the extension was built at install time
    from poolsniff._walk import skip as _fast_skip
    from poolsniff._walk import skip_ng as _fast_skip_ng
except ImportError:  # pragma: no cover - depends on the build
    SKIP: Callable[..., tuple[int, int, int]] = _skip
    SKIP_NG: Callable[..., tuple[int, int, int, int, int]] = _skip_ng
else:
    SKIP = _fast_skip
    SKIP_NG = _fast_skip_ng
ACCELERATED: Final = SKIP is not _skip
"""Whether the C record walk is in use (``poolsniff --version`` says so)."""


def _ethernet(
    records: PcapRecords, engine: Engine, on_read: Callable[[], None] | None, every: int
) -> Iterator[Detection]:
    """The fused loop: walk Ethernet pcap records, skip what the flow table allows, feed the rest."""
    s, div, limit = records.stream, records.frac_div, records.limit
    big_endian = records.order == ">"
    header = struct.Struct(records.order + "IIII").unpack_from
    skip = SKIP
    fast = engine.flows.fast
    feed = engine.feed
    buf, pos, end = s.buf, records.start, len(s.buf)
    mark = s.base + pos  # file offset up to which the engine has counted the packets
    budget = granted = _room(engine, every)
    others = 0  # UDP records skipped since ``mark``
    next_check = engine.last_check + pipeline.CHECK_EVERY_US
    try:
        while True:
            pos, budget, more = skip(buf, pos, end, big_endian, div, limit, fast, budget, next_check)
            others += more
            if end - pos < 16:
                end, buf, pos = s.fill(pos, 16), s.buf, 0
                if on_read is not None:
                    on_read()
                if end < 16:
                    if end:
                        raise records.truncated(end)
                    return
                continue
            sec, frac, caplen, _ = header(buf, pos)
            if caplen > limit:
                raise records.caplen_damage(pos, caplen)
            f = pos + 16
            stop = f + caplen
            if stop > end:
                end, buf, pos = s.fill(pos, 16 + caplen), s.buf, 0
                if on_read is not None:
                    on_read()
                if 16 + caplen > end:
                    raise records.truncated(end)
                continue
            if budget != granted or others:  # the records since ``mark``, less their headers
                skipped = granted - budget + others
                _settle(engine, granted - budget, others, s.base + pos - mark - 16 * skipped)
            released = feed((sec * 1000000 + frac // div, LINKTYPE_ETHERNET, buf[f:stop]))
            mark = s.base + stop
            others = 0
            budget = granted = _room(engine, every)
            next_check = engine.last_check + pipeline.CHECK_EVERY_US
            pos = stop
            if released:
                yield from released
    finally:
        if budget != granted or others:
            skipped = granted - budget + others
            _settle(engine, granted - budget, others, s.base + pos - mark - 16 * skipped)
