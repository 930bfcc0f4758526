"""Opaque TCP session shapes: sizes and times of each side's messages, no payload (dissection layer).

flows -> **opaque** (first bytes of no protocol, random-looking) -> TcpMessages events -> behaviour detector

A miner behind an encrypting relay (shadowsocks, an obfuscating proxy) shows neither Stratum,
nor a name, nor TLS record headers; what stays visible is when each side speaks and how much:
the login right after the start, the pool's job pushes, the miner's small submits and their
smaller answers. :class:`MessageShape` keeps ``(time, direction, length)`` per *message*, a run
of one side's data that the other side did not interrupt and that has no pause longer than
:data:`MERGE_MS` (Stratum messages fit in one or two segments, sent back to back), packed as
``dissect/shape`` packs TLS application data records, so the behaviour detector reads both alike.
Lengths come from the sequence numbers, so a segment the capture missed (``sniff``'s kernel
filter drops random-looking ones over 1 KiB) still counts its bytes.

It is started only for a session whose client spoke first, with random-looking bytes
(:func:`random_looking`), on a flow whose start was captured, and it stops -- the flow's
directions may then be skipped by the prefilter -- at the first sign that it is not Stratum:

- the server's first bytes do not look random either (a binary protocol with a header);
- a message larger than :data:`BULK_BYTES` (downloads, video, file copies);
- more than :data:`MAX_MESSAGES` messages, or :data:`MAX_SECONDS` of session.

Until then it reports a :class:`~poolsniff.model.TcpMessages` snapshot to the detectors at a
server's message once the session is :data:`REPORT_AFTER_S` old, then at a server's message after
at least :data:`REPORT_EVERY` more messages, and once more when it stops or the flow ends.
"""

from __future__ import annotations

from typing import Final

from poolsniff.dissect.shape import APPLICATION_DATA, RECORD, last_snapshot_at
from poolsniff.model import FlowKey, TcpMessages

MAX_MESSAGES: Final = 96
"""Messages kept per session (8 bytes each); Stratum needs a few dozen to show its rhythm."""
MAX_SECONDS: Final = 1800
"""A session is shaped for at most this long after its first byte."""
BULK_BYTES: Final = 4096
"""A message this large is bulk data: no Stratum message through a relay is anywhere near it."""
MERGE_MS: Final = 50
"""Data of one side after a pause this long starts a new message, even if the other side said nothing."""
REPORT_AFTER_S: Final = 60
"""Age of a session before its shape goes to the detectors."""
REPORT_EVERY: Final = 2
"""Messages between two snapshots after that; a snapshot is taken at a server's message (an answer
completes a submit's pair), so a sparse miner is judged at its next answer, not two later."""
SAMPLE: Final = 64
"""Leading bytes of a side's first segment that :func:`random_looking` reads."""
MIN_SAMPLE: Final = 32
"""Shorter first segments are not judged random (an encrypting relay's first one carries a salt or nonce)."""
MIN_DISTINCT: Final = 0.75
"""Share of the distinct byte values that random bytes would show, below which bytes are structured."""
MAX_PRINTABLE: Final = 0.6
"""Share of printable ASCII above which bytes are text (random bytes: 0.37)."""
_US_PER_MS: Final = 1000
_PRINTABLE: Final = bytes(range(0x20, 0x7F))


def random_looking(payload: bytes) -> bool:
    """Whether a side's first bytes look encrypted: neither text nor a structured binary header.

    Random bytes show nearly as many distinct values as they can (64 draws from 256: about 57)
    and about 37 % printable; a protocol's header repeats zeros, flags and lengths, and text is
    all printable.
    """
    head = payload[:SAMPLE]
    n = len(head)
    if n < MIN_SAMPLE:
        return False
    if n - len(head.translate(None, _PRINTABLE)) > MAX_PRINTABLE * n:
        return False  # text (an HTTP request, a JSON line): decided without the set below
    expected = 256 * (1 - (255 / 256) ** n)
    return len(set(head)) >= MIN_DISTINCT * expected


class MessageShape:
    """The message rhythm of one opaque TCP session, from the client's first segment on."""

    __slots__ = (
        "flow", "start_us", "next_seq", "records", "count", "reported", "done", "last_from", "last_us",
        "server_seen",
    )  # fmt: skip

    def __init__(self, flow: FlowKey, ts_us: int, seq: int, payload: bytes, server_next: int | None) -> None:
        """Start with the client's first segment; ``server_next``: the server's next byte (if known)."""
        self.flow = flow
        self.start_us = ts_us
        self.next_seq: list[int | None] = [server_next, None]
        """Each side's next stream byte: index 1 the client's, 0 the server's."""
        self.records = bytearray()
        self.count = 0
        self.reported = 0
        self.done = False
        self.last_from = -1
        """The side of the message being added to (1 client, 0 server; -1 before the first)."""
        self.last_us = 0
        self.server_seen = False
        self.feed(True, ts_us, seq, payload)

    def active(self) -> bool:
        """Whether the shape is still being read."""
        return not self.done

    def feed(self, from_client: bool, ts_us: int, seq: int, payload: bytes) -> TcpMessages | None:
        """Add one segment of data; return a snapshot when one is due."""
        side = 1 if from_client else 0
        expected = self.next_seq[side]
        end = (seq + len(payload)) & 0xFFFFFFFF
        if expected is None:
            size = len(payload)
        else:
            size = (end - expected) & 0xFFFFFFFF
            if size == 0 or size >= 0x80000000:  # wholly seen before: a retransmission
                return None
        self.next_seq[side] = end
        if not from_client and not self.server_seen:
            self.server_seen = True
            if not random_looking(payload):
                return self.stop()
        if not self._add(side, ts_us, size):
            return self.stop()
        if ts_us - self.start_us > MAX_SECONDS * 1_000_000 or self.count > MAX_MESSAGES:
            return self.stop()
        if (
            not from_client
            and self.count - self.reported >= REPORT_EVERY
            and ts_us - self.start_us >= REPORT_AFTER_S * 1_000_000
        ):
            return self.snapshot(ts_us)
        return None

    def _add(self, side: int, ts_us: int, size: int) -> bool:
        """Start a message or grow the last one; False once a message is bulk."""
        records = self.records
        if side == self.last_from and ts_us - self.last_us <= MERGE_MS * _US_PER_MS:
            ms, kind, length = RECORD.unpack_from(records, len(records) - RECORD.size)
            length += size
            if length > BULK_BYTES:
                return False
            RECORD.pack_into(records, len(records) - RECORD.size, ms, kind, length)
        else:
            if size > BULK_BYTES:
                return False
            self.count += 1
            if self.count > MAX_MESSAGES:
                return True
            ms = max(0, (ts_us - self.start_us) // _US_PER_MS)
            records += RECORD.pack(ms, side << 7 | APPLICATION_DATA, size)
            self.last_from = side
        self.last_us = ts_us
        return True

    def snapshot(self, ts_us: int) -> TcpMessages:
        """The messages so far, as an event."""
        self.reported = self.count
        return TcpMessages(ts_us, self.flow, True, bytes(self.records), self.start_us)

    def stop(self) -> TcpMessages | None:
        """Stop shaping; the last snapshot, when the session is old enough and has news."""
        if self.done:
            return None
        self.done = True
        return self.final(None)

    def final(self, ts_us: int | None) -> TcpMessages | None:
        """A last snapshot (the flow ends, or shaping stops), if it has anything new to say."""
        if self.count == self.reported:
            return None
        at = last_snapshot_at(self.records, self.start_us, ts_us, REPORT_AFTER_S)
        return None if at is None else self.snapshot(at)
