"""Tests for poolsniff.detect.names: DNS, TLS SNI, HTTP Host, remembered pool addresses, endpoints.

Each test builds its own Blocklist (``Blocklist().add_lines([...], "test", "pool")``) and
DnsMemory, and events straight from the model dataclasses.
"""

from __future__ import annotations

import pytest

from poolsniff.detect.names import NameDetector
from poolsniff.enrich.dnsmemory import GRACE_US, MIN_TTL_S, DnsMemory
from poolsniff.intel.lists import Blocklist
from poolsniff.model import (
    Detection,
    DnsMessage,
    Event,
    FlowKey,
    FlowStart,
    HttpMessage,
    Role,
    TlsClientHello,
    TunnelOpen,
)

TS = 1_700_000_000_000_000
SECOND = 1_000_000
DNS_FLOW = FlowKey("10.0.0.1", 5353, "10.0.0.53", 53, 17)
TLS_FLOW = FlowKey("10.0.0.1", 40000, "192.168.1.2", 443, 6)
POOL_IP = "94.23.251.22"
A, AAAA, CNAME = 1, 28, 5

LIST_LINES = [
    "# category: pool",
    "supportxmr.com      maltrail,curated",
    "eth.pp.ua           curated",
    f"{POOL_IP}:3333     maltrail",
    "[2001:db8::1]:3333  curated",
]


def blocklist(allow: tuple[str, ...] = ()) -> Blocklist:
    """The test list (and an allowlist, when given)."""
    bl = Blocklist()
    bl.add_lines(LIST_LINES, "test", "pool")
    if allow:
        bl.add_allow_lines(allow, "allow")
    return bl


def detect(event: Event, *, memory: DnsMemory | None = None, bl: Blocklist | None = None) -> list[Detection]:
    """Every detection ``event`` raises."""
    detector = NameDetector(bl or blocklist(), memory or DnsMemory())
    return list(detector.inspect(event))


def query(*names: str) -> DnsMessage:
    """A DNS A query for ``names``."""
    return DnsMessage(TS, DNS_FLOW, True, 0x1A2B, False, 0, 0, 0x0100, tuple((n, A) for n in names))


def answer(name: str, address: str, ttl: int, rrtype: int = A, ts: int = TS) -> DnsMessage:
    """A DNS response naming ``address`` for ``name``."""
    return DnsMessage(ts, DNS_FLOW, False, 0x1A2B, True, 0, 0, 0x8180, ((name, rrtype),),
                      ((name, rrtype, address, ttl),))  # fmt: skip


def connect(ip: str, port: int = 3333, ts: int = TS) -> FlowStart:
    """The SYN of a new connection from the client to ``ip:port``."""
    return FlowStart(ts, FlowKey("10.0.0.1", 40000, ip, port, 6), True)


def request(host: str, is_request: bool = True) -> HttpMessage:
    """An HTTP head with a Host header."""
    headers = {"host": host, "user-agent": "cgminer/4.11.1"}
    return HttpMessage(TS, TLS_FLOW, is_request, is_request, "POST", "/", 0 if is_request else 200, headers)


# --------------------------------------------------------------------------- DNS

DNS_ROWS = [
    pytest.param(("x.supportxmr.com",), "x.supportxmr.com", id="subdomain"),
    pytest.param(("supportxmr.com",), "supportxmr.com", id="exact"),
    pytest.param(("SupportXMR.com",), "supportxmr.com", id="mixed-case"),
    pytest.param(("supportxmr.com.",), "supportxmr.com", id="trailing-dot"),
    pytest.param(("example.org", "pool.supportxmr.com"), "pool.supportxmr.com", id="second-question"),
]


@pytest.mark.parametrize(("names", "pool_host"), DNS_ROWS)
def test_dns_query_for_listed_name(names: tuple[str, ...], pool_host: str) -> None:
    """A query for a listed domain or a name under it raises the DNS signature, once."""
    [det] = detect(query(*names))
    assert (det.signature.sid, det.role, det.miner_is_client) == (9300201, Role.CLIENT, True)
    assert det.evidence["pool_host"] == pool_host
    assert det.evidence["blocklist_entry"] == "supportxmr.com"
    assert det.evidence["blocklist_category"] == "pool"
    assert det.evidence["blocklist_source"] == "maltrail,curated"
    assert det.app["dns"]["type"] == "request"


def test_dns_query_with_two_listed_names_alerts_once() -> None:
    """One DNS message raises one detection, for its first listed question."""
    [det] = detect(query("a.supportxmr.com", "b.supportxmr.com"))
    assert det.evidence["pool_host"] == "a.supportxmr.com"


def test_dns_response_carries_answers() -> None:
    """A response's answers go into the EVE dns object."""
    [det] = detect(answer("pool.supportxmr.com", POOL_IP, 60))
    dns = det.app["dns"]
    assert dns["type"] == "response"
    assert dns["answers"] == [{"rrname": "pool.supportxmr.com", "rrtype": "A", "rdata": POOL_IP, "ttl": 60}]


@pytest.mark.parametrize(
    "name",
    ["notsupportxmr.com", "supportxmr.com.evil.example", "supportxmr.co", "example.org", "com"],
)
def test_dns_query_for_unlisted_name_is_silent(name: str) -> None:
    """Only a label-boundary match counts."""
    assert detect(query(name)) == []


def test_allowlisted_name_is_silent() -> None:
    """The allowlist wins over a listed parent domain."""
    assert detect(query("ok.supportxmr.com"), bl=blocklist(allow=("ok.supportxmr.com",))) == []


# --------------------------------------------------------------------------- TLS and HTTP

TLS_ROWS = [
    pytest.param("pool.supportxmr.com", 1, id="listed-sni"),
    pytest.param("POOL.SupportXMR.com", 1, id="mixed-case-sni"),
    pytest.param("notsupportxmr.com", 0, id="unlisted-sni"),
    pytest.param(None, 0, id="no-sni"),
]


@pytest.mark.parametrize(("sni", "count"), TLS_ROWS)
def test_tls_sni(sni: str | None, count: int) -> None:
    """A ClientHello naming a listed pool raises the TLS signature with the EVE tls object."""
    found = detect(TlsClientHello(TS, TLS_FLOW, True, sni, "TLS 1.2"))
    assert len(found) == count
    for det in found:
        assert (det.signature.sid, det.role, det.miner_is_client) == (9300202, Role.CLIENT, True)
        assert det.app["tls"] == {"sni": sni, "version": "TLS 1.2"}
        assert det.evidence["pool_host"] == "pool.supportxmr.com"


HTTP_ROWS = [
    pytest.param("pool.eth.pp.ua", "pool.eth.pp.ua", "eth.pp.ua", id="host"),
    pytest.param("pool.eth.pp.ua:8080", "pool.eth.pp.ua", "eth.pp.ua", id="host-with-port"),
    pytest.param("x.supportxmr.com:80", "x.supportxmr.com", "supportxmr.com", id="supportxmr-with-port"),
]


@pytest.mark.parametrize(("host", "pool_host", "entry"), HTTP_ROWS)
def test_http_host(host: str, pool_host: str, entry: str) -> None:
    """A request's Host (port stripped) that is listed raises the HTTP signature."""
    [det] = detect(request(host))
    assert (det.signature.sid, det.role) == (9300203, Role.CLIENT)
    assert (det.evidence["pool_host"], det.evidence["blocklist_entry"]) == (pool_host, entry)
    assert det.app["http"]["hostname"] == host
    assert det.app["http"]["http_user_agent"] == "cgminer/4.11.1"


@pytest.mark.parametrize(
    ("host", "is_request"),
    [("notsupportxmr.com:80", True), ("[2001:db8::1]:3333", True), ("pool.eth.pp.ua", False), ("", True)],
    ids=["unlisted", "ipv6-literal", "response", "empty-host"],
)
def test_http_host_silent(host: str, is_request: bool) -> None:
    """Unlisted names, address literals, responses and empty Hosts raise nothing."""
    assert detect(request(host, is_request)) == []


# --------------------------------------------------------------------------- remembered addresses

MEMORY_ROWS = [
    pytest.param(answer("pool.supportxmr.com", POOL_IP, 600), POOL_IP, 10 * SECOND, 1, id="within-ttl"),
    pytest.param(answer("pool.supportxmr.com", POOL_IP, 600), POOL_IP, 601 * SECOND + GRACE_US, 0,
                 id="after-ttl"),
    pytest.param(answer("pool.supportxmr.com", POOL_IP, 0), POOL_IP, (MIN_TTL_S - 1) * SECOND, 1,
                 id="ttl0-kept-min-ttl"),
    pytest.param(answer("pool.supportxmr.com", POOL_IP, 0), POOL_IP, (MIN_TTL_S + 1) * SECOND + GRACE_US, 0,
                 id="ttl0-after-min-ttl"),
    pytest.param(answer("pool.supportxmr.com", "2001:db8::7", 600, AAAA), "2001:db8::7", 10 * SECOND, 1,
                 id="aaaa"),
    pytest.param(answer("www.example.org", "203.0.113.5", 600), "203.0.113.5", 10 * SECOND, 0,
                 id="unlisted-name"),
    pytest.param(answer("pool.supportxmr.com", POOL_IP, 600), "203.0.113.5", 10 * SECOND, 0,
                 id="other-address"),
    pytest.param(answer("pool.supportxmr.com", "alias.example.net", 600, CNAME), "alias.example.net",
                 10 * SECOND, 0, id="cname-is-no-address"),
]  # fmt: skip


@pytest.mark.parametrize(("response", "ip", "later", "count"), MEMORY_ROWS)
def test_connection_to_resolved_address(response: DnsMessage, ip: str, later: int, count: int) -> None:
    """A connection to an address a listed name resolved to raises the fallback while the TTL lasts."""
    memory = DnsMemory()
    memory.observe(response)
    found = detect(connect(ip, port=14444, ts=TS + later), memory=memory)
    assert len(found) == count
    for det in found:
        assert (det.signature.sid, det.role, det.miner_is_client) == (9300204, Role.MINER, True)
        assert det.evidence["resolved_from"] == "pool.supportxmr.com"
        assert det.evidence["pool_host"] == "pool.supportxmr.com"
        assert det.evidence["blocklist_entry"] == "supportxmr.com"


ENDPOINT_ROWS = [
    pytest.param(POOL_IP, 3333, 1, id="listed-ipv4-endpoint"),
    pytest.param(POOL_IP, 3334, 0, id="other-port"),
    pytest.param("94.23.251.23", 3333, 0, id="other-address"),
    pytest.param("2001:db8::1", 3333, 1, id="listed-ipv6-endpoint"),
    pytest.param("2001:0db8:0000::0001", 3333, 1, id="ipv6-non-canonical"),
]


@pytest.mark.parametrize(("ip", "port", "count"), ENDPOINT_ROWS)
def test_connection_to_listed_endpoint(ip: str, port: int, count: int) -> None:
    """A connection to a listed ``ip:port`` raises the endpoint fallback."""
    found = detect(connect(ip, port))
    assert len(found) == count
    for det in found:
        assert (det.signature.sid, det.role, det.miner_is_client) == (9300205, Role.MINER, True)
        assert det.evidence["blocklist_category"] == "pool"


def test_resolved_name_wins_over_endpoint() -> None:
    """An address both remembered and listed as an endpoint raises one detection, the resolved one."""
    memory = DnsMemory()
    memory.observe(answer("pool.supportxmr.com", POOL_IP, 600))
    [det] = detect(connect(POOL_IP, 3333, ts=TS + SECOND), memory=memory)
    assert det.signature.sid == 9300204


def test_repeated_queries_alert_each_time() -> None:
    """The remembered match serves every message: each listed query is a detection."""
    detector = NameDetector(blocklist(), DnsMemory())
    found = [list(detector.inspect(query("x.supportxmr.com"))) for _ in range(3)]
    assert [len(f) for f in found] == [1, 1, 1]
    assert detector.inspect(query("example.org")) == []


# --------------------------------------------------------------------------- tunnel targets

PROXY_FLOW = FlowKey("10.0.0.1", 40100, "10.0.0.8", 1080, 6)


def tunnel(kind: str, host: str, port: int) -> TunnelOpen:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return TunnelOpen(TS, PROXY_FLOW, True, kind, host, port, target)


@pytest.mark.parametrize(
    "event, pool_host",
    [
        pytest.param(tunnel("socks5", "gulf.supportxmr.com", 10128), "gulf.supportxmr.com", id="socks5-name"),
        pytest.param(tunnel("http-connect", "pool.supportxmr.com", 443), "pool.supportxmr.com", id="connect"),
        pytest.param(tunnel("socks4", POOL_IP, 3333), None, id="socks4-listed-endpoint"),
        pytest.param(tunnel("socks5", "2001:db8::1", 3333), None, id="socks5-v6-endpoint"),
        pytest.param(tunnel("proxy-v2", POOL_IP, 3333), None, id="proxy-v2-destination"),
    ],
)
def test_tunnel_to_a_listed_target(event: TunnelOpen, pool_host: str | None) -> None:
    (det,) = detect(event)
    expected = (9300206, Role.CLIENT, True, PROXY_FLOW)
    assert (det.signature.sid, det.role, det.miner_is_client, det.flow) == expected
    assert det.evidence.get("pool_host") == pool_host
    assert det.evidence["blocklist_category"] == "pool"


def test_tunnel_to_an_address_a_listed_name_resolved_to() -> None:
    memory = DnsMemory()
    memory.observe(DnsMessage(TS, DNS_FLOW, False, 1, True, 0, 0, 0x8180, (("xmr.supportxmr.com", A),),
                              (("xmr.supportxmr.com", A, "203.0.113.77", 600),)))  # fmt: skip
    (det,) = detect(tunnel("socks4", "203.0.113.77", 443), memory=memory)
    assert det.evidence["pool_host"] == "xmr.supportxmr.com"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(tunnel("socks5", "www.example.com", 443), id="benign-name"),
        pytest.param(tunnel("socks4", "93.184.216.119", 443), id="benign-address"),
        pytest.param(tunnel("socks5", POOL_IP, 443), id="listed-address-other-port"),
        pytest.param(tunnel("websocket", "pool.supportxmr.com", 443), id="websocket-is-matched-as-http-host"),
        pytest.param(TunnelOpen(TS, PROXY_FLOW, True, "proxy-v2", "", 0, ""), id="no-target"),
    ],
)
def test_tunnel_without_a_listed_target(event: TunnelOpen) -> None:
    assert detect(event) == []


def test_tunnel_to_an_allowed_subdomain() -> None:
    assert detect(tunnel("socks5", "www.supportxmr.com", 443), bl=blocklist(("www.supportxmr.com",))) == []
