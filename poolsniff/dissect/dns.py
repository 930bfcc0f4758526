"""DNS message parsing for the DNS dissector (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``parse_dns`` turns one DNS message (a UDP payload, or one length-prefixed message
cut from a TCP stream by ``split_tcp_dns``) into a ``DnsParse``: header fields, the
questions, and the A/AAAA/CNAME answers. Everything else is left unread. This is the
only poolsniff module that imports dpkt; it uses ``dpkt.dns.unpack_name`` for names,
which follows compression pointers and refuses pointer loops (a pointer must point
before the label it replaces) and names over 255 bytes.

Why not ``dpkt.dns.DNS`` as a whole: it raises on any resource record type it does
not know (HTTPS/SVCB, RRSIG, ...), so one such record anywhere in a response would
lose the whole message. Here only the header, the questions and the answer section
are read; the fixed RR fields are unpacked with ``struct``.

Malformed input never raises: ``parse_dns`` returns ``None`` (the caller counts it).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Final, NamedTuple

import dpkt

HEADER_LEN: Final = 12
"""DNS header: id, flags, qdcount, ancount, nscount, arcount (RFC 1035 §4.1.1)."""

_HEADER: Final = struct.Struct(">HHHHHH")
_QUESTION_TAIL: Final = struct.Struct(">HH")
_RR_TAIL: Final = struct.Struct(">HHIH")

TYPE_A: Final = 1
TYPE_CNAME: Final = 5
TYPE_AAAA: Final = 28

RRTYPE_NAMES: Final[dict[int, str]] = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    10: "NULL",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    41: "OPT",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    252: "AXFR",
    255: "ANY",
    257: "CAA",
}
"""Mnemonics for common resource record types (IANA "DNS Parameters" registry)."""

PARSE_ERRORS: Final = (dpkt.Error, struct.error, UnicodeDecodeError, ValueError)
"""What reading a malformed message can raise, found by fuzzing (tests/dissect/test_dns.py).

``dpkt.Error`` covers ``UnpackError`` (bad label type, pointer loop, name over 255
bytes) and ``NeedData`` (name runs off the end); ``struct.error`` comes from a
pointer or a fixed field cut short; ``UnicodeDecodeError`` from labels that are not
UTF-8 (dpkt decodes names as UTF-8); ``ValueError`` from this module's own checks.
"""


class DnsParse(NamedTuple):
    """One parsed DNS message (the fields of ``model.DnsMessage`` without flow context)."""

    msg_id: int
    is_response: bool
    opcode: int
    rcode: int
    flags: int
    """The whole 16-bit flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode)."""
    questions: tuple[tuple[str, int], ...]
    """(name, qtype) pairs; names lower case, no trailing dot."""
    answers: tuple[tuple[str, int, str, int], ...]
    """(rrname, rrtype, rdata, ttl) for A, AAAA (printable address) and CNAME (target)."""


def rrtype_name(t: int) -> str:
    """Return the mnemonic of resource record type ``t`` ("A", "AAAA", ...), else ``str(t)``."""
    return RRTYPE_NAMES.get(t, str(t))


def normalize_name(name: str) -> str:
    """Lower-case a DNS name and drop a trailing dot (0x20 case randomisation is undone)."""
    return name.lower().rstrip(".")


def parse_dns(payload: bytes) -> DnsParse | None:
    """Parse the header, questions and answers of one DNS message; ``None`` if malformed.

    Authority and additional sections are not read, so damage there goes unnoticed.
    """
    try:
        return _parse(payload)
    except PARSE_ERRORS:
        return None


def split_tcp_dns(buf: bytes) -> tuple[list[bytes], bytes]:
    """Split a DNS-over-TCP byte stream into whole messages and the unconsumed rest.

    Each message is preceded by a two-byte big-endian length (RFC 1035 §4.2.2); a
    zero length carries no message and is skipped.
    """
    messages: list[bytes] = []
    off = 0
    while len(buf) - off >= 2:
        (length,) = struct.unpack_from(">H", buf, off)
        if len(buf) - off - 2 < length:
            break
        if length:
            messages.append(buf[off + 2 : off + 2 + length])
        off += 2 + length
    return messages, buf[off:]


def _parse(buf: bytes) -> DnsParse:
    if len(buf) < HEADER_LEN:
        raise ValueError("shorter than a DNS header")
    msg_id, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(buf)
    off = HEADER_LEN
    questions: list[tuple[str, int]] = []
    for _ in range(qdcount):
        name, off = _read_name(buf, off)
        qtype, _qclass = _QUESTION_TAIL.unpack_from(buf, off)
        off += _QUESTION_TAIL.size
        questions.append((name, qtype))
    answers: list[tuple[str, int, str, int]] = []
    for _ in range(ancount):
        answer, off = _read_answer(buf, off)
        if answer is not None:
            answers.append(answer)
    return DnsParse(
        msg_id=msg_id,
        is_response=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0xF,
        rcode=flags & 0xF,
        flags=flags,
        questions=tuple(questions),
        answers=tuple(answers),
    )


def _read_name(buf: bytes, off: int) -> tuple[str, int]:
    name, end = dpkt.dns.unpack_name(buf, off)
    return normalize_name(name), end


def _read_answer(buf: bytes, off: int) -> tuple[tuple[str, int, str, int] | None, int]:
    """Read one resource record; return it if it is A/AAAA/CNAME, and the next offset."""
    name, off = _read_name(buf, off)
    rrtype, _rrclass, ttl, rdlen = _RR_TAIL.unpack_from(buf, off)
    start = off + _RR_TAIL.size
    end = start + rdlen
    if end > len(buf):
        raise ValueError("rdata runs past the end of the message")
    rdata = _rdata_text(buf, rrtype, start, end)
    return (None if rdata is None else (name, rrtype, rdata, ttl)), end


def _rdata_text(buf: bytes, rrtype: int, start: int, end: int) -> str | None:
    if rrtype == TYPE_A:
        return str(ipaddress.IPv4Address(buf[start:end]))
    if rrtype == TYPE_AAAA:
        return str(ipaddress.IPv6Address(buf[start:end]))
    if rrtype == TYPE_CNAME:
        target, target_end = _read_name(buf, start)
        if target_end > end:
            raise ValueError("CNAME target runs past its rdata")
        return target
    return None
