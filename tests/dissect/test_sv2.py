"""Tests for poolsniff.dissect.sv2: the Noise handshake by its shape, plaintext SetupConnection."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect.sv2 import (
    ACT1_LEN,
    ACT2_LEN,
    MIN_DISTINCT_ACT1,
    MIN_DISTINCT_ACT2,
    is_noise_handshake,
    parse_setup_connection,
)
from tests.factories import random_bytes, setup_connection, sv2_frame

ACT1 = random_bytes(ACT1_LEN, seed=11)
ACT2 = random_bytes(ACT2_LEN, seed=12)
TEXT = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. " * 3


def distinct(size: int, count: int, base: int) -> bytes:
    """``size`` bytes using exactly ``count`` distinct values from ``base`` up."""
    return bytes(base + i % count for i in range(size))


def test_fixtures_look_random() -> None:
    assert len(set(ACT1)) >= MIN_DISTINCT_ACT1
    assert len(set(ACT2)) >= MIN_DISTINCT_ACT2
    assert ACT1[:1] not in (b"\x16", b"\x17", b"{", b"[")
    assert ACT2[:1] not in (b"\x16", b"\x15")


# --------------------------------------------------------------------------- encrypted


@pytest.mark.parametrize(
    ("client", "server", "expected"),
    [
        pytest.param(ACT1, ACT2, True, id="noise-nx"),
        pytest.param(ACT1[:-1], ACT2, False, id="client-63"),
        pytest.param(ACT1 + b"\x00", ACT2, False, id="client-65"),
        pytest.param(ACT1, ACT2[:-1], False, id="server-233"),
        pytest.param(ACT1, ACT2 + b"\x00", False, id="server-235"),
        pytest.param(ACT1, ACT2[:170], False, id="server-170-of-the-spec-text"),
        pytest.param(ACT2, ACT1, False, id="sizes-swapped"),
        pytest.param(b"\x16\x03\x01" + ACT1[3:], ACT2, False, id="client-tls-handshake"),
        pytest.param(b"\x17\x03\x03" + ACT1[3:], ACT2, False, id="client-tls-appdata"),
        pytest.param(b"{" + ACT1[1:], ACT2, False, id="client-json-object"),
        pytest.param(b"[" + ACT1[1:], ACT2, False, id="client-json-array"),
        pytest.param(ACT1, b"\x16\x03\x03" + ACT2[3:], False, id="server-tls-handshake"),
        pytest.param(ACT1, b"\x15\x03\x03" + ACT2[3:], False, id="server-tls-alert"),
        pytest.param(b"a" * 64, ACT2, False, id="client-one-byte-value"),
        pytest.param(TEXT[:64], ACT2, False, id="client-text"),
        pytest.param(ACT1, TEXT[:234], False, id="server-text"),
        pytest.param(distinct(64, MIN_DISTINCT_ACT1, 100), ACT2, True, id="client-at-threshold"),
        pytest.param(distinct(64, MIN_DISTINCT_ACT1 - 1, 100), ACT2, False, id="client-under-threshold"),
        pytest.param(ACT1, distinct(234, MIN_DISTINCT_ACT2, 128), True, id="server-at-threshold"),
        pytest.param(ACT1, distinct(234, MIN_DISTINCT_ACT2 - 1, 128), False, id="server-under-threshold"),
    ],
)
def test_is_noise_handshake(client: bytes, server: bytes, expected: bool) -> None:
    assert is_noise_handshake(client, server) is expected


# --------------------------------------------------------------------------- plaintext

FULL = {
    "protocol": "mining",
    "flags": 0b110,
    "endpoint_host": "pool.example.com",
    "endpoint_port": 34254,
    "vendor": "Bitmain",
    "hardware_version": "S19 Pro",
    "firmware": "braiins-os-2024.1",
    "device_id": "rig-7",
}


@pytest.mark.parametrize(
    ("frame", "changes"),
    [
        pytest.param(setup_connection(), {}, id="all-fields"),
        pytest.param(setup_connection(protocol=1), {"protocol": "job-declaration"}, id="job-declaration"),
        pytest.param(setup_connection(protocol=2), {"protocol": "template-distribution"}, id="template"),
        pytest.param(setup_connection(ext=0x8000), {}, id="channel-msg-bit"),
        pytest.param(setup_connection() + sv2_frame(0x10, b"\x01" * 30), {}, id="next-frame-follows"),
        pytest.param(setup_connection(flags=0xFFFFFFFF), {"flags": 0xFFFFFFFF}, id="all-flags"),
        pytest.param(setup_connection(port=1), {"endpoint_port": 1}, id="port-little-endian"),
        pytest.param(
            setup_connection(vendor=b"", hardware=b"", firmware=b"", device=b""),
            {"vendor": "", "hardware_version": "", "firmware": "", "device_id": ""},
            id="empty-strings",
        ),
        pytest.param(setup_connection(host=b"h" * 255), {"endpoint_host": "h" * 255}, id="host-255"),
        pytest.param(setup_connection(device=b"rig\xff"), {"device_id": "rig\ufffd"}, id="bad-utf8-replaced"),
    ],
)
def test_parse_setup_connection(frame: bytes, changes: dict[str, Any]) -> None:
    assert parse_setup_connection(frame) == FULL | changes


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(setup_connection(ext=1), id="extension-1"),
        pytest.param(setup_connection(ext=0x8001), id="extension-1-channel"),
        pytest.param(setup_connection(msg_type=1), id="setup-connection-success"),
        pytest.param(setup_connection(msg_type=0x10), id="open-standard-mining-channel"),
        pytest.param(setup_connection(protocol=3), id="unknown-protocol"),
        pytest.param(setup_connection(min_version=1), id="min-version-1"),
        pytest.param(setup_connection(max_version=3), id="max-version-3"),
        pytest.param(sv2_frame(0, bytes([0]) + b"\x02\x00\x02\x00" + b"\x00" * 4), id="length-9"),
        pytest.param(sv2_frame(0, setup_connection()[6:] + b"\x00" * 4096), id="length-over-4096"),
        pytest.param(setup_connection()[:15], id="under-16-bytes"),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), id="tls"),
        pytest.param(b'{"id":1,"method":"mining.subscribe","params":[]}\n', id="json"),
        pytest.param(bytes(64), id="zeros"),
    ],
)
def test_parse_setup_connection_rejects(frame: bytes) -> None:
    assert parse_setup_connection(frame) is None


def test_every_proper_prefix_is_rejected() -> None:
    frame = setup_connection()
    assert parse_setup_connection(frame) == FULL
    for end in range(len(frame)):
        assert parse_setup_connection(frame[:end]) is None, end


@pytest.mark.parametrize("field", ["host", "vendor", "hardware", "firmware", "device"])
def test_string_running_past_the_frame_is_rejected(field: str) -> None:
    frame = bytearray(setup_connection(**{field: b"abcd"}))  # type: ignore[arg-type]
    pos = frame.find(b"\x04abcd")
    frame[pos] = 200  # the STR0_255 length now runs past the end of the frame
    assert parse_setup_connection(bytes(frame)) is None


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_setup_connection(data)


@given(st.binary(max_size=120), st.integers(0, 4200))
def test_arbitrary_body_behind_a_valid_header_never_raises(body: bytes, length: int) -> None:
    parse_setup_connection(b"\x00\x00\x00" + length.to_bytes(3, "little") + body)
