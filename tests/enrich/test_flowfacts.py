"""Tests for poolsniff.enrich.flowfacts: tunnels and TLS fingerprints per flow, bounded, forgotten."""

from __future__ import annotations

from poolsniff.detect import signatures as sigs
from poolsniff.enrich.flowfacts import FlowFacts
from poolsniff.model import Detection, FlowKey, Role, TlsClientHello, TlsServerHello, TunnelOpen

TS = 1_700_000_000_000_000
FLOW = FlowKey("10.0.0.1", 40000, "10.0.0.8", 1080, 6)


def flow(n: int) -> FlowKey:
    return FlowKey("10.0.0.1", 40000 + n, "10.0.0.8", 1080, 6)


def det(key: FlowKey = FLOW) -> Detection:
    return Detection(TS, key, sigs.MINER["cryptonote"], Role.MINER, True)


def test_nested_tunnels_outermost_first_and_the_innermost_target() -> None:
    facts = FlowFacts()
    outer = "198.51.100.3"
    facts.observe(TunnelOpen(TS, FLOW, True, "proxy-v2", outer, 3333, f"{outer}:3333", "192.0.2.9:5"))
    facts.observe(TunnelOpen(TS, FLOW, True, "socks5", "pool.example", 3333, "pool.example:3333"))
    d = det()
    d.evidence["port_masquerade"] = "HTTP port 8080 without HTTP"  # the proxy's port: not a masquerade
    facts.annotate(d)
    assert d.evidence == {
        "tunnel": "proxy-v2>socks5",
        "tunnel_target": "pool.example:3333",
        "tunnel_source": "192.0.2.9:5",
    }
    assert facts.tunnel_target(FLOW) == ("pool.example", 3333)
    assert "tls" not in d.app


def test_tls_object_merges_with_what_the_detector_set() -> None:
    facts = FlowFacts()
    first = TlsClientHello(TS, FLOW, True, "a.example", "TLS 1.2", (), "771,1,2", "h" * 32, "t12d", "X 1")
    facts.observe(first)
    facts.observe(TlsClientHello(TS, FLOW, True, "second.example", "TLS 1.2"))  # the first hello counts
    assert not facts.has_server_hello(FLOW)
    facts.observe(TlsServerHello(TS, FLOW, False, "TLS 1.2", "771,1,", "s" * 32))
    assert facts.has_server_hello(FLOW)
    d = det()
    d.app["tls"] = {"sni": "set.by.detector"}
    facts.annotate(d)
    assert d.app["tls"] == {
        "sni": "set.by.detector",
        "version": "TLS 1.2",
        "ja3": {"hash": "h" * 32, "string": "771,1,2"},
        "ja4": "t12d",
        "ja3s": {"hash": "s" * 32, "string": "771,1,"},
    }
    assert d.evidence == {"tls_fingerprint": "X 1"}


def test_server_hello_alone_gives_version_and_ja3s() -> None:
    facts = FlowFacts()
    facts.observe(TlsServerHello(TS, FLOW, False, "TLS 1.3", "771,4865,43", "s" * 32))
    d = det()
    facts.annotate(d)
    assert d.app["tls"] == {"version": "TLS 1.3", "ja3s": {"hash": "s" * 32, "string": "771,4865,43"}}


def test_unknown_flow_is_left_alone() -> None:
    d = det(flow(9))
    FlowFacts().annotate(d)
    assert d.evidence == {} and d.app == {}


def test_bounded_least_recently_told_forgotten_first() -> None:
    facts = FlowFacts(max_flows=3)
    for n in range(3):
        facts.observe(TunnelOpen(TS, flow(n), True, "socks5", f"h{n}", 1, f"h{n}:1"))
    facts.observe(TlsServerHello(TS, flow(0), False, "TLS 1.3"))  # flow 0 told again: kept
    facts.observe(TunnelOpen(TS, flow(3), True, "socks5", "h3", 1, "h3:1"))
    assert set(facts.flows) == {flow(0), flow(2), flow(3)}
    facts.forget(flow(0))
    facts.forget(flow(0))
    assert set(facts.flows) == {flow(2), flow(3)}
