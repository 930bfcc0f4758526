"""Tests for poolsniff.dissect.hellos: a stream's TLS hellos as fingerprinted events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.dissect import hellos, tlsfp
from poolsniff.dissect.interface import NEED_MORE
from poolsniff.dissect.tls import version_name
from poolsniff.model import PROTO_TCP, FlowKey, TlsClientHello, TlsServerHello
from tests.dissect.test_tls import alpn_ext, ext, records, reference_hello, sni_ext, vec
from tests.dissect.test_tlsfp import DAMAGED_SHAPE, HELLO_SHAPE, reference_fingerprint, shaped_hello
from tests.factories import client_hello, server_hello

KEY = FlowKey("10.0.0.1", 40000, "10.0.0.2", 443, PROTO_TCP)


def test_a_client_hello_becomes_its_event_with_fingerprints() -> None:
    data = client_hello("pool.example")
    event = hellos.client_hello(7, KEY, data)
    assert isinstance(event, TlsClientHello)
    assert (event.ts_us, event.flow, event.from_client, event.sni) == (7, KEY, True, "pool.example")
    message = data[5:]
    fp = tlsfp.fingerprint(message)
    assert fp.ja3_hash and fp.ja4
    assert (event.ja3_string, event.ja3_hash, event.ja4) == (fp.ja3_string, fp.ja3_hash, fp.ja4)


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_cut_client_hello_needs_more(cut: int) -> None:
    assert hellos.client_hello(0, KEY, client_hello("pool.example")[:cut]) is NEED_MORE


def test_bytes_that_are_no_client_hello_give_none() -> None:
    assert hellos.client_hello(0, KEY, b"\x16\x03\x01\x00\x05" + b"\x02" + b"\0" * 40) is None


def test_a_server_hello_becomes_its_event_with_ja3s() -> None:
    event = hellos.server_hello(9, KEY, server_hello())
    assert isinstance(event, TlsServerHello)
    assert (event.ts_us, event.from_client, event.version) == (9, False, "TLS 1.3")
    assert event.ja3s_hash and event.ja3s_hash == tlsfp.server_fingerprint(server_hello()[5:]).ja3s_hash


def test_a_cut_server_hello_needs_more_and_other_bytes_give_none() -> None:
    assert hellos.server_hello(0, KEY, server_hello()[:12]) is NEED_MORE
    assert hellos.server_hello(0, KEY, b"HTTP/1.1 200 OK\r\n\r\n") is None


# --------------------------------------------------------------------------- remembered hello shapes


def plain_client_hello(message: bytes) -> TlsClientHello | None:
    """The event of a ClientHello message, from the field-by-field references of test_tls and test_tlsfp."""
    try:
        sni, version, _, alpns = reference_hello(message)
    except ValueError:
        return None
    try:
        ja3, ja3_hash, ja4, _ = reference_fingerprint(message)
    except ValueError:
        ja3 = ja3_hash = ja4 = ""
    known = tlsfp.KNOWN_MINERS.get(ja4, "")
    return TlsClientHello(7, KEY, True, sni, version_name(version), alpns, ja3, ja3_hash, ja4, known)


VARIANT = st.tuples(
    st.binary(min_size=32, max_size=32),  # random
    st.binary(max_size=34),  # legacy_session_id: over 32 bytes is malformed, and not part of the shape
    st.one_of(
        st.binary(max_size=8).map(lambda h: sni_ext(h)), st.binary(max_size=6).map(lambda d: ext(0, d))
    ),
    st.binary(max_size=40),  # key_share data
)
"""What changes between connections of one client: random, session id, SNI (sometimes broken), key share."""


def variant_hello(
    shape: tuple[int, list[int], list[bytes]], variant: tuple[bytes, bytes, bytes, bytes]
) -> bytes:
    legacy, ciphers, extensions = shape
    random, sid, sni, key_share = variant
    return shaped_hello((legacy, ciphers, [*extensions, sni, ext(51, key_share)]), random, sid)


@settings(max_examples=200)
@given(st.one_of(HELLO_SHAPE, DAMAGED_SHAPE), st.lists(VARIANT, min_size=2, max_size=4))
def test_remembered_shapes_give_what_a_cold_parse_gives(
    shape: tuple[int, list[int], list[bytes]], variants: list[tuple[bytes, bytes, bytes, bytes]]
) -> None:
    """The first hello of a shape is computed, the next ones remembered: all as the references read them."""
    for variant in variants:
        message = variant_hello(shape, variant)
        assert hellos.client_hello(7, KEY, records(message)) == plain_client_hello(message)


def test_a_shape_is_computed_once_for_many_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hellos, "_SHAPES", {})
    computed: list[object] = []
    fingerprint_fields = tlsfp.fingerprint_fields
    monkeypatch.setattr(tlsfp, "fingerprint_fields", lambda f: computed.append(f) or fingerprint_fields(f))
    shape = (0x0303, [0x0A0A, 0x1301, 0xC02F], [ext(10, vec(b"\x00\x1d\x00\x17", 2)), alpn_ext(b"h2")])
    snis = [f"host{i}.example".encode() for i in range(5)]
    events = [
        hellos.client_hello(7, KEY, records(variant_hello(shape, (bytes([i]) * 32, b"", sni_ext(s), b""))))
        for i, s in enumerate(snis)
    ]
    assert [e.sni for e in events if isinstance(e, TlsClientHello)] == [s.decode() for s in snis]
    assert len(computed) == 1
    other = (0x0303, [0x1301], shape[2])
    hellos.client_hello(7, KEY, records(variant_hello(other, (bytes(32), b"", sni_ext(b"a.test"), b""))))
    assert len(computed) == 2


def test_the_memory_of_shapes_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hellos, "_SHAPES", {})
    monkeypatch.setattr(hellos, "MAX_CACHED_SHAPES", 3)
    for cipher in range(0x1301, 0x1309):
        message = variant_hello((0x0303, [cipher], []), (bytes(32), b"", sni_ext(b"a.test"), b""))
        assert hellos.client_hello(7, KEY, records(message)) == plain_client_hello(message)
        assert 1 <= len(hellos._SHAPES) <= 3
    huge = variant_hello((0x0303, list(range(1, hellos.MAX_SHAPE_KEY_BYTES)), []), (bytes(32), b"", b"", b""))
    assert hellos.client_hello(7, KEY, records(huge)) == plain_client_hello(huge)
    assert all(len(key[1]) < hellos.MAX_SHAPE_KEY_BYTES for key in hellos._SHAPES)


BASE_EXTENSIONS = [
    ext(10, vec(b"\x00\x1d\x00\x17", 2)),
    ext(11, vec(b"\x00", 1)),
    ext(13, vec(b"\x04\x03\x08\x04", 2)),
    alpn_ext(b"h2", b"http/1.1"),
    ext(43, vec(b"\x03\x04\x03\x03", 1)),
]
BASE_SHAPE = (0x0303, [0x1301, 0xC02F], BASE_EXTENSIONS)


def with_extension(index: int, replacement: bytes) -> tuple[int, list[int], list[bytes]]:
    """The base shape with its extension ``index`` replaced."""
    extensions = list(BASE_EXTENSIONS)
    extensions[index] = replacement
    return 0x0303, [0x1301, 0xC02F], extensions


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param((0x0301, [0x1301, 0xC02F], BASE_EXTENSIONS), id="legacy-version"),
        pytest.param((0x0303, [0xC02F, 0x1301], BASE_EXTENSIONS), id="cipher-order"),
        pytest.param((0x0303, [0x1301, 0xC02F], BASE_EXTENSIONS[::-1]), id="extension-order"),
        pytest.param(with_extension(0, ext(10, vec(b"\x00\x17", 2))), id="groups"),
        pytest.param(with_extension(1, ext(11, vec(b"\x01", 1))), id="points"),
        pytest.param(with_extension(2, ext(13, vec(b"\x08\x04", 2))), id="sigalgs"),
        pytest.param(with_extension(3, alpn_ext(b"x")), id="alpn"),
        pytest.param(with_extension(4, ext(43, vec(b"\x03\x03", 1))), id="versions"),
        pytest.param((0x0303, [0x1301, 0xC02F], [*BASE_EXTENSIONS, ext(0x0A0A, b"")]), id="grease-extension"),
    ],
)
def test_a_changed_shape_field_is_not_taken_from_memory(
    monkeypatch: pytest.MonkeyPatch, changed: tuple[int, list[int], list[bytes]]
) -> None:
    """Each field the fingerprints read is part of the remembered shape's key."""
    monkeypatch.setattr(hellos, "_SHAPES", {})
    variant = (bytes(32), b"", sni_ext(b"a.test"), b"")
    for shape in (BASE_SHAPE, changed):
        message = variant_hello(shape, variant)
        assert hellos.client_hello(7, KEY, records(message)) == plain_client_hello(message)
    assert len(hellos._SHAPES) == 2
