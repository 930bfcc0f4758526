"""The record walks of the prefilter in Python: the references of the C walks (``_walk.c`` beside it).

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``decide`` says what the prefilter does with one frame (of Ethernet, or of any other link type the
decoder reads, as its Ethernet frame: ``link``): leave it to the pipeline (FEED), deal with it as a TCP
packet (SKIP_TCP: a plain, whole IPv4/IPv6 TCP packet of a known direction that is closed or that
carries no data, or whose segment only advances the TLS record shape its ``fast`` entry carries
(``shape.quiet``: no snapshot due, no stop) -- its flow is stamped and the packet added to the
direction's tally -- or with no data of no known flow) or as a UDP datagram the flow table drops
(SKIP_UDP: plain, whole, neither port 53) or a frame the decoder only counts (SKIP_NOT_IP,
SKIP_OTHER_PROTO: ``dropped``). ``skip`` walks classic pcap records, ``skip_ng`` the enhanced packet
blocks of a pcapng section, ``step`` is ``skip`` plus the record it stopped at, decoded by the decoder's
fast lane. ``SKIP``, ``SKIP_NG`` and ``STEP`` are the C functions when the extension is built
(``ACCELERATED``), else these; the tests compare the two record by record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Final

from poolsniff.dissect.flow import (
    HELLO_DUE,
    HELLO_OFF,
    HELLO_READ,
    Entry,
    FastMap,
    Flow,
    Forward,
    Hello,
    Hook,
    tally,
)
from poolsniff.dissect.hellos import web_hello
from poolsniff.dissect.shape import quiet
from poolsniff.dissect.tls import holds_server_hello
from poolsniff.engine.decode import fast_lane
from poolsniff.engine.fast.dropped import FEED as FEED  # the walks' kind, defined once, exported here too
from poolsniff.engine.fast.dropped import Dropped, dropped, taken
from poolsniff.engine.fast.link import ethernet_view, packet_epb
from poolsniff.engine.fast.udp import DnsForward, behind_tags, forward_full, udp_skip
from poolsniff.model import Packet
from poolsniff.sources.pcap import Interface

LINKTYPE_ETHERNET: Final = 1
_IP4 = struct.Struct("!BxH2xHxB2x12s8xBB").unpack_from
"""IPv4 version/IHL, total length, fragment field, protocol, addresses+ports, TCP offset, TCP flags."""
_HEADER_LE = struct.Struct("<III").unpack_from
_HEADER_BE = struct.Struct(">III").unpack_from
"""A pcap record header's seconds, fraction and captured length."""
_IP6 = struct.Struct("!B3xHBx36s8xBB").unpack_from
"""IPv6 version byte, payload length, next header, addresses+ports, TCP offset, TCP flags."""
_IPV4: Final = 0x0800
_IPV6: Final = 0x86DD
_SEQ = struct.Struct("!I").unpack_from
_FIN, _SYN, _RST = 0x01, 0x02, 0x04  # TCP flags
_CONTROL: Final = _FIN | _SYN | _RST
SKIP_TCP: Final = 1
"""Dealt with here: a TCP packet (it counts towards the idle sweep)."""
SKIP_UDP: Final = 2
"""Dealt with here: a UDP datagram that the flow table drops (it does not count)."""
Names = AbstractSet[bytes] | None
"""The listed names a DNS query must hold for the pipeline to read it (``udp.dns_quiet``), as
``Blocklist.wire_names`` gives them; None: every DNS datagram goes to the pipeline."""


def lookup(
    get: Callable[[bytes], Entry | None], buf: bytes, f: int, stop: int
) -> tuple[Entry | None, int, bytes, int]:
    """The ``fast`` entry of a plain, whole TCP packet in the Ethernet frame ``buf[f:stop]``.

    Returns (entry, payload length, key, SYN/FIN/RST bits) -- the entry None for an unknown
    flow -- or (None, -1, b"", 0) for anything else: not IPv4/IPv6 TCP behind up to two VLAN
    tags (a provider's QinQ trunk), IP options or extension headers, a fragment, a TCP header or IP
    packet that the frame does not hold whole.
    """
    if stop - f < 54:
        return None, -1, b"", 0
    et, l3 = behind_tags(buf, f, stop)
    if et == _IPV4 and stop - l3 >= 40:
        vhl, total, frag, proto, key, thl, flags = _IP4(buf, l3)
        if vhl == 0x45 and proto == 6 and not frag & 0x1FFF:
            hl = (thl >> 4) << 2
            data = total - 20 - hl
            if hl >= 20 and data >= 0 and l3 + total <= stop:
                return get(key), data, key, flags & _CONTROL
    elif et == _IPV6 and l3 + 54 <= stop:
        version, length, nxt, key, thl, flags = _IP6(buf, l3)
        if version >> 4 == 6 and nxt == 6:
            hl = (thl >> 4) << 2
            data = length - hl
            if hl >= 20 and data >= 0 and l3 + 40 + length <= stop:
                return get(key), data, key, flags & _CONTROL
    return None, -1, b"", 0


def decide(
    get: Callable[[bytes], Entry | None],
    buf: bytes,
    f: int,
    stop: int,
    ts: int,
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    dns_forward: DnsForward | None = None,
    linktype: int = LINKTYPE_ETHERNET,
) -> int:
    """What to do with the frame ``buf[f:stop]`` of time ``ts``: FEED or a kind of skip.

    SKIP_TCP: a plain TCP packet (``lookup``) of a known direction that is closed or that
    carries no data, whose segment goes to the split's back as it is (``_forward``: appended to the
    entry's item list here), whose data lies wholly inside bytes the direction does not read
    (``_in_unread``), or whose segment only advances its direction's TLS record shape (read here,
    ``_shaped``), its flow stamped with ``ts`` here; a FIN with no data that is not the flow's last
    (``_fin_seen``, which records it); given the table's hooks, a SYN or SYN-ACK without data of a
    known flow (``on_syn``) and the packet without data that ends one (its last FIN, an RST:
    ``on_end``), stamped, counted and handed to the hook (``_control``); or with no data and no SYN
    of no known flow. SKIP_UDP: ``udp.udp_skip``: a UDP datagram the flow table drops, or, given the
    listed names (``dns_names``), a DNS query for none of them (``udp.dns_quiet``), or given
    ``dns_forward`` any other DNS datagram, appended there as the split's front records it. SKIP_NOT_IP or
    SKIP_OTHER_PROTO: a frame the decoder only counts (``dropped.dropped``). FEED: anything else.
    A frame of another ``linktype`` than Ethernet is read as its Ethernet frame (``link.ethernet_view``;
    FEED where there is none), the flow's tally counting the frame's own bytes.
    """
    size = stop - f
    if linktype != LINKTYPE_ETHERNET:
        view = ethernet_view(linktype, bytes(buf[f:stop]))
        if view is None:
            return FEED
        buf, f, stop = view, 0, len(view)
    entry, data, key, flags = lookup(get, buf, f, stop)
    if entry is None:
        if data == 0 and not flags & _SYN:
            return SKIP_TCP
        if data >= 0:
            return FEED
        return SKIP_UDP if udp_skip(buf, f, stop, dns_names, ts, dns_forward) else dropped(buf, f, stop)
    if flags & _SYN:  # without FIN or RST: the table's on_syn, with the sequence number
        if data or flags != _SYN or on_syn is None:
            return FEED
        return _control(entry, on_syn, key, size, ts, _SEQ(buf, _tcp(buf, f) + 4)[0])
    if flags & _RST:  # it ends the flow: the table's on_end
        return FEED if data or on_end is None else _control(entry, on_end, key, size, ts, ts)
    fields = len(entry)
    if flags:  # a FIN: with data, the pipeline reads it; the flow's last, the table's on_end
        if data:
            return FEED
        if not _fin_seen(entry[0], key):
            return FEED if on_end is None else _control(entry, on_end, key, size, ts, ts)
    elif not (
        entry[1]
        or not data
        or (fields == 4 and _forward(entry, buf, f, data, ts))
        or (fields == 5 and _in_unread(entry, buf, f, data))
        or (fields > 5 and _shaped(entry, buf, f, data, ts))
    ):
        return FEED
    _stamp(entry, ts, size)
    return SKIP_TCP


def _stamp(entry: Entry, ts: int, size: int) -> None:
    """Count a packet of ``size`` bytes in the entry's tally and stamp its flow with ``ts``."""
    if len(entry) > 2:  # as in C: an entry without a tally is only stamped
        tally(entry[2], size)
    entry[0].last_ts = ts


def _control(entry: Entry, hook: Hook, key: bytes, size: int, ts: int, value: int) -> int:
    """A packet without data of ``entry``'s flow that the table's ``hook`` deals with: stamped and counted
    here, then ``hook(flow, from_client, value)`` (which may end the flow); SKIP_TCP."""
    flow = entry[0]
    _stamp(entry, ts, size)
    hook(flow, key == flow.raw[0], value)
    return SKIP_TCP


def _tcp(buf: bytes, f: int) -> int:
    """Where the TCP header starts in the plain TCP frame at ``buf[f:]`` (``lookup`` found it plain)."""
    l3 = behind_tags(buf, f, len(buf))[1]
    return l3 + 20 if buf[l3] >> 4 == 4 else l3 + 40


def _fin_seen(flow: Flow, key: bytes) -> bool:
    """A FIN with no data of ``flow``'s direction ``key``: record that side as finished (``Flow.fins``,
    as ``FlowTable.process`` does) and say True, unless the other side has finished too: then False
    (the flow ends)."""
    fins = flow.fins | (1 if key == flow.raw[0] else 2)
    if fins == 3:
        return False
    flow.fins = fins
    return True


def _forward(entry: Entry, buf: bytes, f: int, data: int, ts: int) -> bool:
    """Append the segment of the plain TCP frame at ``buf[f:]`` (``data`` bytes) to its forwarded
    direction's items (``entry[3]``: items, kind, fid, from_client), as the split's front records a
    segment (``Recorder.data``); always True. A server waiting for its ServerHello (``flow.Hello``): its
    first segment settles the wait, and once the hello is read nothing more is appended."""
    forward: Forward = entry[3]  # type: ignore[assignment,misc]
    items, kind, fid, from_client = forward[:4]
    th = _tcp(buf, f)
    start = th + ((buf[th + 12] >> 4) << 2)
    seq = _SEQ(buf, th + 4)[0]
    payload = buf[start : start + data]
    if len(forward) > 4:
        hello: Hello = forward[4]
        if hello[0] == HELLO_READ:
            return True
        if hello[0] == HELLO_DUE:
            due = seq == int.from_bytes(hello[1:5], "big") and holds_server_hello(payload)
            hello[0] = HELLO_READ if due else HELLO_OFF
    items.append((kind, fid, from_client, ts, seq, payload))
    return True


def _shaped(entry: Entry, buf: bytes, f: int, data: int, ts: int) -> bool:
    """Whether the segment (of ``data`` bytes, in the plain frame at ``buf[f:]``) only advances the TLS
    record shape of its direction, which ``entry`` carries; if so, it is advanced (``shape.quiet``)."""
    if len(entry) < 6:
        return False
    _, _, _, state, records, from_client = entry
    th = _tcp(buf, f)
    start = th + ((buf[th + 12] >> 4) << 2)
    seq = _SEQ(buf, th + 4)[0]
    return quiet(state, records, from_client, ts, seq, buf[start : start + data])


def _in_unread(entry: Entry, buf: bytes, f: int, data: int) -> bool:
    """Whether the ``data`` payload bytes of the plain TCP frame at ``buf[f:]`` lie wholly inside the bytes
    ahead that its direction does not read (``entry``'s first sequence number and length)."""
    seq = _SEQ(buf, _tcp(buf, f) + 4)[0]
    first, length = entry[3], entry[4]  # type: ignore[misc]
    return bool(((seq - first) & 0xFFFFFFFF) + data <= length)


def skip(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    div: int,
    limit: int,
    fast: FastMap,
    budget: int,
    next_check: int,
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    counts: Dropped | None = None,
    dns_forward: DnsForward | None = None,
    linktype: int = LINKTYPE_ETHERNET,
) -> tuple[int, int, int]:
    """Walk the records of ``buf[pos:end]`` (frames of ``linktype``), dealing with the packets the flow
    table allows.

    A record is dealt with here when it is whole in the buffer, its captured length is at most
    ``limit``, ``budget`` is not spent, its time is before ``next_check`` and ``decide`` says
    so: a TCP packet counts against ``budget``, a UDP one in ``others``, and so, given ``counts``, does a
    frame the decoder only counts (in ``counts`` too, by reason). Stops at the first other record;
    returns ``(pos, budget, others)``. ``poolsniff.engine.fast._walk.skip`` is the same
    function in C, used when it is built; this one is the reference.
    """
    header = _HEADER_BE if big_endian else _HEADER_LE
    get = fast.get
    others = 0
    while budget > 0 and end - pos >= 16 and not forward_full(dns_forward):
        sec, frac, caplen = header(buf, pos)
        f = pos + 16
        stop = f + caplen
        if caplen > limit or stop > end:
            break
        ts = sec * 1000000 + frac // div
        if ts >= next_check:
            break
        kind = decide(get, buf, f, stop, ts, dns_names, on_syn, on_end, dns_forward, linktype)
        if not taken(kind, counts):
            break
        if kind == SKIP_TCP:
            budget -= 1
        else:
            others += 1
        pos = stop
    return pos, budget, others


def skip_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[Interface],
    fast: FastMap,
    budget: int,
    next_check: int,
    last_ts: int,
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    counts: Dropped | None = None,
    dns_forward: DnsForward | None = None,
) -> tuple[int, int, int, int, int]:
    """``skip`` over the enhanced packet blocks of a pcapng section with interfaces ``ifaces``.

    Steps over whole, sound enhanced packet blocks (``packet_epb``) whose frame ``decide`` deals
    with; stops at any other block. Returns ``(pos, budget, others, last_ts, size)``:
    ``last_ts`` the time of the last frame stepped over, ``size`` their captured bytes.
    ``poolsniff.engine.fast._walk.skip_ng`` is the same function in C; this one is the reference.
    """
    get = fast.get
    others = size = 0
    while budget > 0 and not forward_full(dns_forward):
        found = packet_epb(buf, pos, end, big_endian, ifaces)
        if found is None:
            break
        ts, caplen, blen, linktype = found
        if ts >= next_check:
            break
        frame = pos + 28
        kind = decide(get, buf, frame, frame + caplen, ts, dns_names, on_syn, on_end, dns_forward, linktype)
        if not taken(kind, counts):
            break
        if kind == SKIP_TCP:
            budget -= 1
        else:
            others += 1
        last_ts = ts
        size += caplen
        pos += blen
    return pos, budget, others, last_ts, size


Stepped = tuple[int, int, int, "bytes | Packet"]
"""``(ts, captured length, link type, packet)`` of the record ``step`` stopped at (packet: or the frame,
as it was captured, for the decoder)."""


def step(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    div: int,
    limit: int,
    fast: FastMap,
    budget: int,
    next_check: int,
    packet_type: type[Packet],
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    counts: Dropped | None = None,
    dns_forward: DnsForward | None = None,
    linktype: int = LINKTYPE_ETHERNET,
) -> tuple[int, int, int, Stepped | None]:
    """``skip``, then the record it stopped at, when it is whole and within ``limit``.

    Returns ``(pos after that record, budget, others, (ts, caplen, linktype, packet))``, ``packet``
    being the decoder's fast lane's (``decode.fast_lane``, of its Ethernet frame) or, where the lane
    declines, the frame's bytes; else ``(pos, budget, others, None)`` with ``pos`` at the record for the
    caller to read on or report damage. ``packet_type`` is ``model.Packet`` (the C function,
    ``poolsniff.engine.fast._walk.step``, builds its tuples). This is the reference.
    """
    pos, budget, others = skip(
        buf, pos, end, big_endian, div, limit, fast, budget, next_check, dns_names, on_syn, on_end, counts,
        dns_forward, linktype,
    )  # fmt: skip
    if end - pos < 16:
        return pos, budget, others, None
    sec, frac, caplen = (_HEADER_BE if big_endian else _HEADER_LE)(buf, pos)
    stop = pos + 16 + caplen
    if caplen > limit or stop > end:
        return pos, budget, others, None
    ts = sec * 1000000 + frac // div
    return stop, budget, others, _laned(ts, caplen, linktype, buf[pos + 16 : stop])


def step_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[Interface],
    fast: FastMap,
    budget: int,
    next_check: int,
    last_ts: int,
    packet_type: type[Packet],
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    counts: Dropped | None = None,
    dns_forward: DnsForward | None = None,
) -> tuple[int, int, int, int, int, Stepped | None]:
    """``skip_ng``, then the block it stopped at if it is an enhanced packet block the walk reads
    (``packet_epb``): ``(pos after it, budget, others, its time, size, (ts, caplen, linktype, packet))``
    as ``step`` gives a record; else ``(pos, budget, others, last_ts, size, None)``. The
    reference of ``poolsniff.engine.fast._walk.step_ng``."""
    pos, budget, others, last_ts, size = skip_ng(
        buf, pos, end, big_endian, ifaces, fast, budget, next_check, last_ts, dns_names, on_syn, on_end,
        counts, dns_forward,
    )  # fmt: skip
    found = packet_epb(buf, pos, end, big_endian, ifaces)
    if found is None:
        return pos, budget, others, last_ts, size, None
    ts, caplen, blen, linktype = found
    frame = buf[pos + 28 : pos + 28 + caplen]
    return pos + blen, budget, others, ts, size, _laned(ts, caplen, linktype, frame)


def _laned(ts: int, caplen: int, linktype: int, frame: bytes) -> Stepped:
    """What the decoder's fast lane makes of the frame (of its Ethernet frame), else the frame itself."""
    view = ethernet_view(linktype, frame)
    packet = None if view is None else fast_lane(ts, view)
    return ts, caplen, linktype, frame if packet is None else packet


def decide_frame(
    fast: FastMap,
    frame: bytes,
    ts: int,
    dns_names: Names = None,
    on_syn: Hook | None = None,
    on_end: Hook | None = None,
    linktype: int = LINKTYPE_ETHERNET,
) -> int:
    """``decide`` for one frame on its own (live capture): FEED, SKIP_TCP, SKIP_UDP, SKIP_NOT_IP or
    SKIP_OTHER_PROTO. The reference of ``poolsniff.engine.fast._walk.decide``."""
    return decide(fast.get, frame, 0, len(frame), ts, dns_names, on_syn, on_end, None, linktype)


try:  # the same walks in C, when the extension was built at install time (and POOLSNIFF_PURE is not set)
    from poolsniff.engine.fast._walk import KeyMap
    from poolsniff.engine.fast._walk import decide as _fast_decide
    from poolsniff.engine.fast._walk import fast_lane as _fast_lane
    from poolsniff.engine.fast._walk import shape_quiet as _fast_quiet
    from poolsniff.engine.fast._walk import skip as _fast_skip
    from poolsniff.engine.fast._walk import skip_ng as _fast_skip_ng
    from poolsniff.engine.fast._walk import step as _fast_step
    from poolsniff.engine.fast._walk import step_ng as _fast_step_ng
    from poolsniff.engine.fast._walk import web_hello as _fast_web_hello
except ImportError:  # pragma: no cover - depends on the build
    DECIDE: Callable[..., int] = decide_frame
    FAST_LANE: Callable[[int, bytes], Packet | None] = fast_lane
    QUIET: Callable[[bytearray, bytearray, bool, int, int, bytes], bool] = quiet
    SKIP: Callable[..., tuple[int, int, int]] = skip
    SKIP_NG: Callable[..., tuple[int, int, int, int, int]] = skip_ng
    STEP: Callable[..., tuple[int, int, int, Stepped | None]] = step
    STEP_NG: Callable[..., tuple[int, int, int, int, int, Stepped | None]] = step_ng
    WEB_HELLO: Callable[[bytes], bool] = web_hello
else:
    DECIDE = _fast_decide
    QUIET = _fast_quiet

    def FAST_LANE(ts: int, frame: bytes) -> Packet | None:  # noqa: N802 - a constant, like SKIP
        """The decoder's fast lane in C (``_walk.fast_lane``)."""
        return _fast_lane(Packet, ts, frame)  # type: ignore[no-any-return]
    SKIP = _fast_skip
    SKIP_NG = _fast_skip_ng
    STEP = _fast_step
    STEP_NG = _fast_step_ng
    WEB_HELLO = _fast_web_hello
ACCELERATED: Final = SKIP is not skip
"""Whether the C record walks are in use."""


def new_fast_map() -> FastMap:
    """An empty ``FlowTable.fast`` for the walks in use: the C walks' ``KeyMap`` (``_keymap.h``), which
    they look up with the key where it sits in the frame, or a dict for the Python walks."""
    if ACCELERATED:
        return KeyMap()
    empty: dict[bytes, Entry] = {}
    return empty
