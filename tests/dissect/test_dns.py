"""Tests for poolsniff.dissect.dns: byte-literal DNS messages, damage, and fuzzing."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import dns as dns_module
from poolsniff.dissect.dns import DnsParse, parse_dns, rrtype_name, split_tcp_dns


def name(*labels: bytes) -> bytes:
    """Encode a DNS name from its labels, ending with the root label."""
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def header(msg_id: int, flags: int, qd: int, an: int, ns: int = 0, ar: int = 0) -> bytes:
    """Pack a DNS header."""
    return struct.pack(">HHHHHH", msg_id, flags, qd, an, ns, ar)


def rr(owner: bytes, rrtype: int, ttl: int, rdata: bytes) -> bytes:
    """Pack a class-IN resource record whose owner name is already encoded."""
    return owner + struct.pack(">HHIH", rrtype, 1, ttl, len(rdata)) + rdata


# A query for xmr-eu1.nanopool.org A, RD set, as a stub resolver sends it.
QUERY_NANOPOOL = bytes.fromhex(
    "1a2b"  # id
    "0100"  # flags: RD
    "0001000000000000"  # qd=1
    "07786d722d657531"  # "xmr-eu1"
    "086e616e6f706f6f6c"  # "nanopool"
    "036f726700"  # "org", root
    "00010001"  # A, IN
)

# The answer: CNAME to eu1.nanopool.org (compressed against the question), then an A record.
RESPONSE_NANOPOOL = (
    header(0x1A2B, 0x8180, 1, 2)
    + name(b"xmr-eu1", b"nanopool", b"org")  # offset 12; "nanopool" at 20
    + b"\x00\x01\x00\x01"
    + rr(b"\xc0\x0c", 5, 300, b"\x03eu1\xc0\x14")  # eu1 + pointer to offset 20
    + rr(b"\xc0\x32", 1, 60, bytes([51, 255, 1, 2]))  # owner: pointer to the CNAME target
)

RESPONSE_AAAA = (
    header(7, 0x8180, 1, 1)
    + name(b"pool", b"supportxmr", b"com")
    + b"\x00\x1c\x00\x01"
    + rr(b"\xc0\x0c", 28, 120, bytes.fromhex("20010db8000000000000000000000001"))
)

# Answers of types that are not A/AAAA/CNAME (HTTPS, TXT) are skipped, not fatal.
RESPONSE_OTHER_TYPES = (
    header(9, 0x8180, 1, 3)
    + name(b"example", b"com")
    + b"\x00\x41\x00\x01"
    + rr(b"\xc0\x0c", 65, 30, b"\x00\x01\x00")
    + rr(b"\xc0\x0c", 16, 30, b"\x05hello")
    + rr(b"\xc0\x0c", 1, 30, bytes([192, 0, 2, 7]))
)

NXDOMAIN = header(0xBEEF, 0x8183, 1, 0) + name(b"nope", b"example") + b"\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            QUERY_NANOPOOL,
            DnsParse(0x1A2B, False, 0, 0, 0x0100, (("xmr-eu1.nanopool.org", 1),), ()),
        ),
        (
            RESPONSE_NANOPOOL,
            DnsParse(
                0x1A2B, True, 0, 0, 0x8180,
                (("xmr-eu1.nanopool.org", 1),),
                (
                    ("xmr-eu1.nanopool.org", 5, "eu1.nanopool.org", 300),
                    ("eu1.nanopool.org", 1, "51.255.1.2", 60),
                ),
            ),
        ),
        (
            RESPONSE_AAAA,
            DnsParse(
                7, True, 0, 0, 0x8180, (("pool.supportxmr.com", 28),),
                (("pool.supportxmr.com", 28, "2001:db8::1", 120),),
            ),
        ),
        (
            RESPONSE_OTHER_TYPES,
            DnsParse(
                9, True, 0, 0, 0x8180, (("example.com", 65),),
                (("example.com", 1, "192.0.2.7", 30),),
            ),
        ),
        (NXDOMAIN, DnsParse(0xBEEF, True, 0, 3, 0x8183, (("nope.example", 1),), ())),
        # opcode 5 (UPDATE) lands in bits 11-14
        (header(1, 5 << 11, 0, 0), DnsParse(1, False, 5, 0, 0x2800, (), ())),
    ],
)
def test_parse_dns(payload: bytes, expected: DnsParse) -> None:
    assert parse_dns(payload) == expected


@pytest.mark.parametrize(
    "labels",
    [
        (b"XmR-eU1", b"NaNoPoOl", b"OrG"),  # 0x20 case randomisation
        (b"XMR-EU1", b"NANOPOOL", b"ORG"),
    ],
)
def test_names_are_lower_cased(labels: tuple[bytes, ...]) -> None:
    msg = header(1, 0x0100, 1, 0) + name(*labels) + b"\x00\x01\x00\x01"
    parsed = parse_dns(msg)
    assert parsed is not None
    assert parsed.questions == (("xmr-eu1.nanopool.org", 1),)


def test_root_name_is_empty() -> None:
    parsed = parse_dns(header(1, 0, 1, 0) + b"\x00" + b"\x00\x02\x00\x01")
    assert parsed is not None
    assert parsed.questions == (("", 2),)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(QUERY_NANOPOOL[:11], id="short-header"),
        pytest.param(QUERY_NANOPOOL[:-1], id="question-tail-cut"),
        pytest.param(QUERY_NANOPOOL[:20], id="label-cut"),
        pytest.param(RESPONSE_NANOPOOL[:-2], id="rdata-cut"),
        pytest.param(RESPONSE_NANOPOOL[:-14], id="rr-header-cut"),
        pytest.param(header(1, 0, 2, 0) + name(b"a") + b"\x00\x01\x00\x01", id="qdcount-too-big"),
        pytest.param(header(1, 0, 1, 0) + b"\xc0\x0c\x00\x01\x00\x01", id="pointer-to-itself"),
        pytest.param(
            header(1, 0, 1, 0) + b"\x01a\xc0\x0c\x00\x01\x00\x01", id="pointer-loop-via-label"
        ),
        pytest.param(header(1, 0, 1, 0) + b"\xc0\x20" + b"\x00" * 30, id="forward-pointer"),
        pytest.param(header(1, 0, 1, 0) + b"\xc0", id="pointer-cut"),
        pytest.param(header(1, 0, 1, 0) + b"\x41a\x00\x00\x01\x00\x01", id="bad-label-type"),
        pytest.param(header(1, 0, 1, 0) + b"\x02\xff\xfe\x00\x00\x01\x00\x01", id="not-utf8"),
        pytest.param(
            header(1, 0, 1, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",
            id="name-over-255",
        ),
        pytest.param(
            header(1, 0x8180, 1, 1) + name(b"a") + b"\x00\x01\x00\x01"
            + rr(b"\xc0\x0c", 1, 1, b"\x01\x02\x03"),
            id="a-rdata-3-bytes",
        ),
        pytest.param(
            header(1, 0x8180, 1, 1) + name(b"a") + b"\x00\x1c\x00\x01"
            + rr(b"\xc0\x0c", 28, 1, b"\x00" * 4),
            id="aaaa-rdata-4-bytes",
        ),
        pytest.param(
            header(1, 0x8180, 1, 1) + name(b"a") + b"\x00\x05\x00\x01"
            + rr(b"\xc0\x0c", 5, 1, b"\x03abc"),
            id="cname-target-overruns-rdata",
        ),
    ],
)
def test_malformed_returns_none(payload: bytes) -> None:
    assert parse_dns(payload) is None


def test_authority_section_is_not_read() -> None:
    # nscount says 1 but nothing follows: the header, questions and answers still count.
    msg = header(3, 0x8180, 1, 0, ns=1) + name(b"a", b"b") + b"\x00\x01\x00\x01"
    assert parse_dns(msg) == DnsParse(3, True, 0, 0, 0x8180, (("a.b", 1),), ())


@pytest.mark.parametrize(
    ("rrtype", "expected"),
    [(1, "A"), (28, "AAAA"), (5, "CNAME"), (16, "TXT"), (65, "HTTPS"), (255, "ANY"), (4242, "4242")],
)
def test_rrtype_name(rrtype: int, expected: str) -> None:
    assert rrtype_name(rrtype) == expected


def framed(msg: bytes) -> bytes:
    """Prefix a message with its two-byte TCP length."""
    return struct.pack(">H", len(msg)) + msg


@pytest.mark.parametrize(
    ("stream", "messages", "rest"),
    [
        (b"", [], b""),
        (b"\x00", [], b"\x00"),
        (framed(QUERY_NANOPOOL), [QUERY_NANOPOOL], b""),
        (framed(QUERY_NANOPOOL) + framed(NXDOMAIN), [QUERY_NANOPOOL, NXDOMAIN], b""),
        (framed(NXDOMAIN) + framed(QUERY_NANOPOOL)[:9], [NXDOMAIN], framed(QUERY_NANOPOOL)[:9]),
        (b"\x00\x00" + framed(NXDOMAIN), [NXDOMAIN], b""),  # zero-length frame skipped
        (b"\x00\x05abc", [], b"\x00\x05abc"),
    ],
)
def test_split_tcp_dns(stream: bytes, messages: list[bytes], rest: bytes) -> None:
    assert split_tcp_dns(stream) == (messages, rest)


@given(st.binary(max_size=600))
def test_parse_dns_never_raises(payload: bytes) -> None:
    result = parse_dns(payload)
    assert result is None or isinstance(result, DnsParse)


@given(st.binary(min_size=12, max_size=80), st.binary(max_size=200))
def test_parse_dns_never_raises_on_plausible_header(head: bytes, tail: bytes) -> None:
    # Small counts make the fuzzer reach the name and record code, not just the header.
    payload = head[:4] + b"\x00\x01\x00\x02\x00\x00\x00\x00" + head[12:] + tail
    result = parse_dns(payload)
    assert result is None or isinstance(result, DnsParse)


@given(st.lists(st.binary(max_size=40), max_size=5), st.binary(max_size=1))
def test_split_tcp_dns_roundtrip(messages: list[bytes], junk: bytes) -> None:
    # A single trailing byte can never complete a frame, so it is always the rest.
    found, rest = split_tcp_dns(b"".join(framed(m) for m in messages) + junk)
    assert (found, rest) == ([m for m in messages if m], junk)


# --------------------------------------------------------------------------- the fast path


def general(payload: bytes) -> DnsParse | None:
    """The general reader alone (dpkt names, every shape): what the fast path must agree with."""
    try:
        return dns_module._parse(payload)
    except dns_module.PARSE_ERRORS:
        return None


def fast(payload: bytes) -> DnsParse | None:
    """The fast path alone; ``None`` means it left the message to the general reader."""
    try:
        return dns_module._parse_common(payload)
    except dns_module.PARSE_ERRORS:
        return None


V6_MAPPED = bytes.fromhex("00000000000000000000ffff01020304")
V6_COMPAT = bytes.fromhex("00000000000000000000000001020304")
ZERO_LABEL_QUESTION = header(5, 0x0100, 1, 0) + b"\x03a\x00b\x03com\x00" + b"\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("payload", "taken"),
    [
        pytest.param(QUERY_NANOPOOL, True, id="query"),
        pytest.param(RESPONSE_AAAA, True, id="aaaa-behind-the-question-pointer"),
        pytest.param(RESPONSE_OTHER_TYPES, True, id="https-txt-skipped"),
        pytest.param(NXDOMAIN, True, id="nxdomain"),
        pytest.param(RESPONSE_NANOPOOL, False, id="cname-target-compressed"),
        pytest.param(
            header(2, 0x8180, 1, 2) + name(b"a", b"example") + b"\x00\x01\x00\x01"
            + rr(b"\xc0\x0c", 5, 30, name(b"b", b"example"))
            + rr(name(b"b", b"example"), 1, 30, bytes([192, 0, 2, 9])),
            True,
            id="plain-cname-target-and-owner",
        ),
        pytest.param(
            header(3, 0x8180, 1, 1) + name(b"v6") + b"\x00\x1c\x00\x01" + rr(b"\xc0\x0c", 28, 9, V6_MAPPED),
            False,
            id="ipv4-mapped-aaaa",
        ),
        pytest.param(
            header(3, 0x8180, 1, 1) + name(b"v6") + b"\x00\x1c\x00\x01" + rr(b"\xc0\x0c", 28, 9, V6_COMPAT),
            False,
            id="ipv4-compatible-aaaa",
        ),
        pytest.param(ZERO_LABEL_QUESTION, False, id="zero-byte-inside-a-label"),
        pytest.param(header(1, 0, 2, 0) + name(b"a") + b"\x00\x01\x00\x01" * 2, False, id="two-questions"),
        pytest.param(header(1, 5 << 11, 0, 0), False, id="no-question"),
        pytest.param(header(1, 0, 1, 0) + b"\xc0\x0c\x00\x01\x00\x01", False, id="pointer-question"),
        pytest.param(
            header(1, 0x8180, 1, 1) + name(b"a") + b"\x00\x01\x00\x01"
            + rr(b"\xc0\x0c", 1, 1, b"\x01\x02\x03"),
            False,
            id="a-rdata-3-bytes",
        ),
        pytest.param(
            header(1, 0x8180, 1, 1) + name(b"a") + b"\x00\x01\x00\x01" + rr(b"\xc0\x11", 1, 1, bytes(4)),
            False,
            id="other-pointer",
        ),
        pytest.param(RESPONSE_AAAA[:-3], False, id="rdata-cut"),
        pytest.param(
            header(1, 0, 1, 0) + b"\x02\xff\xfe\x00\x00\x01\x00\x01", False, id="not-utf8"
        ),
    ],
)
def test_fast_path_agrees_with_the_general_reader(payload: bytes, taken: bool) -> None:
    assert (fast(payload) is not None) is taken
    assert parse_dns(payload) == general(payload)
    if taken:
        assert fast(payload) == general(payload)


@given(st.binary(max_size=300))
def test_fast_path_agrees_on_any_bytes(payload: bytes) -> None:
    found = fast(payload)
    assert found is None or found == general(payload)
    assert parse_dns(payload) == general(payload)


TEXT_LABEL = st.text(alphabet="abcXYZ019-_", min_size=1, max_size=12).map(str.encode)
LABEL = st.one_of(TEXT_LABEL, TEXT_LABEL, TEXT_LABEL, st.binary(max_size=12).filter(lambda b: b"." not in b))
PLAIN_NAME = st.lists(LABEL.filter(bool), max_size=3).map(lambda ls: name(*ls))
OWNER = st.one_of(st.just(b"\xc0\x0c"), st.just(b"\xc0\x0c"), PLAIN_NAME)
A_RDATA = st.tuples(st.just(1), st.binary(min_size=4, max_size=4))
AAAA_RDATA = st.tuples(st.just(28), st.binary(min_size=16, max_size=16))
CNAME_RDATA = st.tuples(st.just(5), PLAIN_NAME)
ODD_RDATA = st.one_of(
    st.tuples(st.just(1), st.binary(max_size=6)),
    st.tuples(st.just(28), st.sampled_from([V6_MAPPED, V6_COMPAT, bytes(16), bytes(15)])),
    st.tuples(st.just(5), st.binary(max_size=8)),
    st.tuples(st.sampled_from([2, 16, 65]), st.binary(max_size=8)),
)
RDATA = st.one_of(A_RDATA, A_RDATA, AAAA_RDATA, CNAME_RDATA, ODD_RDATA)


@given(
    st.lists(LABEL.filter(bool), max_size=4),
    st.lists(st.tuples(OWNER, RDATA, st.integers(0, 2**32 - 1)), max_size=4),
    st.sampled_from([0, 0, 0, 0, 1, 3]),
    st.sampled_from([0, 0, 0, 0, 1, 5, 11]),
)
def test_fast_path_agrees_on_messages_of_the_common_shape(
    labels: list[bytes], answers: list[tuple[bytes, tuple[int, bytes], int]], extra: int, cut: int
) -> None:
    # built like real responses (one question, answers behind the 0xC00C pointer or plain names),
    # with odd rdata, extra claimed answers and cut tails mixed in
    body = name(*labels) + b"\x00\x01\x00\x01"
    body += b"".join(rr(owner, rrtype, ttl, rdata) for owner, (rrtype, rdata), ttl in answers)
    payload = header(7, 0x8180, 1, len(answers) + extra) + body
    payload = payload[: len(payload) - cut]
    found = fast(payload)
    assert found is None or found == general(payload)
    assert parse_dns(payload) == general(payload)


@given(st.lists(st.sampled_from([0, 1, 0xFFFF, 0xFFFE, 0x0102]), min_size=8, max_size=8))
def test_aaaa_text_is_the_one_ipaddress_gives(hextets: list[int]) -> None:
    packed = struct.pack(">8H", *hextets)
    msg = header(3, 0x8180, 1, 1) + name(b"v6") + b"\x00\x1c\x00\x01" + rr(b"\xc0\x0c", 28, 9, packed)
    found = fast(msg)
    assert found is None or found.answers[0][2] == str(ipaddress.IPv6Address(packed))
    assert parse_dns(msg) == general(msg)


@given(
    st.lists(LABEL.filter(bool), max_size=4),
    st.lists(st.tuples(OWNER, RDATA, st.integers(0, 2**32 - 1)), max_size=3),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4),
    st.sampled_from([0, 0, 1, 11]),
)
def test_a_message_seen_before_but_for_its_id_parses_as_a_new_one(
    labels: list[bytes], answers: list[tuple[bytes, tuple[int, bytes], int]], ids: list[int], cut: int
) -> None:
    body = name(*labels) + b"\x00\x01\x00\x01"
    body += b"".join(rr(owner, rrtype, ttl, rdata) for owner, (rrtype, rdata), ttl in answers)
    for msg_id in ids:  # the same message again under other IDs: remembered, with each ID
        payload = header(msg_id, 0x8180, 1, len(answers)) + body
        payload = payload[: len(payload) - cut]
        assert parse_dns(payload) == general(payload)


def test_remembered_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dns_module, "MAX_SEEN_MESSAGES", 3)
    monkeypatch.setattr(dns_module, "_seen", {})
    for n in range(10):
        payload = header(n, 0x0100, 1, 0) + name(b"host%d" % n) + b"\x00\x01\x00\x01"
        assert parse_dns(payload) == general(payload)
        assert len(dns_module._seen) <= 3
    again = header(99, 0x0100, 1, 0) + name(b"host9") + b"\x00\x01\x00\x01"
    assert parse_dns(again) == general(again) and parse_dns(again).msg_id == 99  # type: ignore[union-attr]


# --------------------------------------------------------------------------- names, held to dpkt


def dpkt_name(buf: bytes, off: int) -> tuple[str, int] | str:
    """What ``dpkt.dns.unpack_name`` reads at ``off``, or the error it raises, as ``_unpack_name``
    raises it (its ``UnpackError`` and ``NeedData`` are ValueError here)."""
    import dpkt

    try:
        name, end = dpkt.dns.unpack_name(buf, off)
    except dpkt.Error:
        return "ValueError"
    except (struct.error, UnicodeDecodeError) as e:
        return type(e).__name__
    return name, end


def mine_name(buf: bytes, off: int) -> tuple[str, int] | str:
    try:
        return dns_module._unpack_name(buf, off)
    except (ValueError, struct.error) as e:  # UnicodeDecodeError is a ValueError: told apart by name
        return type(e).__name__ if type(e) is not ValueError else "ValueError"


_label = st.binary(min_size=0, max_size=70)
_piece = st.one_of(
    _label.map(lambda b: bytes([min(len(b), 63)]) + b[:63]),  # a label (its length byte first)
    st.integers(0, 0x3FFF).map(lambda p: struct.pack(">H", 0xC000 | p)),  # a pointer anywhere
    st.integers(1, 0xFF).map(lambda n: bytes([n])),  # a reserved label type, or a length that lies
    st.just(b"\x00"),
    st.just(b"\xc0"),  # a pointer cut short
)


@given(st.lists(_piece, max_size=12).map(b"".join), st.integers(0, 80))
def test_names_are_read_as_dpkt_reads_them(buf: bytes, off: int) -> None:
    """Labels, pointers back and forward, loops, reserved types, cut pointers, names over 255
    bytes, bytes that are not UTF-8, offsets past the end: the same name and end, or the same error."""
    assert mine_name(buf, off) == dpkt_name(buf, off)


@given(st.binary(max_size=300), st.integers(0, 310))
def test_names_are_read_as_dpkt_reads_them_in_any_bytes(buf: bytes, off: int) -> None:
    assert mine_name(buf, off) == dpkt_name(buf, off)


def test_names_of_real_messages_are_read_as_dpkt_reads_them() -> None:
    """At every offset of the demo captures' DNS messages over UDP/IPv4 on Ethernet (questions,
    answers, pointers, and the bytes between them)."""
    from poolsniff.sources.pcap import expand_paths, read_frames

    from ..conftest import PCAPS

    messages = 0
    for path in expand_paths([str(PCAPS)]):
        with open(path, "rb") as fileobj:
            for _ts, linktype, frame in read_frames(fileobj, path):
                data = bytes(frame)
                if linktype != 1 or data[12:14] != b"\x08\x00" or data[23] != 17:
                    continue
                udp = 14 + (data[14] & 0x0F) * 4
                if 53 not in struct.unpack_from(">HH", data, udp):
                    continue
                payload = data[udp + 8 :]
                messages += 1
                for off in range(len(payload) + 1):
                    assert mine_name(payload, off) == dpkt_name(payload, off)
    assert messages >= 5
