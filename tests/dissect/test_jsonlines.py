"""Tests for poolsniff.dissect.jsonlines: framing, batches, junk, huge and deep lines, resync, fuzzing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect import jsonlines
from poolsniff.dissect.jsonlines import MAX_BAD_LINES, MAX_LINE, JsonLines, starts_json
from poolsniff.dissect.streams import Direction, Mode
from poolsniff.model import FlowKey
from tests.factories import (
    AUTHORIZE_ERROR,
    BIP310_REPLY,
    BITMINTER_SUBSCRIBE_REPLY,
    CGMINER_AUTHORIZE,
    CGMINER_SUBMIT,
    CGMINER_SUBSCRIBE,
    CLAYMORE_LOGIN,
    CLAYMORE_LOGIN_REPLY,
    EWBF_SUBSCRIBE,
    NESFIT_SUBSCRIBE_REPLY,
    NICEHASH_SUBSCRIBE,
    NOMP_SET_DIFFICULTY,
    XMR_STAK_LOGIN,
    XMRIG_KEEPALIVED,
)

NESFIT_SUBSCRIPTIONS = [["mining.set_difficulty", "865dd8ac"], ["mining.notify", "865dd8ac"]]
FIXTURES = [
    CGMINER_SUBSCRIBE,
    CGMINER_AUTHORIZE,
    CGMINER_SUBMIT,
    NESFIT_SUBSCRIBE_REPLY,
    BITMINTER_SUBSCRIBE_REPLY,
    NOMP_SET_DIFFICULTY,
    AUTHORIZE_ERROR,
    EWBF_SUBSCRIBE,
    BIP310_REPLY,
    NICEHASH_SUBSCRIBE,
    CLAYMORE_LOGIN,
    CLAYMORE_LOGIN_REPLY,
    XMRIG_KEEPALIVED,
    XMR_STAK_LOGIN,
]


def feed_chunks(jl: JsonLines, chunks: list[bytes]) -> list[list[Any]]:
    """Feed chunks one by one; return the values each chunk completed."""
    return [list(jl.feed(chunk)) for chunk in chunks]


def flat(jl: JsonLines, chunks: list[bytes]) -> list[Any]:
    """Feed chunks; return every value, in order."""
    return [v for values in feed_chunks(jl, chunks) for v in values]


def pieces(data: bytes, size: int) -> list[bytes]:
    """Cut ``data`` into ``size``-byte chunks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        (CGMINER_SUBSCRIBE, "method", "mining.subscribe"),
        (CGMINER_AUTHORIZE, "params", ["<user>", "<pass>"]),
        (CGMINER_SUBMIT, "id", 5),
        (NESFIT_SUBSCRIBE_REPLY, "result", [NESFIT_SUBSCRIPTIONS, "865dd8ac", 8]),
        (BITMINTER_SUBSCRIBE_REPLY, "id", 0),
        (NOMP_SET_DIFFICULTY, "id", None),
        (AUTHORIZE_ERROR, "error", [29, "Invalid username", None]),
        (EWBF_SUBSCRIBE, "params", ["EWBF 0.3.4b", None, "eu1-zcash.flypool.org", "3333"]),
        (BIP310_REPLY, "result", {"version-rolling": True, "version-rolling.mask": "00003000"}),
        (CLAYMORE_LOGIN, "worker", "eth1.0"),
        (CLAYMORE_LOGIN_REPLY, "result", True),
        (XMRIG_KEEPALIVED, "params", {"id": "<rpc id>"}),
        (XMR_STAK_LOGIN, "params", {"login": "%s", "pass": "%s", "agent": "xmr-stak-cpu/1.0.0"}),
    ],
)  # fmt: skip
def test_protocol_lines_parse(line: bytes, key: str, value: Any) -> None:
    jl = JsonLines()
    (got,) = jl.feed(line)
    assert got[key] == value
    assert jl.values == 1
    assert jl.bad_lines == 0
    assert jl.buf == b""


def test_several_messages_in_one_chunk() -> None:
    # a pool's reply, difficulty and a notification in one segment (PROTOCOLS.md §1)
    chunk = BITMINTER_SUBSCRIBE_REPLY + NOMP_SET_DIFFICULTY + BIP310_REPLY
    values = list(JsonLines().feed(chunk))
    assert [v.get("method") for v in values] == [None, "mining.set_difficulty", None]
    assert [v["id"] for v in values] == [0, None, 1]


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1000])
def test_one_message_over_many_chunks(size: int) -> None:
    jl = JsonLines()
    out = feed_chunks(jl, pieces(CLAYMORE_LOGIN, size))
    assert out[-1] == [json.loads(CLAYMORE_LOGIN)]
    assert all(values == [] for values in out[:-1])


@pytest.mark.parametrize("size", [1, 3, 50, 4096])
def test_chunking_does_not_change_the_values(size: int) -> None:
    stream = b"".join(FIXTURES)
    assert flat(JsonLines(), pieces(stream, size)) == [json.loads(line) for line in FIXTURES]


@pytest.mark.parametrize(
    ("stream", "ids"),
    [
        pytest.param(b'\n\n{"id":1}\n\n\n{"id":2}\n', [1, 2], id="blank-lines"),
        pytest.param(b'{"id":1}\r\n{"id":2}\r\n', [1, 2], id="crlf"),
        pytest.param(b'  {"id":1}  \n\t{"id":2}\t\r\n \r\n', [1, 2], id="surrounding-whitespace"),
        pytest.param(b'{"id":1}\n{"id":2}', [1], id="unterminated-last-line-waits"),
        pytest.param(b'[{"id":1},{"id":2}]\n{"id":3}\n', [1, 2, 3], id="batch"),
        pytest.param(b'[{"id":1}, 5, "x", null, [], {"id":2}]\n', [1, 2], id="batch-keeps-objects"),
        pytest.param(b'{"id":1,"params":["\xff\xfe"]}\n', [1], id="invalid-utf8-replaced"),
        pytest.param(b'{"id":1,"id":2}\n', [2], id="duplicate-key-last-wins"),
    ],
)
def test_lines(stream: bytes, ids: list[int]) -> None:
    jl = JsonLines()
    assert [v["id"] for v in jl.feed(stream)] == ids
    assert jl.bad_lines == 0


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"hello world", id="text"),
        pytest.param(b"GET / HTTP/1.1", id="http"),
        pytest.param(b'"a string"', id="json-string"),
        pytest.param(b"42", id="json-number"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b"[1, 2, 3]", id="batch-without-objects"),
        pytest.param(b"[]", id="empty-batch"),
        pytest.param(b'{"id":1', id="truncated"),
        pytest.param(b'{"id":1}}', id="extra-brace"),
        pytest.param(b'{"id": 1} {"id": 2}', id="two-values-one-line"),
        pytest.param(b'{"id":' + b"1" * 5000 + b"}", id="int-over-4300-digits"),
        pytest.param(b"{\x00\x01\x02}", id="binary"),
    ],
)
def test_bad_lines_are_counted_not_raised(line: bytes) -> None:
    jl = JsonLines()
    assert list(jl.feed(line + b"\n")) == []
    assert jl.bad_lines == 1
    assert jl.values == 0


@pytest.mark.parametrize(
    ("lines", "gave_up"),
    [
        pytest.param([b"junk"] * (MAX_BAD_LINES - 1), False, id="one-short"),
        pytest.param([b"junk"] * MAX_BAD_LINES, True, id="limit"),
        pytest.param([b"junk"] * (MAX_BAD_LINES * 5), True, id="far-over"),
        pytest.param([CGMINER_SUBSCRIBE.strip(), *[b"junk"] * 10], False, id="value-first"),
        pytest.param(
            [*[b"junk"] * (MAX_BAD_LINES - 1), CGMINER_SUBSCRIBE.strip()], False, id="value-in-time"
        ),
        pytest.param([b"", b"  ", b"\r"] * 10, False, id="blank-lines-are-not-bad"),
    ],
)
def test_give_up_after_max_bad_lines(lines: list[bytes], gave_up: bool) -> None:
    jl = JsonLines()
    list(jl.feed(b"\n".join(lines) + b"\n"))
    assert jl.gave_up is gave_up


# --------------------------------------------------------------------------- oversized and deep


BIG = b'{"id":1,"method":"mining.notify","params":["' + b"a" * (5 * 1024 * 1024) + b'"]}\n'
AFTER = b'{"id":2,"method":"mining.set_difficulty","params":[512]}\n'


@pytest.mark.parametrize("size", [len(BIG), 64 * 1024, 1460 * 20], ids=["one-chunk", "64k", "29k"])
def test_five_megabyte_line_is_dropped_with_bounded_memory(size: int) -> None:
    jl = JsonLines()
    values: list[Any] = []
    for chunk in pieces(BIG, size):
        values.extend(jl.feed(chunk))
        assert len(jl.buf) <= MAX_LINE
    values.extend(jl.feed(AFTER))
    assert values == [json.loads(AFTER)]
    assert jl.values == 1
    assert jl.buf == b""


@pytest.mark.parametrize("size", [64 * 1024, 1460 * 20], ids=["64k", "29k"])
def test_line_just_under_the_limit_is_kept(size: int) -> None:
    line = b'{"id":1,"params":["' + b"b" * (MAX_LINE - 40) + b'"]}\n'
    assert len(line) <= MAX_LINE
    assert [v["id"] for v in flat(JsonLines(), pieces(line, size))] == [1]


def test_one_oversized_line_counts_once() -> None:
    jl = JsonLines()
    for chunk in pieces(BIG, 1460 * 20):
        list(jl.feed(chunk))
    assert jl.oversized == 1


@pytest.mark.parametrize(
    ("opener", "closer", "depth"),
    [
        pytest.param(b"[", b"]", 100_000, id="array-100k"),
        pytest.param(b'{"a":', b"}", 100_000, id="object-100k"),
        pytest.param(b"[", b"]", 30_000, id="array-30k-under-max-line"),
        pytest.param(b'{"a":', b"}", 10_000, id="object-10k-under-max-line"),
        pytest.param(b"[", b"", 60_000, id="unclosed"),
    ],
)
def test_deep_nesting_is_dropped_without_crashing(opener: bytes, closer: bytes, depth: int) -> None:
    jl = JsonLines()
    deep = opener * depth + b"1" + closer * depth + b"\n"
    assert flat(jl, [deep, AFTER]) == [json.loads(AFTER)]
    assert jl.bad_lines + jl.oversized == 1


# --------------------------------------------------------------------------- resync


def test_resync_after_a_gap_drops_the_partial_line() -> None:
    jl = JsonLines()
    assert list(jl.feed(CGMINER_SUBSCRIBE + CGMINER_AUTHORIZE[:20])) == [json.loads(CGMINER_SUBSCRIBE)]
    jl.resync()  # bytes were lost: the rest of the line is not the continuation of the buffer
    assert list(jl.feed(CGMINER_SUBMIT[30:] + NOMP_SET_DIFFICULTY)) == [json.loads(NOMP_SET_DIFFICULTY)]
    assert jl.bad_lines == 0


def test_without_resync_a_gap_would_make_a_bad_line() -> None:
    # the control for the test above: the spliced line is junk
    jl = JsonLines()
    list(jl.feed(CGMINER_SUBSCRIBE + CGMINER_AUTHORIZE[:20]))
    list(jl.feed(CGMINER_SUBMIT[30:] + NOMP_SET_DIFFICULTY))
    assert jl.bad_lines == 1


@pytest.mark.parametrize(
    ("chunks", "ids"),
    [
        pytest.param([b'ams": []}\n{"id": 3}\n'], [3], id="mid-line"),
        pytest.param([b'ams": []', b'}\n{"id": 3}\n'], [3], id="newline-in-second-chunk"),
        pytest.param([b'{"id": 1}\n{"id": 2}\n'], [2], id="even-a-whole-first-line"),
        pytest.param([b"\n", b'{"id": 4}\n'], [4], id="starts-with-newline"),
        pytest.param([b"x" * (MAX_LINE + 10), b'\n{"id": 5}\n'], [5], id="long-partial-line"),
    ],
)
def test_unsynced_stream_starts_after_the_first_newline(chunks: list[bytes], ids: list[int]) -> None:
    jl = JsonLines(synced=False)
    assert [v["id"] for v in flat(jl, chunks)] == ids
    assert jl.bad_lines == 0


# --------------------------------------------------------------------------- fuzzing


@given(st.lists(st.binary(max_size=300), max_size=30), st.booleans())
def test_arbitrary_chunks_never_raise(chunks: list[bytes], synced: bool) -> None:
    jl = JsonLines(synced=synced)
    for chunk in chunks:
        for value in jl.feed(chunk):
            assert isinstance(value, dict)
        assert len(jl.buf) <= MAX_LINE


@given(st.lists(st.sampled_from(FIXTURES), min_size=1, max_size=8), st.data())
def test_any_split_of_protocol_lines_yields_them_all(lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(lines)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=20)))
    edges = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    assert flat(JsonLines(), chunks) == [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b'{"id":1}', True), (b"\r\n  [1,2]", True), (b" \t{", True), (b"", False), (b"   ", False),
     (b"HTTP/1.1 200 OK", False), (b"\x16\x03\x01", False), (b"x{", False)],
)
def test_starts_json_as_a_direction_decides(data: bytes, expected: bool) -> None:
    assert starts_json(data) is expected
    # the same test the stream's direction makes when it decides (JSON lines) on enough bytes
    direction = Direction(FlowKey("10.0.0.1", 40000, "10.0.0.2", 3333, 6), True, True, False)
    direction.segment(0, 0, data + b" " * 16)
    assert (direction.mode == Mode.JSON) is expected


def _loads_or_error(text: str) -> Any:
    try:
        return ("value", json.loads(text))
    except (ValueError, RecursionError):
        return ("error", None)


def _value_or_error(text: str) -> Any:
    try:
        return ("value", jsonlines._value(text))
    except (ValueError, RecursionError):
        return ("error", None)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(
    value=st.one_of(st.lists(JSON_VALUES, max_size=3), st.dictionaries(st.text(max_size=3), JSON_VALUES)),
    tail=st.sampled_from(["", "x", " 1", "}", "]", ",", " {}", "\u00a0", "\t"]),
    cut=st.integers(0, 6),
)
def test_a_line_is_read_as_json_loads_reads_it(value: Any, tail: str, cut: int) -> None:
    text = json.dumps(value, separators=(",", ":"))
    for raw in (text, text + tail, text[: max(1, len(text) - cut)], "[" + tail, "{" + tail):
        line = raw.encode().strip().decode("utf-8", "replace")  # what JsonLines hands on: stripped bytes
        assert _value_or_error(line) == _loads_or_error(line), line


# ------------------------------------------------------------------ orjson first, json where they differ


def _read(line: bytes) -> tuple[str, str]:
    """What ``_parse`` makes of a stripped line: the value's repr (ints and floats apart), or an error."""
    try:
        return ("value", repr(jsonlines.value_of(line)))
    except (ValueError, RecursionError):
        return ("error", "")


def _reference(line: bytes) -> tuple[str, str]:
    """The same by ``json`` alone: the text decoded as ``_parse`` always decoded it, then the scanner."""
    try:
        return ("value", repr(jsonlines._value(line.decode("utf-8", "replace"))))
    except (ValueError, RecursionError):
        return ("error", "")


WIDE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=6)
    | st.sampled_from(["\ud800", "a\udfff", "\u2028", "\u00e9", "\x00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@given(
    value=st.one_of(st.lists(WIDE_VALUES, max_size=4), st.dictionaries(st.text(max_size=4), WIDE_VALUES)),
    ascii_only=st.booleans(),
    junk=st.binary(max_size=3),
    at=st.integers(0, 200),
)
def test_a_line_reads_the_same_with_orjson_first(value: Any, ascii_only: bool, junk: bytes, at: int) -> None:
    # big integers, NaN and infinities, lone surrogates (escaped, or as bytes that are not UTF-8), junk
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass")
    for line in (raw, raw[:at] + junk + raw[at:], raw[: max(1, len(raw) - at)]):
        line = line.strip()
        if line[:1] in (b"{", b"["):  # what _parse hands on
            assert _read(line) == _reference(line), line


@pytest.mark.parametrize(
    "line",
    [
        b"[18446744073709551616]",  # beyond 64 bits: orjson gives a float, json the integer
        b"[-9223372036854775809]",
        b'{"a":{"b":[1,2,1e400]}}',  # orjson refuses, json gives inf
        b'{"a":NaN}',
        b'{"s":"\\ud800"}',  # a lone surrogate: orjson refuses
        b'{"s":"\xff"}',  # not UTF-8: json's reading replaces it
        b'{"difficulty":0.1000000000000000055511151231257827}',
        b'{"id":1,"result":{"job":"00ab","target":"ffff0000"},"error":null}',
    ],
)
def test_where_orjson_and_json_could_differ_json_decides(line: bytes) -> None:
    assert _read(line) == _reference(line)
    assert _read(line)[0] == "value"


def test_orjson_is_there_and_floats_or_deep_nesting_send_a_line_to_json() -> None:
    assert jsonlines._fast_loads is not None, "orjson is a dependency (pyproject.toml)"
    assert jsonlines._json_decides({"a": [1, {"b": [2.5]}]}, 0)
    assert jsonlines._json_decides(1.0, 0)
    assert not jsonlines._json_decides({"a": [1, {"b": ["2.5", None, True]}], "c": {}}, 0)
    deep: Any = 1
    for _ in range(jsonlines.MAX_FAST_DEPTH):
        deep = [deep]
    assert not jsonlines._json_decides(deep, 0)
    assert jsonlines._json_decides([deep], 0)


@pytest.mark.parametrize("depth", [*range(95, 106, 2), 500, 1000, 1010, 1023, 1024, 1030])
@pytest.mark.parametrize(("opener", "closer"), [(b"[", b"]"), (b'{"a":', b"}")], ids=["array", "object"])
def test_deep_nesting_reads_as_json_reads_it(opener: bytes, closer: bytes, depth: int) -> None:
    # orjson reads 1,024 levels; json stops at the recursion limit (1,000 frames, the stack it runs on
    # included: where the two call it differs, so depths near 1,000 less the stack are left out)
    line = b"[" + opener * depth + b"1" + closer * depth + b"]"
    assert _read(line) == _reference(line)
