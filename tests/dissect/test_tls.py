"""Tests for poolsniff.dissect.tls: byte-built ClientHellos, fragmentation, garbage, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import tls as tls_module
from poolsniff.dissect.tls import (
    MAX_HELLO_BYTES,
    NEED_MORE,
    ClientHello,
    looks_like_tls,
    parse_client_hello,
    version_name,
)


def vec(data: bytes, len_size: int) -> bytes:
    """A TLS vector: big-endian length of ``len_size`` bytes, then the data."""
    return len(data).to_bytes(len_size, "big") + data


def ext(ext_type: int, data: bytes) -> bytes:
    """One extension: type, then its data as a two-byte vector."""
    return ext_type.to_bytes(2, "big") + vec(data, 2)


def sni_ext(*hosts: bytes, name_type: int = 0) -> bytes:
    """server_name extension (RFC 6066 §3) listing ``hosts``."""
    return ext(0, vec(b"".join(bytes([name_type]) + vec(h, 2) for h in hosts), 2))


def alpn_ext(*protocols: bytes) -> bytes:
    """application_layer_protocol_negotiation extension (RFC 7301)."""
    return ext(16, vec(b"".join(vec(p, 1) for p in protocols), 2))


def versions_ext(*versions: int) -> bytes:
    """supported_versions extension as a client sends it (RFC 8446 §4.2.1)."""
    return ext(43, vec(b"".join(v.to_bytes(2, "big") for v in versions), 1))


def hello_body(extensions: bytes | None, legacy: int = 0x0303) -> bytes:
    """A ClientHello body: version, random, 32-byte session id, 3 suites, null compression."""
    body = legacy.to_bytes(2, "big") + bytes(range(32)) + vec(b"\x11" * 32, 1)
    body += vec(bytes.fromhex("130113021303"), 2) + vec(b"\x00", 1)
    return body if extensions is None else body + vec(extensions, 2)


def handshake(body: bytes, msg_type: int = 1) -> bytes:
    """Wrap a body in a handshake header (type, 24-bit length)."""
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def records(message: bytes, size: int = 2**14, version: int = 0x0301) -> bytes:
    """Cut a handshake message into handshake records of at most ``size`` bytes."""
    out = b""
    for i in range(0, len(message), size):
        chunk = message[i : i + size]
        out += bytes([22]) + version.to_bytes(2, "big") + vec(chunk, 2)
    return out


XMRIG_HELLO = records(
    handshake(hello_body(sni_ext(b"donate.ssl.xmrig.com") + versions_ext(0x0304, 0x0303)))
)
BITMINTER_HELLO = records(handshake(hello_body(sni_ext(b"us1.bitminter.com"))))


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(XMRIG_HELLO, ClientHello("donate.ssl.xmrig.com", "TLS 1.3", "TLS 1.2"), id="tls13"),
        pytest.param(BITMINTER_HELLO, ClientHello("us1.bitminter.com", "TLS 1.2", "TLS 1.2"), id="tls12"),
        pytest.param(
            records(handshake(hello_body(None, legacy=0x0301))),
            ClientHello(None, "TLS 1.0", "TLS 1.0"),
            id="no-extensions-at-all",
        ),
        pytest.param(
            records(handshake(hello_body(alpn_ext(b"h2", b"http/1.1")))),
            ClientHello(None, "TLS 1.2", "TLS 1.2", ("h2", "http/1.1")),
            id="alpn-no-sni",
        ),
        pytest.param(
            records(handshake(hello_body(
                versions_ext(0x5A5A, 0x0304, 0x0303) + sni_ext(b"Pool.Example.COM.")
                + alpn_ext(b"h2")
            ))),
            ClientHello("pool.example.com", "TLS 1.3", "TLS 1.2", ("h2",)),
            id="grease-case-trailing-dot",
        ),
        pytest.param(
            records(handshake(hello_body(sni_ext(b"x.test", name_type=7) + versions_ext(0x7F17)))),
            ClientHello(None, "0x7f17", "TLS 1.2"),
            id="unknown-name-type-and-draft-version",
        ),
        pytest.param(
            records(handshake(hello_body(sni_ext(b"first.test") + sni_ext(b"second.test")))),
            ClientHello("first.test", "TLS 1.2", "TLS 1.2"),
            id="repeated-extension-first-wins",
        ),
        pytest.param(
            records(handshake(hello_body(sni_ext(b"caf\xc3\xa9.test")))),
            ClientHello("caf\\xc3\\xa9.test", "TLS 1.2", "TLS 1.2"),
            id="non-ascii-sni-escaped",
        ),
        pytest.param(
            records(handshake(hello_body(sni_ext(b"frag.test") + ext(21, b"\x00" * 600))), size=100),
            ClientHello("frag.test", "TLS 1.2", "TLS 1.2"),
            id="hello-over-seven-records",
        ),
        pytest.param(
            XMRIG_HELLO + b"\x14\x03\x03\x00\x01\x01",
            ClientHello("donate.ssl.xmrig.com", "TLS 1.3", "TLS 1.2"),
            id="trailing-change-cipher-spec-ignored",
        ),
    ],
)
def test_parse_client_hello(stream: bytes, expected: ClientHello) -> None:
    assert parse_client_hello(stream) == expected


@pytest.mark.parametrize("size", [1, 7, 64])
def test_every_prefix_needs_more_until_complete(size: int) -> None:
    stream = records(handshake(hello_body(sni_ext(b"seg.test"))), size=size)
    for cut in range(len(stream)):
        assert parse_client_hello(stream[:cut]) is NEED_MORE, cut
    assert parse_client_hello(stream) == ClientHello("seg.test", "TLS 1.2", "TLS 1.2")


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="http"),
        pytest.param(b'{"id":1,"method":"login"}\n', id="json"),
        pytest.param(b"\x16\x02\x00\x00\x05", id="bad-major-version"),
        pytest.param(b"\x16\x03\x05\x00\x05", id="bad-minor-version"),
        pytest.param(b"\x16\x03\x01\x00\x00", id="empty-record"),
        pytest.param(b"\x16\x03\x01\x48\x01", id="record-too-long"),
        pytest.param(b"\x17\x03\x03\x00\x10" + bytes(16), id="application-data"),
        pytest.param(b"\x80\x2e\x01\x00\x02", id="sslv2-hello"),
        pytest.param(records(handshake(hello_body(None), msg_type=2)), id="server-hello"),
        pytest.param(records(handshake(b"\x03\x03" + bytes(10))), id="truncated-body"),
        pytest.param(records(handshake(hello_body(b"\x00\x00\x00\x09abc"))), id="ext-overruns"),
        pytest.param(records(handshake(hello_body(sni_ext(b"a")[:-1] + b"\x00\x00"))), id="bad-sni"),
        pytest.param(records(handshake(hello_body(ext(43, b"\x03\x03\x04\x03")))), id="odd-versions"),
        pytest.param(records(handshake(b"\x03\x03" + bytes(32) + vec(bytes(33), 1))), id="long-sid"),
        pytest.param(
            records(handshake(hello_body(None)), size=10)[:15] + b"\x17\x03\x03\x00\x01\x00",
            id="non-handshake-record-in-between",
        ),
        pytest.param(
            records(handshake(hello_body(None)), size=10)[:15] + b"\x17", id="bad-next-header-prefix"
        ),
    ],
)
def test_not_a_client_hello(stream: bytes) -> None:
    assert parse_client_hello(stream) is None


def test_gives_up_beyond_cap() -> None:
    big = records(handshake(hello_body(ext(21, b"\x00" * MAX_HELLO_BYTES))))
    assert parse_client_hello(big[:100]) is None  # declared length already over the cap
    trickle = records(handshake(hello_body(ext(21, b"\x00" * 15000))), size=4)
    assert parse_client_hello(trickle[: MAX_HELLO_BYTES - 1]) is NEED_MORE
    assert parse_client_hello(trickle[:MAX_HELLO_BYTES]) is None


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (XMRIG_HELLO[:5], True),
        (b"\x16\x03\x00", True),
        (b"\x16\x03\x04\x02\x00", True),
        (b"\x16\x03", False),
        (b"", False),
        (b"\x16\x03\x03\x00\x00", False),
        (b"\x16\x03\x03\xff\xff", False),
        (b"\x17\x03\x03\x00\x20", False),
        (b"\x16\x04\x01\x00\x20", False),
        (b"POST / HTTP/1.1", False),
    ],
)
def test_looks_like_tls(first: bytes, expected: bool) -> None:
    assert looks_like_tls(first) is expected


@given(st.binary(max_size=300))
def test_never_raises(data: bytes) -> None:
    result = parse_client_hello(data)
    assert result is None or result is NEED_MORE or isinstance(result, ClientHello)


@given(st.binary(max_size=300))
def test_never_raises_inside_a_valid_record(body: bytes) -> None:
    result = parse_client_hello(records(handshake(body)))
    assert result is None or isinstance(result, ClientHello)


# --------------------------------------------------------------------------- fast paths vs references


class Reader:
    """A cursor that raises ValueError past the end: the field-by-field way to read a hello."""

    def __init__(self, data: bytes) -> None:
        self.data, self.off = data, 0

    def take(self, n: int) -> bytes:
        if self.off + n > len(self.data):
            raise ValueError("past the end")
        self.off += n
        return self.data[self.off - n : self.off]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, len_size: int) -> bytes:
        return self.take(self.uint(len_size))


def reference_hello(handshake: bytes) -> tuple[str | None, int, int, tuple[str, ...]]:
    """(sni, version, legacy version, alpns) read field by field with ``Reader``; raises ValueError."""
    body = Reader(handshake[4:])
    legacy = body.uint(2)
    body.take(32)
    if len(body.vector(1)) > 32:
        raise ValueError("session id")
    suites = body.vector(2)
    if not suites or len(suites) % 2:
        raise ValueError("suites")
    body.vector(1)
    found: dict[int, bytes] = {}
    if body.off < len(body.data):
        block = Reader(body.vector(2))
        while block.off < len(block.data):
            ext_type = block.uint(2)
            found.setdefault(ext_type, block.vector(2))
    sni = None
    if 0 in found:
        names = Reader(Reader(found[0]).vector(2))
        while names.off < len(names.data):
            name_type, host = names.uint(1), names.vector(2)
            if name_type == 0 and host:
                sni = host.decode("ascii", "backslashreplace").lower().rstrip(".")
                break
    version = legacy
    if 43 in found:
        listed = Reader(Reader(found[43]).vector(1))
        if len(listed.data) % 2:
            raise ValueError("versions")
        offered = [listed.uint(2) for _ in range(len(listed.data) // 2)]
        offered = [v for v in offered if not (v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF)]
        version = max(offered) if offered else legacy
    alpns: list[str] = []
    if 16 in found:
        protocols = Reader(Reader(found[16]).vector(2))
        while protocols.off < len(protocols.data):
            alpns.append(protocols.vector(1).decode("ascii", "backslashreplace"))
    return sni, version, legacy, tuple(alpns)


def both_hello_readers(handshake: bytes) -> tuple[object, object]:
    """What ``tls._parse_hello`` and ``reference_hello`` make of one handshake message."""
    try:
        hello = tls_module._parse_hello(handshake)
        fast: object = (hello.sni, hello.version, hello.legacy_version, hello.alpns)
    except ValueError:
        fast = None
    try:
        sni, version, legacy, alpns = reference_hello(handshake)
        ref: object = (sni, version_name(version), version_name(legacy), alpns)
    except ValueError:
        ref = None
    return fast, ref


EXTENSIONS = st.lists(
    st.one_of(
        st.lists(st.binary(max_size=20), max_size=3).map(lambda hosts: sni_ext(*hosts)),
        st.lists(st.integers(0, 0xFFFF), max_size=4).map(lambda vs: versions_ext(*vs)),
        st.lists(st.binary(max_size=10), max_size=3).map(lambda ps: alpn_ext(*ps)),
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=12)).map(lambda t: ext(*t)),
        st.binary(max_size=6),  # damage between extensions
    ),
    max_size=5,
).map(b"".join)


@given(EXTENSIONS, st.integers(0, 0xFFFF), st.integers(0, 400))
def test_hello_reader_agrees_with_the_field_by_field_reference(
    extensions: bytes, legacy: int, cut: int
) -> None:
    message = handshake(hello_body(extensions, legacy=legacy))
    fast, ref = both_hello_readers(message[: len(message) - cut] if cut < 40 else message)
    assert fast == ref


@given(st.binary(max_size=300))
def test_hello_reader_agrees_on_any_bytes(body: bytes) -> None:
    fast, ref = both_hello_readers(handshake(body))
    assert fast == ref


@pytest.mark.parametrize(
    ("stream", "whole"),
    [
        pytest.param(XMRIG_HELLO, True, id="one-record"),
        pytest.param(XMRIG_HELLO + b"\x14\x03\x03\x00\x01\x01", True, id="more-after-it"),
        pytest.param(XMRIG_HELLO[:-1], False, id="cut"),
        pytest.param(
            records(handshake(hello_body(sni_ext(b"a.test"))), size=50), False, id="several-records"
        ),
        pytest.param(records(handshake(hello_body(None)), version=0x0305), False, id="bad-version"),
        pytest.param(records(handshake(hello_body(None), msg_type=2)), False, id="server-hello"),
        pytest.param(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", True, id="empty-hello-body"),
        pytest.param(
            b"\x16\x03\x01\x49\x00" + handshake(hello_body(None)), False, id="record-over-the-limit"
        ),
        pytest.param(
            records(handshake(hello_body(ext(21, bytes(MAX_HELLO_BYTES)))), size=18000),
            False,
            id="hello-over-the-cap",
        ),
    ],
)
def test_whole_first_record_is_what_reassembly_gives(stream: bytes, whole: bool) -> None:
    found = tls_module._whole_in_first_record(stream)
    assert (found is not None) is whole
    if found is not None:
        assert found == tls_module._reassemble(stream)


@given(st.binary(max_size=64), st.integers(0, 70), st.integers(0, 4))
def test_whole_first_record_agrees_with_reassembly(body: bytes, size: int, minor: int) -> None:
    stream = records(handshake(body), size=max(size, 1), version=0x0300 | minor)
    for data in (stream, stream[:-1], b"\x16\x03\x01" + stream[3:]):
        found = tls_module._whole_in_first_record(data)
        assert found is None or found == tls_module._reassemble(data)


@given(st.binary(max_size=120))
def test_whole_first_record_agrees_on_any_bytes(data: bytes) -> None:
    found = tls_module._whole_in_first_record(data)
    assert found is None or found == tls_module._reassemble(data)
