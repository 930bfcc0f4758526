"""Tests for poolsniff.dissect.flows: whole sessions in, events out; orientation, bypass, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from poolsniff.dissect import flows
from poolsniff.dissect.flow import Flow
from poolsniff.dissect.flows import FlowTable
from poolsniff.model import (
    PROTO_TCP,
    PROTO_UDP,
    DnsMessage,
    Event,
    FlowEnd,
    FlowKey,
    FlowStart,
    HttpMessage,
    JsonMessage,
    Sv2Handshake,
    TlsClientHello,
)
from tests.factories import (
    ACK,
    CGMINER_AUTHORIZE,
    CGMINER_SUBMIT,
    CGMINER_SUBSCRIBE,
    CLIENT,
    CLIENT_IP,
    ETH_GETWORK_BODY,
    ETH_GETWORK_URI,
    FIN,
    NESFIT_SUBSCRIBE_REPLY,
    NOMP_SET_DIFFICULTY,
    PSH,
    RST,
    SERVER,
    SERVER_IP,
    SYN,
    XMRIG_KEEPALIVED,
    Session,
    client_hello,
    dns_query,
    dns_response,
    random_bytes,
    run,
    setup_connection,
    tcp,
    tcp_dns,
    tcp_session,
    udp,
)
from tests.factories_frames import DST6, SRC6

EXCHANGE = [
    (True, CGMINER_SUBSCRIBE + CGMINER_AUTHORIZE),
    (False, NESFIT_SUBSCRIBE_REPLY + NOMP_SET_DIFFICULTY),
    (True, CGMINER_SUBMIT),
]
EXPECTED_JSON = [
    (True, "mining.subscribe"),
    (True, "mining.authorize"),
    (False, None),
    (False, "mining.set_difficulty"),
    (True, "mining.submit"),
]


def kinds(events: list[Event]) -> list[str]:
    """The event class names, in order."""
    return [type(e).__name__ for e in events]


def json_messages(events: list[Event]) -> list[tuple[bool, Any]]:
    """(from_client, method) of each JSON message."""
    return [(e.from_client, e.value.get("method")) for e in events if isinstance(e, JsonMessage)]


def the_flow(table: FlowTable) -> Flow:
    """The one flow in the table."""
    (flow,) = {id(f): f for f in table.flows.values()}.values()
    return flow


def binary(size: int, seed: int = 1) -> bytes:
    """Pseudo-random bytes that no dissector takes for its protocol."""
    blob = random_bytes(size, seed)
    for byte in b"\n{[ \t\r\x16\x00":
        blob = blob.replace(bytes([byte]), b"x")
    return blob


# --------------------------------------------------------------------------- a whole session


@pytest.mark.parametrize("segment_size", [None, 7, 1], ids=["whole", "7-byte-segments", "1-byte-segments"])
@pytest.mark.parametrize(
    ("cport", "sport"),
    [(40000, 3333), (1024, 50000), (3333, 3333)],
    ids=["client-high-port", "client-low-port", "same-port"],
)
def test_full_stratum_session(segment_size: int | None, cport: int, sport: int) -> None:
    events = run(tcp_session(EXCHANGE, segment_size=segment_size, cport=cport, sport=sport))
    key = FlowKey(CLIENT_IP, cport, SERVER_IP, sport, PROTO_TCP)
    assert kinds(events) == ["FlowStart", *["JsonMessage"] * 5, "FlowEnd"]
    assert all(e.flow == key for e in events)
    assert json_messages(events) == EXPECTED_JSON


def test_full_session_over_ipv6() -> None:
    s = Session(client=SRC6, server=DST6).handshake()
    for from_client, data in EXCHANGE:
        s.send(from_client, data)
    events = run(s.close().packets)
    key = FlowKey("2001:db8::1", 40000, "2001:db8::2", 3333, PROTO_TCP)
    assert {e.flow for e in events} == {key}
    assert json_messages(events) == EXPECTED_JSON


def test_session_joined_at_the_syn_ack_keeps_the_syn_sender_as_client() -> None:
    s = Session()
    s.packet(False, flags=SYN | ACK, seq=s.server_isn)  # the client's SYN was not captured
    s.packet(True, flags=ACK)
    for from_client, data in EXCHANGE:
        s.send(from_client, data)
    events = run(s.close().packets)
    assert {e.flow for e in events} == {FlowKey(CLIENT_IP, 40000, SERVER_IP, 3333, PROTO_TCP)}
    assert json_messages(events) == EXPECTED_JSON


@pytest.mark.parametrize(
    ("server_first", "cport", "sport", "expected_client"),
    [
        pytest.param(True, 40000, 3333, (CLIENT_IP, 40000), id="server-speaks-first"),
        pytest.param(False, 40000, 3333, (CLIENT_IP, 40000), id="client-speaks-first"),
        pytest.param(True, 1000, 14444, (SERVER_IP, 14444), id="miner-on-low-port-looks-like-server"),
    ],
)
def test_mid_session_flow_orients_the_higher_port_as_client(
    server_first: bool, cport: int, sport: int, expected_client: tuple[str, int]
) -> None:
    s = Session(cport=cport, sport=sport)  # no handshake: the capture starts mid-session
    if server_first:
        s.send(False, NESFIT_SUBSCRIBE_REPLY[25:] + NOMP_SET_DIFFICULTY)
    s.send(True, CGMINER_AUTHORIZE[10:] + CGMINER_SUBMIT)
    s.send(False, NOMP_SET_DIFFICULTY)
    table = FlowTable()
    events = run(s.packets, table)
    (key,) = {e.flow for e in events}
    assert (key.client_ip, key.client_port) == expected_client
    assert table.counters["flows-midsession"] == 1
    # only whole lines: the first partial line of each direction is dropped
    methods = [m for _, m in json_messages(events)]
    expected = ["mining.set_difficulty"] * server_first + ["mining.submit", "mining.set_difficulty"]
    assert methods == expected
    # the client's lines say from_client exactly when the key's client sent them
    miner_is_client = expected_client == (CLIENT_IP, cport)
    assert [fc for fc, m in json_messages(events) if m == "mining.submit"] == [miner_is_client]


def test_packet_without_payload_or_syn_starts_no_flow() -> None:
    table = FlowTable()
    assert run([tcp(flags=ACK), tcp(flags=FIN | ACK)], table) == []
    assert table.flows == {}
    assert table.counters["flows"] == 0


# --------------------------------------------------------------------------- ending a flow


@pytest.mark.parametrize(
    ("closing", "ends"),
    [
        pytest.param([(True, FIN | ACK), (False, FIN | ACK)], True, id="fin-both-ways"),
        pytest.param([(False, FIN | ACK), (True, FIN | ACK)], True, id="server-closes-first"),
        pytest.param([(True, RST)], True, id="rst-from-client"),
        pytest.param([(False, RST | ACK)], True, id="rst-from-server"),
        pytest.param([(True, FIN | ACK)], False, id="half-closed"),
    ],
)
def test_flow_end(closing: list[tuple[bool, int]], ends: bool) -> None:
    s = Session().handshake().send(True, CGMINER_SUBSCRIBE)
    for from_client, flags in closing:
        s.packet(from_client, flags=flags)
    table = FlowTable()
    events = run(s.packets, table)
    assert kinds(events).count("FlowEnd") == int(ends)
    assert (table.flows == {}) is ends


def test_half_closed_flow_still_reads_the_other_side() -> None:
    s = Session().handshake().send(True, CGMINER_SUBSCRIBE).fin(True)
    s.send(False, NESFIT_SUBSCRIBE_REPLY).fin(False)
    s.packet(True, flags=ACK)  # the last ACK starts nothing new
    events = run(s.packets)
    assert kinds(events) == ["FlowStart", "JsonMessage", "JsonMessage", "FlowEnd"]


def test_retransmitted_fin_does_not_close_the_flow() -> None:
    s = Session().handshake().send(True, CGMINER_SUBSCRIBE).fin(True)
    s.packet(True, flags=FIN | ACK, seq=s.next_seq(True) - 1)  # the same FIN again
    s.send(False, NESFIT_SUBSCRIBE_REPLY)
    events = run(s.packets)
    assert kinds(events) == ["FlowStart", "JsonMessage", "JsonMessage"]


def test_data_on_the_syn_is_read() -> None:
    s = Session()
    s.packet(True, CGMINER_SUBSCRIBE, flags=SYN, seq=s.client_isn)
    s.skip(True, len(CGMINER_SUBSCRIBE))
    s.packet(False, flags=SYN | ACK, seq=s.server_isn)
    s.send(True, CGMINER_AUTHORIZE)
    assert json_messages(run(s.packets)) == [(True, "mining.subscribe"), (True, "mining.authorize")]


# --------------------------------------------------------------------------- HTTP, TLS, DNS


def test_http_post_split_head_and_body() -> None:
    head = (
        b"POST " + ETH_GETWORK_URI.encode() + b" HTTP/1.1\r\nHost: pool.eth.pp.ua\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ETH_GETWORK_BODY)
    )
    reply = b'{"id":1,"jsonrpc":"2.0","result":["0x1","0x2","0x3"]}'
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply
    s = Session(sport=80).handshake().send(True, head + ETH_GETWORK_BODY, [len(head)])
    events = run(s.send(False, response, [17]).close().packets)
    assert kinds(events) == [
        "FlowStart",
        "HttpMessage",
        "JsonMessage",
        "HttpMessage",
        "JsonMessage",
        "FlowEnd",
    ]
    request, body, resp, resp_body = events[1:5]
    assert isinstance(request, HttpMessage) and isinstance(body, JsonMessage)
    assert isinstance(resp, HttpMessage) and isinstance(resp_body, JsonMessage)
    assert (request.method, request.uri, request.from_client) == ("POST", ETH_GETWORK_URI, True)
    assert (body.value["method"], body.via_http, body.http, body.from_client) == (
        "eth_getWork",
        True,
        request,
        True,
    )
    assert (resp.status, resp_body.from_client, resp_body.http) == (200, False, resp)


def test_chunked_http_response_is_reported_as_head_only() -> None:
    chunk = b'{"id":1,"result":true}'
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(chunk) + chunk
    s = Session(sport=80).handshake().send(True, b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    s.send(False, response).send(False, b"\r\n0\r\n\r\n")
    events = run(s.packets)
    responses = [e for e in events if isinstance(e, HttpMessage) and not e.is_request]
    assert [(r.status, r.body) for r in responses] == [(200, b"")]
    assert [e for e in events if isinstance(e, JsonMessage) and not e.from_client] == []


@pytest.mark.parametrize("cut", [4, 9, 60], ids=["cut-4", "cut-9", "cut-60"])
def test_tls_client_hello_split_over_two_segments(cut: int) -> None:
    s = Session(sport=443).handshake().send(True, client_hello("Donate.SSL.xmrig.com"), [cut])
    events = run(s.send(False, binary(1400)).close().packets)
    hellos = [e for e in events if isinstance(e, TlsClientHello)]
    assert [(h.sni, h.from_client, h.flow.server_port) for h in hellos] == [
        ("donate.ssl.xmrig.com", True, 443)
    ]


def test_dns_over_udp_orients_the_querier_as_client() -> None:
    query = udp(dns_query("XmR-eU1.NanoPool.ORG"), src=CLIENT, dst=SERVER, sport=5353, dport=53)
    answer = dns_response("XmR-eU1.NanoPool.ORG", [(1, bytes([51, 255, 1, 2]), 60)])
    response = udp(answer, src=SERVER, dst=CLIENT, sport=53, dport=5353)
    events = run([query, response])
    assert kinds(events) == ["DnsMessage", "DnsMessage"]
    key = FlowKey(CLIENT_IP, 5353, SERVER_IP, 53, PROTO_UDP)
    for e, is_response in zip(events, (False, True), strict=True):
        assert isinstance(e, DnsMessage)
        assert (e.flow, e.from_client, e.is_response) == (key, not is_response, is_response)
        assert e.questions == (("xmr-eu1.nanopool.org", 1),)
    assert isinstance(events[1], DnsMessage)
    assert events[1].answers == (("xmr-eu1.nanopool.org", 1, "51.255.1.2", 60),)


@pytest.mark.parametrize(
    ("packet", "counter"),
    [
        pytest.param(udp(b"\x01\x02\x03"), "dns-malformed", id="port-53-not-dns"),
        pytest.param(udp(dns_query("a.example"), sport=5000, dport=5001), "", id="not-port-53"),
    ],
)
def test_udp_that_is_not_dns_is_skipped(packet: Any, counter: str) -> None:
    table = FlowTable()
    assert table.process(packet) == []
    assert sum(table.counters.values()) == (1 if counter else 0)
    if counter:
        assert table.counters[counter] == 1


def test_dns_over_tcp_both_ways() -> None:
    queries = tcp_dns(dns_query("Pool.SupportXMR.com", msg_id=1)) + tcp_dns(
        dns_query("pool.HASHVAULT.pro", msg_id=2)
    )
    answer = tcp_dns(
        dns_response("POOL.supportxmr.com", [(28, bytes(15) + b"\x01", 120)], qtype=28, msg_id=1)
    )
    s = Session(sport=53).handshake().send(True, queries).send(False, answer, [1, 20])
    events = [e for e in run(s.close().packets) if isinstance(e, DnsMessage)]
    assert [(e.from_client, e.msg_id, e.questions[0][0]) for e in events] == [
        (True, 1, "pool.supportxmr.com"),
        (True, 2, "pool.hashvault.pro"),
        (False, 1, "pool.supportxmr.com"),
    ]
    assert events[2].answers == (("pool.supportxmr.com", 28, "::1", 120),)
    assert {e.flow for e in events} == {FlowKey(CLIENT_IP, 40000, SERVER_IP, 53, PROTO_TCP)}


# --------------------------------------------------------------------------- bypass

HELLO = client_hello("www.example.com")


@pytest.mark.parametrize(
    ("client", "server", "bypassed"),
    [
        pytest.param(binary(1400), binary(5000, seed=2), True, id="binary-both-ways-then-bulk"),
        pytest.param(binary(1400), binary(1400, seed=2), False, id="binary-both-ways-is-shaped-as-opaque"),
        pytest.param(HELLO, binary(1400), True, id="tls-hello-then-binary"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", binary(1400), False, id="http-client-keeps-reading"
        ),
        pytest.param(binary(1400), NOMP_SET_DIFFICULTY, False, id="json-server-keeps-reading"),
    ],
)
def test_flow_with_nothing_to_read_is_bypassed(client: bytes, server: bytes, bypassed: bool) -> None:
    s = Session().handshake().send(True, client).send(False, server)
    table = FlowTable()
    run(s.packets, table)
    assert table.counters["flows-bypassed"] == int(bypassed)
    assert the_flow(table).bypass is bypassed


def test_bypassed_flow_yields_nothing_more_until_it_ends() -> None:
    s = Session().handshake().send(True, binary(1400)).send(False, binary(5000, seed=2))
    table = FlowTable()
    run(s.packets, table)
    assert table.counters["flows-bypassed"] == 1
    start = len(s.packets)
    s.send(True, b"\n" + XMRIG_KEEPALIVED).send(False, b"\n" + NOMP_SET_DIFFICULTY)
    s.send(True, HELLO).send(True, tcp_dns(dns_query("a.example")))
    s.send(True, ACT1).send(False, ACT2)
    assert run(s.packets[start:], table) == []
    assert kinds(run(s.close().packets[-3:], table)) == ["FlowEnd"]
    assert table.counters["flows-bypassed"] == 1


# --------------------------------------------------------------------------- Stratum V2

ACT1 = random_bytes(64, seed=21)
ACT2 = random_bytes(234, seed=22)
LOW_ENTROPY = b"Hello pool, this is a perfectly ordinary text message. " * 5


def sv2_events(events: list[Event]) -> list[Sv2Handshake]:
    """The Stratum V2 events."""
    return [e for e in events if isinstance(e, Sv2Handshake)]


def test_encrypted_sv2_handshake_is_recognised_by_its_sizes() -> None:
    s = Session(sport=34254).handshake().send(True, ACT1).send(False, ACT2)
    (e,) = sv2_events(run(s.packets))
    assert (e.encrypted, e.setup, e.flow.server_port) == (True, {}, 34254)


@pytest.mark.parametrize(
    ("client", "server"),
    [
        pytest.param(b"\x16\x03\x01" + ACT1[3:], b"\x16\x03\x03" + ACT2[3:], id="tls-records"),
        pytest.param(LOW_ENTROPY[:64], LOW_ENTROPY[:234], id="low-entropy-text"),
        pytest.param(ACT1, LOW_ENTROPY[:234], id="low-entropy-server"),
        pytest.param(ACT1 + b"\x00", ACT2, id="client-65"),
        pytest.param(ACT1, ACT2[:233], id="server-233"),
    ],
)
def test_same_sizes_without_the_noise_shape_are_not_sv2(client: bytes, server: bytes) -> None:
    s = Session().handshake().send(True, client).send(False, server)
    assert sv2_events(run(s.packets)) == []


def test_encrypted_sv2_is_judged_on_first_payloads_only() -> None:
    s = Session().handshake().send(True, b"x" * 10).send(False, b"y" * 10)
    s.send(True, ACT1).send(False, ACT2)
    assert sv2_events(run(s.packets)) == []


def test_plaintext_sv2_setup_connection_through_the_table() -> None:
    s = Session(sport=3336).handshake().send(True, setup_connection(host=b"sv2.example", port=3336))
    (e,) = sv2_events(run(s.packets))
    assert (e.encrypted, e.from_client) == (False, True)
    assert (e.setup["endpoint_host"], e.setup["endpoint_port"], e.setup["device_id"]) == (
        "sv2.example",
        3336,
        "rig-7",
    )


# --------------------------------------------------------------------------- bounds


def syn(cport: int, ts_us: int) -> Any:
    """A client's SYN from ``cport`` at ``ts_us``."""
    return tcp(flags=SYN, sport=cport, seq=cport, ts_us=ts_us)


def open_flows(table: FlowTable, count: int, start_us: int = 0) -> list[Event]:
    """Open ``count`` flows from ports 50000 up, one microsecond apart."""
    return [e for i in range(count) for e in table.process(syn(50000 + i, start_us + i))]


def distinct_flows(table: FlowTable) -> set[int]:
    """The client ports of the flows in the table."""
    return {f.key.client_port for f in table.flows.values()}


def test_flow_table_bound_evicts_the_least_recently_seen() -> None:
    table = FlowTable(max_flows=10)
    open_flows(table, 10)
    table.process(tcp(flags=ACK | PSH, payload=b"x", sport=50000, seq=50001, ts_us=100))  # 50000 is busy
    events = table.process(syn(60000, 200))
    assert kinds(events).count("FlowStart") == 1
    assert table.counters["flows-evicted"] == 1
    assert distinct_flows(table) == {*range(50000, 50010), 60000} - {50001}
    assert len(table.flows) == 2 * 10


@pytest.mark.parametrize(("max_flows", "opened"), [(10, 10), (10, 35), (50, 200)])
def test_flow_table_never_holds_more_than_max_flows(max_flows: int, opened: int) -> None:
    table = FlowTable(max_flows=max_flows)
    open_flows(table, opened)
    assert len(distinct_flows(table)) <= max_flows
    assert table.counters["flows"] == opened
    assert table.counters["flows-evicted"] + len(distinct_flows(table)) == opened


def test_evicted_flow_ends_with_a_flow_end() -> None:
    table = FlowTable(max_flows=10)
    open_flows(table, 10)
    events = table.process(syn(60000, 200))
    ends = [e for e in events if isinstance(e, FlowEnd)]
    assert [e.flow.client_port for e in ends] == [50000]


def test_idle_sweep_expires_only_idle_flows() -> None:
    table = FlowTable(idle_timeout_us=1_000_000)
    open_flows(table, 2, start_us=0)  # ports 50000, 50001 at t=0 and t=1
    table.process(syn(50002, 1_500_000))
    events = table.sweep(1_000_001)
    assert [(type(e), e.flow.client_port) for e in events] == [(FlowEnd, 50000)]
    assert table.counters["flows-expired"] == 1
    assert distinct_flows(table) == {50001, 50002}
    assert [e.flow.client_port for e in table.sweep(3_000_000)] == [50001, 50002]
    assert table.flows == {}


def test_sweep_runs_by_itself_every_few_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "SWEEP_EVERY", 3)
    table = FlowTable(idle_timeout_us=1_000_000)
    events = open_flows(table, 2)
    events += table.process(syn(50002, 5_000_000))  # the third packet: the sweep runs
    assert kinds(events) == ["FlowStart", "FlowStart", "FlowStart", "FlowEnd", "FlowEnd"]
    assert distinct_flows(table) == {50002}


def test_close_all_ends_each_flow_once() -> None:
    table = FlowTable()
    open_flows(table, 3)
    run(Session(cport=50001, client_isn=50001).send(True, CGMINER_SUBSCRIBE).packets, table)
    ends = table.close_all()
    assert sorted(e.flow.client_port for e in ends if isinstance(e, FlowEnd)) == [50000, 50001, 50002]
    assert len(ends) == 3
    assert table.flows == {}


def test_flow_start_comes_once_per_flow() -> None:
    table = FlowTable()
    events = run(tcp_session(EXCHANGE, segment_size=5), table)
    assert [e for e in events if isinstance(e, FlowStart)] == events[:1]
    assert table.counters["flows"] == 1


# --------------------------------------------------------------------------- the buffer budget


def test_buffer_budget_gives_up_the_largest_holders() -> None:
    """Many flows each holding an unfinished JSON line: the total stays bounded and it is counted."""
    from collections import Counter

    from poolsniff.dissect.flows import Dissector

    counters: Counter[str] = Counter()
    table = FlowTable(dissector=Dissector(counters, max_buffered=20_000))
    table.counters = counters
    line = b'{"id":1,"method":"mining.subscribe","params":["' + b"a" * 900
    packets = []
    for i in range(100):
        s = Session(cport=20000 + i).handshake()
        s.packet(True, line)
        packets.extend(s.packets)
    run(packets, table)

    def held() -> int:
        return sum(d.buffered() for f in table.dissector.live.values() for d in (f.c, f.s))

    # between two counts the buffers grow by at most half the budget
    assert counters["buffer-budget-given-up"] > 0
    assert held() <= 30_000
    table.dissector.enforce_budget()
    assert held() <= 20_000


def test_buffer_budget_leaves_small_holders_alone() -> None:
    from collections import Counter

    from poolsniff.dissect.flows import Dissector

    counters: Counter[str] = Counter()
    table = FlowTable(dissector=Dissector(counters, max_buffered=1_000_000))
    s = Session().handshake()
    s.send(True, b'{"id":1,"method":"mining.subscribe","params":["cgminer/4.11.1"]')
    s.send(True, b"}\n")
    events = run(s.packets, table)
    assert [type(e).__name__ for e in events].count("JsonMessage") == 1
    assert counters["buffer-budget-given-up"] == 0
