"""engine.fast._hello.h (through ``_walk``): the hellos after which the split's back reads no more.

``web_hello`` in C answers as its Python reference ``hellos.web_hello`` on drawn ClientHellos (odd
lengths, odd extensions, cut, spread over records, bytes changed at random) and on the real ones of the
captures here, changed too; where it says yes, one process's table closes the client's direction at that
very segment (so the split's front may close it too). ``hellos.offered_alpns`` is what ``client_hello``
reads. A server waiting for its ServerHello is forwarded until it comes, C and Python alike, and the
ServerHello check is held to the server's direction.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.dissect import flows, hellos, tls
from poolsniff.dissect.flow import HELLO_DUE, HELLO_OFF, HELLO_READ, Flow
from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.streams import Direction
from poolsniff.engine.fast import walk
from poolsniff.model import FlowKey, Packet, TlsClientHello
from poolsniff.sources.pcap import expand_paths
from tests import factories
from tests.factories_frames import eth, ipv4, tcp

from ...conftest import PCAPS
from ..split.conftest import packets

try:
    from poolsniff.engine.fast._walk import web_hello as c_web_hello
except ImportError:  # not built here (no compiler): the tests that need it skip
    c_web_hello = None
NOT_BUILT = "the C record walk (poolsniff/engine/fast/_walk.c) is not built here"

KEY = FlowKey("10.0.0.1", 40000, "10.0.0.2", 443, 6)
CLIENT, SERVER = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
PROTOCOLS = [
    b"h2",
    b"http/1.1",
    b"h3",
    b"h2c",
    b"http/1.0",
    b"spdy/3.1",
    b"xmrig",
    b"h2\x00",
    b"H2",
    b"",
    b"http/1.",
]


def vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def ext(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + vec(data, 2)


@st.composite
def client_hellos(draw: st.DrawFn) -> bytes:
    """A ClientHello's first bytes: its parts well formed or not, in one record or several, cut or changed."""
    exts = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["alpn", "alpn", "alpn", "sni", "versions", "other", "raw"]))
        if kind == "alpn":
            names = b"".join(vec(p, 1) for p in draw(st.lists(st.sampled_from(PROTOCOLS), max_size=4)))
            exts.append(ext(16, vec(names, 2) + draw(st.sampled_from([b"", b"", b"", b"\x05"]))))
        elif kind == "sni":
            entries = b"".join(
                bytes([draw(st.sampled_from([0, 0, 1]))]) + vec(draw(st.sampled_from([b"", b"a.example"])), 2)
                for _ in range(draw(st.integers(0, 3)))
            )
            exts.append(
                ext(0, draw(st.sampled_from([vec(entries, 2)] * 4 + [vec(entries, 2)[:-1], b"", b"\x00"])))
            )
        elif kind == "versions":
            versions = draw(st.sampled_from([b"\x03\x04\x03\x03", b"\x03\x04\x0a", b"", b"\x1a\x1a"]))
            exts.append(ext(43, draw(st.sampled_from([vec(versions, 1)] * 3 + [b"", b"\x09\x03\x04"]))))
        elif kind == "other":
            exts.append(ext(draw(st.sampled_from([10, 13, 0xFF01, 0x0A0A])), draw(st.binary(max_size=6))))
        elif not draw(st.integers(0, 3)):
            exts.append(draw(st.binary(max_size=6)))
    body = draw(st.sampled_from([b"\x03\x03", b"\x03\x01"])) + bytes(32)
    body += vec(bytes(draw(st.sampled_from([0, 32, 32, 33]))), 1)
    body += vec(draw(st.sampled_from([b"\x13\x01", b"\xc0\x2f\x13\x01"] * 2 + [b"\x13\x01\x13", b""])), 2)
    body += vec(b"\x00", 1)
    if draw(st.integers(0, 5)):
        body += vec(b"".join(exts), 2)
    body += draw(st.sampled_from([b"", b"", b"\x00"]))
    message = bytes([draw(st.sampled_from([1] * 6 + [2]))]) + len(body).to_bytes(3, "big") + body
    size = draw(st.sampled_from([1 << 14] * 4 + [40, len(message) - 1 or 1]))
    out = b"".join(
        b"\x16\x03" + bytes([draw(st.sampled_from([1, 1, 3, 4, 5]))]) + vec(message[i : i + size], 2)
        for i in range(0, len(message), size)
    )
    for _ in range(draw(st.sampled_from([0] * 6 + [1, 2]))):
        at = draw(st.integers(0, len(out) - 1))
        out = out[:at] + bytes([draw(st.integers(0, 255))]) + out[at + 1 :]
    cut = draw(st.sampled_from([None] * 6 + [draw(st.integers(0, len(out)))]))
    return out if cut is None else out[:cut]


def closed_at_once(first: bytes) -> bool:
    """Whether one process's table (the back's dissector) closes a client's direction at its first segment
    ``first``, sent at its initial sequence number + 1 after the handshake."""
    table = FlowTable()
    table.process(Packet(1, CLIENT, SERVER, 6, 40000, 443, flows.SYN, 1000, b""))
    table.process(Packet(2, SERVER, CLIENT, 6, 443, 40000, flows.SYN | flows.ACK, 5000, b""))
    table.process(Packet(3, CLIENT, SERVER, 6, 40000, 443, flows.ACK, 1001, first))
    flow = next(iter(table.flows.values()))
    return bool(flow.closed & 1)


@pytest.mark.skipif(c_web_hello is None, reason=NOT_BUILT)
@settings(max_examples=2000, deadline=None)
@given(first=client_hellos())
def test_web_hello_in_c_answers_as_its_python_reference(first: bytes) -> None:
    assert c_web_hello(first) is hellos.web_hello(first)


@settings(max_examples=500, deadline=None)
@given(first=client_hellos())
def test_a_web_hello_is_one_after_which_the_back_reads_nothing_more_of_the_client(first: bytes) -> None:
    """Where ``web_hello`` says yes, the back's direction ignores the client from that segment on and no
    record shape is read: one process's table closes the direction there and then."""
    if hellos.web_hello(first):
        assert closed_at_once(first)


@settings(max_examples=500, deadline=None)
@given(first=client_hellos())
def test_the_alpns_offered_are_those_of_the_hello_event(first: bytes) -> None:
    event = hellos.client_hello(0, KEY, first)
    assert hellos.offered_alpns(first) == (event.alpns if type(event) is TlsClientHello else None)


@pytest.mark.parametrize(
    ("first", "web"),
    [
        (factories.client_hello("a.example", alpn=("h2", "http/1.1")), True),
        (factories.client_hello("a.example", alpn=("http/1.1",)), True),
        (factories.client_hello("a.example", alpn=("xmrig",)), False),  # shaped by the back
        (factories.client_hello("a.example"), False),  # no ALPN: shaped
        (factories.client_hello("a.example", record_size=40, alpn=("h2",)), False),  # two records
        (factories.client_hello("a.example", alpn=("h2",))[:-1], False),  # not whole yet
    ],
    ids=["h2", "http1.1", "other-alpn", "no-alpn", "records", "cut"],
)
def test_web_hello_examples(first: bytes, web: bool) -> None:
    assert hellos.web_hello(first) is web
    if c_web_hello is not None:
        assert c_web_hello(first) is web
    assert closed_at_once(first) or not web


CAPTURES = [str(p) for p in expand_paths([str(PCAPS), str(PCAPS.parent / "tests" / "data")])]


@functools.cache
def real_firsts() -> list[bytes]:
    """Every client's first TLS bytes in the captures here (the demo's, the recordings of XMRig and of
    Chromium, the lookalikes), servers' too."""
    firsts: dict[tuple[str, int, str, int], bytes] = {}
    for path in CAPTURES:
        for p in packets(Path(path)):
            if p.proto == 6 and p.payload and tls.looks_like_tls(p.payload):
                firsts.setdefault((str(p.src), p.sport, str(p.dst), p.dport), p.payload)
    return list(firsts.values())


def test_web_hello_on_the_real_hellos_here() -> None:
    """The same answer both ways, and some of them are web sessions', some not."""
    answers = [hellos.web_hello(first) for first in real_firsts()]
    if c_web_hello is not None:
        assert [c_web_hello(first) for first in real_firsts()] == answers
    assert any(answers) and not all(answers), (sum(answers), len(answers))


@settings(max_examples=1000, deadline=None)
@given(
    pick=st.integers(0, 1 << 20),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 1 << 20)),
)
def test_web_hello_on_real_hellos_changed(pick: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    """A real hello with a few bytes changed (a length, a type, a protocol's name) or cut: C answers as
    Python, and a yes is one where the back's direction is done with the client."""
    firsts = real_firsts()
    first = bytearray(firsts[pick % len(firsts)])
    for at, value in edits:
        first[at % len(first)] = value
    changed = bytes(first if cut is None else first[: cut % (len(first) + 1)])
    web = hellos.web_hello(changed)
    if c_web_hello is not None:
        assert c_web_hello(changed) is web
    if web:
        assert closed_at_once(changed)


@pytest.mark.parametrize("cut", [0, 1, 9, 20, -1, None])
def test_a_whole_server_hello_is_all_a_servers_direction_reads(cut: int | None) -> None:
    """``tls.holds_server_hello``: the server's direction, given those bytes at its first sequence number,
    is done with them (it ignores what follows); short of the whole hello it waits for more."""
    first = factories.server_hello() + b"\x14\x03\x03\x00\x01\x01"
    first = first if cut is None else first[:cut]
    direction = Direction(KEY, False, True, False)
    direction.syn(5000)
    direction.segment(1, 5001, first)
    assert tls.holds_server_hello(first) is direction.ignored
    assert tls.holds_server_hello(first) is (cut is None or cut == -1)


SERVER_HELLO = factories.server_hello()
DUE = 5000


@st.composite
def server_segments(draw: st.DrawFn) -> list[tuple[bytes, int, int]]:
    """A server's segments after its SYN-ACK: (payload, sequence number, TCP flags)."""
    segments = []
    for _ in range(draw(st.integers(1, 5))):
        payload = draw(
            st.sampled_from(
                [SERVER_HELLO, SERVER_HELLO, SERVER_HELLO + b"\x17\x03\x03", SERVER_HELLO[:-1], b"x"]
            )
        )
        seq = draw(st.sampled_from([DUE + 1, DUE + 1, DUE + 2, DUE + 1 + len(SERVER_HELLO), DUE]))
        flags = draw(st.sampled_from([0x18, 0x18, 0x10, 0x11, 0x19, 0x04]))
        segments.append((draw(st.sampled_from([payload, payload, b""])), seq, flags))
    return segments


@given(segments=server_segments())
@settings(max_examples=500, deadline=None)
def test_a_server_waiting_for_its_hello_is_forwarded_until_it_comes(
    segments: list[tuple[bytes, int, int]],
) -> None:
    """A web session's server, its segments forwarded (``flow.Hello``): its first segment with data that the
    walk forwards settles the wait; if it starts at the first sequence number and holds the whole
    ServerHello, nothing after it is appended, else the direction is forwarded as any other. C and Python
    alike, over a dict and a ``KeyMap``."""
    frames = [eth(ipv4(tcp(p, 443, 40000, seq, flags))) for p, seq, flags in segments]
    key = frames[0][26:34] + frames[0][34:38]
    results = []
    ways = [(walk.decide_frame, dict)]
    if c_web_hello is not None:
        from poolsniff.engine.fast._walk import KeyMap
        from poolsniff.engine.fast._walk import decide as c_decide

        ways += [(c_decide, dict), (c_decide, KeyMap)]
    for decide, kind in ways:
        flow = Flow(KEY, None, None, (b"", key), 0)
        wait = bytearray((HELLO_DUE, *(DUE + 1).to_bytes(4, "big")))
        items: list[tuple[object, ...]] = []
        fast = kind({key: (flow, False, bytearray(16), (items, 2, 0, False, wait))})
        answers = [decide(fast, frame, i) for i, frame in enumerate(frames)]
        results.append((answers, items, bytes(wait), bytes(fast[key][2])))
    assert all(result == results[0] for result in results)
    answers, items, wait, _ = results[0]
    plain = [(p, seq) for p, seq, flags in segments if p and not flags & 0x07]  # what the walk may forward
    first = next(iter(plain), None)
    read = first is not None and first[1] == DUE + 1 and tls.holds_server_hello(first[0])
    assert wait[0] == (HELLO_READ if read else HELLO_OFF if first is not None else HELLO_DUE)
    forwarded = [(item[5], item[4]) for item in items]
    assert forwarded == (plain[:1] if read else plain)
