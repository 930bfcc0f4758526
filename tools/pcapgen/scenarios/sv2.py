"""Scenario capture: the Stratum V2 Noise handshake and a plaintext SetupConnection.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import struct

from ..data import BTC_BITAXE, stream, u32
from ..formats import LINKTYPE_ETHERNET, link_ethernet, write_pcap
from ..payloads import NTIME
from ..wire import Capture, Host, TcpFlow


def sv2_frame(msg_type: int, payload: bytes, channel_msg: bool = False) -> bytes:
    """Plaintext SV2 frame: extension_type U16 (MSB = channel_msg), msg_type U8, msg_length U24 (LE)."""
    return (
        struct.pack("<HB", 0x8000 if channel_msg else 0, msg_type)
        + len(payload).to_bytes(3, "little")
        + payload
    )


def str0_255(text: str) -> bytes:
    """SV2 STR0_255."""
    return bytes([len(text)]) + text.encode()


def cap_sv2_handshake() -> bytes:
    """11. Stratum V2: Noise handshake sizes (64 -> 234) and encrypted frames; plaintext on 3336."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.110", 50600), Host("198.51.100.110", 34255, ttl=52), 0.0)
    f.handshake()
    f.exchange(stream("sv2/act1", 64), stream("sv2/act2", 234))
    for i, (from_client, plain_len) in enumerate(
        [(True, 75), (False, 6), (True, 57), (False, 81), (False, 45), (False, 48), (True, 24), (False, 20)]
    ):
        f.wait(0.5 if from_client else 25.0)
        f.send(from_client, stream(f"sv2/frame{i}", 22 + plain_len + 16))
    f.close()

    g = TcpFlow(cap, Host("192.0.2.111", 50601), Host("198.51.100.111", 3336, ttl=52), 10.0)
    g.handshake()
    setup = struct.pack("<BHHI", 0, 2, 2, 1) + str0_255("sv2.pool.example") + struct.pack("<H", 3336)
    setup += str0_255("bitaxe") + str0_255("Gamma 601") + str0_255("v2.4.1") + str0_255("bitaxe-a1b2c3d4e5f6")
    g.exchange(sv2_frame(0x00, setup), sv2_frame(0x01, struct.pack("<HI", 2, 0)))
    open_channel = (
        struct.pack("<I", 1) + str0_255(BTC_BITAXE + ".bitaxe02") + struct.pack("<f", 1.2e12) + b"\xff" * 32
    )
    target = b"\xff" * 24 + b"\x00" * 8
    opened = struct.pack("<II", 1, 7) + target + bytes([4]) + stream("sv2/prefix", 4) + struct.pack("<I", 0)
    job = struct.pack("<IIB", 7, 1, 0) + struct.pack("<I", 0x20000000) + stream("sv2/merkle", 32)
    prevhash = (
        struct.pack("<II", 7, 1)
        + stream("sv2/prev", 28)
        + b"\x00" * 4
        + struct.pack("<II", NTIME, 0x17034219)
    )
    g.exchange(
        sv2_frame(0x10, open_channel),
        sv2_frame(0x11, opened) + sv2_frame(0x15, job, True) + sv2_frame(0x20, prevhash, True),
    )
    g.wait(18_000)
    share = struct.pack("<IIIIII", 7, 0, 1, u32("sv2/nonce"), NTIME + 18, 0x20000000)
    g.exchange(sv2_frame(0x1A, share, True), sv2_frame(0x1C, struct.pack("<IIIQ", 7, 0, 1, 1), True))
    g.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
