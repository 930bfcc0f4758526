"""The TLS hellos of a stream as events: a client's ClientHello, a server's ServerHello (dissection layer).

flows -> streams (a direction in TLS mode) -> **hellos** -> TlsClientHello / TlsServerHello events

``tls`` finds the handshake message in a direction's first bytes and walks its fields once; this
module fingerprints it (``tlsfp``: JA3, JA4, JA3S), names a known miner's JA4 and builds the event.
Each answers with the event, ``None`` (not a hello: nothing more to read there) or ``NEED_MORE``.

A client sends the same hello, but for its random, session id, SNI and key shares, on every
connection: what the event carries besides the SNI (version, ALPN, JA3, JA4, miner name) depends
only on the fields ``_shape_key`` lists, so it is computed once per such key and remembered
(``MAX_CACHED_SHAPES`` of them; the SNI is read from every hello).
"""

from __future__ import annotations

from typing import Final, Literal

from poolsniff.dissect import tls, tlsfp
from poolsniff.dissect.interface import NEED_MORE, Incomplete
from poolsniff.dissect.shape import WEB_ALPNS
from poolsniff.model import FlowKey, TlsClientHello, TlsServerHello

MAX_CACHED_SHAPES: Final = 1024
"""Hello shapes remembered; when full, the memory starts afresh."""
MAX_SHAPE_KEY_BYTES: Final = 2048
"""Hellos whose key is larger (long lists, an unusual hello) are not remembered: at most ~2 MiB held."""

_Shape = tuple[str, tuple[str, ...], str, str, str, str]
"""version, ALPN protocols, JA3 string, JA3 hash, JA4, known miner: the event's fields but SNI."""
_Data = bytes | None
_ShapeKey = tuple[int, bytes, tuple[int, ...], _Data, _Data, _Data, _Data, _Data]
_SHAPES: dict[_ShapeKey, _Shape | None] = {}
"""``None``: the hello's versions or ALPN are malformed, and it is no ClientHello event."""


def client_hello(ts: int, key: FlowKey, buf: bytes) -> TlsClientHello | None | Literal[Incomplete.NEED_MORE]:
    """The ClientHello at the start of a client's bytes ``buf``, fingerprinted where it can be."""
    read = _read(buf)
    if read is NEED_MORE or read is None:
        return read
    fields, sni = read
    shape = _shape(fields)
    if shape is None:
        return None
    version, alpns, ja3, ja3_hash, ja4, known = shape
    return TlsClientHello(ts, key, True, sni, version, alpns, ja3, ja3_hash, ja4, known)


def offered_alpns(buf: bytes) -> tuple[str, ...] | None:
    """The ALPN protocols of the ClientHello at the start of ``buf``, where ``client_hello`` makes an event
    of it (None where it makes none, or needs more bytes), without fingerprinting it."""
    read = _read(buf)
    if read is NEED_MORE or read is None:
        return None
    try:
        return tls.hello_versions_and_alpns(read[0])[2]
    except ValueError:  # as ``cold_shape``: no event
        return None


def web_hello(first_bytes: bytes) -> bool:
    """Whether a client's first bytes hold, whole in their first record, a ClientHello that ``client_hello``
    makes an event of and that offers a web protocol in ALPN (``shape.WEB_ALPNS``): a direction reading
    them ignores what follows, and no record shape is read of the session (the split's front closes it
    at once: ``engine.split.recorder``). A hello spread over records is not one here. The reference of
    ``engine.fast._walk.web_hello``."""
    if not tls.holds_in_first_record(first_bytes, tls.HANDSHAKE_CLIENT_HELLO):
        return False
    alpns = offered_alpns(first_bytes)
    return alpns is not None and not WEB_ALPNS.isdisjoint(alpns)


def _read(buf: bytes) -> tuple[tls.HelloFields, str | None] | None | Literal[Incomplete.NEED_MORE]:
    """The ClientHello's fields and SNI, checked as every ClientHello event's are."""
    message = tls.client_hello_message(buf)
    if message is NEED_MORE or message is None:
        return message
    try:
        fields = tls.hello_fields(message)
        tls.check_legacy_fields(message, fields)
        return fields, tls.server_name(fields)
    except ValueError:
        return None


def _shape_key(fields: tls.HelloFields) -> _ShapeKey:
    """Every field that the version, the ALPN list and the fingerprints (``tlsfp``) depend on."""
    exts = fields.exts
    return (
        fields.legacy,
        fields.ciphers,
        fields.ext_types,
        exts.get(tlsfp.EXT_SUPPORTED_GROUPS),
        exts.get(tlsfp.EXT_EC_POINT_FORMATS),
        exts.get(tlsfp.EXT_SIGNATURE_ALGORITHMS),
        exts.get(tlsfp.EXT_ALPN),
        exts.get(tlsfp.EXT_SUPPORTED_VERSIONS),
    )


def _shape(fields: tls.HelloFields) -> _Shape | None:
    """The event's fields but SNI, remembered by ``_shape_key``; ``None`` for malformed versions or ALPN."""
    key = _shape_key(fields)
    try:
        return _SHAPES[key]
    except KeyError:
        pass
    shape = cold_shape(fields)
    size = len(fields.ciphers) + 8 * len(fields.ext_types) + sum(map(len, fields.exts.values()))
    if size <= MAX_SHAPE_KEY_BYTES:
        if len(_SHAPES) >= MAX_CACHED_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = shape
    return shape


def cold_shape(fields: tls.HelloFields) -> _Shape | None:
    """The event's fields but SNI, computed (no memory); ``None`` for malformed versions or ALPN."""
    try:
        version, _, alpns = tls.hello_versions_and_alpns(fields)
    except ValueError:
        return None
    try:
        fp = tlsfp.fingerprint_fields(fields)
    except ValueError:
        return version, alpns, "", "", "", ""
    return version, alpns, fp.ja3_string, fp.ja3_hash, fp.ja4, tlsfp.known_miner(fp.ja4) or ""


def server_hello(ts: int, key: FlowKey, buf: bytes) -> TlsServerHello | None | Literal[Incomplete.NEED_MORE]:
    """The ServerHello at the start of a server's bytes ``buf``, with its JA3S.

    Raises ``ValueError`` for a ServerHello that cannot be fingerprinted (the caller counts it).
    """
    message = tls.server_hello_message(buf)
    if message is NEED_MORE or message is None:
        return message
    fp = tlsfp.server_fingerprint(message)
    return TlsServerHello(ts, key, False, tls.version_name(fp.version), fp.ja3s_string, fp.ja3s_hash)
