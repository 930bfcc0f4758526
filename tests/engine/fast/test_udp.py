"""The UDP the prefilter counts itself: ``engine/fast/udp.py``, the reference, and its C twin (``_walk.c``).

A DNS query ``dns_quiet`` finds quiet must be one the pipeline makes nothing of (no detection, no
count, nothing learnt); a query for a listed name, or a name under one, is never quiet; and the
C walk decides every frame as the reference does.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.dissect import dns
from poolsniff.engine.fast import walk
from poolsniff.engine.fast.udp import dns_quiet, udp_skip
from poolsniff.engine.pipeline import Pipeline
from poolsniff.intel.lists import Blocklist
from tests.factories import dns_query, dns_response
from tests.factories_frames import eth, ipv4, ipv6, udp

try:
    from poolsniff.engine.fast._walk import decide as c_decide
except ImportError:  # pragma: no cover - depends on the build
    c_decide = None

TS = 1_700_000_000_000_000


def listed() -> Blocklist:
    """Two pool names, as a list file gives them."""
    bl = Blocklist()
    bl.add_lines(["supportxmr.com maltrail", "eth.pp.ua curated"], "test", "pool")
    return bl


NAMES = listed().wire_names()
LABELS = [
    b"supportxmr",
    b"SupportXMR",
    b"com",
    b"eth",
    b"pp",
    b"ua",
    b"www",
    b"x-y",
    b"a_b",
    b"xn--bcher-kva",
]


@st.composite
def dns_messages(draw: st.DrawFn) -> bytes:
    """DNS messages near the quiet ones: queries and answers, one question or not, names of listed
    and other labels, odd bytes, long labels, compression pointers, the type and class cut off."""
    flags = draw(st.sampled_from([0x0100, 0x0000, 0x0100, 0x8180, 0x8000, 0x0900]))
    counts = draw(st.sampled_from([(1, 0)] * 6 + [(0, 0), (2, 0), (1, 1), (1, 2)]))
    header = struct.pack(
        ">HHHHHH", draw(st.integers(0, 65535)), flags, *counts, 0, draw(st.sampled_from([0, 1]))
    )
    labels = draw(
        st.lists(
            st.sampled_from(LABELS) | st.binary(min_size=1, max_size=70) | st.just(b"a" * 63), max_size=6
        )
    )
    wire = b"".join(bytes([min(len(label), 255)]) + label for label in labels)
    wire += draw(st.sampled_from([b"\x00"] * 6 + [b"\xc0\x0c", b""]))
    tail = draw(
        st.sampled_from([b"\x00\x01\x00\x01", b"\x00\x1c\x00\x01\x00\x00\x29\x10\x00", b"\x00\x01", b""])
    )
    message = header + wire + tail
    return message[: draw(st.sampled_from([len(message)] * 4 + list(range(len(message)))))]


def frame_of(message: bytes, v6: bool = False, sport: int = 40000, dport: int = 53) -> bytes:
    """The message in a UDP datagram in an Ethernet frame."""
    datagram = udp(message, sport, dport)
    return eth(ipv6(datagram, nxt=17), 0x86DD) if v6 else eth(ipv4(datagram, proto=17))


def nothing_made_of(frame: bytes) -> bool:
    """Whether a pipeline over the listed names makes nothing of ``frame``: no detection (then or at
    the end), no count, nothing learnt."""
    pipe = Pipeline(listed())
    released = pipe.feed((TS, 1, frame)) + pipe.finish()
    return not released and not pipe.flows.counters and not pipe.decoder.skipped and len(pipe.memory) == 0


@settings(max_examples=400)
@given(message=dns_messages(), v6=st.booleans(), to_server=st.booleans())
def test_a_quiet_query_is_one_the_pipeline_makes_nothing_of(
    message: bytes, v6: bool, to_server: bool
) -> None:
    """Whatever the message, when the reference calls it quiet the pipeline makes nothing of it, it
    parses (no ``dns-malformed``), and the C walk decides its frame as the reference does."""
    frame = frame_of(message, v6, *((40000, 53) if to_server else (53, 53)))
    quiet = dns_quiet(message, NAMES)
    assert udp_skip(frame, 0, len(frame), NAMES) == quiet
    want = walk.SKIP_UDP if quiet else walk.FEED
    assert walk.decide_frame({}, frame, TS, NAMES) == want
    if c_decide is not None:
        assert c_decide({}, frame, TS, NAMES) == want
        assert c_decide({}, frame, TS, frozenset(NAMES)) == want
        assert (
            c_decide({}, frame, TS) == c_decide({}, frame, TS, None) == walk.FEED
        )  # no names: every DNS datagram
    if quiet:
        assert dns.parse_dns(message) is not None
        assert nothing_made_of(frame)


@pytest.mark.parametrize(
    ("name", "quiet", "alerts"),
    [
        ("www.example.org", True, False),
        ("supportxmr.com.example.org", True, False),  # a listed name inside, not at the end: no match
        ("xsupportxmr.com", True, False),  # not at a label boundary
        ("supportxmr.com", False, True),
        ("SupportXMR.COM", False, True),  # case does not hide a name
        ("pool.supportxmr.com", False, True),  # under a listed name
        ("a.b.eth.pp.ua", False, True),
        ("ua", True, False),
        ("münchen.de", False, False),  # not plain labels: the pipeline's to read
        ("a b.example", False, False),
    ],
)
def test_queries_for_listed_names_are_never_quiet(name: str, quiet: bool, alerts: bool) -> None:
    """A query for a listed name or a name under one reaches the pipeline (and alerts there); the
    others are quiet unless their name is anything but plain labels."""
    message = _query(name)
    assert dns_quiet(message, NAMES) == quiet
    frame = frame_of(message)
    assert nothing_made_of(frame) != alerts
    if c_decide is not None:
        assert (c_decide({}, frame, TS, NAMES) == walk.SKIP_UDP) == quiet


def _query(name: str) -> bytes:
    """A query for ``name``, whose labels may hold any UTF-8."""
    labels = [label.encode() for label in name.split(".")]
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + wire + b"\x00\x01\x00\x01"


def test_answers_and_other_shapes_are_never_quiet() -> None:
    """A response (the DNS memory learns from it), a query with an answer or two questions, a
    query cut short, or a root query go to the pipeline."""
    answer = dns_response("www.example.org", [(1, bytes([10, 0, 0, 9]), 300)])
    assert not dns_quiet(answer, NAMES)
    assert not dns_quiet(dns_response("www.example.org"), NAMES)
    query = dns_query("www.example.org")
    assert dns_quiet(query, NAMES)
    assert not dns_quiet(query[:-1], NAMES)
    assert not dns_quiet(query[:4] + b"\x00\x02" + query[6:], NAMES)
    assert not dns_quiet(query[:6] + b"\x00\x01" + query[8:], NAMES)
    assert not dns_quiet(struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01", NAMES)


def test_the_listed_names_grow_with_the_list() -> None:
    """``wire_names`` is the list's own set: a name added later is in it (a pipeline built before the
    list grew still reads queries for it); a copy and a list rebuilt from its state have the same."""
    bl = listed()
    names = bl.wire_names()
    assert names == {b"supportxmr.com", b"eth.pp.ua"}
    bl.add_lines(["pool.example.net maltrail"], "more", "pool")
    assert b"pool.example.net" in names
    bl.add_allow_lines(["allowed.example.org"], "allow")
    assert b"allowed.example.org" not in names  # allowed names never match: their queries may be quiet
    assert bl.copy().wire_names() == names == Blocklist.from_state(bl.state()).wire_names()
    assert not dns_quiet(dns_query("x.pool.example.net"), names)


def test_the_walks_refuse_names_that_are_not_a_set() -> None:
    """The C walk checks what it is given (a list would be searched wrongly, or not at all)."""
    if c_decide is None:
        pytest.skip("the C walk is not built here")
    with pytest.raises(TypeError):
        c_decide({}, frame_of(dns_query("www.example.org")), TS, [b"example.org"])
