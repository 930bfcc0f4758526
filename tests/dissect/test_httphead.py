"""The HTTP head parsed in C (``dissect/_httphead.c``) against the Python reference, ``parse_head_py``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from poolsniff.dissect import http
from poolsniff.dissect.http import MAX_HEAD_BYTES, HttpHead, parse_head_py
from poolsniff.dissect.interface import NEED_MORE

if http._C_PARSE is None:  # pragma: no cover - depends on the build
    pytest.skip("the C HTTP head parse (dissect/_httphead.c) is not built here", allow_module_level=True)
c_parse = http._C_PARSE

SPACE = st.sampled_from([" ", "\t", "", "  ", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\r"])
EOL = st.sampled_from(["\r\n", "\n", "\r\r\n", "\r", "\n\r"])
WORD = st.text(st.sampled_from("aZ09-_.!~/?=&%:;,\"'\x7f\xe9\x85\xa0\x00 \t"), max_size=8)
TOKEN = st.text(st.sampled_from("GETPOSTxyz-!#$%&'*+.^_`|~09"), min_size=1, max_size=8)
VERSION = st.sampled_from(
    ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.", "HTTP/x.1", "http/1.1", "HTTP/1.1 "]
)
STATUS = st.sampled_from(["200", "404", "20", "2000", "\xb200", "099"])


@st.composite
def start_lines(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # a good one: most heads then go on to their headers
        good = ["GET / HTTP/1.1", "POST /x HTTP/1.0", "HTTP/1.1 200 OK", "HTTP/1.0 404"]
        return draw(st.sampled_from(good))
    if draw(st.booleans()):
        method = draw(st.one_of(st.sampled_from(http.METHODS), TOKEN, WORD))
        return f"{method}{draw(SPACE) or ' '}{draw(WORD)}{draw(SPACE)}{draw(VERSION)}{draw(SPACE)}"
    tail = draw(st.one_of(st.just(""), WORD.map(lambda w: " " + w), WORD))
    return f"{draw(VERSION)}{draw(SPACE) or ' '}{draw(STATUS)}{tail}"


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    lines = [draw(start_lines())]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 3))
        if kind == 0:  # an ordinary header, names repeated in other cases
            name = draw(st.sampled_from(["Host", "host", "Content-Length", "X-Y", "Bad Name", "", "é"]))
            lines.append(f"{name}{draw(SPACE)}:{draw(SPACE)}{draw(WORD)}{draw(SPACE)}")
        elif kind == 1:  # folding
            lines.append(f"{draw(st.sampled_from([' ', chr(9)]))}{draw(WORD)}{draw(SPACE)}")
        elif kind == 2:
            lines.append(draw(WORD))
        else:
            lines.append(f"{draw(TOKEN)}:{draw(WORD)}")
    text = "".join(line + draw(EOL) for line in lines)
    if draw(st.integers(0, 3)):
        text += draw(EOL) + draw(WORD)  # the blank line, mostly, and a body
    raw = text.encode("latin-1")
    if not draw(st.integers(0, 3)):
        raw = raw[: draw(st.integers(0, len(raw)))]  # cut anywhere: NEED_MORE or not
    return raw


def same(buf: bytes) -> Any:
    got, want = c_parse(buf), parse_head_py(buf)
    if want is None or want is NEED_MORE:
        assert got is want
    else:
        assert type(got) is HttpHead
        assert got == want
        assert list(got.headers.items()) == list(want.headers.items())  # the same order
        assert type(got.status) is int and type(got.headers) is dict
    return got


@settings(max_examples=600)
@given(heads())
@example(b"GET / HTTP/1.1\r\nHost: a\r\n X\r\n\r\n")
@example(b"HTTP/1.1 200 \r\n\r\n")
@example(b"HTTP/1.1 200\r\r\n\n")
@example(b"GET /\x85 HTTP/1.1\n\n")
@example(b"GET / HTTP/1.1\r\nA: 1\r\nno colon\r\n folded\r\n\r\n")  # a skipped line ends the folding
@example(b"GET / HTTP/1.1\r\nA:\r\n \r\nB: x\r\n\t\r\nC:\r\n y\r\n\r\n")  # folding into and of nothing
@example(b"GE")
@example(b"")
@example(b"HTTP/1.1 200 OK\r\nA:\xa0x\xa0\r\n \x85 \r\n\r\n")
def test_the_c_parse_is_the_python_one(buf: bytes) -> None:
    same(buf)


@given(st.binary(max_size=64))
def test_any_bytes_parse_the_same(buf: bytes) -> None:
    same(buf)


@pytest.mark.parametrize(
    "buf",
    [
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",  # the end beyond the limit
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * (MAX_HEAD_BYTES - 30),  # not ended, under the limit
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * MAX_HEAD_BYTES,  # not ended, over it
        b"GET /" + b"a" * MAX_HEAD_BYTES + b" HTTP/1.1\r\n\r\n",  # a first line beyond it
        b"GET / HTTP/1.1\r\nX: y" + b"\r\n" * 2 + b"z" * MAX_HEAD_BYTES,
        b"POST / HTTP/1.1\n" + b"A" * 300 + b": long name\n\n",  # a name past the stack buffer
    ],
)
def test_the_limits_are_the_same(buf: bytes) -> None:
    same(buf)


def test_a_head_is_parsed_in_c() -> None:
    head = same(b"POST /?miner=x HTTP/1.1\r\nHost: pool\r\nContent-Length: 2\r\n\r\n{}")
    headers = {"host": "pool", "content-length": "2"}
    assert head == HttpHead(True, "HTTP/1.1", "POST", "/?miner=x", 0, "", headers, 58)


def test_parse_head_runs_the_c_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    monkeypatch.setattr(http, "_C_PARSE", lambda buf: seen.append(buf))
    assert http.parse_head(b"GET / HTTP/1.1\r\n\r\n") is None
    assert seen == [b"GET / HTTP/1.1\r\n\r\n"]
