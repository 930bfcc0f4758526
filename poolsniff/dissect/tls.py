"""TLS ClientHello parsing for the TLS dissector (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Stratum over TLS leaves only metadata in the clear; the ClientHello's server_name
(SNI) is the most useful part, since XMRig sets it to the pool host (PROTOCOLS.md §6).
``parse_client_hello`` takes the bytes a client has sent so far on a TCP stream and
answers with a ``ClientHello``, ``NEED_MORE`` (call again with more bytes) or ``None``
(not a TLS ClientHello, malformed, or larger than ``MAX_HELLO_BYTES``: give up).

A ClientHello may be fragmented over several TLS handshake records (RFC 8446 §5.1),
and those records over several TCP segments; the caller passes the accumulated
stream and this module reassembles the handshake message from the records.
SSLv2-compatible hellos are not recognised.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

CONTENT_HANDSHAKE: Final = 22
HANDSHAKE_CLIENT_HELLO: Final = 1
RECORD_HEADER_LEN: Final = 5
MAX_RECORD_LEN: Final = 2**14 + 2048
"""Largest TLSCiphertext fragment allowed (RFC 5246 §6.2.3); plaintext records are smaller."""
MAX_HELLO_BYTES: Final = 16 * 1024
"""Give up on streams whose ClientHello (with record headers) needs more than this."""

EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43

VERSION_NAMES: Final[dict[int, str]] = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}
"""Protocol version numbers (RFC 8446 Appendix B, RFC 5246 Appendix E)."""


class Incomplete(Enum):
    """The marker type of ``NEED_MORE``."""

    NEED_MORE = "need_more"


NEED_MORE: Final = Incomplete.NEED_MORE
"""Returned while the buffer holds a plausible but unfinished ClientHello."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What poolsniff keeps from a TLS ClientHello."""

    sni: str | None
    """First host_name of the server_name extension, lower case, no trailing dot."""
    version: str
    """Highest version offered in supported_versions, else the legacy client_version."""
    legacy_version: str
    """The client_version field ("TLS 1.2" for every TLS 1.3 client)."""
    alpns: tuple[str, ...] = ()
    """Protocols offered in the ALPN extension, in order."""


def version_name(version: int) -> str:
    """Name a protocol version number ("TLS 1.2"); unknown ones as ``0x7f17``."""
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def looks_like_tls(first_bytes: bytes) -> bool:
    """Say whether a stream starts like a TLS handshake record (type 22, version 3.0-3.4).

    Needs at least three bytes; with five, the record length must also be plausible.
    """
    return len(first_bytes) >= 3 and _header_prefix_ok(first_bytes[:RECORD_HEADER_LEN])


def _header_prefix_ok(header: bytes) -> bool:
    """Check whichever bytes of a record header are present (zero to five of them)."""
    if header[:1] not in (b"", bytes([CONTENT_HANDSHAKE])) or header[1:2] not in (b"", b"\x03"):
        return False
    if len(header) >= 3 and header[2] > 4:
        return False
    if len(header) == RECORD_HEADER_LEN:
        return 0 < int.from_bytes(header[3:5], "big") <= MAX_RECORD_LEN
    return True


def parse_client_hello(buf: bytes) -> ClientHello | Literal[Incomplete.NEED_MORE] | None:
    """Parse the ClientHello at the start of a client's TCP stream.

    Returns the hello, ``NEED_MORE`` when more bytes are needed, or ``None`` to give up.
    """
    handshake = _reassemble(buf)
    if handshake is None or handshake is NEED_MORE:
        return handshake
    try:
        return _parse_hello(handshake)
    except ValueError:
        return None


def _reassemble(buf: bytes) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """Join handshake record fragments until the first handshake message is complete."""
    data = b""
    off = 0
    while True:
        header = buf[off : off + RECORD_HEADER_LEN]
        if not _header_prefix_ok(header):
            return None
        if len(header) < RECORD_HEADER_LEN:
            return _wait_or_give_up(buf)
        end = off + RECORD_HEADER_LEN + int.from_bytes(header[3:5], "big")
        # A record still arriving counts too: its first bytes may already settle the matter.
        data += buf[off + RECORD_HEADER_LEN : end]
        message = _first_message(data)
        if message is not NEED_MORE:
            return message
        if end > len(buf):
            return _wait_or_give_up(buf)
        off = end


def _wait_or_give_up(buf: bytes) -> Literal[Incomplete.NEED_MORE] | None:
    return None if len(buf) >= MAX_HELLO_BYTES else NEED_MORE


def _first_message(data: bytes) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """Return the ClientHello handshake message at the start of ``data`` once it is whole."""
    if data and data[0] != HANDSHAKE_CLIENT_HELLO:
        return None
    if len(data) < 4:
        return NEED_MORE
    needed = 4 + int.from_bytes(data[1:4], "big")
    if needed > MAX_HELLO_BYTES:
        return None
    return data[:needed] if len(data) >= needed else NEED_MORE


class _Reader:
    """A cursor over bytes that raises ``ValueError`` when a field runs past the end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.off = data, 0

    def take(self, n: int) -> bytes:
        if self.off + n > len(self.data):
            raise ValueError("field runs past the end")
        chunk = self.data[self.off : self.off + n]
        self.off += n
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, len_size: int) -> bytes:
        return self.take(self.uint(len_size))

    def remaining(self) -> int:
        return len(self.data) - self.off


def _parse_hello(handshake: bytes) -> ClientHello:
    body = _Reader(handshake[4:])
    legacy = body.uint(2)
    body.take(32)  # random
    if len(body.vector(1)) > 32:  # legacy_session_id
        raise ValueError("session id longer than 32 bytes")
    suites = body.vector(2)
    if not suites or len(suites) % 2:
        raise ValueError("bad cipher_suites length")
    body.vector(1)  # legacy_compression_methods
    extensions = _extensions(body.vector(2)) if body.remaining() else {}
    versions = _supported_versions(extensions.get(EXT_SUPPORTED_VERSIONS))
    return ClientHello(
        sni=_server_name(extensions.get(EXT_SERVER_NAME)),
        version=version_name(max(versions) if versions else legacy),
        legacy_version=version_name(legacy),
        alpns=_alpns(extensions.get(EXT_ALPN)),
    )


def _extensions(block: bytes) -> dict[int, bytes]:
    """Map extension type to data; the first of repeated types wins."""
    reader = _Reader(block)
    found: dict[int, bytes] = {}
    while reader.remaining():
        ext_type = reader.uint(2)
        found.setdefault(ext_type, reader.vector(2))
    return found


def _is_grease(value: int) -> bool:
    """GREASE values (RFC 8701) look like 0x?a?a with equal bytes."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _supported_versions(data: bytes | None) -> list[int]:
    if data is None:
        return []
    listed = _Reader(_Reader(data).vector(1))
    if listed.remaining() % 2:
        raise ValueError("odd supported_versions length")
    versions = [listed.uint(2) for _ in range(listed.remaining() // 2)]
    return [v for v in versions if not _is_grease(v)]


def _text(raw: bytes) -> str:
    return raw.decode("ascii", errors="backslashreplace")


def _server_name(data: bytes | None) -> str | None:
    if data is None:
        return None
    names = _Reader(_Reader(data).vector(2))
    while names.remaining():
        name_type = names.uint(1)
        host = names.vector(2)
        if name_type == 0 and host:
            return _text(host).lower().rstrip(".")
    return None


def _alpns(data: bytes | None) -> tuple[str, ...]:
    if data is None:
        return ()
    protocols = _Reader(_Reader(data).vector(2))
    found: list[str] = []
    while protocols.remaining():
        found.append(_text(protocols.vector(1)))
    return tuple(found)
