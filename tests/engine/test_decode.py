"""Tests for the decode stage (frames -> packets): vectors, tables, fuzzing, corpus cross-check."""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Callable

import dpkt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.engine import decode as decode_module
from poolsniff.engine.decode import LINK_PARSERS, MAX_TAGS, REASONS, Decoder, ip_to_str
from poolsniff.model import Packet
from poolsniff.sources.pcap import iter_capture
from tests.factories_frames import (
    DST4,
    DST6,
    SRC4,
    SRC6,
    eth,
    ext8,
    ext_ah,
    ext_frag,
    ipv4,
    ipv6,
    null,
    sll,
    sll2,
    tcp,
    udp,
)

CORPUS = "/work/shared/corpus"
TS = 1_700_000_000_123_456


def decode_one(linktype: int, data: bytes) -> tuple[Packet | None, Counter[str]]:
    """Decode one frame with a fresh decoder; return the packet and the skip counts."""
    decoder = Decoder()
    return decoder.decode(TS, linktype, data), decoder.skipped


def fields(packet: Packet | None) -> tuple[object, ...] | None:
    """The packet as a plain tuple with text addresses, for readable expectations."""
    if packet is None:
        return None
    return (ip_to_str(packet.src), ip_to_str(packet.dst), *packet[3:])


# --------------------------------------------------------------------------- byte-literal vectors

VECTORS = [
    pytest.param(
        1,
        "001122334455 66778899aabb 0800"  # Ethernet
        "4500 0028 0001 4000 4006 0000 0a000001 c0a80102"  # IPv4, total 40, DF
        "9c40 0d05 000003e8 00000000 5002 ffff 0000 0000"  # TCP SYN 40000 -> 3333, seq 1000
        "000000000000",  # Ethernet padding to 60 bytes
        ("10.0.0.1", "192.168.1.2", 6, 40000, 3333, 0x02, 1000, b""),
        id="ethernet-ipv4-tcp-syn-padded",
    ),
    pytest.param(
        1,
        "001122334455 66778899aabb 8100 0064 0800"  # Ethernet + 802.1Q VLAN 100
        "4500 001f 0001 0000 4011 0000 0a000001 c0a80102"  # IPv4, total 31
        "14e9 0035 000b 0000 68690a"  # UDP 5353 -> 53, length 11, "hi\n"
        "0000",  # padding
        ("10.0.0.1", "192.168.1.2", 17, 5353, 53, 0, 0, b"hi\n"),
        id="ethernet-vlan-ipv4-udp",
    ),
    pytest.param(
        1,
        "001122334455 66778899aabb 88a8 0001 8100 0002 86dd"  # QinQ
        "6000 0000 0014 06 40"  # IPv6, payload 20, TCP
        "20010db8000000000000000000000001 20010db8000000000000000000000002"
        "0050 c350 00000007 00000000 5011 ffff 0000 0000",  # TCP FIN|ACK 80 -> 50000, seq 7
        ("2001:db8::1", "2001:db8::2", 6, 80, 50000, 0x11, 7, b""),
        id="ethernet-qinq-ipv6-tcp",
    ),
    pytest.param(
        113,
        "0000 0001 0006 66778899aabb0000 0800"  # Linux cooked v1
        "4500 0031 0001 0000 4006 0000 0a000001 c0a80102"  # IPv4, total 49
        "9c40 0d05 00000001 00000000 5018 ffff 0000 0000"  # TCP PSH|ACK, seq 1
        "7b226964223a317d0a",  # {"id":1}\n
        ("10.0.0.1", "192.168.1.2", 6, 40000, 3333, 0x18, 1, b'{"id":1}\n'),
        id="sll-ipv4-tcp",
    ),
    pytest.param(
        276,
        "86dd 0000 00000003 0001 00 06 66778899aabb0000"  # Linux cooked v2
        "6000 0000 000c 11 40"  # IPv6, payload 12, UDP
        "20010db8000000000000000000000001 20010db8000000000000000000000002"
        "1388 0d3d 000c 0000 70696e67",  # UDP 5000 -> 3389, "ping"
        ("2001:db8::1", "2001:db8::2", 17, 5000, 3389, 0, 0, b"ping"),
        id="sll2-ipv6-udp",
    ),
    pytest.param(
        101,
        "6000 0000 002c 00 40"  # raw IPv6, payload 44, hop-by-hop
        "20010db8000000000000000000000001 20010db8000000000000000000000002"
        "2b00 0000 00000000"  # hop-by-hop -> routing
        "3c00 0000 00000000"  # routing -> destination options
        "0600 0000 00000000"  # destination options -> TCP
        "0d05 9c40 00000002 00000000 5010 ffff 0000 0000"  # TCP ACK 3333 -> 40000
        "",
        ("2001:db8::1", "2001:db8::2", 6, 3333, 40000, 0x10, 2, b""),
        id="raw-ipv6-extension-headers",
    ),
    pytest.param(
        0,
        "00000002"  # BSD loopback, AF_INET written big-endian
        "4500 001e 0001 0000 4011 0000 7f000001 7f000001"
        "c350 0035 000a 0000 6f6b",  # UDP 50000 -> 53, "ok"
        ("127.0.0.1", "127.0.0.1", 17, 50000, 53, 0, 0, b"ok"),
        id="null-big-endian-ipv4",
    ),
    pytest.param(
        0,
        "1e000000"  # BSD loopback, AF_INET6 (30, macOS) written little-endian
        "6000 0000 0008 11 40"
        "00000000000000000000000000000001 00000000000000000000000000000001"
        "0035 c350 0008 0000",  # empty UDP
        ("::1", "::1", 17, 53, 50000, 0, 0, b""),
        id="null-little-endian-ipv6",
    ),
    pytest.param(
        108,
        "00000002"  # OpenBSD loopback, AF_INET in network order
        "4500 0028 0001 0000 4006 0000 7f000001 7f000002"
        "0016 d431 00000009 00000000 5004 0000 0000 0000",  # TCP RST 22 -> 54321
        ("127.0.0.1", "127.0.0.2", 6, 22, 54321, 0x04, 9, b""),
        id="loop-ipv4-tcp-rst",
    ),
    pytest.param(
        1,
        "001122334455 66778899aabb 8864"  # Ethernet, PPPoE session
        "1100 0001 0020 0021"  # PPPoE v1 session 1, length 32, PPP protocol IPv4
        "4500 001e 0001 0000 4011 0000 0a000001 c0a80102"
        "14e9 0035 000a 0000 6f6b",
        ("10.0.0.1", "192.168.1.2", 17, 5353, 53, 0, 0, b"ok"),
        id="ethernet-pppoe-ipv4-udp",
    ),
]


@pytest.mark.parametrize("linktype, frame_hex, expected", VECTORS)
def test_vectors(linktype: int, frame_hex: str, expected: tuple[object, ...]) -> None:
    packet, skipped = decode_one(linktype, bytes.fromhex(frame_hex))
    assert fields(packet) == expected
    assert packet is not None and packet.ts_us == TS
    assert skipped == Counter()


# --------------------------------------------------------------------------- link types

IP4_TCP = ipv4(tcp(b"abc", sport=1, dport=2, seq=3, flags=0x18))
IP6_UDP = ipv6(udp(b"xyz", sport=4, dport=5), nxt=17)
V4 = (SRC4, DST4, 6, 1, 2, 0x18, 3, b"abc")
V6 = (SRC6, DST6, 17, 4, 5, 0, 0, b"xyz")

LINK_CASES = [
    (1, eth(IP4_TCP), V4),
    (1, eth(IP6_UDP, 0x86DD), V6),
    (1, eth(IP4_TCP, tags=[0x8100]), V4),
    (1, eth(IP6_UDP, 0x86DD, tags=[0x88A8, 0x8100]), V6),
    (1, eth(IP4_TCP, tags=[0x9100, 0x8100]), V4),
    (1, eth(IP4_TCP, tags=[0x8100] * MAX_TAGS), V4),
    (113, sll(IP4_TCP), V4),
    (113, sll(IP6_UDP, 0x86DD), V6),
    (113, sll(IP4_TCP, 0x8100)[: -len(IP4_TCP)] + b"\x00\x64\x08\x00" + IP4_TCP, V4),
    (276, sll2(IP4_TCP), V4),
    (276, sll2(IP6_UDP, 0x86DD), V6),
    (101, IP4_TCP, V4),
    (101, IP6_UDP, V6),
    (12, IP4_TCP, V4),
    (14, IP6_UDP, V6),
    (228, IP4_TCP, V4),
    (229, IP6_UDP, V6),
    (0, null(IP4_TCP, 2, "<"), V4),
    (0, null(IP4_TCP, 2, ">"), V4),
    (0, null(IP6_UDP, 10, "<"), V6),
    (0, null(IP6_UDP, 24, "<"), V6),
    (0, null(IP6_UDP, 28, ">"), V6),
    (0, null(IP6_UDP, 30, "<"), V6),
    (108, null(IP4_TCP, 2, ">"), V4),
    (108, null(IP6_UDP, 24, ">"), V6),
    (9, b"\xff\x03\x00\x21" + IP4_TCP, V4),
    (9, b"\x00\x57" + IP6_UDP, V6),
    (9, b"\x21" + IP4_TCP, V4),
    (104, b"\x0f\x00\x08\x00" + IP4_TCP, V4),
]


@pytest.mark.parametrize("linktype, frame, expected", LINK_CASES)
def test_link_types(linktype: int, frame: bytes, expected: tuple[object, ...]) -> None:
    packet, skipped = decode_one(linktype, frame)
    assert packet is not None and tuple(packet[1:]) == expected
    assert skipped == Counter()


# --------------------------------------------------------------------------- skip reasons

SKIP_CASES = [
    (1, b"", "empty"),
    (147, IP4_TCP, "unknown-linktype"),
    (1, eth(b"\x00" * 28, 0x0806), "not-ip"),  # ARP
    (1, eth(b"\xaa\xaa\x03" + IP4_TCP, 0x0040), "not-ip"),  # 802.3 length field
    (1, eth(IP4_TCP, tags=[0x8100] * (MAX_TAGS + 1)), "vlan-depth"),
    (1, eth(b"", tags=[0x8100])[:-4], "truncated"),
    (113, sll(IP4_TCP, 0x0004), "not-ip"),
    (0, null(IP4_TCP, 7), "not-ip"),
    (108, null(IP4_TCP, 2, "<"), "not-ip"),
    (9, b"\xc0\x21" + b"\x01" * 10, "not-ip"),  # LCP
    (1, eth(b"\x11\x00\x00\x01\x00\x02\xc0\x21", 0x8864), "not-ip"),  # PPPoE carrying LCP
    (101, b"\x50" + IP4_TCP[1:], "bad-ip-header"),
    (228, ipv6(b""), "bad-ip-header"),
    (229, IP4_TCP, "bad-ip-header"),
    (1, eth(ipv4(tcp(), ihl=4)), "bad-ip-header"),
    (1, eth(ipv4(tcp(), total=19)), "bad-ip-header"),
    (1, eth(ipv4(tcp(b"x"), proto=1)), "other-proto"),  # ICMP
    (1, eth(ipv4(ipv4(tcp()), proto=4)), "other-proto"),  # IP in IP
    (1, eth(ipv4(tcp(b"x"), frag=0x2000 | 185)), "fragment"),  # MF, offset > 0
    (1, eth(ipv4(tcp(b"x"), frag=185)), "fragment"),  # last fragment
    (1, eth(ipv4(tcp(data_offset=4))), "bad-tcp-header"),
    (1, eth(ipv4(tcp(data_offset=15))), "truncated"),
    (1, eth(ipv6(ext_frag(6, offset=3) + tcp(), nxt=44), 0x86DD), "fragment"),
    (1, eth(ipv6(b"\x00" * 16, nxt=50), 0x86DD), "other-proto"),  # ESP
    (1, eth(ipv6(b"", nxt=59), 0x86DD), "other-proto"),  # No Next Header
    (1, eth(ipv6(b"\x80\x00" + b"\x00" * 6, nxt=58), 0x86DD), "other-proto"),  # ICMPv6
    (1, eth(ipv6(ext8(0) * 20, nxt=0), 0x86DD), "bad-ip-header"),  # endless hop-by-hop
    (1, eth(ipv6(ext8(6) + tcp(), nxt=0, length=4), 0x86DD), "bad-ip-header"),
]


@pytest.mark.parametrize("linktype, frame, reason", SKIP_CASES)
def test_skip_reasons(linktype: int, frame: bytes, reason: str) -> None:
    packet, skipped = decode_one(linktype, frame)
    assert packet is None
    assert skipped == Counter({reason: 1})
    assert reason in REASONS


# --------------------------------------------------------------------------- IP details


@pytest.mark.parametrize(
    "frame, payload",
    [
        (eth(ipv4(tcp(b"data")) + b"\x00" * 20), b"data"),  # Ethernet padding
        (eth(ipv4(udp(b"dns"), proto=17) + b"\xff" * 9), b"dns"),
        (eth(ipv6(tcp(b"v6"), nxt=6) + b"\xee" * 12, 0x86DD), b"v6"),
        (eth(ipv4(udp(b"abcdef", length=10), proto=17)), b"ab"),  # UDP length trims further
        (eth(ipv4(udp(b"abc", length=0), proto=17)), b"abc"),  # bogus UDP length ignored
        (eth(ipv4(tcp(b"options", options=b"\x01" * 12))), b"options"),  # TCP options
        (eth(ipv4(tcp(b"ipopts"), options=b"\x01" * 8)), b"ipopts"),  # IPv4 options (IHL 7)
        (eth(ipv4(tcp(b"offload"), total=0)), b"offload"),  # TSO: total length 0
        (eth(ipv4(tcp(b"x" * 100), total=50)), b"x" * 10),  # total shorter than the frame
        (eth(ipv4(tcp(b"x" * 100), total=1000)), b"x" * 100),  # snaplen-cut capture
        (eth(ipv4(tcp(b"first"), frag=0x2000)), b"first"),  # first fragment
        (eth(ipv6(ext_frag(6, more=True) + tcp(b"f6"), nxt=44), 0x86DD), b"f6"),
        (eth(ipv6(ext_ah(17) + udp(b"ah"), nxt=51), 0x86DD), b"ah"),
        (eth(ipv6(ext8(6, 16) + tcp(b"mob"), nxt=135), 0x86DD), b"mob"),
    ],
)
def test_payload_bounds(frame: bytes, payload: bytes) -> None:
    packet, _ = decode_one(1, frame)
    assert packet is not None
    assert packet.payload == payload


@pytest.mark.parametrize(
    "frame, header_size, payload",
    [
        (eth(ipv4(tcp(b"0123456789"))), 54, b"0123456789"),
        (eth(ipv4(udp(b"0123456789"), proto=17)), 42, b"0123456789"),
        (eth(ipv6(tcp(b"0123456789"), nxt=6), 0x86DD), 74, b"0123456789"),
        (eth(ipv6(ext8(17) + udp(b"0123456789"), nxt=0), 0x86DD), 70, b"0123456789"),
        (sll(ipv4(tcp(b"0123456789"), options=b"\x01" * 4)), 60, b"0123456789"),
    ],
)
def test_truncation_at_every_byte(frame: bytes, header_size: int, payload: bytes) -> None:
    for cut in range(len(frame) + 1):
        linktype = 113 if header_size == 60 else 1
        packet, skipped = decode_one(linktype, frame[:cut])
        if cut < header_size:
            assert packet is None, cut
            assert skipped == Counter({"empty" if cut == 0 else "truncated": 1}), cut
        else:
            assert packet is not None, cut
            assert packet.payload == payload[: cut - header_size]


def test_counts_accumulate() -> None:
    decoder = Decoder()
    frames = [eth(IP4_TCP), b"", eth(b"\0" * 28, 0x0806), eth(b"\0" * 28, 0x0806), eth(IP6_UDP)]
    results = [decoder.decode(TS, 1, frame) for frame in frames]
    assert [r is not None for r in results] == [True, False, False, False, False]
    assert decoder.skipped == Counter({"not-ip": 2, "empty": 1, "bad-ip-header": 1})


@pytest.mark.parametrize(
    "packed, text",
    [
        (bytes([10, 0, 0, 1]), "10.0.0.1"),
        (bytes([255, 255, 255, 255]), "255.255.255.255"),
        (bytes.fromhex("20010db8000000000000000000000001"), "2001:db8::1"),
        (bytes(16), "::"),
        (bytes.fromhex("fe800000000000000202b3fffe1e8329"), "fe80::202:b3ff:fe1e:8329"),
        (bytes.fromhex("00000000000000000000ffffc0a80001"), "::ffff:192.168.0.1"),
    ],
)
def test_ip_to_str(packed: bytes, text: str) -> None:
    assert ip_to_str(packed) == text


@pytest.mark.parametrize("packed", [b"", b"\x01\x02\x03", bytes(5), bytes(17)])
def test_ip_to_str_rejects_other_lengths(packed: bytes) -> None:
    with pytest.raises(ValueError, match="4 or 16 bytes"):
        ip_to_str(packed)


# --------------------------------------------------------------------------- fuzzing

LINKTYPES = sorted(LINK_PARSERS) + [2, 147, 65535, -1]


def check_outcome(decoder: Decoder, linktype: int, data: bytes) -> None:
    """Decode must not raise; a None is counted once, a packet is not counted and is sane."""
    before = sum(decoder.skipped.values())
    packet = decoder.decode(TS, linktype, data)
    counted = sum(decoder.skipped.values()) - before
    if packet is None:
        assert counted == 1
        assert set(decoder.skipped) <= set(REASONS)
    else:
        assert counted == 0
        assert isinstance(packet, Packet)
        assert len(packet.src) == len(packet.dst) in (4, 16)
        assert packet.proto in (6, 17)
        assert packet.payload in data


@given(st.sampled_from(LINKTYPES), st.binary(max_size=300))
def test_fuzz_any_bytes(linktype: int, data: bytes) -> None:
    check_outcome(Decoder(), linktype, data)


Wrapper = tuple[int, Callable[[bytes, bool], bytes]]
WRAPPERS: list[Wrapper] = [
    (1, lambda l3, v6: eth(l3, 0x86DD if v6 else 0x0800)),
    (1, lambda l3, v6: eth(l3, 0x86DD if v6 else 0x0800, tags=[0x8100])),
    (113, lambda l3, v6: sll(l3, 0x86DD if v6 else 0x0800)),
    (276, lambda l3, v6: sll2(l3, 0x86DD if v6 else 0x0800)),
    (101, lambda l3, v6: l3),
    (0, lambda l3, v6: null(l3, 24 if v6 else 2)),
    (108, lambda l3, v6: null(l3, 24 if v6 else 2, ">")),
]


@given(
    st.sampled_from(WRAPPERS),
    st.integers(0, 15),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.sampled_from([6, 17, 1, 4]),
    st.binary(max_size=120),
    st.integers(0, 300),
)
def test_fuzz_ipv4_headers(
    wrapper: Wrapper, ihl: int, total: int, frag: int, proto: int, body: bytes, cut: int
) -> None:
    linktype, wrap = wrapper
    frame = wrap(ipv4(body, proto=proto, total=total, frag=frag, ihl=ihl), False)
    check_outcome(Decoder(), linktype, frame[:cut])


@given(
    st.sampled_from(WRAPPERS),
    st.sampled_from([0, 6, 17, 43, 44, 50, 51, 59, 60, 135]),
    st.integers(0, 0xFFFF),
    st.binary(max_size=160),
    st.integers(0, 300),
)
def test_fuzz_ipv6_headers(wrapper: Wrapper, nxt: int, length: int, body: bytes, cut: int) -> None:
    linktype, wrap = wrapper
    frame = wrap(ipv6(body, nxt=nxt, length=length), True)
    check_outcome(Decoder(), linktype, frame[:cut])


# --------------------------------------------------------------------------- real captures

CORPUS_FILES = [
    "mining/ndpi-2aea4da__ethereum-stratum.pcap",
    "mining/coiniumserv__litecoin-testnet-mini.pcapng",
    "mining/nesfit__xmr-eu1.nanopool.org.pcapng",
    "benign/ndpi__http_ipv6.pcap",
    "benign/ndpi__dns_doh.pcap",
    "benign/ndpi__log4j-webapp-exploit.pcap",  # Linux cooked v1
    "benign/ndpi__opc-ua.pcap",  # BSD loopback
    "benign/ndpi__ocs.pcap",  # raw IP
]


def dpkt_reference(linktype: int, data: bytes) -> tuple[object, ...] | None:
    """What dpkt decodes from a frame, in ``Packet`` order without the timestamp."""
    try:
        if linktype == 1:
            l3 = dpkt.ethernet.Ethernet(data).data
        elif linktype == 113:
            l3 = dpkt.sll.SLL(data).data
        elif linktype == 0:
            l3 = dpkt.loopback.Loopback(data).data
        else:
            l3 = dpkt.ip.IP(data) if data[0] >> 4 == 4 else dpkt.ip6.IP6(data)
    except (dpkt.Error, IndexError, struct.error):
        return None
    if isinstance(l3, dpkt.ip.IP):
        if struct.unpack("!H", bytes(l3)[6:8])[0] & 0x1FFF:
            return None
    elif isinstance(l3, dpkt.ip6.IP6):
        frag = l3.extension_hdrs.get(44)
        if frag is not None and frag.frag_off:
            return None
    else:
        return None
    l4 = l3.data
    if isinstance(l4, dpkt.tcp.TCP):
        return (l3.src, l3.dst, 6, l4.sport, l4.dport, l4.flags, l4.seq, bytes(l4.data))
    if isinstance(l4, dpkt.udp.UDP):
        return (l3.src, l3.dst, 17, l4.sport, l4.dport, 0, 0, bytes(l4.data))
    return None


@pytest.mark.corpus
@pytest.mark.parametrize("relpath", CORPUS_FILES)
def test_matches_dpkt_on_real_captures(relpath: str) -> None:
    path = os.path.join(CORPUS, relpath)
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (the shared corpus is not mounted)")
    decoder = Decoder()
    compared = decoded = 0
    for ts_us, linktype, data in iter_capture(path):
        packet = decoder.decode(ts_us, linktype, data)
        if linktype not in (0, 1, 101, 113):
            continue
        mine = None if packet is None else tuple(packet[1:])
        assert mine == dpkt_reference(linktype, data)
        compared += 1
        decoded += packet is not None
    assert compared > 0 and decoded > 0


# --------------------------------------------------------------------------- the fast lane


def general_path(data: bytes) -> tuple[Packet | None, Counter[str]]:
    """What the general path (``Decoder._ipv4`` after the Ethernet header) makes of a frame."""
    decoder = Decoder()
    return decoder._ipv4(TS, data, 14), decoder.skipped


@pytest.mark.parametrize(
    ("frame", "taken"),
    [
        pytest.param(eth(ipv4(tcp(b"hello"))), True, id="tcp"),
        pytest.param(eth(ipv4(tcp(b"", flags=0x02))), True, id="tcp-no-payload"),
        pytest.param(eth(ipv4(tcp(b"x", options=b"\x01" * 12))), True, id="tcp-options"),
        pytest.param(eth(ipv4(udp(b"dns?" * 4), proto=17)), True, id="udp"),
        pytest.param(eth(ipv4(udp(b"dns?" * 5, length=12), proto=17)), True, id="udp-length-trims"),
        pytest.param(eth(ipv4(udp(b"dns?" * 5, length=0), proto=17)), True, id="udp-jumbogram"),
        pytest.param(eth(ipv4(tcp(b"padded"))) + b"\x00" * 6, True, id="ethernet-padding"),
        pytest.param(eth(ipv4(tcp(b"abc"), total=0)), False, id="offload-total-0"),
        pytest.param(eth(ipv4(tcp(b"abc"), ihl=6)), False, id="ip-options"),
        pytest.param(eth(ipv4(tcp(b"abc"), frag=0x2000)), True, id="more-fragments-first"),
        pytest.param(eth(ipv4(tcp(b"abc"), frag=0x0010)), False, id="later-fragment"),
        pytest.param(eth(ipv4(tcp(b"abc"), proto=1)), False, id="icmp"),
        pytest.param(eth(ipv4(udp(b"dns?"), proto=17)), False, id="udp-in-a-short-frame"),
        pytest.param(eth(ipv4(tcp(b"abc")))[:53], False, id="tcp-header-cut"),
        pytest.param(eth(ipv4(tcp(b"abc"), total=30)), False, id="total-inside-the-tcp-header"),
        pytest.param(eth(ipv4(tcp(b"abc")), 0x86DD), False, id="not-ipv4"),
        pytest.param(eth(ipv4(tcp(b"abc")), tags=[0x8100]), False, id="vlan-tag"),
    ],
)
def test_fast_lane_gives_what_the_general_path_gives(frame: bytes, taken: bool) -> None:
    fast = decode_module._ethernet_ipv4(TS, frame)
    assert (fast is not None) is taken
    if fast is not None:
        assert general_path(frame) == (fast, Counter())
    if frame[12:14] == b"\x08\x00":  # Decoder.decode: the fast lane, else the general path
        assert decode_one(1, frame) == general_path(frame)


@given(
    st.integers(0, 15),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.sampled_from([6, 17, 1]),
    st.binary(max_size=120),
    st.integers(0, 300),
)
def test_fast_lane_agrees_on_fuzzed_ipv4(
    ihl: int, total: int, frag: int, proto: int, body: bytes, cut: int
) -> None:
    frame = eth(ipv4(body, proto=proto, total=total, frag=frag, ihl=ihl))[:cut]
    fast = decode_module._ethernet_ipv4(TS, frame)
    if fast is not None:
        assert general_path(frame) == (fast, Counter())


@given(st.binary(max_size=200))
def test_fast_lane_agrees_on_any_bytes(data: bytes) -> None:
    fast = decode_module._ethernet_ipv4(TS, data)
    if fast is not None:
        assert general_path(data) == (fast, Counter())
