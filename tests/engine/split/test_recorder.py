"""engine.split.recorder: the front's shadow of each server closes nothing the back would not close.

The items themselves (the back replays exactly the events of one table, the walk forwards the same
items) are checked in test_parallel.py; here: what the shadow closes and hands out, when it steps aside,
and that a shadow made at the server's first segment is the one made at the flow's start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from poolsniff.dissect import flows
from poolsniff.dissect.flow import HELLO_DUE, HELLO_OFF
from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.streams import Direction
from poolsniff.engine.split import parallel, recorder
from poolsniff.intel.lists import Blocklist
from poolsniff.model import FlowKey, Packet
from tests.factories import client_hello, server_hello

from ...conftest import PCAPS
from .conftest import packets

TS = 1_700_000_000_000_000
CLIENT, SERVER = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
DATA = PCAPS.parent / "tests" / "data"
REAL = [
    p
    for p in sorted(PCAPS.glob("*.pcap*"))
    + sorted((DATA / "real-xmrig").glob("*.pcap"))
    + sorted((DATA / "lookalikes").glob("*.pcap"))
    if not p.name.endswith(".jsonl")
]
"""The demo's captures (tunnels among them) and the real recordings: XMRig's sessions (in the clear, in TLS,
through SOCKS and a shadowsocks relay) and the lookalikes (SSH, MQTT, Electrum, WebSocket, IMAPS)."""


class Session:
    """One TCP flow between CLIENT and SERVER (port ``port``) through a table with a recorder."""

    def __init__(self, port: int = 3333, forward: bool = False) -> None:
        self.recorder = recorder.Recorder()
        self.table = FlowTable(dissector=self.recorder)
        if forward:  # as the split's front: a flow with no shadow left is the prefilter's to forward
            self.recorder.fast = self.table.fast
        self.port = port

    def send(self, from_client: bool, flags: int, seq: int, payload: bytes = b"") -> None:
        ends = (CLIENT, SERVER, 40000, self.port) if from_client else (SERVER, CLIENT, self.port, 40000)
        self.table.process(Packet(TS, *ends[:2], 6, *ends[2:], flags, seq, payload))

    def entries(self) -> list[tuple[object, ...]]:
        """The ``fast`` entries of the flow's two directions, client's first."""
        flow = next(iter(self.table.flows.values()))
        return [self.table.fast[raw] for raw in flow.raw]


@pytest.mark.parametrize(
    "capture", ["mix", "short", *REAL], ids=["mix", "short", *(Path(p).name for p in REAL)]
)
def test_the_shadow_closes_only_what_the_back_closes(
    capture: str | Path, lists: Blocklist, request: pytest.FixtureRequest
) -> None:
    """Every direction the front marks closed (its shadow had nothing more to read) is one the back,
    replaying the items, says is closed too: the front never skips what the back would read. That holds
    for a tunnel's server too, whose reply is read only with the client's side in view (the shadow sees
    the server alone, and steps aside for it)."""
    path = request.getfixturevalue(capture) if capture in ("mix", "short") else Path(capture)
    rec = recorder.Recorder()
    front = FlowTable(dissector=rec)
    marked: set[tuple[int, bytes]] = set()
    for p in packets(path):
        front.process(p)
        flow = front.flows.get((p.src, p.sport, p.dst, p.dport))
        for raw in flow.raw if flow is not None else ():
            entry = front.fast.get(raw)
            if entry is not None and entry[1]:  # closed, by the shadow: no back answers here
                marked.add((flow.fid, raw))  # type: ignore[union-attr]
    back = parallel.Back(lists, redact=False)
    closed: list[tuple[bytes, int]] = []
    back.replay(rec.items, [], closed, [])
    assert marked <= {(fid, raw) for raw, fid in closed}
    if capture == "mix":  # its servers of binary protocols say at once they have nothing to read
        assert len(marked) > 5, len(marked)


def test_a_new_syn_takes_back_the_range_the_shadow_handed_out() -> None:
    """A SYN-ACK that starts the server's side again makes the range its shadow handed out meaningless:
    the prefilter must not skip by it (as ``Dissector.syn`` takes a range back in one process)."""
    session = Session(port=80)
    session.send(True, flows.SYN, 1000)
    session.send(False, flows.SYN | flows.ACK, 5000)
    session.send(True, flows.ACK, 1001, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    session.send(False, flows.ACK, 5001, head + b"x" * 1000)
    assert session.entries()[1][3:] == (5001 + len(head) + 1000, 4000)  # handed out at once
    session.send(False, flows.SYN | flows.ACK, 9000)
    assert len(session.entries()[1]) == 3  # taken back


def test_a_shadow_made_at_the_servers_first_segment_is_the_one_made_at_the_start() -> None:
    """The shadow's ``Direction`` is made when the server first speaks, from the last SYN-ACK: it hands
    out the range a direction made at the flow's start and given every SYN-ACK hands out."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n"
    session = Session(port=80)
    session.send(True, flows.SYN, 1000)
    session.send(False, flows.SYN | flows.ACK, 5000)
    session.send(False, flows.SYN | flows.ACK, 7000)  # the server started again, elsewhere
    assert next(iter(session.recorder.shadows.values())) == (None, recorder.SHADOW, True, 7000)
    session.send(True, flows.ACK, 1001, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
    session.send(False, flows.ACK, 7001, head + b"<html>")
    early = Direction(FlowKey("10.0.0.1", 40000, "10.0.0.2", 80, 6), False, True, False)
    early.syn(5000)
    early.syn(7000)
    early.segment(TS, 7001, head + b"<html>")
    assert session.entries()[1][3:] == early.unread() == (7001 + len(head) + 6, 5000 - 6)
    direction, left, _, _ = next(iter(session.recorder.shadows.values()))
    assert direction is not None and left == recorder.SHADOW - 1


@pytest.mark.parametrize(
    ("answer", "shadowed"),
    [
        (b'{"id":1,"result":[[["mining.notify","ae6812eb"]],"08000002",4],"error":null}\n', False),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n{"result":true,"error":null}', False),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4000\r\n\r\n<html>", True),
    ],
    ids=["json-lines", "json-answer", "html-page"],
)
def test_the_shadow_steps_aside_for_a_server_that_speaks_json(answer: bytes, shadowed: bool) -> None:
    """A server that answers in JSON is read whole by the back and never done early: the front does not
    parse it a second time. Any other answer is shadowed as before."""
    session = Session()
    session.send(True, flows.SYN, 1000)
    session.send(False, flows.SYN | flows.ACK, 5000)
    session.send(True, flows.ACK, 1001, b"GET /work HTTP/1.1\r\nHost: pool.example\r\n\r\n")
    session.send(False, flows.ACK, 5001, answer)
    assert bool(session.recorder.shadows) is shadowed
    last = session.recorder.items[-1]
    assert last[0] == recorder.DATA and last[-1] == answer  # the back gets it


HELLO = client_hello("a.example")
"""A whole TLS ClientHello offering no web protocol (its session's record shape is the back's to read)."""


@pytest.mark.parametrize(
    ("request_bytes", "shadowed"),
    [
        (HELLO, False),
        (b'{"id":1,"method":"mining.subscribe","params":[]}\n', False),
        (b'  [{"id":1,"method":"getwork"}]\n', False),
        (b'POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\n{"method":"getwork","params":[],"id":0}', False),
        (b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", True),
        (b"POST /form HTTP/1.1\r\nContent-Length: 7\r\n\r\na=1&b=2", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 40\r\n", True),  # the body not there yet
        (b"\x15\x03\x01\x00\x02\x02\x28", True),  # a TLS alert, not a handshake
    ],
    ids=["tls", "json-lines", "json-array", "json-post", "get", "form-post", "post-head", "tls-alert"],
)
def test_the_shadow_steps_aside_before_the_server_speaks_for_a_client_of_tls_or_json(
    request_bytes: bytes, shadowed: bool
) -> None:
    """A TLS or JSON client's server answers in kind, which the shadow steps aside for: it does so at the
    client's segment already, and both directions are the prefilter's to forward from then on (the
    server's first segments never reach the table). Any other client keeps its server's shadow."""
    session = Session(forward=True)
    session.send(True, flows.SYN, 1000)
    session.send(False, flows.SYN | flows.ACK, 5000)
    session.send(True, flows.ACK, 1001, request_bytes)
    assert bool(session.recorder.shadows) is shadowed
    assert [len(entry) for entry in session.entries()] == ([3, 3] if shadowed else [4, 4])


def test_a_client_of_tls_keeps_the_shadow_of_a_server_that_spoke_first() -> None:
    """A client that sends a TLS hello after its server has spoken: the shadow has read the server
    already (here too few bytes to tell what it speaks) and goes on as before."""
    session = Session(port=110)
    session.send(True, flows.SYN, 1000)
    session.send(False, flows.SYN | flows.ACK, 5000)
    session.send(False, flows.ACK, 5001, b"+OK")
    session.send(True, flows.ACK, 1001, HELLO)
    assert session.recorder.shadows


def test_only_the_syn_that_started_the_flow_rides_on_the_start() -> None:
    """The back reads one SYN from a start item: a second SYN at once (retransmitted, or with a new
    initial sequence number) and the SYN-ACK are items of their own, so the back sees every one."""
    s = Session()
    s.send(True, flows.SYN, 1000)
    s.send(True, flows.SYN, 7000)  # a new attempt on the same ports, nothing between
    s.send(False, flows.SYN | flows.ACK, 5000)
    start, *rest = s.recorder.items
    assert (start[0], start[3], start[7:]) == (recorder.START, True, (1000,))
    assert rest == [(recorder.SYN, start[1], True, 7000), (recorder.SYN, start[1], False, 5000)]
    back = parallel.Back(Blocklist(), redact=False)
    back.replay(list(s.recorder.items), [], [], [])
    replayed = back.flows[start[1]]
    one = FlowTable()  # one process: its own dissector
    for from_client, flags, seq in ((True, flows.SYN, 1000), (True, flows.SYN, 7000), (False, 0x12, 5000)):
        ends = (CLIENT, SERVER, 40000, 3333) if from_client else (SERVER, CLIENT, 3333, 40000)
        one.process(Packet(TS, *ends[:2], 6, *ends[2:], flags, seq, b""))
    flow = next(iter(one.flows.values()))
    isns = [d.reasm.next_seq for d in (flow.c, flow.s)]
    assert [d.reasm.next_seq for d in (replayed.c, replayed.s)] == isns
    assert flow.c.reasm.next_seq == 7001


WEB_HELLO = client_hello("a.example", alpn=("h2", "http/1.1"))


def test_a_web_sessions_client_is_closed_at_its_hello_and_its_server_waits_for_its_own() -> None:
    """A client whose first segment is a whole ClientHello offering a web protocol: the back reads nothing
    more of it, so the front closes its direction at once; the server's direction is forwarded, waiting
    for its ServerHello at the last SYN-ACK's sequence number + 1 (``flow.Hello``), after which the back
    reads nothing more of it either. A new SYN-ACK moves the wait; a segment of the server's that reaches
    the table (not forwarded by the walk) settles it: forwarded as any other."""
    s = Session(port=443, forward=True)
    s.send(True, flows.SYN, 1000)
    s.send(False, flows.SYN | flows.ACK, 5000)
    s.send(True, flows.ACK, 1001, WEB_HELLO)
    client, server = s.entries()
    assert client[1] is True and len(client) == 3
    assert server[1] is False and server[3][4] == bytearray((HELLO_DUE, *(5001).to_bytes(4, "big")))
    s.send(False, flows.SYN | flows.ACK, 7000)
    assert s.entries()[1][3][4] == bytearray((HELLO_DUE, *(7001).to_bytes(4, "big")))
    s.send(False, flows.ACK | flows.FIN, 7001, server_hello())  # a FIN with data: the table's, not the walk's
    assert s.entries()[1][3][4][0] == HELLO_OFF
    back = parallel.Back(Blocklist(), redact=False)
    closed: list[tuple[bytes, int]] = []
    back.replay(list(s.recorder.items), [], closed, [])
    flow = next(iter(s.table.flows.values()))
    assert (flow.raw[0], flow.fid) in closed  # the back closes the client's side too


@pytest.mark.parametrize(
    "case", ["other-alpn", "no-alpn", "two-records", "not-first", "no-syn", "server-first", "no-syn-ack"]
)
def test_only_a_whole_web_hello_first_closes_the_client(case: str) -> None:
    """Anything else leaves the client's direction open (the back may read on: a record shape, the rest of
    the hello, what the client said before), and the server's without a wait; a server whose SYN-ACK
    was not seen gets no wait, whatever its client."""
    hello = {
        "other-alpn": client_hello("a.example", alpn=("xmrig",)),
        "no-alpn": client_hello("a.example"),
        "two-records": client_hello("a.example", record_size=40, alpn=("h2",)),
    }.get(case, WEB_HELLO)
    s = Session(port=443, forward=True)
    seq = 1001
    if case != "no-syn":
        s.send(True, flows.SYN, 1000)
    if case == "server-first":
        s.send(False, flows.SYN | flows.ACK, 5000)
        s.send(False, flows.ACK, 5001, b"220 ")
    elif case != "no-syn-ack":
        s.send(False, flows.SYN | flows.ACK, 5000)
    if case == "not-first":
        s.send(True, flows.ACK, seq, b"\x16")  # one byte first: the hello is not the client's first segment
        seq += 1
    s.send(True, flows.ACK, seq, hello)
    client, server = s.entries()
    if case == "no-syn-ack":  # the client's side closes; the server's is forwarded with no wait
        assert client[1] is True and len(server) == 4 and len(server[3]) == 4
        return
    assert client[1] is False
    assert len(server) < 4 or len(server[3]) == 4


BROWSER_HELLO = client_hello("a.example", alpn=("h2", "http/1.1"), padding=1700)
"""A ClientHello of a browser's size (post-quantum key shares make it about 2,000 bytes): on Ethernet, two
segments."""


@pytest.mark.parametrize("case", ["whole", "gap", "server-first", "new-syn", "three", "too-many"])
def test_a_web_hello_over_two_segments_closes_the_client_at_the_second(case: str) -> None:
    """The first segment of a hello still to come whole is kept, and its flow's segments come through the
    table, until the hello is whole: then as a web hello in one segment. A segment that does not follow
    on, a server that speaks first, a new SYN: the client is left open. The back closes the client's
    direction at the very item the front does."""
    s = Session(port=443, forward=True)
    if case == "too-many":
        s.recorder.partial.update((-i, b"") for i in range(1, recorder.MAX_PARTIAL + 1))
    cut = [700, 1400] if case == "three" else [1448]
    parts = [BROWSER_HELLO[a:b] for a, b in zip([0, *cut], [*cut, len(BROWSER_HELLO)], strict=True)]
    s.send(True, flows.SYN, 1000)
    s.send(False, flows.SYN | flows.ACK, 5000)
    seq = 1001
    for i, part in enumerate(parts):
        if i and case == "server-first":
            s.send(False, flows.ACK, 5001, b"\x16\x03\x03")
        if i and case == "new-syn":
            s.send(True, flows.SYN, seq - 1)
        s.send(True, flows.ACK, seq + (5 if case == "gap" and i else 0), part)
        seq += len(part)
        client = s.entries()[0]
        assert client[1] is (case in ("whole", "three") and i == len(parts) - 1)
    closes = {"whole": True, "three": True}.get(case, False)
    back = parallel.Back(Blocklist(), redact=False)
    closed_at = []
    for n, item in enumerate(s.recorder.items):
        closed: list[tuple[bytes, int]] = []
        back.replay([item], [], closed, [])
        closed_at += [n for raw, _ in closed if raw == next(iter(s.table.flows.values())).raw[0]]
    if closes:
        assert closed_at == [len(s.recorder.items) - 1]  # the back: at the last segment of the hello
        assert s.entries()[1][3][4][0] == HELLO_DUE
    assert s.recorder.partial.keys() <= {-i for i in range(1, recorder.MAX_PARTIAL + 1)}
