"""Raw-byte prefilter: most packets are dealt with before any object is built for them.

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Most packets of a busy link belong to long flows that have nothing left to read (bulk
downloads, TLS after the ClientHello, video) or are bare ACKs. For such a packet the whole
pipeline only stamps the flow with the packet's time and counts it. ``detections`` walks the
records of a classic Ethernet pcap itself and, for an IPv4 or IPv6 TCP packet (802.1Q
tagged or not) whose headers are plain and whole, takes the addresses and ports straight
out of the record as a key of ``FlowTable.fast``: a known direction that is closed (or a
packet with no data, no SYN, FIN or RST) is stamped and counted right there. Everything
else -- and one packet in a while, so the idle sweep and the hold check run exactly where
they would -- goes through ``engine.feed`` as a frame. The result is what feeding every
frame gives (tests/test_prefilter.py checks it). pcapng files get the same decisions frame
by frame on what the reader yields (a call more per frame); other link types go through
``engine.feed`` frame by frame.
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
from poolsniff.sources.pcap import PcapRecords, open_records

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
    found = open_records(fileobj, name)
    if isinstance(found, PcapRecords) and found.linktype == LINKTYPE_ETHERNET:
        yield from _ethernet(found, engine, on_read, every)
    else:
        frames = found.frames() if isinstance(found, PcapRecords) else found
        yield from _frames(frames, engine, on_read, every)


def _lookup(get: Callable[[bytes], Entry | None], buf: bytes, f: int, stop: int) -> tuple[Entry | None, int]:
    """The ``fast`` entry of a plain, whole TCP packet in the Ethernet frame ``buf[f:stop]``.

    Returns (entry, payload length), or (None, 0) for anything else: not IPv4/IPv6 TCP
    behind at most one 802.1Q tag, IP options or extension headers, a fragment, SYN, FIN
    or RST, a TCP header or IP packet that the frame does not hold whole, an unknown flow.
    """
    if stop - f < 54:
        return None, 0
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
    return None, 0


def _frames(
    frames: Iterator[Frame], engine: Engine, on_read: Callable[[], None] | None, every: int
) -> Iterator[Detection]:
    """The frame-by-frame loop (pcapng, other link types): the same skips, one call per frame."""
    get = engine.flows.fast.get
    feed = engine.feed
    budget = granted = _room(engine, every)
    next_check = engine.last_check + pipeline.CHECK_EVERY_US
    size = count = 0
    try:
        for frame in frames:
            count += 1
            if on_read is not None and count % REPORT_EVERY == 0:
                on_read()
            ts, linktype, data = frame
            if linktype == LINKTYPE_ETHERNET and budget > 0 and ts < next_check:
                entry, payload = _lookup(get, data, 0, len(data))
                if entry is not None and (entry[1] or not payload):
                    entry[0].last_ts = ts
                    budget -= 1
                    size += len(data)
                    continue
            if budget != granted:
                _settle(engine, granted - budget, size)
                size = 0
            released = feed(frame)
            budget = granted = _room(engine, every)
            next_check = engine.last_check + pipeline.CHECK_EVERY_US
            if released:
                yield from released
    finally:
        if budget != granted:
            _settle(engine, granted - budget, size)


def _room(engine: Engine, every: int) -> int:
    """How many packets may be skipped before the engine must see one (the idle sweep is due)."""
    return max(0, min(flowtable.SWEEP_EVERY - 1 - engine.flows.since_sweep, every))


def _settle(engine: Engine, skipped: int, size: int) -> None:
    """Count ``skipped`` packets of ``size`` frame bytes in the engine."""
    engine.stats.packets += skipped
    engine.stats.bytes += size
    engine.flows.since_sweep += skipped


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
) -> tuple[int, int]:
    """Walk the records of ``buf[pos:end]``, dealing with the packets the flow table allows.

    A record is dealt with here when it is whole in the buffer, its captured length is at most
    ``limit``, ``budget`` is not spent, its time is before ``next_check`` and it is a plain TCP
    packet of a known flow direction that is closed or that carries no data (``_lookup``):
    the flow is stamped with the packet's time and the packet counted against ``budget``.
    Stops at the first other record; returns ``(pos, budget)``. ``poolsniff._walk.skip`` is the
    same function in C, used when it is built; this one is the reference.
    """
    header = _HEADER_BE if big_endian else _HEADER_LE
    get = fast.get
    while budget > 0 and end - pos >= 16:
        sec, frac, caplen = header(buf, pos)
        f = pos + 16
        stop = f + caplen
        if caplen > limit or stop > end or caplen < 54:
            break
        ts = sec * 1000000 + frac // div
        if ts >= next_check:
            break
        entry, data = _lookup(get, buf, f, stop)
        if entry is None or not (entry[1] or not data):
            break
        entry[0].last_ts = ts
        budget -= 1
        pos = stop
    return pos, budget


try:  # the same walk in C, when the extension was built at install time
    from poolsniff._walk import skip as _fast_skip
except ImportError:  # pragma: no cover - depends on the build
    SKIP: Callable[..., tuple[int, int]] = _skip
else:
    SKIP = _fast_skip
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
    next_check = engine.last_check + pipeline.CHECK_EVERY_US
    try:
        while True:
            pos, budget = skip(buf, pos, end, big_endian, div, limit, fast, budget, next_check)
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
            if budget != granted:  # the records since ``mark``, less their headers
                _settle(engine, granted - budget, s.base + pos - mark - 16 * (granted - budget))
            released = feed((sec * 1000000 + frac // div, LINKTYPE_ETHERNET, buf[f:stop]))
            mark = s.base + stop
            budget = granted = _room(engine, every)
            next_check = engine.last_check + pipeline.CHECK_EVERY_US
            pos = stop
            if released:
                yield from released
    finally:
        if budget != granted:
            _settle(engine, granted - budget, s.base + pos - mark - 16 * (granted - budget))
