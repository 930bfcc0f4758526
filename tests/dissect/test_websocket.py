"""Tests for poolsniff.dissect.websocket: masked, unmasked and fragmented frames, bounds, errors, fuzzing."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.dissect.websocket import MAX_MESSAGE, WsFrames, unmask

LOGIN = b'{"id":1,"method":"login","params":{"login":"x","agent":"xmrig"}}'
KEY = b"\x37\xfa\x21\x3d"


def frame(payload: bytes, opcode: int = 1, fin: bool = True, key: bytes | None = None, rsv: int = 0) -> bytes:
    """One frame as RFC 6455 §5.2 lays it out (the shortest length encoding)."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask = 0x80 if key is not None else 0
    if n < 126:
        head += bytes([mask | n])
    elif n < 1 << 16:
        head += bytes([mask | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask | 127]) + struct.pack("!Q", n)
    return head + (key + unmask(payload, key) if key is not None else payload)


def feed_all(chunks: list[bytes]) -> tuple[bytes, WsFrames]:
    ws = WsFrames()
    return b"".join(ws.feed(c) for c in chunks), ws


def test_unmask_is_its_own_inverse() -> None:
    assert unmask(unmask(LOGIN, KEY), KEY) == LOGIN
    assert unmask(b"", KEY) == b""
    # RFC 6455 §5.7: a masked "Hello"
    assert unmask(bytes.fromhex("7f9f4d5158"), bytes.fromhex("37fa213d")) == b"Hello"


@pytest.mark.parametrize(
    "stream, messages",
    [
        pytest.param(frame(LOGIN, key=KEY), [LOGIN], id="masked-text"),
        pytest.param(frame(LOGIN), [LOGIN], id="unmasked-text"),
        pytest.param(frame(LOGIN, opcode=2), [LOGIN], id="binary"),
        pytest.param(
            frame(LOGIN[:10], fin=False, key=KEY) + frame(LOGIN[10:], opcode=0, key=KEY),
            [LOGIN],
            id="fragmented",
        ),
        pytest.param(
            frame(LOGIN[:10], fin=False) + frame(b"hi", opcode=9) + frame(LOGIN[10:], opcode=0),
            [LOGIN],
            id="ping-between-fragments",
        ),
        pytest.param(
            frame(b"x" * 300, key=KEY) + frame(b"y" * 70_000),
            [b"x" * 300, b"y" * 70_000][:1],
            id="oversized-dropped",
        ),
        pytest.param(
            frame(b"p", opcode=10) + frame(LOGIN) + frame(b"", opcode=8) + frame(b"after"),
            [LOGIN],
            id="close-ends",
        ),
        pytest.param(frame(b"", key=KEY), [b""], id="empty"),
    ],
)
def test_messages(stream: bytes, messages: list[bytes]) -> None:
    """Whole, split at every byte, or fed byte by byte: the same messages, newline-terminated."""
    expected = b"".join(m + b"\n" for m in messages)
    assert feed_all([stream])[0] == expected
    step = max(1, len(stream) // 200)
    for cut in range(0, len(stream), step):
        assert feed_all([stream[:cut], stream[cut:]])[0] == expected, cut
    if len(stream) < 2000:
        assert feed_all([bytes([b]) for b in stream])[0] == expected


def test_oversized_message_is_counted_and_not_buffered() -> None:
    big = frame(b"z" * (MAX_MESSAGE + 1), key=KEY)
    ws = WsFrames()
    assert ws.feed(big[:1000]) == b""
    assert ws.buffered() == 0 and ws.oversized == 1
    assert ws.feed(big[1000:] + frame(LOGIN)) == LOGIN + b"\n"


def test_oversized_fragmented_message_drops_every_fragment() -> None:
    half = b"a" * (MAX_MESSAGE // 2 + 10)
    stream = (
        frame(half, fin=False) + frame(half, opcode=0, fin=False) + frame(b"tail", opcode=0) + frame(LOGIN)
    )
    out, ws = feed_all([stream])
    assert out == LOGIN + b"\n" and ws.oversized == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(frame(LOGIN, rsv=0x20), id="rsv2"),
        pytest.param(
            frame(LOGIN[:5], fin=False) + frame(LOGIN[5:], opcode=0, rsv=0x40), id="rsv1-on-continuation"
        ),
        pytest.param(frame(b"x", opcode=9, rsv=0x40), id="rsv1-on-control"),
        pytest.param(frame(b"\xff\xfe not deflate", rsv=0x40), id="broken-deflate"),
        pytest.param(frame(LOGIN, opcode=3), id="reserved-opcode"),
        pytest.param(frame(b"x" * 126, opcode=9), id="long-control"),
        pytest.param(frame(b"x", opcode=9, fin=False), id="fragmented-control"),
        pytest.param(frame(b"x", opcode=0), id="continuation-of-nothing"),
        pytest.param(frame(b"x", fin=False) + frame(b"y"), id="new-message-inside-fragmented"),
    ],
)
def test_protocol_errors_stop_the_stream(bad: bytes) -> None:
    out, ws = feed_all([frame(LOGIN) + bad + frame(LOGIN)])
    assert out == LOGIN + b"\n"
    assert ws.failed and ws.done
    assert ws.feed(frame(LOGIN)) == b""


@given(st.lists(st.binary(max_size=200), max_size=8))
def test_garbage_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    ws = WsFrames()
    for chunk in chunks:
        ws.feed(chunk)
        assert ws.buffered() <= MAX_MESSAGE + 14 + 200


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5), st.data())
def test_any_split_of_valid_frames_gives_the_same_messages(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(frame(p, key=KEY if i % 2 else None) for i, p in enumerate(payloads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert feed_all(chunks)[0] == b"".join(p + b"\n" for p in payloads)


def deflated(messages: list[bytes], takeover: bool = True) -> list[bytes]:
    """Each message as permessage-deflate sends it: raw deflate, sync-flushed, the tail 00 00 ff ff cut."""
    out, c = [], zlib.compressobj(wbits=-15)
    for m in messages:
        if not takeover:
            c = zlib.compressobj(wbits=-15)
        data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-context-takeover"])
def test_permessage_deflate(takeover: bool) -> None:
    """Compressed messages (RSV1 on the first frame), one of them fragmented, between plain ones."""
    job = b'{"jsonrpc":"2.0","method":"job","params":{"blob":"' + b"0" * 300 + b'"}}'
    first, second = deflated([LOGIN, job], takeover)
    stream = (
        frame(first, key=KEY, rsv=0x40)
        + frame(b"plain")
        + frame(second[:7], fin=False, rsv=0x40)
        + frame(second[7:], opcode=0)
    )
    out, ws = feed_all([bytes([b]) for b in stream])
    assert out == LOGIN + b"\nplain\n" + job + b"\n"
    assert not ws.failed


def test_deflate_bomb_stops_the_stream_bounded() -> None:
    bomb = deflated([b"{" * (MAX_MESSAGE * 8)])[0]
    assert len(bomb) < MAX_MESSAGE
    out, ws = feed_all([frame(LOGIN) + frame(bomb, rsv=0x40) + frame(LOGIN)])
    assert out == LOGIN + b"\n"
    assert ws.failed and ws.oversized == 1


def test_oversized_compressed_message_stops_the_stream() -> None:
    out, ws = feed_all([frame(os.urandom(MAX_MESSAGE + 1), rsv=0x40) + frame(LOGIN)])
    assert out == b"" and ws.failed and ws.oversized == 1
