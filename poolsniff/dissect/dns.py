"""DNS message parsing for the DNS dissector (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``parse_dns`` turns one DNS message (a UDP payload, or one length-prefixed message
cut from a TCP stream by ``split_tcp_dns``) into a ``DnsParse``: header fields, the
questions, and the A/AAAA/CNAME answers. Everything else is left unread. Names are read
by ``_unpack_name``, which reads them as ``dpkt.dns.unpack_name`` does (a test holds the
two to each other, as the decoder is held to dpkt): it follows compression pointers,
refuses pointer loops (a pointer must point before the label it replaces) and names over
255 bytes, and decodes the labels as UTF-8. Compiled, it reads a name in a fraction of
dpkt's interpreted reader's time, and it spares a scan dpkt's import (its package imports
all its 70 protocol modules: 28 ms of the 161 a small capture's scan took).

Why not ``dpkt.dns.DNS`` as a whole: it raises on any resource record type it does
not know (HTTPS/SVCB, RRSIG, ...), so one such record anywhere in a response would
lose the whole message. Here only the header, the questions and the answer section
are read; the fixed RR fields are unpacked with ``struct``.

Malformed input never raises: ``parse_dns`` returns ``None`` (the caller counts it).

Every DNS datagram on the wire comes through here, so the common shape has a fast path
(``_parse_common``): one question whose name is plain labels, and answers whose owner is
either the 0xC00C pointer to that question or plain labels, with plain-label CNAME
targets. It reads no name twice: the text of a name is looked up by its wire bytes in a
small cache (``_name_text``, filled by ``_unpack_name``). Any other shape (other
compression pointers, several questions, anything short or malformed) is handed to the
general reader, so the result is always the one the general reader gives.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from functools import lru_cache
from typing import Final, NamedTuple

HEADER_LEN: Final = 12
"""DNS header: id, flags, qdcount, ancount, nscount, arcount (RFC 1035 §4.1.1)."""

_HEADER: Final = struct.Struct(">HHHHHH")
_QUESTION_TAIL: Final = struct.Struct(">HH")
_RR_TAIL: Final = struct.Struct(">HHIH")
_HEADER_COUNTS = struct.Struct(">HHHH").unpack_from  # id, flags, qdcount, ancount
_RR_FIXED = _RR_TAIL.unpack_from
_POINTER_RR = struct.Struct(">HHHIH").unpack_from  # pointer, type, class, ttl, rdlength
_U16 = struct.Struct(">H").unpack_from  # a question's type, a compression pointer
_ntop = socket.inet_ntop
_AF_INET: Final = socket.AF_INET
_AF_INET6: Final = socket.AF_INET6
_new = tuple.__new__
MAX_CACHED_NAMES: Final = 4096
"""Wire-format names whose text ``_name_text`` remembers."""

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

PARSE_ERRORS: Final = (struct.error, UnicodeDecodeError, ValueError)
"""What reading a malformed message can raise, found by fuzzing (tests/dissect/test_dns.py).

``ValueError`` from this module's own checks (among them a bad label type, a pointer loop, a name
over 255 bytes or one that runs off the end: dpkt's ``UnpackError`` and ``NeedData``);
``struct.error`` comes from a pointer or a fixed field cut short; ``UnicodeDecodeError`` from
labels that are not UTF-8 (names are decoded as UTF-8, as dpkt decodes them).
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

    Authority and additional sections are not read, so damage there goes unnoticed. The
    parse of a message seen before but for its ID (bytes 2 on: a popular name asked again,
    its answer) is taken from ``_seen``, with this message's ID.
    """
    key = payload[2:]
    parsed = _seen.get(key, _UNSEEN)
    if parsed is _UNSEEN:
        try:
            parsed = _parse_common(payload) or _parse(payload)
        except PARSE_ERRORS:
            parsed = None
        if len(payload) >= HEADER_LEN:  # shorter: no ID to set, and a short key for any such
            if len(_seen) >= MAX_SEEN_MESSAGES:
                del _seen[next(iter(_seen))]
            _seen[key] = parsed
        return parsed
    if parsed is None:
        return None
    return _new(DnsParse, ((payload[0] << 8) | payload[1], *parsed[1:]))


MAX_SEEN_MESSAGES: Final = 16384
"""Messages (less their ID) whose parse ``parse_dns`` remembers, oldest first out."""
_seen: dict[bytes, DnsParse | None] = {}
_UNSEEN: Final = DnsParse(-1, False, 0, 0, 0, (), ())
"""A sentinel: no message parses to it (no ID is -1)."""


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


def _parse_common(buf: bytes) -> DnsParse | None:
    """The fast path: the common message shape, else ``None`` (the caller reads it in full).

    It only answers when its answer is the one ``_parse`` gives; it may raise what
    ``_parse`` raises on the same bytes (a name ``_unpack_name`` refuses).
    """
    size = len(buf)
    if size < HEADER_LEN:
        return None
    msg_id, flags, qdcount, ancount = _HEADER_COUNTS(buf)
    if qdcount != 1:
        return None
    # the question's name ends at the first zero byte unless a label holds one: the text
    # cache (_name_text) says whether these bytes are one name of plain labels
    qend = buf.find(b"\x00", HEADER_LEN) + 1
    if qend == 0 or qend + 4 > size:
        return None
    qname = _name_text(buf[HEADER_LEN:qend])
    if qname is None:
        return None
    answers: list[tuple[str, int, str, int]] = []
    off = qend + 4
    for _ in range(ancount):
        if off + 12 <= size and buf[off] == 0xC0 and buf[off + 1] == 0x0C:
            # the owner is a pointer to the question's name (offset 12)
            _, rrtype, _rrclass, ttl, rdlen = _POINTER_RR(buf, off)
            owner = qname
            off += 12
        else:
            end = _plain_name_end(buf, off)
            if end < 0 or end + 10 > size:
                return None
            text = _name_text(buf[off:end])
            if text is None:
                return None
            owner = text
            rrtype, _rrclass, ttl, rdlen = _RR_FIXED(buf, end)
            off = end + 10
        end = off + rdlen
        if end > size:
            return None
        if rrtype == TYPE_A:
            if rdlen != 4:
                return None  # malformed: the general reader says so
            answers.append((owner, TYPE_A, _ntop(_AF_INET, buf[off:end]), ttl))
        elif rrtype == TYPE_AAAA or rrtype == TYPE_CNAME:
            rdata = _common_rdata(buf, rrtype, off, end)
            if rdata is None:
                return None
            answers.append((owner, rrtype, rdata, ttl))
        off = end
    (qtype,) = _U16(buf, qend)
    return _new(DnsParse, (
        msg_id, flags & 0x8000 != 0, (flags >> 11) & 0xF, flags & 0xF, flags,
        ((qname, qtype),), tuple(answers),
    ))  # fmt: skip


def _plain_name_end(buf: bytes, off: int) -> int:
    """Offset just past a name of plain labels starting at ``off``; -1 for any other name."""
    size = len(buf)
    while off < size:
        n = buf[off]
        if n == 0:
            return off + 1
        if n > 63:  # a compression pointer or a reserved label type
            return -1
        off += n + 1
    return -1


@lru_cache(maxsize=MAX_CACHED_NAMES)
def _name_text(wire: bytes) -> str | None:
    """The normalised text of ``wire`` if it is exactly one name of plain labels, else ``None``.

    Raises what ``_unpack_name`` raises on such a name (over 255 bytes, not UTF-8).
    """
    if _plain_name_end(wire, 0) != len(wire):
        return None
    return _read_name(wire, 0)[0]


def _common_rdata(buf: bytes, rrtype: int, start: int, end: int) -> str | None:
    """AAAA/CNAME rdata as ``_rdata_text`` gives it, or ``None`` for a shape left to it."""
    if rrtype == TYPE_AAAA:
        if end - start != 16:
            return None
        text = _ntop(_AF_INET6, buf[start:end])
        # the C library writes an embedded IPv4 address (::ffff:a.b.c.d) as ipaddress does not
        return None if "." in text else text
    target_end = _plain_name_end(buf, start)
    if target_end < 0 or target_end > end:
        return None
    return _name_text(buf[start:target_end])


def _read_name(buf: bytes, off: int) -> tuple[str, int]:
    name, end = _unpack_name(buf, off)
    return normalize_name(name), end


def _unpack_name(buf: bytes, off: int) -> tuple[str, int]:
    """The name at ``off`` (its labels joined by dots, decoded as UTF-8, compression pointers
    followed) and the offset past it where it is written: past the first pointer, or past its
    terminating zero. The reading of ``dpkt.dns.unpack_name`` (1.9.8), what it refuses included:
    ValueError where dpkt raises its ``UnpackError`` or ``NeedData``, ``struct.error`` for a pointer
    cut short, UnicodeDecodeError for labels that are not UTF-8."""
    labels: list[bytes] = []
    size = len(buf)
    start = off  # the beginning of the labels being read: a pointer must point before it
    after = 0  # where the name ends in the message: past its first pointer (0: none yet)
    length = 0
    while True:
        if off >= size:
            raise ValueError("a name runs off the end of the message")
        n = buf[off]
        if n == 0:
            off += 1
            break
        kind = n & 0xC0
        if kind == 0xC0:
            target: int = _U16(buf, off)[0] & 0x3FFF  # struct.error for a pointer cut short, as dpkt's
            if target >= start:
                raise ValueError("a compression pointer that does not point back")
            off += 2
            if not after:
                after = off
            start = off = target
        elif kind == 0:
            labels.append(buf[off + 1 : off + 1 + n])
            length += n + 1
            if length > 255:
                raise ValueError("a name longer than 255 bytes")
            off += 1 + n
        else:
            raise ValueError("a reserved label type")
    return b".".join(labels).decode("utf-8"), (after or off)


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
