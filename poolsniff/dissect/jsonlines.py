"""Newline-delimited JSON framing for one TCP direction (dissection layer).

reassembly -> **jsonlines** -> JsonMessage events -> detectors

Stratum, eth-proxy and the CryptoNote protocol send one JSON-RPC message per line
(PROTOCOLS.md §1). Lines are split on ``\\n`` and each is parsed as ``json.loads`` parses it, so
key order and whitespace do not matter. A batch (a JSON array) gives its elements. Lines longer
than ``MAX_LINE`` are dropped up to the next newline; nesting too deep to parse is dropped.

A line is read by orjson first (this is the one module that uses it): it takes the bytes as they
are and parses them about twice as fast as ``json``'s scanner takes the decoded text (0.5 against
1.2 us a getwork answer). Where the two could differ, ``json`` decides: a line orjson refuses
(bad UTF-8, a lone surrogate, NaN, a number out of range, too deep), a value with a float in it
(orjson reads an integer beyond 64 bits as a float; floats are rare in mining messages), and one
nested deeper than ``MAX_FAST_DEPTH`` (``json`` gives up at the interpreter's recursion limit).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, Final, cast

_fast_loads: Callable[[bytes], Any] | None
try:
    import orjson

    _fast_loads = orjson.loads
except ImportError:  # pragma: no cover - a declared dependency; without it, json reads every line
    _fast_loads = None

MAX_LINE: Final = 64 * 1024
"""Longest line kept (Equihash submits exceed 1 kB; mining.notify a few kB)."""
MAX_BAD_LINES: Final = 4
"""Lines that are not JSON objects before a direction is given up as not JSON-RPC."""

_scan: Final = make_scanner(cast(Any, json.JSONDecoder()))
"""The C scanner ``json.loads`` runs (a decoder's ``scan_once``), without the two white-space regexes
around it (see ``_value``)."""
WHITE: Final = b" \t\r\n"
"""What may come before a JSON value (JSON's white space: space, tab, CR, LF)."""
OPENERS: Final = (b"{", b"[")
"""How a JSON object or array starts: what a direction of JSON lines, a line and a JSON body start with."""


def starts_json(data: bytes) -> bool:
    """Whether ``data`` starts, after white space, as a JSON object or array does (the test by which a
    stream's direction takes JSON lines, ``streams.Direction._decide``, or an HTTP body as JSON)."""
    return data.lstrip(WHITE)[:1] in OPENERS


class JsonLines:
    """Splits a byte stream into lines and returns the JSON values they hold."""

    __slots__ = ("buf", "skipping", "bad_lines", "values", "oversized", "dropped")

    def __init__(self, synced: bool = True) -> None:
        """``synced=False`` means the stream may start mid-line: drop up to the first newline."""
        self.buf = b""
        self.skipping = not synced
        self.bad_lines = 0
        self.values = 0
        self.oversized = 0
        self.dropped = 0
        """Bytes thrown away while skipping an oversized line."""

    @property
    def gave_up(self) -> bool:
        """True once the direction has shown it does not carry JSON lines."""
        return self.values == 0 and self.bad_lines >= MAX_BAD_LINES

    def resync(self) -> None:
        """Bytes were lost: the next bytes may be mid-line."""
        self.buf = b""
        self.skipping = True

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return every JSON value completed by them (a list, not a generator: every caller
        takes them all at once, and a compiled generator costs two objects and a call per value)."""
        values: list[Any] = []
        if self.skipping:
            # dropping a line we cannot use (oversized, or joined mid-line): buffer nothing
            nl = data.find(b"\n")
            if nl < 0:
                self.dropped += len(data)
                return values
            self.dropped += nl + 1
            data = data[nl + 1 :]
            self.skipping = False
        buf = self.buf + data if self.buf else data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = buf[start:nl]
            start = nl + 1
            self._parse(line, values)
        rest = buf[start:]
        if len(rest) > MAX_LINE:
            self.oversized += 1
            self.skipping = True
            self.dropped += len(rest)
            rest = b""
        self.buf = rest
        return values

    def _parse(self, line: bytes, values: list[Any]) -> None:
        """Append the JSON object(s) of one line to ``values`` (or count it a bad line)."""
        found = objects_of(line, values)
        if found < 0:
            self.bad_lines += 1
        else:
            self.values += found


def objects_of(line: bytes, values: list[Any]) -> int:
    """Append the JSON object(s) of one line (white space around it aside) to ``values``; return how many,
    or -1 for a bad line (not a JSON object or array of objects, or longer than ``MAX_LINE``). An HTTP
    body is read as one line (``streams``), with no ``JsonLines`` to frame it."""
    line = line.strip()
    if not line:
        return 0
    if len(line) > MAX_LINE or line[:1] not in OPENERS:
        return -1
    try:
        value = value_of(line)
    except (ValueError, RecursionError):
        return -1
    if isinstance(value, list):
        items = [v for v in value if isinstance(v, dict)]
        if not items:
            return -1
        values.extend(items)
        return len(items)
    if isinstance(value, dict):
        values.append(value)
        return 1
    return -1


def _value(text: str) -> Any:
    """``json.loads(text)`` for a line that starts with ``{`` or ``[`` and ends with no white space (what
    ``_parse`` hands it): the scanner alone, 0.7 us a Stratum line against 1.1. ValueError if not JSON."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # what the scanner raises where no value starts
        raise ValueError("not a JSON value") from None
    if end != len(text):
        raise ValueError("more after the JSON value")
    return value


def value_of(line: bytes) -> Any:
    """``_value(line.decode("utf-8", "replace"))``, read by orjson where it reads the same (see above)."""
    if _fast_loads is not None:
        try:
            value = _fast_loads(line)
        except ValueError:  # orjson.JSONDecodeError is one
            pass
        else:
            if not _json_decides(value, 0):
                return value
    return _value(line.decode("utf-8", "replace"))


MAX_FAST_DEPTH: Final = 100
"""Nesting beyond which ``json`` reads a value orjson read: orjson reads up to 1,024 levels, ``json`` as
deep as the interpreter's recursion limit lets it from where it is called (about 1,000 less the stack)."""


def _json_decides(value: Any, depth: int) -> bool:
    """Whether a value orjson read holds a float (orjson reads an integer beyond 64 bits as one) or
    nests deeper than ``MAX_FAST_DEPTH``: ``json`` reads such a line (its containers are lists and dicts)."""
    kind = type(value)
    if kind is dict or kind is list:
        if depth >= MAX_FAST_DEPTH:
            return True
        items = cast(dict[str, Any], value).values() if kind is dict else cast(list[Any], value)
        for item in items:
            if _json_decides(item, depth + 1):
                return True
        return False
    return kind is float
