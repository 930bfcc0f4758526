"""TLS ClientHello (and ServerHello) parsing for the TLS dissector (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Stratum over TLS leaves only metadata in the clear; the ClientHello's server_name
(SNI) is the most useful part, since XMRig sets it to the pool host (PROTOCOLS.md §6).
``parse_client_hello`` takes the bytes a client has sent so far on a TCP stream and
answers with a ``ClientHello``, ``NEED_MORE`` (call again with more bytes) or ``None``
(not a TLS ClientHello, malformed, or larger than ``MAX_HELLO_BYTES``: give up).

A ClientHello may be fragmented over several TLS handshake records (RFC 8446 §5.1),
and those records over several TCP segments; the caller passes the accumulated
stream and this module reassembles the handshake message from the records.
SSLv2-compatible hellos are not recognised. ``server_hello_message`` finds a server's
ServerHello the same way, for its JA3S.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from poolsniff.dissect.interface import NEED_MORE, Incomplete

CONTENT_HANDSHAKE: Final = 22
HANDSHAKE_CLIENT_HELLO: Final = 1
HANDSHAKE_SERVER_HELLO: Final = 2
RECORD_HEADER_LEN: Final = 5
MAX_RECORD_LEN: Final = 2**14 + 2048
"""Largest TLSCiphertext fragment allowed (RFC 5246 §6.2.3); plaintext records are smaller."""
MAX_HELLO_BYTES: Final = 16 * 1024
"""Give up on streams whose ClientHello (with record headers) needs more than this."""

EXT_SERVER_NAME: Final = 0
EXT_ALPN: Final = 16
EXT_SUPPORTED_VERSIONS: Final = 43
_iter_uint16 = struct.Struct(">H").iter_unpack
_TYPE_PREFIXES: Final = (b"", bytes([CONTENT_HANDSHAKE]))
GREASE: Final = frozenset(0x0A0A + 0x1010 * i for i in range(16))
"""The GREASE values (RFC 8701): 0x?a?a with equal bytes, sixteen of them."""

VERSION_NAMES: Final[dict[int, str]] = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}
"""Protocol version numbers (RFC 8446 Appendix B, RFC 5246 Appendix E)."""


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
    name = VERSION_NAMES.get(version)
    return f"0x{version:04x}" if name is None else name


def looks_like_tls(first_bytes: bytes) -> bool:
    """Say whether a stream starts like a TLS handshake record (type 22, version 3.0-3.4).

    Needs at least three bytes; with five, the record length must also be plausible.
    """
    return len(first_bytes) >= 3 and _header_prefix_ok(first_bytes[:RECORD_HEADER_LEN])


def _header_prefix_ok(header: bytes) -> bool:
    """Check whichever bytes of a record header are present (zero to five of them)."""
    if header[:1] not in _TYPE_PREFIXES or header[1:2] not in (b"", b"\x03"):
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
    handshake = _whole_in_first_record(buf)
    if handshake is None:
        found = _reassemble(buf)
        if found is None or found is NEED_MORE:
            return found
        handshake = found
    try:
        return _parse_hello(handshake)
    except ValueError:
        return None


def client_hello_message(buf: bytes) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """The whole ClientHello handshake message (header included) at the start of ``buf``.

    For fingerprinting (``tlsfp``); answers like ``parse_client_hello`` but does not parse it.
    """
    handshake = _whole_in_first_record(buf)
    return _reassemble(buf) if handshake is None else handshake


def server_hello_message(buf: bytes) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """The whole ServerHello handshake message (header included) at the start of a server's stream.

    For its JA3S (``tlsfp.server_fingerprint``); answers like ``client_hello_message``.
    """
    handshake = _whole_in_first_record(buf, HANDSHAKE_SERVER_HELLO)
    return _reassemble(buf, HANDSHAKE_SERVER_HELLO) if handshake is None else handshake


def holds_server_hello(first_bytes: bytes) -> bool:
    """Whether a server's first bytes start like TLS (``looks_like_tls``) and hold its whole ServerHello in
    their first record: ``server_hello_message`` then answers at once (never ``NEED_MORE``), so a
    direction reading them is done with them (``streams.Direction._server_hello``)."""
    return holds_in_first_record(first_bytes, HANDSHAKE_SERVER_HELLO)


def holds_in_first_record(first_bytes: bytes, msg_type: int) -> bool:
    """Whether a stream's first bytes start like TLS and hold a whole ``msg_type`` handshake message in
    their first record (the common case, which ``client_hello_message`` and ``server_hello_message``
    answer without their record loop)."""
    whole = _whole_in_first_record(first_bytes, msg_type)
    return whole is not None and looks_like_tls(first_bytes)


def first_record_due(first_bytes: bytes, msg_type: int) -> int:
    """The size of the first record (header included) that a stream's first bytes start, a handshake
    record opening with a ``msg_type`` message, while more of it is to come; 0 otherwise (no such
    record, or all of it there)."""
    if len(first_bytes) < 6 or first_bytes[5] != msg_type or not looks_like_tls(first_bytes):
        return 0
    size = RECORD_HEADER_LEN + int.from_bytes(first_bytes[3:5], "big")
    return size if size > len(first_bytes) else 0


def _whole_in_first_record(buf: bytes, msg_type: int = HANDSHAKE_CLIENT_HELLO) -> bytes | None:
    """The common case, without the record loop: the first record holds the whole ClientHello.

    Returns the handshake message as ``_reassemble`` would, or ``None`` for any other case
    (more records, more bytes to come, not a ClientHello), which ``_reassemble`` then settles.
    """
    if len(buf) < 9 or buf[0] != CONTENT_HANDSHAKE or buf[1] != 3 or buf[2] > 4:
        return None
    record = (buf[3] << 8) | buf[4]
    end = 9 + ((buf[6] << 16) | (buf[7] << 8) | buf[8])
    if buf[5] != msg_type or record > MAX_RECORD_LEN or end - 5 > record:
        return None
    if end - 5 > MAX_HELLO_BYTES or end > len(buf):
        return None
    return buf[5:end]


def _reassemble(
    buf: bytes, msg_type: int = HANDSHAKE_CLIENT_HELLO
) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """Join handshake record fragments until the first handshake message (of ``msg_type``) is complete."""
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
        message = _first_message(data, msg_type)
        if message is not NEED_MORE:
            return message
        if end > len(buf):
            return _wait_or_give_up(buf)
        off = end


def _wait_or_give_up(buf: bytes) -> Literal[Incomplete.NEED_MORE] | None:
    return None if len(buf) >= MAX_HELLO_BYTES else NEED_MORE


def _first_message(
    data: bytes, msg_type: int = HANDSHAKE_CLIENT_HELLO
) -> bytes | Literal[Incomplete.NEED_MORE] | None:
    """Return the ``msg_type`` handshake message at the start of ``data`` once it is whole."""
    if data and data[0] != msg_type:
        return None
    if len(data) < 4:
        return NEED_MORE
    needed = 4 + int.from_bytes(data[1:4], "big")
    if needed > MAX_HELLO_BYTES:
        return None
    return data[:needed] if len(data) >= needed else NEED_MORE


class HelloFields(NamedTuple):
    """A ClientHello after one walk over its fields: what the hello and its fingerprints are made of."""

    legacy: int
    """The legacy client_version."""
    ciphers: bytes
    """cipher_suites as sent (GREASE included, length not yet checked for evenness)."""
    ext_types: tuple[int, ...]
    """Every extension's type, in order, GREASE included."""
    exts: dict[int, bytes]
    """Data of the first extension of each type in ``KEPT_EXTENSIONS``."""


KEPT_EXTENSIONS: Final = frozenset({0x0000, 0x000A, 0x000B, 0x000D, 0x0010, 0x002B})
"""Extensions whose data ``hello_fields`` keeps: server_name, supported_groups, ec_point_formats,
signature_algorithms, ALPN, supported_versions (the ClientHello's and the fingerprints' inputs)."""


def hello_fields(h: bytes) -> HelloFields:
    """Walk a whole ClientHello handshake message (header included) once; ``ValueError`` if malformed.

    Every length is checked against the end of the part that holds it, and any field that runs
    past that end raises. Not checked here (``check_legacy_fields`` does it): the session id's
    length limit and the cipher suites' evenness, which JA3 and JA4 do not require.
    """
    end = len(h)
    if end < 39:  # header, legacy_version, random, the session id's length byte
        raise ValueError("ClientHello shorter than its fixed fields")
    start, off = _vector(h, 39 + h[38], end, 2)
    ciphers = h[start:off]
    off = _vector(h, off, end, 1)[1]  # legacy_compression_methods
    types: list[int] = []
    exts: dict[int, bytes] = {}
    if off < end:  # the extensions, each walked (a malformed one anywhere raises); first of a type wins
        off, stop = _vector(h, off, end, 2)
        kept = KEPT_EXTENSIONS
        while off < stop:
            start = off + 4  # type, length, then the data
            if start > stop:
                raise ValueError("extension header runs past the block")
            ext_type = (h[off] << 8) | h[off + 1]
            off = start + ((h[off + 2] << 8) | h[off + 3])
            if off > stop:
                raise ValueError("extension runs past the block")
            types.append(ext_type)
            if ext_type in kept and ext_type not in exts:
                exts[ext_type] = h[start:off]
    return HelloFields((h[4] << 8) | h[5], ciphers, tuple(types), exts)


def check_legacy_fields(h: bytes, fields: HelloFields) -> None:
    """Raise ``ValueError`` where a walked hello breaks RFC 8446's limits on its legacy fields."""
    if h[38] > 32:
        raise ValueError("bad legacy_session_id")
    if not fields.ciphers or len(fields.ciphers) % 2:
        raise ValueError("bad cipher_suites length")


def _parse_hello(h: bytes) -> ClientHello:
    """Read a whole ClientHello handshake message (header included); ``ValueError`` if malformed."""
    fields = hello_fields(h)
    check_legacy_fields(h, fields)
    version, legacy, alpns = hello_versions_and_alpns(fields)
    return ClientHello(server_name(fields), version, legacy, alpns)


def hello_versions_and_alpns(fields: HelloFields) -> tuple[str, str, tuple[str, ...]]:
    """(version, legacy version, ALPN protocols) of a walked hello; ``ValueError`` if malformed.

    They depend on no field but the legacy version and the supported_versions and ALPN data.
    """
    legacy = fields.legacy
    version = _highest_version(fields.exts.get(EXT_SUPPORTED_VERSIONS), legacy)
    return version_name(version), version_name(legacy), _alpns(fields.exts.get(EXT_ALPN))


def server_name(fields: HelloFields) -> str | None:
    """The SNI of a walked hello (``ClientHello.sni``); ``ValueError`` if its extension is malformed."""
    return _server_name(fields.exts.get(EXT_SERVER_NAME))


def _vector(data: bytes, off: int, end: int, len_size: int) -> tuple[int, int]:
    """(start, end) of the vector whose ``len_size``-byte length is at ``off``; raises past ``end``."""
    start = off + len_size
    if start > end:
        raise ValueError("vector length runs past the end")
    stop = start + (data[off] if len_size == 1 else (data[off] << 8) | data[off + 1])
    if stop > end:
        raise ValueError("vector runs past the end")
    return start, stop


def _highest_version(data: bytes | None, legacy: int) -> int:
    """The highest version supported_versions lists (GREASE aside), else ``legacy``."""
    if data is None:
        return legacy
    if not data or 1 + data[0] > len(data):
        raise ValueError("supported_versions runs past its extension")
    if data[0] % 2:
        raise ValueError("odd supported_versions length")
    highest = -1
    for (version,) in _iter_uint16(data[1 : 1 + data[0]]):
        if version > highest and version not in GREASE:
            highest = version
    return legacy if highest < 0 else highest


def _text(raw: bytes) -> str:
    return raw.decode("ascii", errors="backslashreplace")


def _list_end(data: bytes) -> int:
    """End of the list whose two-byte length opens ``data``; raises when it runs past the end."""
    if len(data) < 2:
        raise ValueError("list length runs past the end")
    stop = 2 + ((data[0] << 8) | data[1])
    if stop > len(data):
        raise ValueError("list runs past the end")
    return stop


def _server_name(data: bytes | None) -> str | None:
    """The first non-empty host_name; entries after it are not read."""
    if data is None:
        return None
    stop = _list_end(data)
    off = 2
    while off < stop:
        start = off + 3  # name type, two-byte length, then the name
        if start > stop:
            raise ValueError("server name entry runs past the list")
        name_type = data[off]
        off = start + ((data[off + 1] << 8) | data[off + 2])
        if off > stop:
            raise ValueError("server name runs past the list")
        if name_type == 0 and off > start:
            return _text(data[start:off]).lower().rstrip(".")
    return None


def _alpns(data: bytes | None) -> tuple[str, ...]:
    if data is None:
        return ()
    stop = _list_end(data)
    off = 2
    found: list[str] = []
    while off < stop:
        start = off + 1
        off = start + data[off]
        if off > stop:
            raise ValueError("protocol name runs past the list")
        found.append(_text(data[start:off]))
    return tuple(found)
