"""Tests for poolsniff.dissect.tunnels: SOCKS4/4a/5, HTTP CONNECT and PROXY v1/v2 prefixes, cut and fuzzed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import http
from poolsniff.dissect.flows import FlowTable
from poolsniff.dissect.interface import NEED_MORE
from poolsniff.dissect.tunnels import (
    KINDS,
    MAX_PREFIX,
    PROXY_V2_SIGNATURE,
    Prefix,
    client_kind,
    is_websocket_upgrade,
    parse_client,
    parse_server,
    split_host_port,
)
from poolsniff.engine.decode import Decoder
from poolsniff.model import Event, TlsClientHello, TlsServerHello, TunnelOpen
from poolsniff.sources.pcap import read_frames

AFTER = b'{"id":1,"method":"login","params":{}}\n'
"""What the tunnel carries: the bytes after the prefix are not part of it."""


def socks4(ip: bytes, port: int, user: bytes = b"", host: bytes | None = None) -> bytes:
    out = b"\x04\x01" + struct.pack("!H", port) + ip + user + b"\x00"
    return out + host + b"\x00" if host is not None else out


def socks5_address(host: bytes, atyp: int) -> bytes:
    return bytes([atyp]) + (bytes([len(host)]) + host if atyp == 3 else host)


def socks5(host: bytes, atyp: int, port: int, methods: bytes = b"\x00", auth: bytes = b"") -> bytes:
    greeting = bytes([5, len(methods)]) + methods
    return greeting + auth + b"\x05\x01\x00" + socks5_address(host, atyp) + struct.pack("!H", port)


def userpass(user: bytes, password: bytes) -> bytes:
    return bytes([1, len(user)]) + user + bytes([len(password)]) + password


def proxy_v2(src: bytes, dst: bytes, sport: int, dport: int, family: int, tlvs: bytes = b"") -> bytes:
    body = src + dst + struct.pack("!HH", sport, dport) + tlvs
    return PROXY_V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


CLIENT_CASES = [
    pytest.param(socks4(bytes([198, 51, 100, 7]), 3333), "socks4", "198.51.100.7", 3333, "", id="socks4"),
    pytest.param(
        socks4(bytes([198, 51, 100, 7]), 443, b"fd7bcf7b"),
        "socks4",
        "198.51.100.7",
        443,
        "",
        id="socks4-userid",
    ),
    pytest.param(
        socks4(b"\x00\x00\x00\x01", 10128, b"", b"Gulf.MoneroOcean.Stream"),
        "socks4a",
        "gulf.moneroocean.stream",
        10128,
        "",
        id="socks4a",
    ),
    pytest.param(
        socks5(b"gulf.moneroocean.stream", 3, 10128),
        "socks5",
        "gulf.moneroocean.stream",
        10128,
        "",
        id="socks5-name",
    ),
    pytest.param(
        socks5(bytes([203, 0, 113, 9]), 1, 3333), "socks5", "203.0.113.9", 3333, "", id="socks5-ipv4"
    ),
    pytest.param(
        socks5(bytes(15) + b"\x01", 4, 443),
        "socks5",
        "::1",
        443,
        "",
        id="socks5-ipv6",
    ),
    pytest.param(
        socks5(b"pool.example", 3, 3333, b"\x00\x02", userpass(b"rig1", b"x")),
        "socks5",
        "pool.example",
        3333,
        "",
        id="socks5-userpass",
    ),
    pytest.param(
        b"CONNECT pool.supportxmr.com:443 HTTP/1.1\r\nHost: pool.supportxmr.com:443\r\n\r\n",
        "http-connect",
        "pool.supportxmr.com",
        443,
        "",
        id="http-connect",
    ),
    pytest.param(
        b"CONNECT [2001:db8::5]:3333 HTTP/1.0\r\n\r\n",
        "http-connect",
        "2001:db8::5",
        3333,
        "",
        id="http-connect-v6",
    ),
    pytest.param(
        b"PROXY TCP4 192.0.2.9 198.51.100.3 50123 3333\r\n",
        "proxy-v1",
        "198.51.100.3",
        3333,
        "192.0.2.9:50123",
        id="proxy-v1",
    ),
    pytest.param(
        b"PROXY TCP6 2001:db8::9 2001:db8::3 50123 443\r\n",
        "proxy-v1",
        "2001:db8::3",
        443,
        "[2001:db8::9]:50123",
        id="proxy-v1-tcp6",
    ),
    pytest.param(b"PROXY UNKNOWN\r\n", "proxy-v1", "", 0, "", id="proxy-v1-unknown"),
    pytest.param(
        proxy_v2(bytes([192, 0, 2, 9]), bytes([198, 51, 100, 3]), 50123, 3333, 0x11, b"\x04\x00\x01x"),
        "proxy-v2",
        "198.51.100.3",
        3333,
        "192.0.2.9:50123",
        id="proxy-v2-tlv",
    ),
    pytest.param(
        proxy_v2(bytes(15) + b"\x02", bytes(15) + b"\x03", 1, 2, 0x21),
        "proxy-v2",
        "::3",
        2,
        "[::2]:1",
        id="proxy-v2-v6",
    ),
    pytest.param(
        PROXY_V2_SIGNATURE + b"\x20\x00\x00\x00",
        "proxy-v2",
        "",
        0,
        "",
        id="proxy-v2-local",
    ),
]


@pytest.mark.parametrize("prefix, kind, host, port, source", CLIENT_CASES)
def test_client_prefix(prefix: bytes, kind: str, host: str, port: int, source: str) -> None:
    """Each prefix is named, read whole, and ends exactly where the tunnelled bytes start."""
    buf = prefix + AFTER
    first = client_kind(buf)
    assert first is not None and (first == kind or (first, kind) == ("socks4", "socks4a"))
    found = parse_client(first, buf)
    assert isinstance(found, Prefix)
    assert (found.kind, found.host, found.port, found.source) == (kind, host, port, source)
    assert buf[found.length :] == AFTER


@pytest.mark.parametrize("prefix, kind, host, port, source", CLIENT_CASES)
def test_client_prefix_cut_short_asks_for_more(
    prefix: bytes, kind: str, host: str, port: int, source: str
) -> None:
    """Every cut of a prefix (eight bytes or more, as streams decides on) waits for the rest."""
    first = client_kind(prefix)
    assert first is not None
    for cut in range(8, len(prefix)):
        assert parse_client(first, prefix[:cut]) is NEED_MORE, cut


@pytest.mark.parametrize(
    "kind, reply, length",
    [
        pytest.param("socks4", b"\x00\x5a\x99\xb4\x0a\xb4\x9c\xf9", 8, id="socks4-granted"),
        pytest.param("socks5", b"\x05\x00\x05\x00\x00\x01" + bytes(6), 12, id="socks5"),
        pytest.param("socks5", b"\x05\x02\x01\x00\x05\x00\x00\x01" + bytes(6), 14, id="socks5-userpass"),
        pytest.param("socks5", b"\x05\x00\x05\x00\x00\x03\x04abcd\x01\xbb", 13, id="socks5-bound-name"),
        pytest.param("http-connect", b"HTTP/1.1 200 Connection established\r\n\r\n", 39, id="connect-200"),
        pytest.param("http-connect", b"HTTP/1.0 200 OK\r\nVia: x\r\n\r\n", 27, id="connect-200-headers"),
    ],
)
def test_server_reply(kind: str, reply: bytes, length: int) -> None:
    found = parse_server(kind, reply + AFTER)
    assert isinstance(found, Prefix) and found.length == length == len(reply)
    for cut in range(len(reply)):
        assert parse_server(kind, reply[:cut]) is NEED_MORE, cut


@pytest.mark.parametrize(
    "kind, reply",
    [
        pytest.param("socks4", b"\x00\x5b" + bytes(6), id="socks4-rejected"),
        pytest.param("socks5", b"\x05\xff", id="socks5-no-method"),
        pytest.param("socks5", b"\x05\x02\x01\x01", id="socks5-auth-failed"),
        pytest.param("socks5", b"\x05\x00\x05\x05\x00\x01" + bytes(6), id="socks5-refused"),
        pytest.param("http-connect", b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", id="connect-407"),
        pytest.param("proxy-v2", b"anything", id="no-reply-expected"),
    ],
)
def test_refused_or_unexpected_server_reply(kind: str, reply: bytes) -> None:
    assert parse_server(kind, reply) is None


@pytest.mark.parametrize(
    "buf",
    [
        pytest.param(b"\x04\x02\x01\xbb\x01\x02\x03\x04\x00", id="socks4-bind"),
        pytest.param(b"\x05\x01\x00\x05\x02\x00\x01" + bytes(6), id="socks5-bind"),
        pytest.param(b"\x05\x01\x00\x05\x01\x00\x07" + bytes(6), id="socks5-bad-atyp"),
        pytest.param(b"\x05\x01\x00\x05\x01\x00\x03\x03a b\x00\x01", id="socks5-name-with-space"),
        pytest.param(b"CONNECT pool.example HTTP/1.1\r\n\r\n", id="connect-without-port"),
        pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", id="proxy-v1-bad-port"),
        pytest.param(b"PROXY TCP4 1.2.3.4 nonsense 1 2\r\n", id="proxy-v1-bad-address"),
        pytest.param(b"PROXY TCP4 " + b"1" * 120, id="proxy-v1-no-line-end"),
        pytest.param(PROXY_V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12), id="proxy-v2-version-3"),
        pytest.param(PROXY_V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4), id="proxy-v2-short-addresses"),
        pytest.param(PROXY_V2_SIGNATURE + b"\x21\x11\xff\xff", id="proxy-v2-over-bound"),
        pytest.param(b"\x04\x01\x01\xbb\x01\x02\x03\x04" + b"u" * MAX_PREFIX, id="socks4-userid-unbounded"),
    ],
)
def test_malformed_client_prefix_is_refused(buf: bytes) -> None:
    kind = client_kind(buf)
    assert kind is None or parse_client(kind, buf) is None


@pytest.mark.parametrize(
    "buf",
    [
        b'{"id":1}',
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01",
        b"SSH-2.0-OpenSSH",
        b"\x00\x00\x00\x00",
    ],
)
def test_other_protocols_start_no_tunnel(buf: bytes) -> None:
    assert client_kind(buf) is None


@pytest.mark.parametrize(
    "head, upgrades",
    [
        (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", True),
        (b"GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\n", True),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n", False),
        (b"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", False),
    ],
)
def test_websocket_upgrade(head: bytes, upgrades: bool) -> None:
    parsed = http.parse_head(head)
    assert isinstance(parsed, http.HttpHead)
    assert is_websocket_upgrade(parsed) is upgrades


@pytest.mark.parametrize(
    "authority, default, expected",
    [
        ("pool.example:3333", 80, ("pool.example", 3333)),
        ("Pool.Example.", 80, ("pool.example", 80)),
        ("[2001:db8::1]:443", 80, ("2001:db8::1", 443)),
        ("[2001:db8::1]", 80, ("2001:db8::1", 80)),
        ("pool.example:99999", 80, ("pool.example", 80)),
        ("pool.example:x", 80, ("pool.example", 80)),
    ],
)
def test_split_host_port(authority: str, default: int, expected: tuple[str, int]) -> None:
    assert split_host_port(authority, default) == expected


def test_target_brackets_ipv6() -> None:
    assert Prefix("socks5", 0, "2001:db8::1", 3333).target == "[2001:db8::1]:3333"
    assert Prefix("socks5", 0, "pool.example", 3333).target == "pool.example:3333"
    assert Prefix("proxy-v2", 0).target == ""


@given(st.binary(max_size=600))
def test_garbage_never_raises(data: bytes) -> None:
    """Every parser answers a prefix, NEED_MORE or None on any bytes; a prefix lies within them."""
    for kind in KINDS:
        for parse in (parse_client, parse_server):
            found = parse(kind, data)
            assert found is None or found is NEED_MORE or 0 < found.length <= len(data)
    client_kind(data)


@given(st.sampled_from([p.values[0] for p in CLIENT_CASES]), st.data())
def test_mutated_prefixes_never_raise(prefix: bytes, data: st.DataObject) -> None:
    """Valid prefixes with one byte changed and cut anywhere: no exception, no overrun."""
    at = data.draw(st.integers(0, len(prefix) - 1))
    value = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(prefix)))
    buf = (prefix[:at] + bytes([value]) + prefix[at + 1 :])[:cut]
    kind = client_kind(buf)
    if kind is not None:
        found = parse_client(kind, buf)
        assert found is None or found is NEED_MORE or 0 < found.length <= len(buf)


# --------------------------------------------------------------------------- real captures

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "ja4-vectors"
REAL = {
    "socks-https-example.pcap": [
        ("socks4", "93.184.216.119:443"),
        ("socks4a", "www.example.com:443"),
        ("socks5", "93.184.216.119:443"),
    ],
    "socks4-https.pcap": [("socks4a", "login.live.com:443")],
    "https-connect.pcap": [("http-connect", "ts01-b.cloudsink.net:443")],
}  # fmt: skip
"""The tunnels of the real captures, as tshark's ``follow,tcp`` shows their first bytes."""


def capture_events(path: Path) -> list[Event]:
    decoder, table = Decoder(), FlowTable()
    events: list[Event] = []
    with path.open("rb") as f:
        for frame in read_frames(f, path.name):
            packet = decoder.decode(*frame)
            if packet is not None:
                events += table.process(packet)
    return events + table.close_all()


@pytest.mark.skipif(not VECTORS.is_dir(), reason="../shared/reference/ja4-vectors is absent")
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_tunnels_are_read_and_the_tls_inside_is_fingerprinted(name: str) -> None:
    """The tunnel and its target; the ClientHello inside has the JA4 FoxIO's tool gives (where it
    gave one), the ServerHello the JA3S tshark gives."""
    events = capture_events(VECTORS / name)
    assert [(e.kind, e.target) for e in events if isinstance(e, TunnelOpen)] == REAL[name]
    expected_ja4 = VECTORS / f"{name}.ja4.json"
    if expected_ja4.exists():
        hellos = {(e.flow.client_ip, e.flow.client_port): e for e in events if isinstance(e, TlsClientHello)}
        entries = json.loads(expected_ja4.read_text())
        for entry in entries:
            assert hellos[(entry["src"], int(entry["srcport"]))].ja4 == entry["JA4.1"]
        assert len(entries) == len(hellos) == len(REAL[name])
    if shutil.which("tshark"):
        from tests.dissect.test_tlsfp import tshark_ja3s

        expected = {(k[2], k[3]): v for k, v in tshark_ja3s(VECTORS / name).items()}  # by the client's end
        servers = {(e.flow.client_ip, e.flow.client_port): e for e in events if isinstance(e, TlsServerHello)}
        assert servers  # tshark does not read TLS on port 9901: compare where it does
        for k, ja3s in expected.items():
            assert (servers[k].ja3s_string, servers[k].ja3s_hash) == ja3s, k


# --------------------------------------------------------------------------- a real client


@pytest.mark.live
def test_real_curl_through_socks5_and_http_connect(tmp_path: Path) -> None:
    """curl's own SOCKS5 and CONNECT bytes, through a tiny proxy in a network namespace of its own
    (``tunnel_clients.py``): the tunnel to a listed name alerts, names the target and puts the
    tunnel on the HTTP Host alert inside it; the tunnel to www.example.com gives nothing."""
    if os.geteuid() != 0:
        pytest.skip("needs root: unshare -n and dumpcap on the namespace's loopback")
    for tool in ("unshare", "dumpcap", "curl", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    capture = tmp_path / "curl.pcap"
    helper = Path(__file__).with_name("tunnel_clients.py")
    cmd = ["unshare", "-n", sys.executable, str(helper), str(capture)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"cannot make a network namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    proxy_port, pool_port = map(int, proc.stdout.split())
    cmd = [sys.executable, "-m", "poolsniff", "scan", "--suppress", "0", str(capture)]
    scan = subprocess.run(cmd, capture_output=True, text=True)
    records = [r for r in map(json.loads, scan.stdout.splitlines()) if r["event_type"] == "alert"]
    through = [r for r in records if r["dest_port"] == proxy_port]
    meta = [(r["alert"]["signature_id"], r["alert"]["metadata"]) for r in through]
    got = sorted((sid, m["tunnel"][0], m["tunnel_target"][0]) for sid, m in meta)
    target = f"pool.supportxmr.com:{pool_port}"
    assert got == sorted(
        [(9300203, "http-connect", target), (9300203, "socks5", target),
         (9300206, "http-connect", target), (9300206, "socks5", target)]
    )  # fmt: skip
    assert len({r["src_port"] for r in through}) == 2  # the www.example.com tunnel: no alert
