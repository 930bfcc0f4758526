"""WebSocket frames after the HTTP Upgrade (pipeline stage: flows/dissectors).

flows -> streams -> http (Upgrade: websocket) -> **websocket** frames -> messages -> JSON lines, ...

Browser miners and Stratum bridges such as ``coin-hive-stratum`` carry one JSON-RPC message
per WebSocket text frame (RFC 6455 §5). ``WsFrames.feed`` takes the bytes of one direction
after the handshake and returns the payloads of its whole data messages, unmasked and
joined from their fragments, each followed by a newline, so the bytes can go on to the
JSON-lines dissector as if they had come in the clear. Control frames (ping, pong) are
skipped; a close frame ends the stream. A message whose first frame has RSV1 set is
compressed (permessage-deflate, RFC 7692, which browsers offer by default): it is inflated
with one raw-deflate context per direction, which serves both context takeover and
``no_context_takeover``.

Bounds: a message over ``MAX_MESSAGE`` bytes is skipped without being buffered (counted in
``oversized``); a compressed one that inflates past ``MAX_MESSAGE`` stops the stream (its
context cannot be kept in step without inflating it all); anything the RFC forbids (reserved
opcodes, a control frame over 125 bytes or fragmented, a continuation with nothing to
continue, RSV1 on a continuation or a control frame, RSV2 or RSV3) or a broken deflate
stream sets ``failed`` and the stream is read no further.
"""

from __future__ import annotations

import zlib
from typing import Final

MAX_MESSAGE: Final = 64 * 1024
"""Largest message kept: the JSON-lines dissector's longest line."""
MAX_HEADER: Final = 14
"""A frame header: 2 bytes, up to 8 of extended length, 4 of masking key."""

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
_DATA: Final = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY})
_CONTROL: Final = frozenset({OP_CLOSE, OP_PING, OP_PONG})
RSV1: Final = 0x40
_DEFLATE_TAIL: Final = b"\x00\x00\xff\xff"
"""The end of a sync flush, which the sender strips from each compressed message (RFC 7692 §7.2.1)."""


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` repeated (RFC 6455 §5.3)."""
    n = len(payload)
    if not n:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


class WsFrames:
    """Reads the frames of one WebSocket direction; bounded, never raises on bad input."""

    __slots__ = (
        "buf", "message", "size", "open", "dropping", "skip", "failed", "closed", "oversized",
        "compressed", "inflate",
    )  # fmt: skip

    def __init__(self) -> None:
        """Start at a frame boundary, with no message open."""
        self.buf = b""
        """The start of a frame not whole yet (at most ``MAX_HEADER + MAX_MESSAGE`` bytes)."""
        self.message: list[bytes] = []
        """The fragments of the open message, unmasked."""
        self.size = 0
        self.open = False
        """A data message has started and awaits its final fragment."""
        self.dropping = False
        """The open message went over ``MAX_MESSAGE``: its fragments are dropped."""
        self.skip = 0
        """Bytes still to drop of a frame that runs past what has arrived."""
        self.failed = False
        self.closed = False
        self.oversized = 0
        self.compressed = False
        """The open message is compressed (RSV1 on its first frame)."""
        self.inflate: zlib._Decompress | None = None
        """The direction's deflate context, made at its first compressed message."""

    @property
    def done(self) -> bool:
        """True once nothing more will come out (failed or closed)."""
        return self.failed or self.closed

    def buffered(self) -> int:
        """Bytes held: a partial frame and the fragments of the open message."""
        return len(self.buf) + self.size

    def feed(self, data: bytes) -> bytes:
        """Add bytes; return the whole messages they complete, each followed by ``\\n``."""
        if self.done:
            return b""
        if self.skip:
            cut = min(self.skip, len(data))
            self.skip -= cut
            data = data[cut:]
        buf = self.buf + data if self.buf else data
        out: list[bytes] = []
        pos = 0
        while not self.done:
            end = self._frame(buf, pos, out)
            if end < 0:
                break
            pos = end
        self.buf = b"" if self.done else buf[pos:]
        return b"".join(out)

    def _frame(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        """Read the frame at ``pos`` into ``out``; the offset after it, or -1 (incomplete, failed)."""
        have = len(buf) - pos
        if have < 2:
            return -1
        b0, b1 = buf[pos], buf[pos + 1]
        head = 2 + (b1 & 0x80 and 4) + {126: 2, 127: 8}.get(b1 & 0x7F, 0)
        if have < head:
            return -1
        length = b1 & 0x7F
        if length == 126:
            length = (buf[pos + 2] << 8) | buf[pos + 3]
        elif length == 127:
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        if not self._valid(b0 & 0x70, fin, opcode, length):
            self.failed = True
            return -1
        start = pos + head
        end = start + length
        if opcode in _DATA and (self.dropping or self.size + length > MAX_MESSAGE):
            if b0 & RSV1 or (opcode == OP_CONTINUATION and self.compressed):
                self.oversized += 1  # a deflate context cannot skip a message: stop here
                self.failed = True
                return -1
            self._drop(fin)
            if end <= len(buf):
                return end
            self.skip = end - len(buf)
            return len(buf)
        if end > len(buf):
            return -1
        payload = buf[start:end]
        if b1 & 0x80:
            payload = unmask(payload, buf[start - 4 : start])
        if opcode == OP_CLOSE:
            self.closed = True
        elif opcode in _DATA:
            if opcode != OP_CONTINUATION:
                self.compressed = bool(b0 & RSV1)
            self.message.append(payload)
            self.size += length
            self.open = not fin
            if fin:
                message = b"".join(self.message)
                self.message, self.size = [], 0
                if self.compressed:
                    inflated = self._inflate(message)
                    if inflated is None:
                        return -1
                    message = inflated
                out.append(message + b"\n")
        return end

    def _inflate(self, message: bytes) -> bytes | None:
        """A compressed message's text; None (and ``failed``) if broken or over ``MAX_MESSAGE``."""
        if self.inflate is None:
            self.inflate = zlib.decompressobj(-15)
        try:
            text = self.inflate.decompress(message + _DEFLATE_TAIL, MAX_MESSAGE + 1)
        except zlib.error:
            self.failed = True
            return None
        if len(text) > MAX_MESSAGE or self.inflate.unconsumed_tail:
            self.oversized += 1
            self.failed = True
            return None
        return text

    def _valid(self, rsv: int, fin: bool, opcode: int, length: int) -> bool:
        """What RFC 6455 §5.2-5.5 allow without a negotiated extension."""
        if rsv & ~RSV1 or (rsv and (opcode not in (OP_TEXT, OP_BINARY) or self.open)):
            return False
        if opcode in _CONTROL:
            return fin and length <= 125
        return opcode in _DATA and (opcode == OP_CONTINUATION) == self.open

    def _drop(self, fin: bool) -> None:
        """A data frame of a message too long to keep: drop the whole message."""
        if not self.dropping:
            self.oversized += 1
            self.message, self.size = [], 0
        self.dropping = self.open = not fin
