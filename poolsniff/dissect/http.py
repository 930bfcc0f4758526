"""HTTP/1.x head and body framing for the HTTP dissector (pipeline stage: flows/dissectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

getwork / getblocktemplate miners and some pools speak JSON-RPC over plain HTTP
(PROTOCOLS.md §5, and the eth getwork ``POST /?miner=...`` of §3). This module reads
the start of one direction of a TCP stream: ``parse_head`` returns an ``HttpHead``,
``NEED_MORE`` (call again with more bytes) or ``None`` (not HTTP/1.x, malformed, or a
head over ``MAX_HEAD_BYTES``: give up). ``body_length`` and ``dechunk`` tell the
caller how much body follows, so it can hand a JSON body to the JSON-RPC dissector.

Parsing is lenient where servers are (bare LF line ends, header lines without a
colon are skipped) and strict where it decides what the stream is (start line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, Literal, NamedTuple

from poolsniff.dissect.interface import NEED_MORE, Incomplete

MAX_HEAD_BYTES: Final = 16 * 1024
"""Give up on a head (start line and headers) longer than this."""
MAX_CHUNK_LINE: Final = 1024
"""A chunk-size line (size and extensions) longer than this is malformed."""
CHUNKED: Final = -1
"""``body_length`` result for a chunked body (decode it with ``dechunk``)."""

METHODS: Final = ("GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "CONNECT")
"""Request methods ``looks_like_http_request`` accepts (RFC 9110 §9 and RFC 5789)."""
_REQUEST_PREFIXES: Final = tuple(m.encode() + b" " for m in METHODS)

_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE: Final = re.compile(rf"({_TOKEN}) (\S+) (HTTP/\d\.\d)")
_STATUS_LINE: Final = re.compile(r"(HTTP/\d\.\d) (\d{3})(?: (.*))?")
_HEADER_NAME: Final = re.compile(_TOKEN)
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class HttpHead(NamedTuple):
    """A parsed HTTP/1.x request or response head (a tuple: made for every head, 0.3 us against a
    frozen dataclass's 1.1)."""

    is_request: bool
    version: str
    """``HTTP/1.1`` or ``HTTP/1.0``."""
    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: Mapping[str, str] = MappingProxyType({})
    """Header names in lower case; a repeated header keeps its last value."""
    head_length: int = 0
    """Bytes of the head, including the empty line that ends it; the body starts here."""


def looks_like_http_request(first_bytes: bytes) -> bool:
    """Say whether a stream starts with a known method and a space (``POST ``)."""
    return first_bytes.startswith(_REQUEST_PREFIXES)


def looks_like_http_response(first_bytes: bytes) -> bool:
    """Say whether a stream starts with ``HTTP/1.``."""
    return first_bytes.startswith(b"HTTP/1.")


def parse_head(buf: bytes) -> HttpHead | Literal[Incomplete.NEED_MORE] | None:
    """Parse the request or response head at the start of ``buf``.

    Returns the head, ``NEED_MORE`` when the head is not complete yet, or ``None``. In C
    (``_httphead.c``) where that was built; :func:`parse_head_py` is the reference.
    """
    if _C_PARSE is not None:
        return _C_PARSE(buf)
    return parse_head_py(buf)


def parse_head_py(buf: bytes) -> HttpHead | Literal[Incomplete.NEED_MORE] | None:
    """:func:`parse_head` in Python: the reference of the C parse, and the fallback where it is not built."""
    first_line_end = buf.find(b"\n", 0, MAX_HEAD_BYTES)
    if first_line_end < 0:
        return NEED_MORE if len(buf) < MAX_HEAD_BYTES and _could_become_http(buf) else None
    start = _start_line(_decode(buf[:first_line_end]))
    if start is None:
        return None
    end = head_end(buf)
    if end is None:
        return NEED_MORE if len(buf) < MAX_HEAD_BYTES else None
    header_lines = _lines(_decode(buf[: end[0]]))[1:]
    return _with_headers(start, header_lines, end[1])


def head_end(buf: bytes) -> tuple[int, int] | None:
    """Where the empty line that ends a head starts and ends in ``buf[:MAX_HEAD_BYTES]``, CRLF or bare
    LF: the span of ``re.search(rb"\\r?\\n\\r?\\n", buf[:MAX_HEAD_BYTES])``, found with two
    ``bytes.find`` (the regex tries every position: 2.5 us on a getwork head, most of its parse)."""
    bare = buf.find(b"\n\n", 0, MAX_HEAD_BYTES)
    crlf = buf.find(b"\n\r\n", 0, MAX_HEAD_BYTES)
    if crlf < 0 or 0 <= bare < crlf:
        if bare < 0:
            return None
        nl, end = bare, bare + 2
    else:
        nl, end = crlf, crlf + 3
    return (nl - 1 if nl and buf[nl - 1] == 13 else nl), end  # the CR before the first LF, if any


def _lines(text: str) -> list[str]:
    """``text`` split at each CRLF or bare LF (``re.split(r"\\r?\\n", text)``, 2-3 times faster)."""
    return text.replace("\r\n", "\n").split("\n")


def body_length(head: HttpHead) -> int | None:
    """Return the body length, ``CHUNKED``, or ``None`` when it is unknown.

    Follows RFC 9112 §6.3: chunked wins over Content-Length; a request without
    either has no body; 1xx/204/304 responses have none; any other response without
    a length runs until the connection closes (``None``), as does a bad Content-Length.
    """
    coding = head.headers.get("transfer-encoding")
    if coding is not None:
        return CHUNKED if coding.lower().rstrip().endswith("chunked") else None
    if not head.is_request and (head.status < 200 or head.status in (204, 304)):
        return 0
    value = head.headers.get("content-length")
    if value is None:
        return 0 if head.is_request else None
    # Repeated identical values ("42, 42") are allowed (RFC 9110 §8.6).
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        return None
    (only,) = values
    return int(only) if only.isascii() and only.isdigit() else None


def dechunk(buf: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body (RFC 9112 §7.1) from its start; return (body so far, complete?).

    Trailer fields are skipped. Raises ``ValueError`` when the framing is broken.
    """
    body: list[bytes] = []
    off = 0
    while True:
        match = _CHUNK_SIZE.match(buf, off)
        if match is None:
            _check_partial_size_line(buf[off:])
            return b"".join(body), False
        size = int(match.group(1), 16)
        off = match.end()
        if size == 0:
            return b"".join(body), _trailers_done(buf[off:])
        data = buf[off : off + size]
        body.append(data)
        after = buf[off + size : off + size + 2]
        if len(data) < size or after in (b"", b"\r"):
            return b"".join(body), False
        off += size + _line_end_length(after)


def _decode(raw: bytes) -> str:
    # Latin-1 maps every byte to one character, so decoding never fails.
    return raw.decode("latin-1")


def _could_become_http(buf: bytes) -> bool:
    """Say whether ``buf`` (no line end yet) starts like, or is a prefix of, ``GET `` or ``HTTP/1.``.

    A request with a method outside ``METHODS`` is recognised once its line end arrives.
    """
    return any(buf.startswith(p) or p.startswith(buf) for p in (*_REQUEST_PREFIXES, b"HTTP/1."))


_StartLine = tuple[bool, str, str, str, int, str]
"""The first fields of an ``HttpHead``: is_request, version, method, uri, status, reason."""


def _start_line(line: str) -> _StartLine | None:
    line = line.rstrip("\r")
    request = _REQUEST_LINE.fullmatch(line)
    if request:
        method, uri, version = request.groups()
        return True, version, method, uri, 0, ""
    status = _STATUS_LINE.fullmatch(line)
    if status:
        version, code, reason = status.groups()
        return False, version, "", "", int(code), reason or ""
    return None


def _with_headers(start: _StartLine, lines: list[str], head_length: int) -> HttpHead:
    headers: dict[str, str] = {}
    last: str | None = None
    for line in lines:
        if line[:1] in (" ", "\t") and last is not None:  # obsolete line folding
            headers[last] = f"{headers[last]} {line.strip()}".strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not (_plain_name(name) or _HEADER_NAME.fullmatch(name)):
            last = None
            continue
        last = name.lower()
        headers[last] = value.strip()
    return HttpHead(*start, headers, head_length)


def _plain_name(name: str) -> bool:
    """A header name of letters, digits and dashes only (most are): a token, with no regex run."""
    return name.isascii() and name.replace("-", "").isalnum()


def _check_partial_size_line(rest: bytes) -> None:
    """Raise ``ValueError`` unless ``rest`` can still become a chunk-size line."""
    if len(rest) > MAX_CHUNK_LINE or b"\n" in rest:
        raise ValueError("malformed chunk-size line")
    if rest and not re.match(rb"[0-9A-Fa-f]", rest):
        raise ValueError("chunk-size line does not start with a hex digit")


def _line_end_length(after: bytes) -> int:
    """Length of the CRLF (or bare LF) that must follow chunk data."""
    if after.startswith(b"\n"):
        return 1
    if after == b"\r\n":
        return 2
    raise ValueError("chunk data not followed by a line end")


def _trailers_done(rest: bytes) -> bool:
    """Say whether the trailer section after the last chunk has ended with an empty line."""
    if rest.startswith((b"\r\n", b"\n")):
        return True
    return _HEAD_END.search(rest) is not None


_C_PARSE: Callable[[bytes], HttpHead | Literal[Incomplete.NEED_MORE] | None] | None
try:  # the same parse in C, when the extension was built at install time (and POOLSNIFF_PURE is not set)
    from poolsniff.dissect._httphead import parse_head as _c_parse_head
    from poolsniff.dissect._httphead import setup as _c_setup
except ImportError:  # pragma: no cover - depends on the build
    _C_PARSE = None
else:
    _c_setup(HttpHead, NEED_MORE)
    _C_PARSE = _c_parse_head
