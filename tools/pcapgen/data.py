"""Deterministic data for the demo captures: a SHA-256 counter stream, coin addresses, JSON-line styles.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

T0_NS = 1_714_564_800 * 1_000_000_000
"""2024-05-01T12:00:00Z, the first timestamp of every capture."""




def stream(label: str, size: int) -> bytes:
    """Pseudo-random bytes: SHA-256 in counter mode over ``label`` (the seeded PRNG of every capture)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def hexs(label: str, size: int) -> str:
    """``size`` pseudo-random bytes as lower-case hex."""
    return stream(label, size).hex()


def u32(label: str) -> int:
    """A fixed 32-bit number (initial sequence numbers, nonces) derived from ``label``."""
    return int.from_bytes(stream(label, 4), "big")


_KECCAK_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
_KECCAK_ROT = (
    (0, 36, 3, 41, 18),
    (1, 44, 10, 45, 2),
    (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)
_M64 = (1 << 64) - 1


def _rol(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (64 - shift))) & _M64 if shift else value


def _keccak_f(s: list[list[int]]) -> None:
    for rc in _KECCAK_RC:
        c = [s[x][0] ^ s[x][1] ^ s[x][2] ^ s[x][3] ^ s[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(s[x][y] ^ d[x], _KECCAK_ROT[x][y])
        for x in range(5):
            for y in range(5):
                s[x][y] = b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y] & _M64)
        s[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Original Keccak-256 (Monero and Ethereum checksums; not NIST SHA3-256)."""
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * (-len(msg) % rate)
    msg[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        for i in range(rate // 8):
            state[i % 5][i // 5] ^= int.from_bytes(msg[off + 8 * i : off + 8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(version: bytes, payload: bytes) -> str:
    """Bitcoin-style Base58Check (Bitcoin, Litecoin, Zcash transparent addresses)."""
    raw = version + payload
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    num = int.from_bytes(raw, "big")
    text = ""
    while num:
        num, rem = divmod(num, 58)
        text = B58[rem] + text
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + text


def monero_address(label: str) -> str:
    """A 95-character standard Monero address (prefix 18) with a valid Keccak checksum."""
    raw = b"\x12" + stream(label + "/spend", 32) + stream(label + "/view", 32)
    raw += keccak256(raw)[:4]
    sizes = (0, 2, 3, 5, 6, 7, 9, 10, 11)
    out = []
    for off in range(0, len(raw), 8):
        block = raw[off : off + 8]
        num, chars = int.from_bytes(block, "big"), ""
        for _ in range(sizes[len(block)]):
            num, rem = divmod(num, 58)
            chars = B58[rem] + chars
        out.append(chars)
    return "".join(out)


def eth_address(label: str, checksum: bool) -> str:
    """``0x`` + 40 hex; EIP-55 mixed case when ``checksum``."""
    plain = hexs(label, 20)
    if not checksum:
        return "0x" + plain
    digest = keccak256(plain.encode()).hex()
    return "0x" + "".join(ch.upper() if int(digest[i], 16) >= 8 else ch for i, ch in enumerate(plain))


BTC_P2PKH = base58check(b"\x00", stream("btc/cgminer", 20))
BTC_P2SH = base58check(b"\x05", stream("btc/nicehash", 20))
BTC_BITAXE = base58check(b"\x00", stream("btc/bitaxe", 20))
LTC_ADDR = base58check(b"\x30", stream("ltc/miner", 20))
ZEC_T1 = base58check(b"\x1c\xb8", stream("zec/ewbf", 20))
XMR_WALLET = monero_address("xmr/xmrig")
ETH_CLAYMORE = eth_address("eth/claymore", checksum=False)
ETH_GETWORK = eth_address("eth/getwork", checksum=False)
ETH_ES2 = eth_address("eth/es2", checksum=True)




def spaced(obj: Any) -> str:
    """``json.dumps`` default separators: the spaced style of cgminer/jansson, Claymore and NiceHash."""
    return json.dumps(obj)


def compact(obj: Any) -> str:
    """Compact JSON: XMRig (rapidjson), NOMP, ckpool, ethminer (jsoncpp, keys already alphabetical)."""
    return json.dumps(obj, separators=(",", ":"))


def lines(*items: str) -> bytes:
    """Newline-terminated JSON lines, each checked to parse."""
    for item in items:
        json.loads(item)
    return "".join(item + "\n" for item in items).encode()
