"""Tests for poolsniff.dissect.reassembly: ordering, retransmission, overlap policy, wrap, gaps."""

from __future__ import annotations

from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect.reassembly import (
    MAX_PENDING_BYTES,
    MAX_PENDING_SEGMENTS,
    Reassembler,
    seq_diff,
)

WRAP = 1 << 32
LINE = b'{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}\n'

Segments = list[tuple[int, bytes]]


def feed_all(r: Reassembler, segments: Segments) -> list[bytes]:
    """Feed segments in order; return what each feed released."""
    return [r.feed(seq, payload) for seq, payload in segments]


def cut(data: bytes, isn: int, bounds: list[int]) -> Segments:
    """Cut ``data`` at ``bounds`` into (seq, payload) segments starting at ``isn``."""
    edges = [0, *bounds, len(data)]
    return [((isn + a) % WRAP, data[a:b]) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def assert_settled(r: Reassembler) -> None:
    """Nothing left waiting and the byte count agrees."""
    assert r.pending == {}
    assert r.pending_bytes == 0


# --------------------------------------------------------------------------- sequence arithmetic


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (5, 3, 2),
        (3, 5, -2),
        (7, 7, 0),
        (0, WRAP - 1, 1),
        (WRAP - 1, 0, -1),
        (10, WRAP - 10, 20),
        ((1 << 31) - 1, 0, (1 << 31) - 1),
        (1 << 31, 0, -(1 << 31)),
    ],
)
def test_seq_diff(a: int, b: int, expected: int) -> None:
    assert seq_diff(a, b) == expected


# --------------------------------------------------------------------------- ordering


@pytest.mark.parametrize("isn", [0, 1000, WRAP - 1, WRAP - 30])
def test_in_order_segments_are_released_as_they_come(isn: int) -> None:
    segs = cut(LINE, isn, [10, 11, 40])
    r = Reassembler(isn)
    assert feed_all(r, segs) == [p for _, p in segs]
    assert r.next_seq == (isn + len(LINE)) % WRAP
    assert r.gaps == 0
    assert_settled(r)


ORDER_SEGMENTS = cut(LINE, 5000, [7, 20, 50])


@pytest.mark.parametrize("order", list(permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_any_order_yields_the_stream_once(order: tuple[int, ...]) -> None:
    r = Reassembler(5000)
    out = feed_all(r, [ORDER_SEGMENTS[i] for i in order])
    assert b"".join(out) == LINE
    # nothing is released before the first segment arrives
    first_at = order.index(0)
    assert out[:first_at] == [b""] * first_at
    assert r.gaps == 0
    assert_settled(r)


@pytest.mark.parametrize("isn", [WRAP - 5, WRAP - 1, WRAP - 20], ids=["wrap-5", "wrap-1", "wrap-20"])
@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
def test_sequence_wraps_at_two_to_the_32(isn: int, reverse: bool) -> None:
    segs = cut(LINE, isn, [3, 4, 9, 30])
    assert any(seq < isn for seq, _ in segs), "the segments must cross 2**32"
    r = Reassembler(isn)
    assert b"".join(feed_all(r, segs[::-1] if reverse else segs)) == LINE
    assert r.next_seq == (isn + len(LINE)) % WRAP
    assert_settled(r)


def test_first_data_segment_defines_the_start_without_syn() -> None:
    r = Reassembler()
    assert r.feed(WRAP - 2, b"ab") == b"ab"
    assert r.feed(0, b"cd") == b"cd"
    assert r.feed(WRAP - 1, b"bc") == b""  # old bytes: a retransmission
    assert r.next_seq == 2


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(list(range(64)), id="in-order"),
        pytest.param(list(range(63, -1, -1)), id="reversed"),
        pytest.param([*range(1, 64, 2), *range(0, 64, 2)], id="odd-then-even"),
        pytest.param([*range(32, 64), *range(32)], id="second-half-first"),
    ],
)
def test_one_byte_segments(order: list[int]) -> None:
    data = bytes(range(64))
    r = Reassembler(77)
    assert b"".join(r.feed(77 + i, data[i : i + 1]) for i in order) == data
    assert_settled(r)


# --------------------------------------------------------------------------- retransmission


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([(0, b"abcd"), (0, b"abcd")], [b"abcd", b""], id="whole-segment-again"),
        pytest.param([(0, b"abcd"), (2, b"cd")], [b"abcd", b""], id="tail-again"),
        pytest.param([(0, b"abcd"), (2, b"cdef")], [b"abcd", b"ef"], id="partly-new"),
        pytest.param([(0, b"abcd"), (0, b"abcdefgh")], [b"abcd", b"efgh"], id="longer-resend"),
        pytest.param([(4, b"efgh"), (4, b"efgh"), (0, b"abcd")], [b"", b"", b"abcdefgh"], id="queued-twice"),
        pytest.param(
            [(4, b"ef"), (4, b"efgh"), (0, b"abcd")], [b"", b"", b"abcdefgh"], id="queued-then-longer"
        ),
        pytest.param([(4, b"efgh"), (0, b"abcd"), (4, b"efgh")], [b"", b"abcdefgh", b""], id="after-drain"),
        pytest.param([(0, b"abcd"), (WRAP - 100, b"x" * 50)], [b"abcd", b""], id="far-behind"),
    ],
)
def test_retransmitted_bytes_are_released_once(segments: Segments, expected: list[bytes]) -> None:
    r = Reassembler(0)
    assert feed_all(r, segments) == expected
    assert_settled(r)


# --------------------------------------------------------------------------- overlap policy



@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([(0, b"AAAA"), (2, b"BBBBBB")], b"AAAABBBB", id="delivered-then-overlap"),
        pytest.param([(4, b"XXXX"), (4, b"YY"), (0, b"AAAA")], b"AAAAXXXX", id="queued-then-shorter"),
        pytest.param([(4, b"XXXX"), (4, b"YYYY"), (0, b"AAAA")], b"AAAAXXXX", id="queued-then-same-size"),
        pytest.param([(4, b"XXXX"), (6, b"ZZZZ"), (0, b"AAAA")], b"AAAAXXXXZZ", id="queued-then-later-start"),
        pytest.param(
            [(4, b"XXXX"), (4, b"YYYYYY"), (0, b"AAAA")],
            b"AAAAXXXXYY",
            id="queued-then-longer-same-seq",
        ),
        pytest.param(
            [(6, b"ZZZZ"), (4, b"XXXX"), (0, b"AAAA")],
            b"AAAAXXZZZZ",
            id="queued-then-earlier-start",
        ),
        pytest.param(
            [(2, b"QQQQ"), (0, b"AAAAAA")],
            b"AAQQQQ",
            id="queued-then-in-order-cover",
        ),
    ],
)
def test_overlapping_bytes_keep_what_arrived_first(segments: Segments, expected: bytes) -> None:
    r = Reassembler(0)
    assert b"".join(feed_all(r, segments)) == expected
    assert_settled(r)


# --------------------------------------------------------------------------- bounded queue


def test_too_many_queued_segments_skip_the_hole() -> None:
    hole = 100
    r = Reassembler(0)
    data = bytes(range(MAX_PENDING_SEGMENTS + 1))
    # the segments after the hole arrive in reverse order, so the skip must find the earliest
    segs = [(hole + i, data[i : i + 1]) for i in range(len(data))][::-1]
    out = feed_all(r, segs)
    assert out[:-1] == [b""] * MAX_PENDING_SEGMENTS
    assert out[-1] == data
    assert r.gaps == 1
    assert r.next_seq == hole + len(data)
    assert_settled(r)
    # the lost bytes turning up late are behind the stream now
    assert r.feed(0, b"x" * hole) == b""
    assert r.gaps == 1


def test_just_enough_queued_segments_wait_for_the_hole() -> None:
    r = Reassembler(0)
    data = bytes(range(MAX_PENDING_SEGMENTS))
    assert b"".join(r.feed(10 + i, data[i : i + 1]) for i in range(len(data))) == b""
    assert r.gaps == 0
    assert r.feed(0, b"0123456789") == b"0123456789" + data
    assert_settled(r)


@pytest.mark.parametrize(
    ("sizes", "skips"),
    [
        pytest.param([MAX_PENDING_BYTES], False, id="exactly-the-limit"),
        pytest.param([MAX_PENDING_BYTES + 1], True, id="one-segment-over"),
        pytest.param([MAX_PENDING_BYTES // 2, MAX_PENDING_BYTES // 2 + 1], True, id="two-segments-over"),
    ],
)
def test_too_many_queued_bytes_skip_the_hole(sizes: list[int], skips: bool) -> None:
    r = Reassembler(0)
    seq, out = 10, []
    for size in sizes:
        out.append(r.feed(seq, b"z" * size))
        seq += size
    assert r.gaps == int(skips)
    assert len(b"".join(out)) == (sum(sizes) if skips else 0)
    if skips:
        assert_settled(r)
    else:
        assert r.pending_bytes == sum(sizes)


def test_skip_releases_only_up_to_the_next_hole() -> None:
    r = Reassembler(0)
    for i in range(MAX_PENDING_SEGMENTS):
        r.feed(1000 + 2 * i, b"ab"[: 1 + (i == 0)])  # 1000-1001, then 1002, 1004, ... with holes
    out = r.feed(5000, b"late")
    assert r.gaps == 1
    assert out == b"ab" + b"a"  # 1000, 1001, 1002; 1003 is missing
    assert r.next_seq == 1003
    assert len(r.pending) == MAX_PENDING_SEGMENTS - 1


# --------------------------------------------------------------------------- properties


@st.composite
def shuffled_segmentation(draw: st.DrawFn) -> tuple[int, bytes, Segments]:
    """A byte string, its ISN, and its segments permuted with some duplicated."""
    data = draw(st.binary(min_size=1, max_size=2000))
    isn = draw(st.integers(0, WRAP - 1))
    bounds = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=30)))
    segs = cut(data, isn, [b for b in bounds if b < len(data)])
    dups = draw(st.lists(st.sampled_from(segs), max_size=10))
    return isn, data, draw(st.permutations(segs + dups))


@given(shuffled_segmentation())
def test_any_permutation_with_duplicates_yields_the_bytes_once(case: tuple[int, bytes, Segments]) -> None:
    isn, data, segs = case
    r = Reassembler(isn)
    assert b"".join(feed_all(r, segs)) == data
    assert r.gaps == 0
    assert_settled(r)


@given(st.data())
def test_two_overlapping_segmentations_yield_the_bytes_once(data: st.DataObject) -> None:
    payload = data.draw(st.binary(min_size=2, max_size=1500))
    isn = data.draw(st.integers(0, WRAP - 1))
    one, two = (sorted(data.draw(st.sets(st.integers(1, len(payload) - 1), max_size=20))) for _ in range(2))
    segs = data.draw(st.permutations(cut(payload, isn, one) + cut(payload, isn, two)))
    r = Reassembler(isn)
    assert b"".join(feed_all(r, segs)) == payload
    assert_settled(r)
