"""poolsniff.engine.fast.walk and .fast._walk: the C record walks do what their Python references do.

Hypothesis draws records of plain and odd TCP and UDP frames (cut, tagged, fragmented, with
options, bad offsets and lengths, noise) and a ``fast`` map over some of their flows, and
pcapng sections of enhanced packet blocks (damaged ones too) over interfaces of several
link types and time resolutions, among other blocks. ``skip``, ``skip_ng``, ``step`` and the
decoder's fast lane in C must stop where, count what, stamp what and build what the Python
ones do; bad bounds are refused. Where the extension is not built these tests skip.
"""

from __future__ import annotations

import os
import shutil
import struct
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.dissect.flow import HELLO_DUE, Flow, raw_key
from poolsniff.engine.decode import Decoder, fast_lane
from poolsniff.engine.fast import walk
from poolsniff.engine.fast.udp import FORWARD_LIMIT, udp_skip
from poolsniff.model import FlowKey, Packet
from poolsniff.sources.pcap import _tsresol
from tests.factories import server_hello
from tests.factories_frames import (
    DST4,
    DST6,
    SRC4,
    SRC6,
    block,
    eth,
    idb,
    ipv4,
    ipv6,
    pcap_record,
    relinked,
    tcp,
    udp,
)


class Stamped:
    """A stand-in flow: the walk sets ``last_ts``, and ``fins`` for a FIN (``raw[0]``: the client's key)."""

    __slots__ = ("last_ts", "fins", "raw")

    def __init__(self, raw: tuple[bytes, bytes] = (b"", b""), fins: int = 0) -> None:
        self.last_ts = -1
        self.fins = fins
        self.raw = raw


try:
    from poolsniff.engine.fast._walk import KeyMap
    from poolsniff.engine.fast._walk import fast_lane as c_fast_lane
    from poolsniff.engine.fast._walk import skip as c_skip
    from poolsniff.engine.fast._walk import skip_ng as c_skip_ng
    from poolsniff.engine.fast._walk import step as c_step
    from poolsniff.engine.fast._walk import step_ng as c_step_ng
except ImportError:  # not built here (no compiler): the tests that need it skip
    c_skip = c_skip_ng = c_step = c_step_ng = c_fast_lane = KeyMap = None
NOT_BUILT = "the C record walk (poolsniff/engine/fast/_walk.c) is not built here"


def ways(python: Any, c: Any, fast: dict[bytes, Any]) -> list[tuple[Any, Any]]:
    """A walk's three ways over one fast map: the Python reference with the dict, the C walk with the
    dict, and the C walk with a ``KeyMap`` of the same entries (``FlowTable.fast`` where C is built)."""
    return [(python, fast), (c, fast), (c, KeyMap(fast))]


Tail = tuple[Any, ...]
"""The walks' optional arguments after the required ones (``Calls.tail``)."""


class Calls:
    """Stand-in hooks of a flow table (``FlowTable.on_syn``, ``on_end``): each call is recorded."""

    def __init__(self) -> None:
        self.made: list[tuple[str, int, bool, int] | bytes] = []
        self.dropped: bytearray | None = None
        self.dns: list[Any] | None = None

    def syn(self, flow: Any, from_client: bool, value: int) -> None:
        self.made.append(("syn", id(flow), from_client, value))

    def end(self, flow: Any, from_client: bool, value: int) -> None:
        self.made.append(("end", id(flow), from_client, value))

    def tail(self, hooked: int, linktype: int = 1) -> Tail:
        """The walks' optional arguments: no listed names, then these hooks (none unless ``hooked`` & 1),
        then counts of the frames the decoder only counts (``dropped``: none unless ``hooked`` & 2), then
        the split front's list for DNS datagrams (none unless ``hooked`` & 4), then the frames' link type
        (none for Ethernet)."""
        hooks = (self.syn, self.end) if hooked & 1 else (None, None)
        if hooked & 2:
            self.dropped = bytearray(16)
        if hooked & 4:
            self.dns = []
        if hooked & 6 or linktype != 1:
            full = (None, *hooks, self.dropped, None if self.dns is None else (self.dns, 4))
            return full if linktype == 1 else (*full, linktype)
        return (None, *hooks) if hooked & 1 else ()

    def seen(self) -> list[Any]:
        """The hooks' calls, then the counts of dropped frames (if counted), the DNS items (if recorded)."""
        return (
            self.made
            + ([bytes(self.dropped)] if self.dropped is not None else [])
            + (list(self.dns) if self.dns is not None else [])
        )
PORTS = [(40000, 3333), (3333, 40000), (40001, 443)]


TCP_TAGS = [(0x8100,), (0x8100,), (0x88A8, 0x8100), (0x9100, 0x8100), (0x88A8,), (0x8100, 0x8100, 0x8100)]
"""VLAN tags before a TCP packet: 802.1Q, QinQ (802.1ad or the older tag outside), one tag too many."""


def draw_frame(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A plain or not-so-plain TCP or UDP frame, or noise; the ``fast`` key of a TCP one."""
    sport, dport = draw(st.sampled_from(PORTS))
    hello = SERVER_HELLO
    data = draw(st.sampled_from([b"", b"x", b"y" * 700, hello, hello[:-1], hello + b"y"]))
    flags = draw(st.sampled_from([0x10, 0x18, 0x02, 0x11, 0x14, 0x12, 0x04, 0x03, 0x06]))
    segment = tcp(data, sport, dport, 5, flags, data_offset=draw(st.sampled_from([None] * 6 + [4, 15])))
    kind = draw(
        st.sampled_from(
            ["v4", "v4", "vlan", "v6", "v6-vlan", "udp", "udp", "udp6", "frag", "options", "noise"]
        )
    )
    key = None
    if kind in ("v4", "vlan", "frag", "options"):
        ip = ipv4(
            segment,
            frag=draw(st.sampled_from([0x2000, 0x0005, 0x4000])) if kind == "frag" else 0,
            options=b"\x01" * 4 if kind == "options" else b"",
            total=draw(st.sampled_from([None] * 6 + [0, 20, 2000])),
        )
        frame = eth(ip, tags=draw(st.sampled_from(TCP_TAGS)) if kind == "vlan" else ())
        key = ip[12:20] + segment[:4]
    elif kind in ("v6", "v6-vlan"):
        ip = ipv6(segment, length=draw(st.sampled_from([None] * 6 + [0, 9000])))
        frame = eth(ip, etype=0x86DD, tags=draw(st.sampled_from(TCP_TAGS)) if kind == "v6-vlan" else ())
        key = ip[8:40] + segment[:4]
    elif kind in ("udp", "udp6"):
        ports = draw(st.sampled_from([(sport, dport), (53, dport), (sport, 53), (5353, 5353), (443, 50000)]))
        datagram = udp(
            b"u" * draw(st.sampled_from([0, 4, 40])), *ports, length=draw(st.sampled_from([None, 3, 2000]))
        )
        tags = draw(st.sampled_from([(), (), (0x8100,), (0x88A8, 0x8100)]))
        if kind == "udp":
            ip = ipv4(
                datagram,
                proto=draw(st.sampled_from([17, 17, 17, 6, 1])),
                frag=draw(st.sampled_from([0, 0, 0, 0x2000, 0x0005])),
                options=draw(st.sampled_from([b"", b"", b"\x01" * 4])),
                total=draw(st.sampled_from([None] * 6 + [0, 20, 27, 28, 2000])),
            )
            frame = eth(ip, tags=tags)
        else:
            ip = ipv6(
                datagram,
                nxt=draw(st.sampled_from([17, 17, 0, 58])),
                length=draw(st.sampled_from([None] * 6 + [0, 7, 8, 9000])),
            )
            frame = eth(ip, etype=0x86DD, tags=tags)
    else:
        frame = draw(st.binary(min_size=0, max_size=80))
    cut = draw(st.sampled_from([None, None, None, 30, 41, 42, 53, 54, 57, 60, -1, -4]))
    return (frame if cut is None else frame[:cut]), key


SERVER_HELLO = server_hello()
"""A whole ServerHello record: what ends a web session's server for the back (``tls.holds_server_hello``)."""

Fast = dict[bytes, tuple[Any, ...]]
"""A ``FlowTable.fast`` map of stand-in flows, each direction with its tally (and maybe an unread range)."""


def fast_entry(draw: st.DrawFn) -> tuple[Any, ...]:
    """A direction's entry: closed or open, and an open one may carry the range of bytes it does not read,
    placed around the drawn frames' sequence number 5 and 1 or 700 bytes of data (wrapping too)."""
    closed = draw(st.booleans())
    if not closed and not draw(st.integers(0, 3)):  # forwarded to the split's back: (items, kind, fid, side)
        forward = ([], 2, draw(st.integers(0, 9)), draw(st.booleans()))
        if draw(st.booleans()):  # a server waiting for its ServerHello at sequence number 5 (or elsewhere)
            due = draw(st.sampled_from([5, 5, 6, (1 << 32) - 1]))
            forward = (*forward[:3], False, bytearray((HELLO_DUE, *due.to_bytes(4, "big"))))
        return (Stamped(), False, bytearray(16), forward)
    if closed or not draw(st.integers(0, 2)):
        return (Stamped(), closed, bytearray(16))
    first = draw(st.sampled_from([5, 4, 6, 0, (1 << 32) - 2]))
    length = draw(st.sampled_from([1, 699, 700, 701, 707, 1 << 31]))
    return (Stamped(), False, bytearray(16), first, length)


def forwarded(fast: Fast, clear: bool = False) -> list[Any]:
    """The items the walk appended for each forwarded direction of ``fast`` and the state of each wait for
    a ServerHello (emptied and waiting again first with ``clear``)."""
    lists = [e[3][0] for e in fast.values() if len(e) == 4]
    waits = [e[3][4] for e in fast.values() if len(e) == 4 and len(e[3]) == 5]
    if clear:
        for items in lists:
            items.clear()
        for wait in waits:
            wait[0] = HELLO_DUE
    return [list(items) for items in lists] + [bytes(wait) for wait in waits]


LINKTYPES = [1, 1, 1, 1, 113, 276, 101, 12, 228, 229, 0, 108, 104, 9]
"""Link types of the frames drawn (``link.LINKTYPES``), Ethernet most often."""


@st.composite
def walk_cases(draw: st.DrawFn) -> tuple[bytes, int, bool, int, Fast, int, int, int]:
    """Records of plain and odd TCP and UDP frames, cut bytes and noise, of one link type (as captured
    there: ``relinked``, or now and then as they are); a fast map over some of them."""
    order = draw(st.sampled_from(["<", ">"]))
    nano = draw(st.booleans())
    linktype = draw(st.sampled_from(LINKTYPES))
    records = []
    keys: list[bytes] = []
    for _ in range(draw(st.integers(0, 12))):
        frame, key = draw_frame(draw)
        if draw(st.integers(0, 7)):
            frame = relinked(frame, linktype)
        if key is not None:
            keys.append(key)
        ts = 1_700_000_000_000_000 + len(records) * 1000
        records.append(pcap_record(ts * 1000 if nano else ts, frame, order, nano))
    buf = b"".join(records) + draw(st.binary(max_size=40))
    fast = {k: fast_entry(draw) for k in keys if draw(st.integers(0, 3))}
    end = draw(st.sampled_from([len(buf), len(buf), len(buf), draw(st.integers(0, len(buf)))]))
    budget = draw(st.sampled_from([100, 100, draw(st.integers(0, 20))]))
    next_check = 1_700_000_000_000_000 + draw(st.sampled_from([99, 99, draw(st.integers(0, 15))])) * 1000
    return buf, end, order == ">", 1000 if nano else 1, fast, budget, next_check, linktype


TSRESOLS = [6, 9, 0x94, 0, 3, 0x80, 0xBF, 25, 127]
"""if_tsresol values: µs, ns, 2^-20 s, seconds, ms, 1 s in 2^-0, 2^-63 s, 10^-25 s, 10^-127 s."""


@st.composite
def ng_cases(
    draw: st.DrawFn,
) -> tuple[bytes, int, bool, list[Any], Fast, int, int]:
    """A pcapng section's blocks: enhanced packet blocks (some damaged) on several interfaces, others."""
    order = draw(st.sampled_from(["<", ">"]))
    ifaces = []
    for _ in range(draw(st.integers(0, 4))):
        mul, div = _tsresol(draw(st.sampled_from(TSRESOLS)))
        offset = draw(st.sampled_from([0, 0, 1_000_000, -5_000_000, 1 << 70]))
        ifaces.append((draw(st.sampled_from([*LINKTYPES, 9, 147])), mul, div, offset, 0))
    blocks = []
    keys: list[bytes] = []
    for i in range(draw(st.integers(0, 12))):
        frame, key = draw_frame(draw)
        if key is not None:
            keys.append(key)
        what = draw(
            st.sampled_from(["epb"] * 8 + ["spb", "idb", "other", "trailer", "caplen", "ifid", "short"])
        )
        ifid = draw(st.integers(0, max(0, len(ifaces) - 1))) if what != "ifid" else len(ifaces) + 1
        if ifid < len(ifaces) and draw(st.integers(0, 7)):  # as captured on that interface
            frame = relinked(frame, ifaces[ifid][0] if ifaces[ifid][0] in LINKTYPES else 1)
        units = draw(
            st.sampled_from([1_700_000_000_000_000 + i * 1000, (1 << 64) - 1, 0, (1_700_000_000 + i) << 20])
        )
        head = struct.pack(order + "IIIII", ifid, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame))
        if what == "caplen":  # more captured bytes than the block holds, by 1 to 9 (padding hides some)
            more = draw(st.sampled_from([1, 3, 4, 9]))
            fields = (ifid, units >> 32, units & 0xFFFFFFFF, len(frame) + more, len(frame))
            head = struct.pack(order + "IIIII", *fields)
        if what in ("epb", "caplen", "ifid"):
            blocks.append(block(6, head + frame, order))
        elif what == "trailer":
            blocks.append(block(6, head + frame, order, trailer=7))
        elif what == "short":
            blocks.append(block(6, head[:12], order))
        elif what == "spb":
            blocks.append(block(3, struct.pack(order + "I", len(frame)) + frame, order))
        elif what == "idb":
            blocks.append(idb(1, order))
        else:
            blocks.append(block(0x99, frame, order))
    buf = b"".join(blocks) + draw(st.binary(max_size=40))
    fast = {k: fast_entry(draw) for k in keys if draw(st.integers(0, 3))}
    end = draw(st.sampled_from([len(buf), len(buf), len(buf), draw(st.integers(0, len(buf)))]))
    budget = draw(st.sampled_from([100, 100, draw(st.integers(0, 20))]))
    next_check = draw(st.sampled_from([1 << 62, 1_700_000_000_000_000 + draw(st.integers(0, 15)) * 1000]))
    return buf, end, order == ">", ifaces, fast, budget, next_check


def walk_all(skip: Any, buf: bytes, end: int, big_endian: bool, *args: Any) -> list[tuple[int, int]]:
    """Where ``skip`` stops, stepping over each record it stops at (as if fed) until the data ends."""
    stops = []
    pos = 0
    order = ">" if big_endian else "<"
    while True:
        stop = skip(buf, pos, end, big_endian, *args)
        stops.append(stop)
        pos = stop[0]
        if end - pos < 16:
            return stops
        pos += 16 + struct.unpack_from(order + "I", buf, pos + 8)[0]
        if pos > end:
            return stops


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=1000, deadline=None)
@given(case=walk_cases(), limit=st.sampled_from([262144, 100]), hooked=st.integers(0, 7))
def test_c_walk_does_what_the_python_walk_does(
    case: tuple[bytes, int, bool, int, Fast, int, int, int], limit: int, hooked: int
) -> None:
    buf, end, big_endian, div, fast, budget, next_check, lt = case
    stamps = []
    results = []
    for skip, table in ways(walk.skip, c_skip, fast):
        for flow, _, counts, *_ in fast.values():
            flow.last_ts = -1
            flow.fins = 0
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        tail = calls.tail(hooked, lt)
        results.append(walk_all(skip, buf, end, big_endian, div, limit, table, budget, next_check, *tail))
        state = [(flow.last_ts, flow.fins, bytes(counts)) for flow, _, counts, *_ in fast.values()]
        stamps.append(state + forwarded(fast) + calls.seen())
    assert results[0] == results[1] == results[2] and stamps[0] == stamps[1] == stamps[2]


@st.composite
def fin_cases(draw: st.DrawFn) -> tuple[bytes, Fast, int, list[Stamped]]:
    """Records of FINs, FIN/ACKs with and without data, RSTs and ACKs of a few two-way flows (IPv4 and
    IPv6): each flow one stand-in shared by both directions' entries, a side maybe finished already."""
    flows: list[tuple[Stamped, tuple[bytes, bytes], bool]] = []
    fast: Fast = {}
    for n in range(draw(st.integers(1, 3))):
        v6 = draw(st.booleans())
        client = (40000 + n, 443)
        a, b = (SRC6, DST6) if v6 else (SRC4, DST4)
        keys = [a + b + struct.pack("!HH", *client), b + a + struct.pack("!HH", *client[::-1])]
        raw = (keys[0], keys[1])
        flow = Stamped(raw, draw(st.sampled_from([0, 0, 1, 2])))
        for k in draw(st.sampled_from([raw, raw, raw[:1], raw[1:]])):
            fast[k] = (flow, draw(st.booleans()), bytearray(16))
        flows.append((flow, raw, v6))
    records = []
    for i in range(draw(st.integers(1, 10))):
        flow, raw, v6 = draw(st.sampled_from(flows))
        n = flows.index((flow, raw, v6))
        client_side = draw(st.booleans())
        sport, dport = (40000 + n, 443) if client_side else (443, 40000 + n)
        flags = draw(st.sampled_from([0x11, 0x11, 0x01, 0x19, 0x10, 0x14, 0x13]))
        seg = tcp(draw(st.sampled_from([b"", b"", b"z" * 9])), sport, dport, 7, flags)
        a, b = (SRC6, DST6) if v6 else (SRC4, DST4)
        src, dst = (a, b) if client_side else (b, a)
        frame = eth(ipv6(seg, src=src, dst=dst), etype=0x86DD) if v6 else eth(ipv4(seg, src=src, dst=dst))
        records.append(pcap_record(1_700_000_000_000_000 + i * 1000, frame))
    budget = draw(st.sampled_from([100, draw(st.integers(0, 5))]))
    return b"".join(records), fast, budget, [f for f, _, _ in flows]


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=500, deadline=None)
@given(case=fin_cases(), hooked=st.booleans())
def test_both_walks_record_a_first_fin_and_leave_the_last_to_the_pipeline(
    case: tuple[bytes, Fast, int, list[Stamped]], hooked: bool
) -> None:
    """A FIN with no data that is not its flow's last is dealt with in the walk (its side recorded in
    ``fins``, the flow stamped, the packet tallied); a flow's last FIN and an RST without data stop the
    walk, or, given the table's ``on_end``, are stamped, tallied and handed to it with their side and
    time; a FIN with data stops the walk. The C walk and the Python walk the same, record by record,
    state by state and call by call."""
    buf, fast, budget, flows = case
    start = [f.fins for f in flows]
    results = []
    for skip in (walk.skip, c_skip):
        for flow, fins in zip(flows, start, strict=True):
            flow.last_ts, flow.fins = -1, fins
        for _, _, counts, *_ in fast.values():
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        stops = walk_all(skip, buf, len(buf), False, 1, 262144, fast, budget, 1 << 62, *calls.tail(hooked))
        tallies = [bytes(e[2]) for e in fast.values()]
        results.append((stops, [(f.last_ts, f.fins) for f in flows], tallies, calls.made))
    assert results[0] == results[1]
    assert all(f.fins != 3 for f in flows)
    assert bool(results[0][3]) <= hooked


def test_a_first_fin_is_recorded_and_the_last_is_fed() -> None:
    """Client FIN, retransmitted, then the server's: the walk records the first (and its repeat), and
    stops at the server's, which ends the flow."""
    seg_c, seg_s = tcp(b"", 40000, 443, 7, 0x11), tcp(b"", 443, 40000, 9, 0x11)
    ip_c = ipv4(seg_c)
    ip_s = ipv4(seg_s, src=ip_c[16:20], dst=ip_c[12:16])
    keys = (ip_c[12:20] + seg_c[:4], ip_s[12:20] + seg_s[:4])
    frames = [eth(ip_c), eth(ip_c), eth(ip_s)]
    buf = b"".join(pcap_record(1_700_000_000_000_000 + i, f) for i, f in enumerate(frames))
    for skip in (walk.skip,) + ((c_skip,) if c_skip is not None else ()):
        flow = Stamped(keys)
        fast: Fast = {k: (flow, False, bytearray(16)) for k in keys}
        pos, budget, _ = skip(buf, 0, len(buf), False, 1, 262144, fast, 100, 1 << 62)
        assert (pos, budget) == (2 * (16 + len(frames[0])), 98)
        assert flow.fins == 1 and flow.last_ts == 1_700_000_000_000_001
        assert struct.unpack("=QQ", fast[keys[0]][2]) == (2, 2 * len(frames[0]))


def walk_all_ng(
    skip: Any, buf: bytes, end: int, big_endian: bool, ifaces: list[Any], *args: Any, tail: Tail = ()
) -> list[Any]:
    """Where ``skip_ng`` stops, stepping over each block it stops at (as the reader would), to the end
    (``tail``: the optional arguments)."""
    stops = []
    pos = 0
    last_ts = 5
    order = ">" if big_endian else "<"
    while True:
        stop = skip(buf, pos, end, big_endian, ifaces, *args, last_ts, *tail)
        stops.append(stop)
        pos, last_ts = stop[0], stop[3]
        if end - pos < 12:
            return stops
        blen = struct.unpack_from(order + "I", buf, pos + 4)[0]
        if blen < 12:
            return stops
        pos += blen
        if pos > end:
            return stops


def step_all(step: Any, buf: bytes, end: int, big_endian: bool, *args: Any, tail: Tail = ()) -> list[Any]:
    """What ``step`` hands back, record after record (stepping over a record it declines), to the end
    (``tail``: the optional arguments)."""
    out = []
    pos = 0
    order = ">" if big_endian else "<"
    while True:
        pos, budget, others, got = step(buf, pos, end, big_endian, *args, Packet, *tail)
        if got is not None:
            ts, caplen, linktype, packet = got
            name = type(packet).__name__
            got = (ts, caplen, linktype, name, tuple(packet) if isinstance(packet, Packet) else packet)
        out.append((pos, budget, others, got))
        if got is None:
            if end - pos < 16:
                return out
            pos += 16 + struct.unpack_from(order + "I", buf, pos + 8)[0]
            if pos > end:
                return out


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=500, deadline=None)
@given(case=walk_cases(), limit=st.sampled_from([262144, 100]), hooked=st.integers(0, 7))
def test_c_step_does_what_the_python_step_does(
    case: tuple[bytes, int, bool, int, Fast, int, int, int], limit: int, hooked: int
) -> None:
    buf, end, big_endian, div, fast, budget, next_check, linktype = case
    stamps = []
    results = []
    for step, table in ways(walk.step, c_step, fast):
        for flow, _, counts, *_ in fast.values():
            flow.last_ts = -1
            flow.fins = 0
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        tail = calls.tail(hooked, linktype)
        results.append(step_all(step, buf, end, big_endian, div, limit, table, budget, next_check, tail=tail))
        state = [(flow.last_ts, bytes(counts)) for flow, _, counts, *_ in fast.values()]
        stamps.append(state + forwarded(fast) + calls.seen())
    assert results[0] == results[1] == results[2] and stamps[0] == stamps[1] == stamps[2]


@st.composite
def lane_frames(draw: st.DrawFn) -> bytes:
    """Frames around the fast lane's shape: plain, odd and cut TCP/UDP over IPv4, other frames."""
    frame, _ = draw_frame(draw)
    if draw(st.booleans()):
        payload = draw(st.binary(max_size=60))
        proto = draw(st.sampled_from([6, 17, 1]))
        body = tcp(payload, 1, 2, 3, 0x18, data_offset=draw(st.sampled_from([None, 4, 5, 15])))
        if proto == 17:
            body = udp(payload, 7, 8, length=draw(st.sampled_from([None, 0, 7, 8, 9, 5000])))
        ip = ipv4(
            body,
            proto=proto,
            frag=draw(st.sampled_from([0, 0x4000, 0x2000, 1])),
            total=draw(st.sampled_from([None, None, 0, 19, 20, 21, 40, 9000])),
            ihl=draw(st.sampled_from([None, None, 6])),
        )
        frame = eth(ip, etype=draw(st.sampled_from([0x0800, 0x0800, 0x86DD])))
        frame = frame[: draw(st.sampled_from([len(frame), len(frame), 53, 54, 60]))] + draw(
            st.binary(max_size=8)
        )
    return frame


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=1500, deadline=None)
@given(frame=lane_frames(), ts=st.integers(0, 1 << 62))
def test_c_fast_lane_is_the_decoders_fast_lane(frame: bytes, ts: int) -> None:
    want = fast_lane(ts, frame)
    got = c_fast_lane(Packet, ts, frame)
    assert got == want
    assert type(got) is type(want)
    if got is not None:
        assert [type(x) for x in got] == [type(x) for x in want]


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=1000, deadline=None)
@given(case=ng_cases(), hooked=st.integers(0, 7))
def test_c_pcapng_walk_does_what_the_python_walk_does(
    case: tuple[bytes, int, bool, list[Any], Fast, int, int], hooked: int
) -> None:
    buf, end, big_endian, ifaces, fast, budget, next_check = case
    stamps = []
    results = []
    for skip, table in ways(walk.skip_ng, c_skip_ng, fast):
        for flow, _, counts, *_ in fast.values():
            flow.last_ts = -1
            flow.fins = 0
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        tail = calls.tail(hooked)
        results.append(walk_all_ng(skip, buf, end, big_endian, ifaces, table, budget, next_check, tail=tail))
        state = [(flow.last_ts, bytes(counts)) for flow, _, counts, *_ in fast.values()]
        stamps.append(state + forwarded(fast) + calls.seen())
    assert results[0] == results[1] == results[2] and stamps[0] == stamps[1] == stamps[2]


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@given(buf=st.binary(max_size=300), pos=st.integers(-5, 400), end=st.integers(-5, 400))
def test_c_pcapng_walk_refuses_bad_bounds_and_never_reads_past_them(buf: bytes, pos: int, end: int) -> None:
    ifaces = [(1, 1, 1, 0, 0)]
    try:
        got = c_skip_ng(buf, pos, end, False, ifaces, {}, 10, 1 << 62, 0)
    except ValueError:
        assert not 0 <= pos <= end <= len(buf)
    else:
        assert 0 <= pos <= got[0] <= end <= len(buf)


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@given(buf=st.binary(max_size=300), pos=st.integers(-5, 400), end=st.integers(-5, 400))
def test_c_walk_refuses_bad_bounds_and_never_reads_past_them(buf: bytes, pos: int, end: int) -> None:
    try:
        got = c_skip(buf, pos, end, False, 1, 262144, {}, 10, 1 << 62)
    except ValueError:
        assert not 0 <= pos <= end <= len(buf)
    else:
        assert 0 <= pos <= got[0] <= end <= len(buf)


def test_c_walk_is_built_where_a_compiler_is() -> None:
    """``make`` builds the extension when it can; a silent fall-back would hide a slow scan."""
    include = Path(sysconfig.get_paths()["include"], "Python.h")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None or not include.is_file() or os.environ.get("POOLSNIFF_NO_EXTENSION"):
        pytest.skip(f"no {compiler} or no {include} here: the pure-Python walk is expected")
    assert walk.ACCELERATED


UDP4 = eth(ipv4(udp(b"q" * 12, 5000, 6000), proto=17))
UDP6 = eth(ipv6(udp(b"q" * 12, 5000, 6000), nxt=17), etype=0x86DD)


@pytest.mark.parametrize("frame", [UDP4, UDP6], ids=["udp4", "udp6"])
@pytest.mark.parametrize("short", [0, 1, 4, 11, 12, 13])
def test_both_walks_take_a_udp_datagram_the_decoder_reads_whole_or_cut(frame: bytes, short: int) -> None:
    """A UDP datagram (not DNS) is taken while the frame holds its UDP header: the decoder reads a
    datagram cut by a snap length as a shorter one (counting nothing), and the flow table drops it;
    cut inside the UDP header (12 bytes of payload: ``short`` 13), it is the decoder's to count."""
    cut = frame[: len(frame) - short]
    record = pcap_record(1_700_000_000_000_000, cut)
    want = (len(record), 7, 1) if short <= 12 else (0, 7, 0)
    walks = [walk.skip] + ([c_skip] if c_skip is not None else [])
    for skip in walks:
        assert skip(record, 0, len(record), False, 1, 262144, {}, 7, 1 << 62) == want


@st.composite
def udp_frames(draw: st.DrawFn) -> bytes:
    """Ethernet frames around a UDP (or TCP) datagram: VLAN tags of every kind, IP lengths that lie
    (0, too short, too long), UDP lengths that lie, cut anywhere."""
    v6 = draw(st.booleans())
    ports = st.sampled_from([53, 5353, 443, 2152, 0, 65535])
    body = udp(draw(st.binary(max_size=24)), draw(ports), draw(ports), draw(st.none() | st.integers(0, 40)))
    proto = draw(st.sampled_from([17, 17, 17, 6]))
    if v6:
        l3 = ipv6(body, nxt=proto, length=draw(st.none() | st.integers(0, 60)))
    else:
        total = draw(st.none() | st.integers(0, 70))
        l3 = ipv4(body, proto=proto, total=total, frag=draw(st.sampled_from([0, 0, 1])))
    tags = draw(st.lists(st.sampled_from([0x8100, 0x88A8, 0x9100, 0x9200, 0x0800]), max_size=3))
    frame = eth(l3, 0x86DD if v6 else 0x0800, tags)
    return frame[: draw(st.integers(0, len(frame)))]


@pytest.mark.parametrize("tags", [(), (0x8100,), (0x88A8, 0x8100), (0x9100, 0x8100)], ids=str)
def test_a_syn_and_a_segment_behind_vlan_tags_are_read_where_they_are(tags: tuple[int, ...]) -> None:
    """Behind one or two VLAN tags (a QinQ trunk), the TCP header is where the tags put it: the SYN's
    sequence number the table's hook gets, and the segment forwarded to the split's back, are the
    packet's, in C and in Python."""
    syn = eth(ipv4(tcp(b"", 40000, 3333, 123456, 0x02)), tags=tags)
    data = eth(ipv4(tcp(b"payload", 40000, 3333, 777, 0x18)), tags=tags)
    key = ipv4(tcp(b"", 40000, 3333, 0, 0))[12:20] + tcp(b"", 40000, 3333, 0, 0)[:4]
    seen = []
    for decide, _ in ways(walk.decide_frame, c_decide, {}):
        if decide is None:
            continue
        calls = Calls()
        items: list[Any] = []
        fast = {key: (Stamped((key, b"")), False, bytearray(16), (items, 2, 7, True))}
        frames = enumerate((syn, data))
        answers = [decide(fast, frame, 1000 + i, None, calls.syn, calls.end) for i, frame in frames]
        seen.append((answers, [c[2:] for c in calls.made if isinstance(c, tuple)], items))
    assert seen[0] == ([1, 1], [(True, 123456)], [(2, 7, True, 1001, 777, b"payload")]), seen[0]
    assert all(s == seen[0] for s in seen)


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_the_walks_stop_when_the_fronts_items_wait_in_numbers(ng: bool) -> None:
    """DNS datagrams the split's front records do not count against a walk's budget: the walk stops once
    ``FORWARD_LIMIT`` items wait (the frame there is fed and the front sends them), and goes on from there
    once they are gone; a DNS flood cannot grow the list without bound."""
    answer = bytes.fromhex(
        "1234818000010001000000000161076578616d706c650000010001c00c000100010000012c00040a000001"
    )
    frame = eth(ipv4(udp(answer, 53, 40000), proto=17))
    count = FORWARD_LIMIT * 2 + 100
    if ng:
        head = [struct.pack("<IIIII", 0, 0, 1000 + i, len(frame), len(frame)) for i in range(count)]
        buf = b"".join(block(6, h + frame) for h in head)
    else:
        buf = b"".join(pcap_record(1_700_000_000_000_000 + i, frame) for i in range(count))
    ifaces = [(1, 1, 1, 0, 0)]
    seen = []
    walks = [walk.skip_ng, c_skip_ng] if ng else [walk.skip, c_skip]
    for skip in [w for w in walks if w is not None]:
        items: list[Any] = []
        pos, stops = 0, []
        while pos < len(buf):
            head = (buf, pos, len(buf), False, ifaces) if ng else (buf, pos, len(buf), False, 1, 262144)
            tail = (None, None, None, None, (items, 4))
            got = skip(*head, {}, 100, 1 << 62, *((0,) if ng else ()), *tail)
            assert len(items) == FORWARD_LIMIT or got[0] == len(buf), (len(items), got)
            stops.append((got[0], len(items)))
            pos = got[0] + (len(block(6, bytes(20) + frame)) if ng else 16 + len(frame))  # the frame fed
            items.clear()
        seen.append(stops)
    assert len(seen[0]) == 3 and all(stops == seen[0] for stops in seen)


@settings(max_examples=600)
@given(frame=udp_frames())
def test_the_udp_the_walks_skip_the_decoder_reads_and_the_flow_table_drops(frame: bytes) -> None:
    """Whatever its tags, lengths and cut, a frame ``udp_skip`` takes (given no names) is one the decoder
    reads as a UDP packet with neither port 53, counting nothing, and the flow table drops; the C walk
    agrees."""
    from poolsniff.dissect.flows import FlowTable
    from poolsniff.engine.decode import Decoder

    skipped = udp_skip(frame, 0, len(frame), None)
    if c_skip is not None:
        record = pcap_record(1_700_000_000_000_000, frame)
        took = [s(record, 0, len(record), False, 1, 262144, {}, 7, 1 << 62) for s in (c_skip, walk.skip)]
        assert took[0] == took[1]
    if not skipped:
        return
    decoder = Decoder()
    packet = decoder.decode(1_700_000_000_000_000, 1, frame)
    assert packet is not None and packet.proto == 17 and not decoder.skipped
    assert 53 not in (packet.sport, packet.dport)
    table = FlowTable()
    assert table.process(packet) == [] and not table.flows and not table.fast and not table.counters


@settings(max_examples=800, deadline=None)
@given(frame=udp_frames())
def test_a_dns_datagram_the_walks_record_is_the_recorders_item_of_the_decoders_packet(frame: bytes) -> None:
    """Given the split front's ``dns_forward``, a frame the walks take and record beyond the UDP they
    always take is a DNS datagram, recorded as the front's recorder records the decoder's packet of it
    (``(DNS, *packet)``); the C walk records the same."""
    from poolsniff.engine.decode import Decoder
    from poolsniff.engine.split.recorder import DNS, Recorder

    ts = 1_700_000_000_000_123
    record = pcap_record(ts, frame)
    recorded = []
    for skip in [walk.skip] + ([c_skip] if c_skip is not None else []):
        items: list[tuple[Any, ...]] = []
        tail = (None, None, None, None, (items, DNS))  # no names, hooks or counts; the front's list
        took = skip(record, 0, len(record), False, 1, 262144, {}, 7, 1 << 62, *tail)
        recorded.append((took, items))
    assert all(r == recorded[0] for r in recorded)
    took, items = recorded[0]
    if udp_skip(frame, 0, len(frame), None):  # neither port 53: counted, not recorded
        assert took[2] == 1 and not items
        return
    if not items:  # left to the decoder, as without dns_forward
        assert took[2] == 0
        return
    packet = Decoder().decode(ts, 1, frame)
    assert packet is not None and 53 in (packet.sport, packet.dport) and took[2] == 1
    recorder = Recorder()
    recorder.dns(packet)
    assert items == recorder.items


@pytest.mark.parametrize("flags", [0x04, 0x14, 0x05])
@pytest.mark.parametrize("payload", [b"", b"x"])
@pytest.mark.parametrize("v6", [False, True])
def test_an_rst_of_no_known_flow_is_counted_by_both_walks_unless_it_carries_data(
    flags: int, payload: bytes, v6: bool
) -> None:
    """An RST (RST/ACK, RST/FIN) with no data of no flow is one the flow table only counts: both walks
    count it (SKIP_TCP); with data it starts a flow, and of a known flow it ends one: the pipeline's."""
    from poolsniff.dissect.flows import FlowTable
    from poolsniff.engine.decode import Decoder

    segment = tcp(payload, flags=flags)
    frame = eth(ipv6(segment), 0x86DD) if v6 else eth(ipv4(segment))
    record = pcap_record(1_700_000_000_000_000, frame)
    walks = [walk.skip] + ([c_skip] if c_skip is not None else [])
    for skip in walks:
        assert skip(record, 0, len(record), False, 1, 262144, {}, 7, 1 << 62) == (
            (len(record), 6, 0) if not payload else (0, 7, 0)
        )
    table = FlowTable()
    packet = Decoder().decode(1_700_000_000_000_000, 1, frame)
    assert packet is not None
    events = table.process(packet)
    assert (events == [] and not table.flows and not table.counters) == (not payload)  # counted: nothing else
    flow = Flow(FlowKey("a", 1, "b", 2, 6), None, None, (b"", b""), 0)
    fast = {raw_key(packet.src, packet.dst, packet.sport, packet.dport): (flow, False, bytearray(16))}
    for skip in walks:  # of a known flow, even a closed direction's: the pipeline ends the flow
        assert skip(record, 0, len(record), False, 1, 262144, fast, 7, 1 << 62) == (0, 7, 0)
        fast = {k: (f, True, t) for k, (f, _, t) in fast.items()}


@pytest.mark.parametrize("more", [0, 1, 3, 4, 5])
def test_both_pcapng_walks_refuse_a_block_that_does_not_hold_its_frame(more: int) -> None:
    """An enhanced packet block whose captured length runs past its body is left to the reader."""
    frame = UDP4 + b"\0" * (-len(UDP4) % 4)  # no padding: the body ends where the frame does
    epb = block(6, struct.pack("<IIIII", 0, 0, 1000, len(frame) + more, len(frame)) + frame)
    ifaces = [(1, 1, 1, 0, 0)]
    want = (len(epb), 7, 1, 1000, len(frame)) if more == 0 else (0, 7, 0, 5, 0)
    walks = [walk.skip_ng] + ([c_skip_ng] if c_skip_ng is not None else [])
    for skip in walks:
        assert skip(epb, 0, len(epb), False, ifaces, {}, 7, 1 << 62, 5) == want


def step_all_ng(
    step: Any, buf: bytes, end: int, big_endian: bool, ifaces: list[Any], *args: Any, tail: Tail = ()
) -> list[Any]:
    """What ``step_ng`` hands back, block after block (stepping over a block it declines), to the end
    (``tail``: the optional arguments)."""
    out = []
    pos = 0
    last_ts = 5
    order = ">" if big_endian else "<"
    while True:
        pos, budget, others, last_ts, size, got = step(
            buf, pos, end, big_endian, ifaces, *args, last_ts, Packet, *tail
        )
        if got is not None:
            ts, caplen, linktype, packet = got
            name = type(packet).__name__
            got = (ts, caplen, linktype, name, tuple(packet) if isinstance(packet, Packet) else packet)
        out.append((pos, budget, others, last_ts, size, got))
        if got is None:
            if end - pos < 12:
                return out
            blen = struct.unpack_from(order + "I", buf, pos + 4)[0]
            if blen < 12:
                return out
            pos += blen
            if pos > end:
                return out


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=800, deadline=None)
@given(case=ng_cases(), hooked=st.integers(0, 7))
def test_c_pcapng_step_does_what_the_python_step_does(
    case: tuple[bytes, int, bool, list[Any], Fast, int, int], hooked: int
) -> None:
    buf, end, big_endian, ifaces, fast, budget, next_check = case
    stamps = []
    results = []
    for step, table in ways(walk.step_ng, c_step_ng, fast):
        for flow, _, counts, *_ in fast.values():
            flow.last_ts = -1
            flow.fins = 0
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        tail = calls.tail(hooked)
        results.append(step_all_ng(step, buf, end, big_endian, ifaces, table, budget, next_check, tail=tail))
        state = [(flow.last_ts, bytes(counts)) for flow, _, counts, *_ in fast.values()]
        stamps.append(state + forwarded(fast) + calls.seen())
    assert results[0] == results[1] == results[2] and stamps[0] == stamps[1] == stamps[2]


@given(sport=st.integers(0, 65535), dport=st.integers(0, 65535), payload=st.binary(max_size=64))
def test_the_udp_the_walks_skip_is_udp_the_flow_table_drops(sport: int, dport: int, payload: bytes) -> None:
    """If the flow table ever reads UDP other than DNS (QUIC, a tunnel), ``udp.udp_skip`` and
    ``udp_skip`` in _walk.c must learn it first: this fails as soon as it does."""
    from poolsniff.dissect.flows import FlowTable
    from poolsniff.engine.decode import Decoder

    frame = eth(ipv4(udp(payload, sport, dport), proto=17))
    table = FlowTable()
    packet = Decoder().decode(1_700_000_000_000_000, 1, frame)
    assert packet is not None
    skipped = udp_skip(frame, 0, len(frame), None)
    assert skipped == (sport != 53 and dport != 53)
    events = table.process(packet)
    if skipped:
        assert events == [] and not table.flows and not table.fast and table.since_sweep == 0
        assert not table.counters


# --------------------------------------------------------------------------- TLS record shapes

SHAPE_START = 1_700_000_000_000_000
"""The ClientHello's time in the shaped cases."""
GAPS_US = [0, 1000, 1_000_000, 30_000_000, 61_000_000, 1_800_000_001]
"""Time between two segments: at once, a millisecond, a second, half a minute, past a snapshot's age
(60 s), past the shaping's end (30 min)."""


def tls_stream(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A direction's bytes after the hello: TLS records of drawn types and lengths, now and then not
    TLS (a bad type, version or length), a large one (bulk); and where each header starts."""
    out = bytearray()
    heads = []
    for _ in range(draw(st.integers(0, 12))):
        heads.append(len(out))
        ctype = draw(st.sampled_from([23] * 8 + [22, 20, 21, 24, 25, 0x47]))
        major = draw(st.sampled_from([3] * 15 + [2]))
        length = draw(
            st.sampled_from([0, 1, 4, 5, 30, 80, 228, 300, 1400] * 3 + [4096, 4097, 8192, 8193, 18432, 18433])
        )
        out += bytes([ctype, major, 3]) + length.to_bytes(2, "big") + bytes(min(length, 5000))
    return bytes(out), heads


def shaped_segments(draw: st.DrawFn, stream: bytes, heads: list[int]) -> list[tuple[int, bytes]]:
    """``stream`` cut into segments (often inside a header), some sent again (whole or overlapping
    the next), some lost: ``(offset in the stream, bytes)`` in the order they are sent."""
    near = [h + k for h in heads for k in range(6) if 0 < h + k < len(stream)]
    cuts = draw(st.lists(st.sampled_from(near) if near else st.just(0), max_size=10))
    if stream and draw(st.booleans()):
        cuts += draw(st.lists(st.integers(1, len(stream)), max_size=3))
    bounds = sorted({0, len(stream), *(c for c in cuts if 0 < c < len(stream))})
    pieces = [(a, stream[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    out: list[tuple[int, bytes]] = []
    for i, (at, data) in enumerate(pieces):
        what = draw(st.sampled_from(["send"] * 10 + ["again", "overlap", "lose"]))
        if what == "lose":
            continue
        out.append((at, data))
        if what == "again":
            out.append((at, data))
        elif what == "overlap" and i + 1 < len(pieces):
            back = draw(st.integers(1, len(data)))
            out.append((at + len(data) - back, stream[at + len(data) - back : pieces[i + 1][0] + 3]))
    return out


def shaped_frame(kind: str, client: bool, seq: int, data: bytes) -> tuple[bytes, bytes]:
    """The frame of a segment of the shaped flow 10.0.0.1:40000 <-> 10.0.0.2:443; its ``fast`` key."""
    ports = (40000, 443) if client else (443, 40000)
    segment = tcp(data, *ports, seq & 0xFFFFFFFF, 0x18)
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    src, dst = (a, b) if client else (b, a)
    if kind == "v6":
        src6, dst6 = b"\xfd" + bytes(11) + src, b"\xfd" + bytes(11) + dst
        ip = ipv6(segment, src=src6, dst=dst6)
        return eth(ip, etype=0x86DD), ip[8:40] + segment[:4]
    ip = ipv4(segment, src=src, dst=dst)
    return eth(ip, tags=(0x8100,) if kind == "vlan" else ()), ip[12:20] + segment[:4]


Shaped = tuple[bytes, list[tuple[int, bool, int, bytes] | None], dict[str, Any]]


@st.composite
def shaped_cases(draw: st.DrawFn) -> Shaped:
    """Records of the two directions of a TLS session being shaped (``dissect/shape``), interleaved,
    with bare ACKs; the shape's state as drawn (records already read, reported, done, open, which
    sides' next bytes are known and where) and which directions the ``fast`` map lets the walk read."""
    kind = draw(st.sampled_from(["v4", "v4", "vlan", "v6"]))
    sides = []
    for client in (True, False):
        stream, heads = tls_stream(draw)
        base = draw(st.sampled_from([1000, 0xFFFFFFF0, 0x7FFFFFFF]))
        sides.append((client, base, shaped_segments(draw, stream, heads)))
    order = draw(st.lists(st.booleans(), max_size=60))
    queues = {client: list(segments) for client, _, segments in sides}
    base = {client: b for client, b, _ in sides}
    records = []
    segments: list[tuple[int, bool, int, bytes] | None] = []
    ts = SHAPE_START + draw(st.sampled_from([0, 1000, 59_000_000, 1_799_000_000]))
    for client in order + [True] * len(queues[True]) + [False] * len(queues[False]):
        if not queues[client]:
            continue
        at, data = queues[client].pop(0)
        ts += draw(st.sampled_from(GAPS_US))
        frame, _ = shaped_frame(kind, client, base[client] + at, data)
        if draw(st.integers(0, 5)) == 0:  # a bare ACK from the other side
            ack, _ = shaped_frame(kind, not client, base[not client], b"")
            records.append(pcap_record(ts, ack))
            segments.append(None)
        records.append(pcap_record(ts, frame))
        segments.append((ts, client, (base[client] + at) & 0xFFFFFFFF, data))
    known = {
        c: draw(st.sampled_from([base[c]] * 6 + [None, base[c] + 1, base[c] - 3])) for c in (True, False)
    }
    setup = {
        "kind": kind,
        "known": known,
        "count": draw(st.sampled_from([0, 0, 0, 2, 15, 16, 94, 95])),
        "reported": draw(st.sampled_from([0, 1, 2, 3])),  # records read since the last snapshot
        "done": draw(st.integers(0, 9)) == 0,
        "open": draw(st.integers(0, 9)) != 0,
        "lanes": draw(st.sampled_from([(True, False), (True, True), (True, True), (False, True)])),
    }
    return b"".join(records), segments, setup


def shaped_walk(skip: Any, case: Shaped, budget: int) -> list[Any]:
    """Walk ``case`` with ``skip``; feed each record it stops at to the shape as the pipeline would
    (``RecordShape.feed``, while the shape is active). Returns where it stopped and what it fed,
    the shape's state and records, and each direction's stamp and tally."""
    from poolsniff.dissect.shape import STATE, RecordShape
    from poolsniff.model import TlsClientHello

    buf, segments, setup = case
    hello = TlsClientHello(SHAPE_START, None, True, None, "TLS 1.3")  # type: ignore[arg-type]
    known = setup["known"]
    shape = RecordShape(hello, known[True], known[False])
    count = min(setup["count"], 95)
    reported = max(0, count - setup["reported"])
    STATE.pack_into(shape.state, 0, SHAPE_START, count, reported, setup["done"], setup["open"])
    fast: dict[bytes, Any] = {}
    flows = {}
    for client in (True, False):
        _, key = shaped_frame(setup["kind"], client, 0, b"")
        flows[client] = Stamped()
        lane = (shape.state, shape.records, client) if setup["lanes"][not client] else ()
        fast[key] = (flows[client], False, bytearray(16), *lane)
    out: list[Any] = []
    pos = 0
    index = {}
    at = 0
    for i in range(len(segments)):
        index[at] = i
        at += 16 + struct.unpack_from("<I", buf, at + 8)[0]
    while True:
        stop = skip(buf, pos, len(buf), False, 1, 262144, fast, budget, 1 << 62)
        out.append(stop)
        pos = stop[0]
        if len(buf) - pos < 16:
            break
        segment = segments[index[pos]]
        if segment is not None and shape.active():
            ts, client, seq, data = segment
            got = shape.feed(client, ts, seq, data)
            out.append(None if got is None else (got.ts_us, got.records))
        pos += 16 + struct.unpack_from("<I", buf, pos + 8)[0]
    stamps = [
        (flow.last_ts, bytes(entry[2])) for flow, entry in zip(flows.values(), fast.values(), strict=True)
    ]
    return [out, bytes(shape.state), bytes(shape.records), stamps]


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
@settings(max_examples=1500, deadline=None)
@given(case=shaped_cases(), budget=st.sampled_from([1000, 1000, 3]))
def test_c_walk_reads_tls_record_shapes_as_the_python_walk_does(case: Shaped, budget: int) -> None:
    """Segments of a shaped TLS session: in order, cut inside headers, sent again, overlapping, lost,
    over time limits, past the record limit, bulk, not TLS: the C walk advances the shape exactly
    where and as the Python one does (``shape.quiet``), and leaves the rest to ``RecordShape.feed``."""
    assert shaped_walk(walk.skip, case, budget) == shaped_walk(c_skip, case, budget)


def test_the_walks_read_a_quiet_shaped_segment_and_leave_a_snapshot_to_the_pipeline() -> None:
    """A record that completes nothing is read by the walk; one whose snapshot is due is not."""
    record = bytes([23, 3, 3, 0, 40]) + bytes(40)
    segments = [(SHAPE_START + 1000, True, 1000, record), (SHAPE_START + 61_000_000, False, 5000, record)]
    buf = b"".join(pcap_record(ts, shaped_frame("v4", c, seq, d)[0]) for ts, c, seq, d in segments)
    setup = {"kind": "v4", "known": {True: 1000, False: 5000}, "count": 1, "reported": 1, "done": False,
             "open": True, "lanes": (True, True)}  # fmt: skip
    walks = [walk.skip] + ([c_skip] if c_skip is not None else [])
    for skip in walks:
        stops, _, records, _ = shaped_walk(skip, (buf, [*segments], setup), 100)
        first = len(buf) // 2
        assert stops[0] == (first, 99, 0)  # the client's record: read by the walk
        assert stops[1] == (SHAPE_START + 61_000_000, records)  # the server's: a snapshot, by the pipeline
        assert len(records) == 16


try:
    from poolsniff.engine.fast._walk import decide as c_decide
except ImportError:  # not built here
    c_decide = None


@st.composite
def live_cases(draw: st.DrawFn) -> tuple[bytes, Fast, int, int]:
    """One frame as a live capture reads it (of a link type: ``tcpdump -i any``'s, a tunnel's), and a fast
    map that may hold its direction."""
    frame, key = draw_frame(draw)
    fast = {key: fast_entry(draw)} if key is not None and draw(st.integers(0, 3)) else {}
    _, data, _, _ = walk.lookup(lambda k: None, frame, 0, len(frame))
    if key is not None and data > 0 and draw(st.booleans()):  # a range ending right at, before or after it
        first = draw(st.sampled_from([5, 4, 6]))
        fast[key] = (Stamped(), False, bytearray(16), first, 5 - first + data + draw(st.integers(-1, 1)))
    linktype = draw(st.sampled_from(LINKTYPES))
    return relinked(frame, linktype), fast, draw(st.integers(0, 1 << 62)), linktype


@pytest.mark.skipif(c_decide is None, reason=NOT_BUILT)
@settings(max_examples=1000, deadline=None)
@given(case=live_cases(), hooked=st.booleans())
def test_c_decide_does_what_the_python_decide_does(case: tuple[bytes, Fast, int, int], hooked: bool) -> None:
    """``_walk.decide`` (a live frame, in ``Tracker.feed_live``) against ``walk.decide_frame``: the same
    answer, the same stamp and tally."""
    frame, fast, ts, linktype = case
    results = []
    for decide, table in ways(walk.decide_frame, c_decide, fast):
        for flow, _, counts, *_ in fast.values():
            flow.last_ts = -1
            flow.fins = 0
            counts[:] = bytes(16)
        forwarded(fast, clear=True)
        calls = Calls()
        tail = calls.tail(hooked)
        if linktype != 1:
            tail = (None, *((calls.syn, calls.end) if hooked else (None, None)), linktype)
        answer = decide(table, frame, ts, *tail)
        state = [(flow.last_ts, bytes(counts)) for flow, _, counts, *_ in fast.values()]
        results.append((answer, state + forwarded(fast) + calls.made))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("use_c", [False, True])
def test_a_syn_ack_and_an_rst_through_the_hooks_leave_the_table_as_process_does(use_c: bool) -> None:
    """A SYN, then the SYN-ACK and an RST without data of its flow: one table processes all three, the
    other only the SYN, the walk handing it the other two through its hooks (``on_end``: ``end_seen``, as
    the split's front has it). The server's side starts at the same sequence number, the flow ends with
    the same counts, time and fins, and the recorded end is the same."""
    from poolsniff.dissect.flows import FlowTable
    from poolsniff.engine.split.recorder import SHADOW, Recorder

    if use_c and c_skip is None:
        pytest.skip(NOT_BUILT)
    skip = c_skip if use_c else walk.skip
    syn, syn_ack = tcp(b"", 40000, 443, 100, 0x02), tcp(b"", 443, 40000, 900, 0x12)
    rst = tcp(b"", 40000, 443, 101, 0x14)
    ip_c = ipv4(syn)
    frames = [eth(ip_c), eth(ipv4(syn_ack, src=ip_c[16:20], dst=ip_c[12:16])), eth(ipv4(rst))]
    decoded = [Decoder().decode(1_700_000_000_000_000 + i, 1, f) for i, f in enumerate(frames)]
    tables = []
    for hooked in (False, True):
        table = FlowTable(dissector=Recorder())
        table.on_end = table.end_seen
        for i, (frame, packet) in enumerate(zip(frames, decoded, strict=True)):
            assert packet is not None
            record = pcap_record(1_700_000_000_000_000 + i, frame)
            if hooked and i:
                assert skip(record, 0, len(record), False, 1, 262144, table.fast, 9, 1 << 62, None,
                            table.on_syn, table.on_end) == (len(record), 8, 0)  # fmt: skip
            else:
                table.process(packet, len(frame))
            if i == 1:
                assert isinstance(table.dissector, Recorder)
                shadow = next(iter(table.dissector.shadows.values()))
                assert shadow == (None, SHADOW, True, 900)  # the SYN-ACK kept for the server's first segment
        assert not table.flows and not table.fast
        tables.append(table.dissector.items)
    assert tables[0] == tables[1]
    assert [item[0] for item in tables[0]] == [0, 1, 3]  # START (with its SYN), the SYN-ACK, END
    assert tables[0][0][7] == 100 and tables[0][1][2:] == (False, 900)


# --------------------------------------------------------------------------- arguments


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
def test_the_c_walk_refuses_bad_arguments_as_the_format_says() -> None:
    """The walks read their arguments by position with their own parser (``fast_args``): the wrong number
    of them, or an argument of the wrong type, is a TypeError naming the function, not a crash."""
    assert c_skip is not None and c_step is not None
    good: list[Any] = [b"", 0, 0, False, 1, 65535, {}, 0, 0]
    assert c_skip(*good) == (0, 0, 0)
    for bad in (good[:8], [*good, None, None, None, None, None, 1, None]):
        with pytest.raises(TypeError, match=r"skip\(\) takes 9 to 15 arguments"):
            c_skip(*bad)
    for at, value in ((0, "text"), (1, "0"), (5, 1.5), (6, []), (8, None)):
        with pytest.raises(TypeError):
            c_skip(*good[:at], value, *good[at + 1 :])
    with pytest.raises(TypeError, match=r"fast must be a dict or a KeyMap, not list"):
        c_step(*good[:6], [], *good[7:], Packet)
    assert c_skip(*good[:6], KeyMap(), *good[7:]) == (0, 0, 0)
    with pytest.raises(OverflowError):
        c_skip(b"", 1 << 70, *good[2:])


@pytest.mark.skipif(c_skip is None, reason=NOT_BUILT)
def test_a_refused_call_lets_go_of_the_buffer_it_took() -> None:
    """The buffer is taken first; a later argument that is refused releases it (a bytearray that is still
    exported cannot change size)."""
    assert c_skip is not None
    buf = bytearray(64)
    with pytest.raises(TypeError):
        c_skip(buf, 0, 64, False, 1, 65535, "not a dict", 0, 0)
    buf.extend(b"more")  # BufferError here if the failed call kept its view
    assert len(buf) == 68
