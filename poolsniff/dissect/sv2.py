"""Stratum V2 recognition (dissection layer).

flows -> **sv2** -> Sv2Handshake events -> detectors

Two shapes (PROTOCOLS.md §7):

* encrypted: the Noise handshake act 1 from the client is exactly 64 pseudo-random bytes
  and the pool's act 2 is exactly 234 bytes; neither is a TLS record;
* plaintext: the first frame is ``SetupConnection`` (extension_type 0, msg_type 0x00,
  U24 little-endian length) with protocol 0-2 and min/max version 2.
"""

from __future__ import annotations

import struct
from typing import Any, Final

ACT1_LEN: Final = 64
"""Noise act 1 (client EllSwift public key)."""
ACT2_LEN: Final = 234
"""Noise act 2 (64 + 80 + 90 bytes; SRI INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE)."""
MIN_DISTINCT_ACT1: Final = 40
"""Distinct byte values a random 64-byte string has (expected about 56; text has far fewer)."""
MIN_DISTINCT_ACT2: Final = 120
PROTOCOLS: Final = {0: "mining", 1: "job-declaration", 2: "template-distribution"}

_HDR = struct.Struct("<HB")


def _random_looking(data: bytes, minimum: int) -> bool:
    return len(set(data)) >= minimum


def is_noise_handshake(client_first: bytes, server_first: bytes) -> bool:
    """Return True for the 64-byte / 234-byte Noise NX handshake of encrypted SV2."""
    if len(client_first) != ACT1_LEN or len(server_first) != ACT2_LEN:
        return False
    if client_first[:1] in (b"\x16", b"\x17", b"{", b"[") or server_first[:1] in (b"\x16", b"\x15"):
        return False
    return _random_looking(client_first, MIN_DISTINCT_ACT1) and _random_looking(
        server_first, MIN_DISTINCT_ACT2
    )


def _str0_255(data: bytes, pos: int) -> tuple[str, int]:
    n = data[pos]
    raw = data[pos + 1 : pos + 1 + n]
    if len(raw) != n:
        raise ValueError("truncated string")
    return raw.decode("utf-8", "replace"), pos + 1 + n


def sv2_frame_length(data: bytes) -> int | None:
    """If ``data`` starts like a SetupConnection frame header, return the whole frame's length."""
    if len(data) < 6:
        return None
    ext, msg_type = _HDR.unpack_from(data)
    length = int.from_bytes(data[3:6], "little")
    if ext & 0x7FFF or msg_type != 0x00 or not 10 <= length <= 4096:
        return None
    return 6 + length


def parse_setup_connection(data: bytes) -> dict[str, Any] | None:
    """Parse a plaintext SV2 ``SetupConnection`` frame at the start of ``data``, or return None."""
    if len(data) < 6 + 10:
        return None
    ext, msg_type = _HDR.unpack_from(data)
    length = int.from_bytes(data[3:6], "little")
    if ext & 0x7FFF or msg_type != 0x00 or not 10 <= length <= 4096:
        return None
    body = data[6 : 6 + length]
    protocol = body[0]
    min_v, max_v, flags = struct.unpack_from("<HHI", body, 1)
    if protocol not in PROTOCOLS or min_v != 2 or max_v != 2:
        return None
    try:
        host, pos = _str0_255(body, 9)
        port = int.from_bytes(body[pos : pos + 2], "little")
        vendor, pos = _str0_255(body, pos + 2)
        hardware, pos = _str0_255(body, pos)
        firmware, pos = _str0_255(body, pos)
        device, pos = _str0_255(body, pos)
    except (IndexError, ValueError):
        return None
    return {
        "protocol": PROTOCOLS[protocol],
        "flags": flags,
        "endpoint_host": host,
        "endpoint_port": port,
        "vendor": vendor,
        "hardware_version": hardware,
        "firmware": firmware,
        "device_id": device,
    }
