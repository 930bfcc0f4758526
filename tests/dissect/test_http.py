"""Tests for poolsniff.dissect.http: getwork heads, split heads, chunked bodies, fuzzing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import http
from poolsniff.dissect.http import (
    CHUNKED,
    MAX_HEAD_BYTES,
    NEED_MORE,
    HttpHead,
    body_length,
    dechunk,
    looks_like_http_request,
    looks_like_http_response,
    parse_head,
)

GBT_BODY = (
    b'{"id": 0, "method": "getblocktemplate", "params": [{"capabilities": ["coinbasetxn", '
    b'"workid", "longpoll", "coinbase/append", "time/increment", "version/force", '
    b'"version/reduce", "submit/coinbase", "submit/truncate"], "maxversion": 4}]}'
)
# bfgminer 5.2.0 getblocktemplate request (PROTOCOLS.md §5).
BFGMINER = (
    b"POST / HTTP/1.1\r\n"
    b"Host: 192.0.2.10:8332\r\n"
    b"Authorization: Basic dXNlcjpwYXNz\r\n"
    b"Content-type: application/json\r\n"
    b"X-Mining-Extensions: longpoll midstate rollntime submitold\r\n"
    b"User-Agent: bfgminer/5.2.0\r\n"
    b"Content-Length: " + str(len(GBT_BODY)).encode() + b"\r\n\r\n" + GBT_BODY
)
GETWORK_BODY = b'{"method": "getwork", "params": [], "id":0}'
# cgminer getwork request with its X-Mining-Hashrate header (PROTOCOLS.md §5).
CGMINER = (
    b"POST / HTTP/1.1\r\nUser-Agent: cgminer/4.11.1\r\nContent-Type: application/json\r\n"
    b"X-Mining-Hashrate: 12345\r\nContent-Length: 43\r\n\r\n" + GETWORK_BODY
)
ETH_BODY = b'{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}'
# ETH HTTP getwork (pool.eth.pp.ua, PROTOCOLS.md §3).
ETH_GETWORK = (
    b"POST /?miner=30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@OptionalRigName HTTP/1.1\r\n"
    b"Host: pool.eth.pp.ua\r\nAccept: */*\r\nContent-Type: application/json\r\n"
    b"Content-Length: 47\r\n\r\n" + ETH_BODY
)
REPLY_JSON = b'{"id":1,"jsonrpc":"2.0","result":["0x1","0x2","0x3"]}'
# A chunked nginx reply as that pool sends it.
ETH_REPLY = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    + f"{len(REPLY_JSON):x}".encode() + b"\r\n" + REPLY_JSON + b"\r\n0\r\n\r\n"
)


BARE_LF = b"HTTP/1.0 204\nX-Stratum: stratum+tcp://pool.test:3333\nA: 1\na: 2\n\n"
ODD_HEADERS = b"MKCOL /x HTTP/1.1\r\nFolded: one\r\n  two\r\nno colon here\r\n: empty\r\n\r\n"


def head_end(stream: bytes) -> int:
    """Offset just after the empty line ending the head."""
    return stream.index(b"\r\n\r\n") + 4


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(
            BFGMINER,
            HttpHead(
                True, "HTTP/1.1", method="POST", uri="/",
                headers={
                    "host": "192.0.2.10:8332",
                    "authorization": "Basic dXNlcjpwYXNz",
                    "content-type": "application/json",
                    "x-mining-extensions": "longpoll midstate rollntime submitold",
                    "user-agent": "bfgminer/5.2.0",
                    "content-length": str(len(GBT_BODY)),
                },
                head_length=head_end(BFGMINER),
            ),
            id="bfgminer-gbt",
        ),
        pytest.param(
            ETH_GETWORK,
            HttpHead(
                True, "HTTP/1.1", method="POST",
                uri="/?miner=30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@OptionalRigName",
                headers={
                    "host": "pool.eth.pp.ua", "accept": "*/*",
                    "content-type": "application/json", "content-length": "47",
                },
                head_length=head_end(ETH_GETWORK),
            ),
            id="eth-getwork",
        ),
        pytest.param(
            ETH_REPLY,
            HttpHead(
                False, "HTTP/1.1", status=200, reason="OK",
                headers={
                    "server": "nginx", "content-type": "text/html",
                    "transfer-encoding": "chunked", "connection": "keep-alive",
                },
                head_length=head_end(ETH_REPLY),
            ),
            id="chunked-reply",
        ),
        pytest.param(
            BARE_LF + b"rest",
            HttpHead(
                False, "HTTP/1.0", status=204,
                headers={"x-stratum": "stratum+tcp://pool.test:3333", "a": "2"},
                head_length=len(BARE_LF),
            ),
            id="bare-lf-no-reason-last-wins",
        ),
        pytest.param(
            ODD_HEADERS,
            HttpHead(
                True, "HTTP/1.1", method="MKCOL", uri="/x", headers={"folded": "one two"},
                head_length=len(ODD_HEADERS),
            ),
            id="other-method-folding-junk-lines",
        ),
    ],
)
def test_parse_head(stream: bytes, expected: HttpHead) -> None:
    assert parse_head(stream) == expected


def test_head_split_across_segments() -> None:
    whole = parse_head(ETH_GETWORK)
    assert isinstance(whole, HttpHead)
    for cut in range(whole.head_length):
        assert parse_head(ETH_GETWORK[:cut]) is NEED_MORE, cut
    assert parse_head(ETH_GETWORK[: whole.head_length]) == whole


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"\x16\x03\x01\x02\x00\x01", id="tls"),
        pytest.param(b'{"id":1,"method":"login"}\n', id="json-line"),
        pytest.param(b"GET /\r\n\r\n", id="http-0.9"),
        pytest.param(b"GET / HTTP/1.1 extra\r\n\r\n", id="extra-field"),
        pytest.param(b"GET  / HTTP/1.1\r\n\r\n", id="double-space"),
        pytest.param(b"HTTP/1.1 20 OK\r\n\r\n", id="two-digit-status"),
        pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 3000, id="head-over-cap"),
        pytest.param(b"POST " + b"a" * MAX_HEAD_BYTES, id="first-line-over-cap"),
        pytest.param(b"get / HTTP/1.1\r\n\r\n"[:5], id="lower-case-partial"),
        pytest.param(b"\x00\x00\x00", id="binary"),
    ],
)
def test_not_http(stream: bytes) -> None:
    assert parse_head(stream) is None


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (BFGMINER, len(GBT_BODY)),
        (CGMINER, 43),
        (ETH_REPLY, CHUNKED),
        (b"GET / HTTP/1.1\r\n\r\n", 0),
        (b"HTTP/1.1 200 OK\r\n\r\n", None),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 0),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 0),
        (b"POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n", 7),
        (b"POST / HTTP/1.1\r\nContent-Length: 7, 8\r\n\r\n", None),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", None),
        (b"POST / HTTP/1.1\r\nContent-Length: \xd9\xa3\r\n\r\n", None),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", CHUNKED),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", None),
    ],
)
def test_body_length(stream: bytes, expected: int | None) -> None:
    head = parse_head(stream)
    assert isinstance(head, HttpHead)
    assert body_length(head) == expected


def test_cgminer_body_follows_head() -> None:
    head = parse_head(CGMINER)
    assert isinstance(head, HttpHead)
    length = body_length(head)
    assert length is not None
    assert CGMINER[head.head_length : head.head_length + length] == GETWORK_BODY


CHUNKED_BODY = ETH_REPLY[head_end(ETH_REPLY) :]


@pytest.mark.parametrize(
    ("buf", "expected"),
    [
        (CHUNKED_BODY, (REPLY_JSON, True)),
        (b"", (b"", False)),
        (b"5", (b"", False)),
        (b"5\r\nhel", (b"hel", False)),
        (b"5\r\nhello\r", (b"hello", False)),
        (b"5\r\nhello\r\n", (b"hello", False)),
        (b"5\r\nhello\r\n0\r\n", (b"hello", False)),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", (b"hello world", True)),
        (b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", (b"hello", True)),
        (b"5\nhello\n0\n\n", (b"hello", True)),
        (b"A\r\n0123456789\r\n0\r\n\r\n", (b"0123456789", True)),
        (b"0\r\n\r\nGET / HTTP/1.1", (b"", True)),
    ],
)
def test_dechunk(buf: bytes, expected: tuple[bytes, bool]) -> None:
    assert dechunk(buf) == expected


@pytest.mark.parametrize(
    "buf",
    [
        b"zz\r\n",
        b"5\r\nhelloXX",
        b"5\r\nhello\rX",
        b"1" * 17 + b"\r\n",
        b"5;" + b"x" * 2000,
        b"\r\n",
    ],
)
def test_dechunk_malformed(buf: bytes) -> None:
    with pytest.raises(ValueError):
        dechunk(buf)


@pytest.mark.parametrize(
    ("first", "is_request", "is_response"),
    [
        (b"GET / HTTP/1.1", True, False),
        (b"POST /?miner=30@", True, False),
        (b"CONNECT pool:3333 HTTP/1.1", True, False),
        (b"PATCH /", True, False),
        (b"get / HTTP/1.1", False, False),
        (b"GETX / HTTP/1.1", False, False),
        (b"HTTP/1.1 200 OK", False, True),
        (b"HTTP/1.0 404", False, True),
        (b"HTTP/2 200", False, False),
        (b'{"id":1}', False, False),
    ],
)
def test_looks_like(first: bytes, is_request: bool, is_response: bool) -> None:
    assert looks_like_http_request(first) is is_request
    assert looks_like_http_response(first) is is_response


@given(st.binary(max_size=400))
def test_parse_head_never_raises(data: bytes) -> None:
    result = parse_head(data)
    assert result is None or result is NEED_MORE or isinstance(result, HttpHead)


@given(st.binary(max_size=300))
def test_parse_head_never_raises_after_request_line(data: bytes) -> None:
    result = parse_head(b"POST / HTTP/1.1\r\n" + data)
    assert result is NEED_MORE or isinstance(result, HttpHead)


@given(st.binary(max_size=300))
def test_dechunk_raises_only_value_error(data: bytes) -> None:
    try:
        body, complete = dechunk(data)
    except ValueError:
        return
    assert len(body) <= len(data)
    assert isinstance(complete, bool)


@given(st.lists(st.binary(min_size=1, max_size=50), max_size=6))
def test_dechunk_roundtrip(chunks: list[bytes]) -> None:
    encoded = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    assert dechunk(encoded) == (b"".join(chunks), True)


@given(st.text(alphabet="ab\r\n :-\t", max_size=40))
def test_head_lines_split_as_the_regex_would(text: str) -> None:
    assert http._lines(text) == re.split(r"\r?\n", text)


@given(st.text(alphabet=st.sampled_from("aZ09-_!~ :é\t\r\n.("), max_size=12))
def test_a_plain_header_name_is_a_token(name: str) -> None:
    token = re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) is not None
    assert not http._plain_name(name) or token



@pytest.mark.parametrize("name", ["Content-Length", "Host", "X-Mining-Extensions", "user-agent", "TE"])
def test_common_header_names_take_the_plain_path(name: str) -> None:
    assert http._plain_name(name)


@given(st.lists(st.sampled_from([b"\n", b"\r", b"a", b"\r\n", b"\n\r"]), max_size=20).map(b"".join))
def test_the_head_end_is_where_the_regex_finds_it(buf: bytes) -> None:
    found = re.search(rb"\r?\n\r?\n", buf)
    assert http.head_end(buf) == (found.span() if found else None)


@pytest.mark.parametrize("past", [0, 1])
def test_the_head_end_is_looked_for_in_the_first_max_head_bytes_only(past: int) -> None:
    head = b"GET / HTTP/1.1\r\nA: b"
    buf = head + b"x" * (MAX_HEAD_BYTES - len(head) - 4 + past) + b"\r\n\r\n"
    expected = None if past else (MAX_HEAD_BYTES - 4, MAX_HEAD_BYTES)
    assert http.head_end(buf) == expected
    assert parse_head(buf) is None if past else isinstance(parse_head(buf), HttpHead)
