"""The TLS hellos of a stream as events: a client's ClientHello, a server's ServerHello (dissection layer).

flows -> streams (a direction in TLS mode) -> **hellos** -> TlsClientHello / TlsServerHello events

``tls`` finds the handshake message in a direction's first bytes; this module fingerprints it
(``tlsfp``: JA3, JA4, JA3S), names a known miner's JA4 and builds the event. Each answers with
the event, ``None`` (not a hello: nothing more to read there) or ``NEED_MORE``.
"""

from __future__ import annotations

from typing import Literal

from poolsniff.dissect import tls, tlsfp
from poolsniff.dissect.interface import NEED_MORE, Incomplete
from poolsniff.model import FlowKey, TlsClientHello, TlsServerHello


def client_hello(ts: int, key: FlowKey, buf: bytes) -> TlsClientHello | None | Literal[Incomplete.NEED_MORE]:
    """The ClientHello at the start of a client's bytes ``buf``, fingerprinted where it can be."""
    hello = tls.parse_client_hello(buf)
    if hello is NEED_MORE or hello is None:
        return hello
    ja3 = ja3_hash = ja4 = ""
    message = tls.client_hello_message(buf)
    if isinstance(message, bytes):
        try:
            fp = tlsfp.fingerprint(message)
        except ValueError:
            pass
        else:
            ja3, ja3_hash, ja4 = fp.ja3_string, fp.ja3_hash, fp.ja4
    known = tlsfp.known_miner(ja4) or ""
    return TlsClientHello(ts, key, True, hello.sni, hello.version, hello.alpns, ja3, ja3_hash, ja4, known)


def server_hello(ts: int, key: FlowKey, buf: bytes) -> TlsServerHello | None | Literal[Incomplete.NEED_MORE]:
    """The ServerHello at the start of a server's bytes ``buf``, with its JA3S.

    Raises ``ValueError`` for a ServerHello that cannot be fingerprinted (the caller counts it).
    """
    message = tls.server_hello_message(buf)
    if message is NEED_MORE or message is None:
        return message
    fp = tlsfp.server_fingerprint(message)
    return TlsServerHello(ts, key, False, tls.version_name(fp.version), fp.ja3s_string, fp.ja3s_hash)
