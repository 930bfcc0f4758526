"""Tests for poolsniff.dissect.streams: one TCP direction picks its dissector and feeds it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.jsonlines import MAX_BAD_LINES
from poolsniff.dissect.reassembly import MAX_PENDING_SEGMENTS
from poolsniff.dissect.streams import MAX_HTTP_BODY, MAX_INSPECT, MAX_RESYNC, MAX_TUNNELS, Direction, Mode
from poolsniff.model import (
    PROTO_TCP,
    DnsMessage,
    Event,
    FlowKey,
    HttpMessage,
    JsonMessage,
    Sv2Handshake,
    TlsClientHello,
    TlsServerHello,
    TunnelOpen,
)
from tests.dissect.test_websocket import frame
from tests.factories import (
    BITMINTER_SUBSCRIBE_REPLY,
    CGMINER_AUTHORIZE,
    CGMINER_SUBMIT,
    CGMINER_SUBSCRIBE,
    CLIENT_IP,
    CLIENT_PORT,
    ETH_GETWORK_BODY,
    ETH_GETWORK_URI,
    GETWORK_BODY,
    NOMP_SET_DIFFICULTY,
    SERVER_IP,
    SERVER_PORT,
    client_hello,
    dns_query,
    dns_response,
    random_bytes,
    run,
    server_hello,
    setup_connection,
    tcp_dns,
    tcp_session,
)

KEY = FlowKey(CLIENT_IP, CLIENT_PORT, SERVER_IP, SERVER_PORT, PROTO_TCP)
ISN = 70_000


class Fed:
    """A Direction fed with consecutive segments; keeps every event."""

    def __init__(self, *, from_client: bool = True, synced: bool = True, dns_port: bool = False) -> None:
        """Create the direction; a synced one has seen its SYN."""
        self.d = Direction(KEY, from_client, synced, dns_port)
        if synced:
            self.d.syn(ISN - 1)
        self.seq = ISN
        self.events: list[Event] = []

    def send(self, *chunks: bytes) -> list[Event]:
        """Feed each chunk as the next segment; return the events of this call."""
        out: list[Event] = []
        for chunk in chunks:
            out.extend(self.d.segment(0, self.seq, chunk))
            self.seq += len(chunk)
        self.events.extend(out)
        return out

    def mode(self) -> Mode:
        """The direction's current mode."""
        return self.d.mode

    def ignored(self) -> bool:
        """Whether the direction reads nothing more."""
        return self.d.ignored

    def skip(self, size: int) -> None:
        """Lose ``size`` bytes (a hole in the capture)."""
        self.seq += size


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets."""
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def values(events: list[Event]) -> list[Any]:
    """The JSON values among the events."""
    return [e.value for e in events if isinstance(e, JsonMessage)]


def kinds(events: list[Event]) -> list[str]:
    """The event class names, in order."""
    return [type(e).__name__ for e in events]


def binary(size: int) -> bytes:
    """Pseudo-random bytes with no line end, JSON opener, TLS record type or white space."""
    blob = random_bytes(size)
    for byte in b"\n{[ \t\r\x16":
        blob = blob.replace(bytes([byte]), b"x")
    return blob


def j(line: bytes) -> Any:
    """The parsed form of a fixture line."""
    return json.loads(line)


# --------------------------------------------------------------------------- mode decision


@pytest.mark.parametrize(
    ("from_client", "first", "mode", "events"),
    [
        pytest.param(True, CGMINER_SUBSCRIBE, Mode.JSON, ["JsonMessage"], id="json-object"),
        pytest.param(
            True, b"[" + CGMINER_SUBSCRIBE.strip() + b"]\n", Mode.JSON, ["JsonMessage"], id="json-batch"
        ),
        pytest.param(False, b"\r\n \t" + NOMP_SET_DIFFICULTY, Mode.JSON, ["JsonMessage"], id="json-after-ws"),
        pytest.param(
            True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Mode.HTTP, ["HttpMessage"], id="http-request"
        ),
        pytest.param(
            False, b"HTTP/1.1 204 No Content\r\n\r\n", Mode.HTTP, ["HttpMessage"], id="http-response"
        ),
        pytest.param(True, client_hello("a.example"), Mode.IGNORE, ["TlsClientHello"], id="tls-client"),
        pytest.param(False, client_hello("a.example"), Mode.IGNORE, [], id="tls-from-server-ignored"),
        pytest.param(True, setup_connection(), Mode.IGNORE, ["Sv2Handshake"], id="sv2-setup-client"),
        pytest.param(False, setup_connection(), Mode.IGNORE, [], id="sv2-setup-from-server-ignored"),
        pytest.param(True, binary(1400), Mode.IGNORE, [], id="binary"),
        pytest.param(True, b"SSH-2.0-OpenSSH_9.6\r\n", Mode.IGNORE, [], id="ssh-banner"),
        pytest.param(True, b"hello", Mode.UNDECIDED, [], id="under-decide-bytes-waits"),
    ],
)
def test_first_bytes_pick_the_mode(from_client: bool, first: bytes, mode: Mode, events: list[str]) -> None:
    f = Fed(from_client=from_client)
    assert kinds(f.send(first)) == events
    assert f.mode() == mode


def test_decision_waits_for_enough_bytes() -> None:
    f = Fed()
    assert f.send(b"\n", b'{"i', b'd"') == []
    assert f.mode() == Mode.UNDECIDED
    assert values(f.send(CGMINER_SUBSCRIBE[5:])) == [j(CGMINER_SUBSCRIBE)]
    assert f.mode() == Mode.JSON


def test_ignored_direction_reads_nothing_more() -> None:
    f = Fed()
    f.send(random_bytes(100))
    assert f.ignored()
    assert f.send(CGMINER_SUBSCRIBE, b"GET / HTTP/1.1\r\n\r\n", client_hello("x.example")) == []
    assert f.d.buf == b""


# --------------------------------------------------------------------------- JSON lines


@pytest.mark.parametrize("from_client", [True, False])
@pytest.mark.parametrize("cuts", [[], [1], [5, 9, 80], list(range(1, 200, 3))], ids=["1", "2", "4", "many"])
def test_json_lines_become_messages(from_client: bool, cuts: list[int]) -> None:
    stream = CGMINER_SUBSCRIBE + CGMINER_AUTHORIZE + CGMINER_SUBMIT
    f = Fed(from_client=from_client)
    f.send(*split(stream, cuts))
    assert values(f.events) == [j(CGMINER_SUBSCRIBE), j(CGMINER_AUTHORIZE), j(CGMINER_SUBMIT)]
    for e in f.events:
        assert isinstance(e, JsonMessage)
        assert (e.flow, e.from_client, e.via_http, e.http) == (KEY, from_client, False, None)


def test_json_direction_that_is_not_json_rpc_is_given_up() -> None:
    f = Fed()
    f.send(b"{not json}\n" * MAX_BAD_LINES)
    assert f.ignored()
    assert f.send(CGMINER_SUBSCRIBE) == []


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param(
            [CGMINER_SUBSCRIBE[20:] + CGMINER_AUTHORIZE + CGMINER_SUBMIT],
            [CGMINER_AUTHORIZE, CGMINER_SUBMIT],
            id="starts-mid-line",
        ),
        pytest.param(
            [CGMINER_SUBSCRIBE[20:], CGMINER_AUTHORIZE[:9], CGMINER_AUTHORIZE[9:] + CGMINER_SUBMIT],
            [CGMINER_AUTHORIZE, CGMINER_SUBMIT],
            id="line-start-in-a-later-segment",
        ),
        pytest.param(
            [CGMINER_SUBSCRIBE[20:], CGMINER_AUTHORIZE + CGMINER_SUBMIT],
            [CGMINER_AUTHORIZE, CGMINER_SUBMIT],
            id="newline-ends-the-first-segment",
        ),
        pytest.param([b'ms"]}\n', CGMINER_SUBMIT], [CGMINER_SUBMIT], id="first-segment-short"),
        pytest.param(
            [b'thod":"login","params":', b'{"login":"x"}}\n' + CGMINER_SUBMIT],
            [CGMINER_SUBMIT],
            id="brace-at-segment-start-but-mid-line",
        ),
        pytest.param(
            [b'y"}\n[' + CGMINER_SUBSCRIBE.strip() + b"]\n"], [CGMINER_SUBSCRIBE], id="batch-after-newline"
        ),
        pytest.param(
            [binary(5000) + b"\n" + NOMP_SET_DIFFICULTY],
            [NOMP_SET_DIFFICULTY],
            id="after-binary",
        ),
        pytest.param(
            [CGMINER_SUBSCRIBE + CGMINER_SUBMIT], [CGMINER_SUBSCRIBE, CGMINER_SUBMIT], id="at-line-start"
        ),
    ],
)
def test_mid_session_direction_starts_at_the_next_line(chunks: list[bytes], expected: list[bytes]) -> None:
    f = Fed(synced=False)
    f.send(*chunks)
    assert values(f.events) == [j(line) for line in expected]
    assert f.d.lines is not None
    assert f.d.lines.bad_lines == 0


def test_mid_session_direction_without_a_line_start_is_given_up() -> None:
    blob = binary(4 * MAX_RESYNC)
    f = Fed(synced=False)
    f.send(*split(blob, range(1460, len(blob), 1460)))
    assert f.ignored()


def test_gap_in_json_resyncs_at_the_next_line() -> None:
    f = Fed()
    f.send(CGMINER_SUBSCRIBE, CGMINER_AUTHORIZE[:20])
    f.skip(10)  # lost: the middle of the authorize line
    rest = [CGMINER_AUTHORIZE[30:], *[CGMINER_SUBMIT] * MAX_PENDING_SEGMENTS]
    # the hole never fills: the queue overflows on the last segment and the hole is skipped
    f.send(*rest)
    assert f.d.reasm.gaps == 1
    assert values(f.events) == [j(CGMINER_SUBSCRIBE)] + [j(CGMINER_SUBMIT)] * MAX_PENDING_SEGMENTS
    assert f.d.lines is not None
    assert f.d.lines.bad_lines == 0


@pytest.mark.parametrize(
    ("first", "dns_port"),
    [
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n{", False, id="http"),
        pytest.param(client_hello("gap.example")[:30], False, id="tls"),
        pytest.param(tcp_dns(dns_query("gap.example"))[:9], True, id="dns"),
    ],
)
def test_gap_in_a_framed_protocol_gives_the_direction_up(first: bytes, dns_port: bool) -> None:
    f = Fed(dns_port=dns_port)
    f.send(first)
    assert not f.ignored()
    f.skip(5)
    f.send(*[b"z" * 10] * (MAX_PENDING_SEGMENTS + 1))
    assert f.ignored()
    assert f.events == []


def test_direction_stops_after_max_inspect_bytes() -> None:
    line = b'{"id":4,"method":"mining.submit","params":["w","' + b"0" * 900 + b'"]}\n'
    f = Fed()
    count = MAX_INSPECT // len(line) + 50
    f.send(*[line] * count)
    assert f.ignored()
    assert MAX_INSPECT // len(line) - 1 <= len(f.events) < count


# --------------------------------------------------------------------------- HTTP

GETWORK_HEAD = (
    b"POST " + ETH_GETWORK_URI.encode() + b" HTTP/1.1\r\nHost: pool.eth.pp.ua\r\n"
    b"Content-Type: application/json\r\nContent-Length: " + str(len(ETH_GETWORK_BODY)).encode() + b"\r\n\r\n"
)
GETWORK = GETWORK_HEAD + ETH_GETWORK_BODY
RESPONSE_BODY = b'{"id":1,"jsonrpc":"2.0","result":["0x01","0x02","0x03"]}'
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(RESPONSE_BODY) + RESPONSE_BODY


def check_http_json(events: list[Event], from_client: bool, body: bytes) -> HttpMessage:
    """One HttpMessage followed by the JsonMessage of its body."""
    assert kinds(events) == ["HttpMessage", "JsonMessage"]
    msg, js = events
    assert isinstance(msg, HttpMessage) and isinstance(js, JsonMessage)
    assert (msg.from_client, msg.body) == (from_client, body)
    assert (js.value, js.via_http, js.http, js.from_client) == (j(body), True, msg, from_client)
    return msg


@pytest.mark.parametrize(
    "cuts",
    [
        pytest.param([len(GETWORK_HEAD)], id="head|body"),
        pytest.param([len(GETWORK_HEAD) - 2], id="head-minus-crlf|rest"),
        pytest.param([len(GETWORK_HEAD) + 10], id="head+10|rest"),
        pytest.param([20, len(GETWORK_HEAD), len(GETWORK_HEAD) + 1], id="four-pieces"),
        pytest.param(list(range(1, len(GETWORK), 1)), id="byte-by-byte"),
    ],
)
def test_http_post_with_json_body_split_over_segments(cuts: list[int]) -> None:
    f = Fed()
    f.send(*split(GETWORK, cuts))
    msg = check_http_json(f.events, True, ETH_GETWORK_BODY)
    assert (msg.is_request, msg.method, msg.uri) == (True, "POST", ETH_GETWORK_URI)
    assert msg.headers["host"] == "pool.eth.pp.ua"


def test_http_response_with_json_body() -> None:
    f = Fed(from_client=False)
    f.send(*split(RESPONSE, [30]))
    msg = check_http_json(f.events, False, RESPONSE_BODY)
    assert (msg.is_request, msg.status) == (False, 200)


def test_http_keep_alive_requests_in_one_segment() -> None:
    second = GETWORK.replace(ETH_GETWORK_BODY, GETWORK_BODY).replace(
        b"Length: %d" % len(ETH_GETWORK_BODY), b"Length: %d" % len(GETWORK_BODY)
    )
    f = Fed()
    f.send(GETWORK + second)
    assert values(f.events) == [j(ETH_GETWORK_BODY), j(GETWORK_BODY)]
    assert kinds(f.events) == ["HttpMessage", "JsonMessage"] * 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{\n  "id": 1,\n  "method": "getwork"\n}\n', [{"id": 1, "method": "getwork"}], id="pretty"
        ),
        pytest.param(b'[{"id":1},{"id":2}]', [{"id": 1}, {"id": 2}], id="batch"),
        pytest.param(b"<html>hello</html>", [], id="html"),
        pytest.param(b"", [], id="empty"),
    ],
)
def test_http_body_kinds(body: bytes, expected: list[Any]) -> None:
    f = Fed()
    f.send(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert kinds(f.events)[0] == "HttpMessage"
    assert values(f.events) == expected


HTML = b"  <html>" + bytes(range(256)) * 40 + b"{not json}</html>"
"""A body that is not JSON (leading blanks, binary bytes, a brace inside it) of 10 KiB."""


@pytest.mark.parametrize(
    "cuts",
    [
        pytest.param([], id="one-segment"),
        pytest.param([60], id="head|body"),
        pytest.param([60, 61, 63], id="blanks-alone"),
        pytest.param(list(range(100, 10_400, 1460)), id="mss-segments"),
        pytest.param(list(range(1, 10_400, 997)), id="odd-segments"),
    ],
)
def test_http_body_that_is_not_json_is_passed_over_and_the_next_head_read(cuts: list[int]) -> None:
    """Keep-alive: a form POST with a 10 KiB non-JSON body, then a getwork request. The first head
    is reported with no body as soon as the body's first byte says it is not JSON, the body's bytes
    are counted off (not buffered), and the next head and its JSON body are read where they start."""
    first = b"POST /form HTTP/1.1\r\nHost: a.example\r\nContent-Length: %d\r\n\r\n" % len(HTML) + HTML
    f = Fed()
    pieces = split(first + GETWORK, cuts)
    reported, held = [], []
    for piece in pieces:
        reported.append(len(f.send(piece)))
        held.append(f.d.buffered())
    assert kinds(f.events) == ["HttpMessage", "HttpMessage", "JsonMessage"]
    form = f.events[0]
    assert isinstance(form, HttpMessage) and (form.uri, form.body) == ("/form", b"")
    assert f.events[1].uri == ETH_GETWORK_URI  # type: ignore[attr-defined]
    assert values(f.events) == [j(ETH_GETWORK_BODY)]
    ends = list(itertools.accumulate(map(len, pieces)))
    at = next(i for i, end in enumerate(ends) if end > first.index(b"<html>"))
    assert sum(reported[:at]) == 0 and reported[at] >= 1  # the head goes out with the body's first byte
    assert max(held[at : next(i for i, end in enumerate(ends) if end >= len(first)) + 1]) <= len(GETWORK)
    assert not f.ignored()


@pytest.mark.parametrize("lost", [1, 1400, len(HTML) - 200 - 1])
def test_a_hole_inside_a_body_nobody_reads_is_taken_as_that_body(lost: int) -> None:
    """Bytes missing inside a non-JSON body (skipped by the prefilter through ``unread``, or lost) are
    that body: the next head is read where it starts. A hole reaching past the body is a real gap."""
    first = b"POST /form HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(HTML) + HTML
    at = first.index(b"<html>") + 100
    f = Fed()
    f.send(first[:at])
    assert f.d.unread() == ((ISN + at) & 0xFFFFFFFF, len(first) - at)
    assert f.d.unread() is None  # handed out once
    f.skip(lost)
    f.send(first[at + lost :], GETWORK)
    assert kinds(f.events) == ["HttpMessage", "HttpMessage", "JsonMessage"]
    assert f.d.unread() is None and f.d.http_skip == 0


def test_a_hole_past_the_body_is_a_gap() -> None:
    first = b"POST /form HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(HTML) + HTML
    f = Fed()
    f.send(first[:500])
    f.skip(len(first) - 500 + 10)  # the body and the next head's first 10 bytes
    f.send(GETWORK[10:])
    assert kinds(f.events) == ["HttpMessage"]


def test_http_body_that_is_only_blanks_then_the_next_head() -> None:
    """A body of blanks is read whole (it may still turn out to be JSON): the next head follows it."""
    f = Fed()
    f.send(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", b"  ", b" " + GETWORK)
    assert kinds(f.events) == ["HttpMessage", "HttpMessage", "JsonMessage"]
    assert f.events[0].body == b"   "  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(RESPONSE_BODY)
            + RESPONSE_BODY
            + b"\r\n0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + RESPONSE_BODY, id="until-close"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_HTTP_BODY + 1) + RESPONSE_BODY, id="large"
        ),
    ],
)
def test_http_response_without_a_usable_length_is_reported_as_head_only(response: bytes) -> None:
    f = Fed(from_client=False)
    f.send(*split(response, [len(response) - 20]))
    assert kinds(f.events) == ["HttpMessage"]
    (msg,) = f.events
    assert isinstance(msg, HttpMessage)
    assert (msg.status, msg.body) == (200, b"")
    assert f.ignored()
    assert f.send(RESPONSE) == []


# --------------------------------------------------------------------------- TLS

HELLO = client_hello("Donate.SSL.xmrig.com")


@pytest.mark.parametrize(
    "cuts",
    [[3], [5], [8], [9], [60], [len(HELLO) - 1], [2, 40, 41]],
    ids=lambda c: "-".join(map(str, c)),
)
def test_tls_client_hello_split_over_segments(cuts: list[int]) -> None:
    f = Fed()
    f.send(*split(HELLO, cuts))
    assert kinds(f.events) == ["TlsClientHello"]
    (hello,) = f.events
    assert isinstance(hello, TlsClientHello)
    assert (hello.sni, hello.from_client, hello.flow) == ("donate.ssl.xmrig.com", True, KEY)
    assert f.ignored()


def test_tls_client_hello_over_several_records_and_segments() -> None:
    hello = client_hello("pool.example.net", record_size=16)
    f = Fed()
    f.send(*split(hello, range(7, len(hello), 7)))
    assert [e.sni for e in f.events if isinstance(e, TlsClientHello)] == ["pool.example.net"]


def test_tls_record_that_is_no_client_hello_gives_up() -> None:
    f = Fed()
    f.send(b"\x16\x03\x01\x00\x20\x02" + bytes(31))  # a ServerHello type from the client
    assert f.events == []
    assert f.ignored()


# --------------------------------------------------------------------------- DNS over TCP


def dns_names(events: list[Event]) -> list[tuple[bool, str]]:
    """(is_response, first question name) of the DNS events."""
    return [(e.is_response, e.questions[0][0]) for e in events if isinstance(e, DnsMessage)]


def test_dns_over_tcp_two_messages_in_one_segment() -> None:
    f = Fed(dns_port=True)
    f.send(tcp_dns(dns_query("XmR-eU1.NanoPool.ORG")) + tcp_dns(dns_query("pool.SupportXMR.com", qtype=28)))
    assert dns_names(f.events) == [(False, "xmr-eu1.nanopool.org"), (False, "pool.supportxmr.com")]
    assert [e.questions[0][1] for e in f.events if isinstance(e, DnsMessage)] == [1, 28]


@pytest.mark.parametrize("cuts", [[1], [2], [2, 7], list(range(1, 60))], ids=["1", "2", "2-7", "bytes"])
def test_dns_over_tcp_one_message_across_segments(cuts: list[int]) -> None:
    msg = tcp_dns(dns_response("Pool.MineXMR.com", [(1, bytes([203, 0, 113, 9]), 60)]))
    f = Fed(from_client=False, dns_port=True)
    f.send(*split(msg, cuts))
    assert dns_names(f.events) == [(True, "pool.minexmr.com")]
    (e,) = f.events
    assert isinstance(e, DnsMessage)
    assert (e.answers, e.from_client) == ((("pool.minexmr.com", 1, "203.0.113.9", 60),), False)


def test_dns_over_tcp_skips_empty_and_malformed_messages() -> None:
    f = Fed(dns_port=True)
    f.send(b"\x00\x00" + tcp_dns(b"\x01\x02\x03") + tcp_dns(dns_query("ok.example")))
    assert dns_names(f.events) == [(False, "ok.example")]


# --------------------------------------------------------------------------- Stratum V2 plaintext


def test_sv2_setup_connection_is_reported_with_its_fields() -> None:
    f = Fed()
    f.send(setup_connection(host=b"sv2.pool.example", port=3336))
    (e,) = f.events
    assert isinstance(e, Sv2Handshake)
    assert (e.encrypted, e.from_client, e.flow) == (False, True, KEY)
    assert e.setup["endpoint_host"] == "sv2.pool.example"
    assert e.setup["endpoint_port"] == 3336
    assert e.setup["protocol"] == "mining"


def test_sv2_setup_connection_split_over_segments() -> None:
    f = Fed()
    f.send(*split(setup_connection(), [12]))
    assert kinds(f.events) == ["Sv2Handshake"]


def test_json_batch_reply_then_lines_both_parsed() -> None:
    f = Fed(from_client=False)
    f.send(BITMINTER_SUBSCRIBE_REPLY + NOMP_SET_DIFFICULTY)
    assert values(f.events) == [j(BITMINTER_SUBSCRIBE_REPLY), j(NOMP_SET_DIFFICULTY)]


# --------------------------------------------------------------------------- the SYN


@pytest.mark.parametrize(
    "before",
    [
        pytest.param([], id="nothing-before-the-syn"),
        pytest.param([(ISN - 300, b"x" * 10)], id="data-read-before-the-syn"),
        pytest.param([(ISN - 300, b"x" * 10), (ISN + 500, b"queued")], id="queued-segment-dropped"),
        pytest.param(
            [(ISN - 300, b"x")] + [(ISN + i, b"q") for i in range(MAX_PENDING_SEGMENTS + 1)],
            id="after-a-skipped-gap",
        ),
    ],
)
def test_syn_starts_the_reassembly_afresh(before: list[tuple[int, bytes]]) -> None:
    """Whatever came before a SYN (read or queued) is forgotten; the stream starts after it."""
    d = Direction(KEY, True, False, False)
    for seq, data in before:
        d.segment(0, seq, data)
    d.syn(ISN - 1)
    assert d.synced
    assert (d.reasm.next_seq, d.reasm.pending, d.reasm.pending_bytes, d.reasm.gaps) == (ISN, {}, 0, 0)
    assert d.reasm.feed(ISN, b"abc") == b"abc"


def test_syn_of_a_fresh_direction_then_json() -> None:
    d = Direction(KEY, True, True, False)
    d.syn(ISN - 1)
    events = d.segment(0, ISN, CGMINER_SUBSCRIBE)
    assert [e.value for e in events if isinstance(e, JsonMessage)] == [j(CGMINER_SUBSCRIBE)]


# --------------------------------------------------------------------------- tunnels

XMRIG_LOGIN = (
    b'{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4A","pass":"x","agent":"XMRig/6.16.0"}}\n'
)
POOL_JOB = b'{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"1","job":{"blob":"0707","job_id":"9"}}}\n'
SOCKS5_NAME = b"\x05\x01\x00" + b"\x05\x01\x00\x03\x17gulf.moneroocean.stream\x27\x90"
SOCKS5_REPLIES = b"\x05\x00" + b"\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38"
PROXY_V2 = (
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes([192, 0, 2, 9, 198, 51, 100, 3]) + b"\xc3\x4b\x0d\x05"
)
WS_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: ws.pool.example:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
WS_ACCEPT = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def tunnel_events(exchanges: list[tuple[bool, bytes]], segment_size: int | None = None) -> list[Event]:
    return run(tcp_session(exchanges, segment_size=segment_size))


def opened(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.target, e.source) for e in events if isinstance(e, TunnelOpen)]


@pytest.mark.parametrize("segment_size", [None, 1, 3, 7])
@pytest.mark.parametrize(
    "exchanges, tunnel",
    [
        pytest.param(
            [(True, SOCKS5_NAME[:3]), (False, SOCKS5_REPLIES[:2]),
             (True, SOCKS5_NAME[3:]), (False, SOCKS5_REPLIES[2:])],
            ("socks5", "gulf.moneroocean.stream:10128", ""), id="socks5-by-name",
        ),
        pytest.param(
            [(True, b"\x04\x01\x0d\x05\xc6\x33\x64\x07\x00"), (False, b"\x00\x5a\x0d\x05\xc6\x33\x64\x07")],
            ("socks4", "198.51.100.7:3333", ""), id="socks4",
        ),
        pytest.param(
            [(True, b"CONNECT pool.example:3333 HTTP/1.1\r\nHost: pool.example:3333\r\n\r\n"),
             (False, b"HTTP/1.1 200 Connection established\r\n\r\n")],
            ("http-connect", "pool.example:3333", ""), id="http-connect",
        ),
        pytest.param([(True, PROXY_V2)], ("proxy-v2", "198.51.100.3:3333", "192.0.2.9:49995"), id="proxy-v2"),
        pytest.param(
            [(True, b"PROXY TCP4 192.0.2.9 198.51.100.3 50123 3333\r\n")],
            ("proxy-v1", "198.51.100.3:3333", "192.0.2.9:50123"), id="proxy-v1",
        ),
    ],
)  # fmt: skip
def test_stratum_after_a_tunnel_prefix(
    exchanges: list[tuple[bool, bytes]], tunnel: tuple[str, str, str], segment_size: int | None
) -> None:
    """The bytes after the prefix, in both directions, reach the JSON-lines dissector."""
    events = tunnel_events([*exchanges, (True, XMRIG_LOGIN), (False, POOL_JOB)], segment_size)
    assert opened(events) == [tunnel]
    got = [(e.from_client, e.value.get("method") or "result") for e in events if isinstance(e, JsonMessage)]
    assert got == [(True, "login"), (False, "result")]


@pytest.mark.parametrize("segment_size", [None, 2, 5])
def test_stratum_in_websocket_frames(segment_size: int | None) -> None:
    """Masked client frames (one message in two fragments) and unmasked server frames."""
    key = b"\x01\x02\x03\x04"
    client = frame(XMRIG_LOGIN[:20], fin=False, key=key) + frame(XMRIG_LOGIN[20:-1], opcode=0, key=key)
    server = frame(POOL_JOB.strip())
    exchanges = [(True, WS_UPGRADE), (False, WS_ACCEPT), (True, client), (False, server)]
    events = tunnel_events(exchanges, segment_size)
    assert opened(events) == [("websocket", "ws.pool.example:8080", "")]
    assert [type(e).__name__ for e in events if isinstance(e, (HttpMessage, JsonMessage))] == [
        "HttpMessage", "HttpMessage", "JsonMessage", "JsonMessage",
    ]  # fmt: skip
    assert values(events)[0]["method"] == "login"


def test_tls_through_http_connect_gives_both_hellos() -> None:
    events = tunnel_events(
        [
            (True, b"CONNECT pool.example:443 HTTP/1.1\r\n\r\n"),
            (False, b"HTTP/1.1 200 OK\r\n\r\n"),
            (True, client_hello("pool.example")),
            (False, server_hello()),
        ]
    )
    assert [e.sni for e in events if isinstance(e, TlsClientHello)] == ["pool.example"]
    assert [e.ja3s_string for e in events if isinstance(e, TlsServerHello)] == ["771,4865,43"]


def test_refused_socks_reply_reads_nothing_more_of_the_server() -> None:
    refused = b"\x00\x5b\x0d\x05\xc6\x33\x64\x07"
    events = tunnel_events([(True, b"\x04\x01\x0d\x05\xc6\x33\x64\x07\x00"), (False, refused + POOL_JOB)])
    assert opened(events) == [("socks4", "198.51.100.7:3333", "")]
    assert values(events) == []


@pytest.mark.parametrize(
    "first, counter",
    [
        pytest.param(b"\x05\x01\x00\x05\x01\x00\x09" + bytes(40), "tunnel-malformed", id="socks5-bad-atyp"),
        pytest.param(b"PROXY TCP4 " + b"9" * 200, "tunnel-malformed", id="proxy-v1-endless"),
    ],
)
def test_malformed_prefix_is_counted_not_fatal(first: bytes, counter: str) -> None:
    table = FlowTable()
    events = run(tcp_session([(True, first), (True, XMRIG_LOGIN)]), table)
    assert table.counters[counter] == 1
    assert opened(events) == []


def test_websocket_protocol_error_is_counted() -> None:
    table = FlowTable()
    run(tcp_session([(True, WS_UPGRADE), (True, frame(b"x", opcode=3))]), table)
    assert table.counters["websocket-malformed"] == 1


def test_mid_session_direction_looks_for_no_tunnel() -> None:
    f = Fed(synced=False)
    f.send(b"\x05\x01\x00" + b"\x05\x01\x00\x01" + bytes(6) + b"\n" + XMRIG_LOGIN)
    assert opened(f.events) == [] and len(values(f.events)) == 1


def test_tunnels_nest_up_to_the_bound() -> None:
    """PROXY v2 then SOCKS5 then Stratum; more prefixes than MAX_TUNNELS are not read."""
    events = tunnel_events([(True, PROXY_V2 + SOCKS5_NAME), (False, SOCKS5_REPLIES), (True, XMRIG_LOGIN)])
    assert [k for k, _, _ in opened(events)] == ["proxy-v2", "socks5"]
    assert values(events)[0]["method"] == "login"
    deep = tunnel_events([(True, PROXY_V2 * (MAX_TUNNELS + 1) + XMRIG_LOGIN)])
    assert len(opened(deep)) == MAX_TUNNELS and values(deep) == []


PREFIXES = [
    SOCKS5_NAME,
    b"\x04\x01\x0d\x05\xc6\x33\x64\x07\x00",
    b"CONNECT pool.example:3333 HTTP/1.1\r\n\r\n",
    PROXY_V2,
    b"PROXY TCP4 192.0.2.9 198.51.100.3 50123 3333\r\n",
    WS_UPGRADE,
]
REPLIES = [SOCKS5_REPLIES, b"\x00\x5a" + bytes(6), b"HTTP/1.1 200 OK\r\n\r\n", b"", b"", WS_ACCEPT]


@given(st.integers(0, len(PREFIXES) - 1), st.binary(max_size=400), st.binary(max_size=400), st.data())
def test_tunnel_prefix_then_garbage_never_raises(
    which: int, client_tail: bytes, server_tail: bytes, data: st.DataObject
) -> None:
    """A real prefix (or a cut of it), then any bytes, in any segmentation: no exception, bounded buffers."""
    cut = data.draw(st.integers(0, len(PREFIXES[which])))
    client = PREFIXES[which][:cut] + client_tail
    server = REPLIES[which] + server_tail
    table = FlowTable()
    sizes = data.draw(st.sampled_from([None, 1, 3, 64]))
    run(tcp_session([(True, client), (False, server), (True, client_tail)], segment_size=sizes), table)
    for flow in list(table.flows.values()):
        for d in (flow.c, flow.s):
            assert d.buffered() <= 2 * (len(client) + len(server) + 64)


def test_stratum_in_compressed_websocket_frames() -> None:
    """permessage-deflate, as a browser negotiates it: the login still reaches the JSON-lines dissector."""
    from tests.dissect.test_websocket import deflated

    upgrade = WS_UPGRADE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    accept = WS_ACCEPT.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    (login,), (job,) = deflated([XMRIG_LOGIN.strip()]), deflated([POOL_JOB.strip()])  # a context each way
    key = b"\x0a\x0b\x0c\x0d"
    client, server = frame(login, key=key, rsv=0x40), frame(job, rsv=0x40)
    events = tunnel_events([(True, upgrade), (False, accept), (True, client), (False, server)])
    got = [(e.from_client, e.value.get("method", "result")) for e in events if isinstance(e, JsonMessage)]
    assert got == [(True, "login"), (False, "result")]
