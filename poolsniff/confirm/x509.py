"""The subject and issuer of a server certificate, read from its DER bytes (confirmation stage, no I/O).

probe socket (TLS, no verification) -> DER certificate -> **subject, issuer** -> probe report

A probe does not verify certificates (a pool's is often self-signed, and the point is to see
what answers), so Python's ``getpeercert()`` returns nothing but the DER bytes. This reads the
two names out of them: ``Certificate -> TBSCertificate -> issuer, subject`` (RFC 5280 §4.1), each
a sequence of attribute sets rendered ``CN=…, O=…`` in certificate order. The bytes come from a
server that may be hostile: every length is checked, and anything malformed gives ``None``.
"""

from __future__ import annotations

from typing import Final

SEQUENCE: Final = 0x30
SET: Final = 0x31
OID: Final = 0x06
CONTEXT_0: Final = 0xA0

NAMES: Final = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
"""Attribute types by OID, with OpenSSL's short names; others are shown as the dotted OID."""

MAX_NAME: Final = 256
"""Characters of a rendered name kept."""


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """``(tag, start of value, end of value)`` of the element at ``offset``; ValueError if malformed."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    end = start + length
    if end > len(data):
        raise ValueError("truncated")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    while start < end:
        tag, vstart, vend = _tlv(data[:end], start)
        items.append((tag, vstart, vend))
        start = vend
    return items


def _oid(raw: bytes) -> str:
    if not raw:
        raise ValueError("empty OID")
    arcs = [min(raw[0] // 40, 2), raw[0] - 40 * min(raw[0] // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def _name(data: bytes, start: int, end: int) -> str:
    parts = []
    for tag, s, e in _children(data, start, end):
        if tag != SET:
            raise ValueError("not an RDN")
        for atag, a_s, a_e in _children(data, s, e):
            if atag != SEQUENCE:
                raise ValueError("not an attribute")
            fields = _children(data, a_s, a_e)
            if len(fields) != 2 or fields[0][0] != OID:
                raise ValueError("bad attribute")
            oid = _oid(data[fields[0][1] : fields[0][2]])
            raw = data[fields[1][1] : fields[1][2]]
            text = raw.decode("utf-16-be" if fields[1][0] == 0x1E else "utf-8", "replace")
            text = "".join(c if c.isprintable() else "." for c in text)
            parts.append(f"{NAMES.get(oid, oid)}={text}")
    return ", ".join(parts)[:MAX_NAME]


def names(der: bytes) -> tuple[str, str] | None:
    """``(subject, issuer)`` of a DER certificate, or None when it cannot be read."""
    try:
        tag, start, end = _tlv(der, 0)
        if tag != SEQUENCE:
            return None
        tag, start, end = _tlv(der, start)  # TBSCertificate
        if tag != SEQUENCE:
            return None
        fields = _children(der, start, end)
        if fields and fields[0][0] == CONTEXT_0:  # version
            fields = fields[1:]
        if len(fields) < 5 or fields[2][0] != SEQUENCE or fields[4][0] != SEQUENCE:
            return None
        issuer = _name(der, fields[2][1], fields[2][2])
        subject = _name(der, fields[4][1], fields[4][2])
    except ValueError:
        return None
    return subject, issuer
