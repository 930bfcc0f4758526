"""Scenario captures: pool names in DNS and TLS SNI, and TLS-wrapped Stratum after a DNS lookup.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

from ..data import T0_NS
from ..formats import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, link_ethernet, link_sll, write_pcap
from ..payloads import a_record, dns_message, tls_session, vec
from ..wire import Capture, Host, TcpFlow, udp_packet


def cap_dns_pool_lookup() -> bytes:
    """3. DNS over UDP (pool, case variant, benign, look-alike, ntp pool) and over TCP (Linux SLL)."""
    cap = Capture()
    client, server = Host("192.0.2.30", 0), Host("192.0.2.53", 53)
    queries: list[tuple[str, int, list[tuple[int, bytes, int]], int]] = [
        ("pool.supportxmr.com", 1, [a_record("198.51.100.21", 300)], 0),
        ("XMR.2Miners.Com.", 1, [a_record("198.51.100.22", 60)], 0),
        ("www.example.org", 1, [a_record("203.0.113.80", 3600)], 0),
        ("notsupportxmr.com", 1, [], 3),
        ("0.debian.pool.ntp.org", 1, [a_record("198.51.100.123", 150), a_record("203.0.113.123", 150)], 0),
    ]
    for i, (name, qtype, answers, rcode) in enumerate(queries):
        ident, port = 0x1F00 + i * 0x111, 41000 + i * 7
        t = T0_NS + i * 1_500_000_000
        src = Host(client.ip, port)
        udp_packet(cap, t, src, server, dns_message(ident, name, qtype), True, 0x3000 + i)
        reply = dns_message(ident, name, qtype, response=True, answers=answers, rcode=rcode)
        udp_packet(cap, t + 11_250_000, server, src, reply, False, 0x7000 + i)
    f = TcpFlow(cap, Host(client.ip, 40001), Host(server.ip, 53), 9.0, rtt_ms=4.0)
    f.handshake()
    query = dns_message(0x5A5A, "gulf.moneroocean.stream", 1)
    reply = dns_message(
        0x5A5A, "gulf.moneroocean.stream", 1, response=True, answers=[a_record("203.0.113.66", 120)]
    )
    f.exchange(vec(2, query), vec(2, reply))
    f.close()
    return write_pcap(cap.ordered(), link_sll, LINKTYPE_LINUX_SLL)


def cap_tls_sni_donate() -> bytes:
    """4. ClientHellos: donate.ssl.xmrig.com:443, pool.hashvault.pro:80, www.example.com (BE pcap)."""
    cap = Capture()
    stratum_like = [(False, 410, 900.0), (True, 190, 30_000.0), (False, 60, 35.0), (False, 410, 12_000.0)]
    browser_like = [(True, 420, 1.0), (False, 1200, 40.0), (True, 60, 200.0)]
    sessions = [
        ("192.0.2.40", 51000, "198.51.100.40", 443, "donate.ssl.xmrig.com", (), stratum_like, 0.0),
        ("192.0.2.40", 51001, "203.0.113.60", 80, "pool.hashvault.pro", (), stratum_like, 5.0),
        ("192.0.2.40", 51002, "203.0.113.80", 443, "www.example.com", ("h2", "http/1.1"), browser_like, 10.0),
    ]
    for cip, cport, sip, sport, sni, alpn, records, start in sessions:
        f = TcpFlow(cap, Host(cip, cport), Host(sip, sport, ttl=54), start, rtt_ms=25.0)
        tls_session(f, "tls/" + sni, sni, alpn, records)
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET, endian=">")


def cap_dns_then_tls_stratum() -> bytes:
    """12. DNS answer pool.supportxmr.com -> 198.51.100.77 (TTL 300), then TLS without SNI to it on 9000."""
    cap = Capture()
    client, resolver = Host("192.0.2.150", 43210), Host("192.0.2.53", 53)
    udp_packet(cap, T0_NS, client, resolver, dns_message(0x4D2, "pool.supportxmr.com", 1), True, 0x4242)
    answer = dns_message(
        0x4D2, "pool.supportxmr.com", 1, response=True, answers=[a_record("198.51.100.77", 300)]
    )
    udp_packet(cap, T0_NS + 14_000_000, resolver, client, answer, False, 0x5151)
    f = TcpFlow(cap, Host(client.ip, 50700), Host("198.51.100.77", 9000, ttl=50), 0.2, rtt_ms=38.0)
    records = [
        (True, 230, 5.0),
        (False, 420, 40.0),
        (False, 400, 28_000.0),
        (True, 190, 31_000.0),
        (False, 60, 38.0),
        (False, 410, 20_000.0),
    ]
    tls_session(f, "tls/supportxmr-nosni", None, (), records)
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
