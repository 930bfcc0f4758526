"""Scenario capture: benign traffic (web, DNS, JSON-RPC that is not mining) that must raise no alert.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import json

from ..data import T0_NS, compact, hexs, lines
from ..formats import LINKTYPE_ETHERNET, link_ethernet, write_pcapng
from ..payloads import (
    NTIME,
    a_record,
    basic_auth,
    dns_message,
    http_date,
    http_json_flow,
    http_message,
    tls_session,
)
from ..wire import Capture, Host, TcpFlow, udp_packet


def cap_benign_mix() -> bytes:
    """10. Benign near-misses: DNS, HTTPS, HTTP, JSON-RPC web login, bitcoind, zabbix, Redis, SSH."""
    cap = Capture()
    client, resolver = "192.0.2.100", Host("192.0.2.53", 53)
    dns_names = [
        ("www.wikipedia.org", 1, "198.51.100.100"),
        ("www.example.org", 1, "203.0.113.101"),
        ("github.com", 28, "2001:db8:140::3"),
        ("api.example.net", 1, "203.0.113.102"),
    ]
    for i, (name, qtype, addr) in enumerate(dns_names):
        src, t = Host(client, 53000 + i * 13), T0_NS + i * 400_000_000
        udp_packet(cap, t, src, resolver, dns_message(0x2200 + i, name, qtype), True, 0x100 + i)
        udp_packet(
            cap,
            t + 9_000_000,
            resolver,
            src,
            dns_message(0x2200 + i, name, qtype, response=True, answers=[a_record(addr, 300)]),
            False,
            0x900 + i,
        )
    tls = TcpFlow(cap, Host(client, 52000), Host("198.51.100.100", 443, ttl=57), 2.0)
    tls_session(
        tls,
        "benign/wikipedia",
        "www.wikipedia.org",
        ("h2", "http/1.1"),
        [(True, 380, 1.0), (False, 1350, 30.0), (False, 1350, 0.2), (True, 90, 50.0)],
    )
    get = http_message(
        "GET / HTTP/1.1", [("Host", "www.example.org"), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]
    )
    page = b"<!doctype html>\n<html><head><title>Example Domain</title></head><body>Example.</body></html>\n"
    ok = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "text/html; charset=UTF-8"), ("Date", http_date(T0_NS + 4 * 10**9))],
        page,
    )
    http_json_flow(cap, Host(client, 52001), Host("203.0.113.101", 80, ttl=55), 4.0, get, ok)
    login = b'{"method":"login","params":{"login":"alice","password":"x"},"id":1}'
    json.loads(login)
    request = http_message(
        "POST /api/rpc HTTP/1.1",
        [
            ("Host", "api.example.net:8080"),
            ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
            ("Content-Type", "application/json"),
        ],
        login,
    )
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        lines(
            compact({"id": 1, "result": {"token": hexs("benign/token", 16), "user": "alice"}, "error": None})
        ),
    )
    http_json_flow(cap, Host(client, 52002), Host("203.0.113.102", 8080, ttl=55), 6.0, request, reply)
    rpc = compact({"jsonrpc": "1.0", "id": "curltest", "method": "getblockchaininfo", "params": []}).encode()
    request = http_message(
        "POST / HTTP/1.1",
        [
            ("Host", "203.0.113.120:8332"),
            ("Authorization", basic_auth("rpcuser", "rpcpass")),
            ("User-Agent", "curl/8.5.0"),
            ("Accept", "*/*"),
            ("content-type", "text/plain;"),
        ],
        rpc,
    )
    info = {
        "chain": "main",
        "blocks": 842406,
        "headers": 842406,
        "bestblockhash": "00000000000000000002" + hexs("benign/best", 22),
        "difficulty": 88104191118793.16,
        "time": NTIME - 420,
        "mediantime": NTIME - 2400,
        "verificationprogress": 0.9999983,
        "initialblockdownload": False,
        "chainwork": "0000000000000000000000000000000000000000" + hexs("benign/work", 12),
        "size_on_disk": 650123456789,
        "pruned": False,
        "warnings": "",
    }
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json"), ("Date", http_date(T0_NS + 8 * 10**9))],
        lines(compact({"result": info, "error": None, "id": "curltest"})),
    )
    http_json_flow(cap, Host(client, 52003), Host("203.0.113.120", 8332, ttl=60), 8.0, request, reply)
    zbx = compact(
        {
            "jsonrpc": "2.0",
            "method": "user.login",
            "params": {"username": "Admin", "password": "zabbix"},
            "id": 1,
        }
    ).encode()
    request = http_message(
        "POST /zabbix/api_jsonrpc.php HTTP/1.1",
        [("Host", "monitor.example.net"), ("Content-Type", "application/json-rpc")],
        zbx,
    )
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        compact({"jsonrpc": "2.0", "result": hexs("benign/zbx", 16), "id": 1}).encode(),
    )
    http_json_flow(cap, Host(client, 52004), Host("203.0.113.103", 80, ttl=58), 10.0, request, reply)
    redis = TcpFlow(cap, Host(client, 52005), Host("203.0.113.104", 6379, ttl=61), 12.0, rtt_ms=2.0)
    redis.handshake()
    doc = compact(
        {
            "id": "doc:42",
            "title": "Stratum V1 primer",
            "text": 'After subscribing, a miner sends {"id": 2, "method": "mining.authorize", '
            '"params": ["user", "pass"]} to log in.',
        }
    )
    redis.exchange(b"*2\r\n$3\r\nGET\r\n$6\r\ndoc:42\r\n", f"${len(doc)}\r\n{doc}\r\n".encode())
    redis.close()
    ssh = TcpFlow(cap, Host(client, 52006), Host("203.0.113.105", 22, ttl=56), 14.0)
    ssh.handshake()
    ssh.wait(3.0)
    ssh.send(False, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2\r\n", ack=False)
    ssh.wait(0.3)
    ssh.send(True, b"SSH-2.0-OpenSSH_9.6\r\n")
    ssh.close()
    return write_pcapng(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
