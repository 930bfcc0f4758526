"""TLS record shapes of a session: sizes and times of its records, no payload (dissection layer).

flows -> **shape** (after a ClientHello) -> TlsRecords events -> behaviour detector

TLS encrypts Stratum, but every record starts with a five-byte header in the clear (type,
version, length; RFC 8446 §5.1), so a session's rhythm stays visible: the miner's login right
after the handshake, the pool's job pushes, the miner's small submits and their smaller
answers. :class:`RecordShape` reads those headers from both directions of one flow, starting
at the ClientHello, and keeps ``(time, direction, type, length)`` per record in eight packed
bytes. It stops -- and the flow's directions may then be skipped by the prefilter -- as soon
as the session cannot be Stratum or has been seen long enough:

- a record after the handshake larger than :data:`BULK_RECORD`, or any larger than :data:`HUGE_RECORD`
  (downloads, pages, video);
- more than :data:`MAX_RECORDS` records, or :data:`MAX_SECONDS` of session;
- bytes out of order or lost (the record boundaries are gone).

Until then it reports a :class:`~poolsniff.model.TlsRecords` snapshot to the detectors at a
server's record once the session is :data:`REPORT_AFTER_S` old, then at a server's record after at
least :data:`REPORT_EVERY` more records, and once more when it stops or the flow ends. The flow table
bounds how many flows are shaped at once.
"""

from __future__ import annotations

import struct
from typing import Final

from poolsniff.model import FlowKey, TlsClientHello, TlsRecords

MAX_RECORDS: Final = 96
"""Records kept per session (8 bytes each); Stratum needs a few dozen to show its rhythm."""
MAX_SECONDS: Final = 1800
"""A session is shaped for at most this long after its ClientHello."""
BULK_RECORD: Final = 4096
"""A record this large after the handshake is bulk data: no Stratum message is anywhere near it."""
HANDSHAKE_RECORDS: Final = 16
"""Records that may be large (certificates) before the bulk rule applies."""
HUGE_RECORD: Final = 8192
"""A record this large is bulk data even among the first ones (certificate chains are smaller)."""
REPORT_AFTER_S: Final = 60
"""Age of a session (since its ClientHello) before its shape goes to the detectors."""
REPORT_EVERY: Final = 2
"""Records between two snapshots after that; a snapshot is taken at a server's record (an answer
completes a submit's pair), so a session is judged at the answer that completes its rhythm."""
APPLICATION_DATA: Final = 23
_TLS_TYPES: Final = frozenset({20, 21, 22, APPLICATION_DATA, 24})
RECORD: Final = struct.Struct("!IBxH")
"""One kept record: milliseconds since the hello, direction << 7 | content type, length."""
_US_PER_MS: Final = 1000


class _Side:
    """Where one direction's next record header starts, and what is left of the current record."""

    __slots__ = ("next_seq", "need", "head")

    def __init__(self, next_seq: int | None) -> None:
        self.next_seq = next_seq
        self.need = 0
        self.head = b""


class RecordShape:
    """The record headers of one TLS session, from its ClientHello on."""

    __slots__ = ("flow", "hello", "start_us", "sides", "records", "count", "reported", "done")

    def __init__(self, hello: TlsClientHello, client_next: int | None, server_next: int | None) -> None:
        """Start after ``hello``; ``client_next``/``server_next``: each side's next stream byte (if known)."""
        self.flow: FlowKey = hello.flow
        self.hello = hello
        self.start_us = hello.ts_us
        self.sides = (_Side(server_next), _Side(client_next))
        self.records = bytearray()
        self.count = 0
        self.reported = 0
        self.done = False

    def active(self) -> bool:
        """Whether the shape is still being read."""
        return not self.done

    def feed(self, from_client: bool, ts_us: int, seq: int, payload: bytes) -> TlsRecords | None:
        """Read the record headers in one segment; return a snapshot when one is due."""
        side = self.sides[from_client]
        if side.next_seq is None:
            side.next_seq = seq
        offset = (seq - side.next_seq) & 0xFFFFFFFF
        if offset >= 0x80000000:  # wholly or partly seen before: a retransmission
            skip = (side.next_seq - seq) & 0xFFFFFFFF
            if skip >= len(payload):
                return None
            payload, seq = payload[skip:], side.next_seq
        elif offset:
            return self.stop()  # a gap: the next header is lost
        side.next_seq = (seq + len(payload)) & 0xFFFFFFFF
        if not self._headers(side, from_client, ts_us, payload):
            return self.stop()
        if ts_us - self.start_us > MAX_SECONDS * 1_000_000 or self.count >= MAX_RECORDS:
            return self.stop()
        if (
            not from_client
            and self.count - self.reported >= REPORT_EVERY
            and ts_us - self.start_us >= REPORT_AFTER_S * 1_000_000
        ):
            return self.snapshot(ts_us)
        return None

    def _headers(self, side: _Side, from_client: bool, ts_us: int, data: bytes) -> bool:
        """Walk the record headers in ``data``; False when it is not TLS or turns bulk."""
        pos, end = 0, len(data)
        while pos < end:
            if side.need:
                step = min(side.need, end - pos)
                side.need -= step
                pos += step
                continue
            take = 5 - len(side.head)
            head = side.head + data[pos : pos + take]
            pos += take
            if len(head) < 5:
                side.head = head
                return True
            side.head = b""
            ctype, major, length = head[0], head[1], (head[3] << 8) | head[4]
            if ctype not in _TLS_TYPES or major != 3 or length > 2**14 + 2048:
                return False
            if length > HUGE_RECORD or (length > BULK_RECORD and self.count >= HANDSHAKE_RECORDS):
                return False
            side.need = length
            if self.count < MAX_RECORDS:
                ms = (ts_us - self.start_us) // _US_PER_MS
                self.records += RECORD.pack(max(0, ms), from_client << 7 | ctype, length)
            self.count += 1
        return True

    def snapshot(self, ts_us: int) -> TlsRecords:
        """The records so far, as an event."""
        self.reported = self.count
        hello = self.hello
        return TlsRecords(
            ts_us, self.flow, True, bytes(self.records), hello.ts_us, hello.sni or "", hello.alpns,
            hello.ja3_hash, hello.ja4,
        )  # fmt: skip

    def stop(self) -> TlsRecords | None:
        """Stop shaping; the last snapshot, when the session is old enough and has news."""
        if self.done:
            return None
        self.done = True
        return self.final(None)

    def final(self, ts_us: int | None) -> TlsRecords | None:
        """A last snapshot (the flow ends, or shaping stops), if it has anything new to say."""
        if self.count == self.reported:
            return None
        at = last_snapshot_at(self.records, self.start_us, ts_us, REPORT_AFTER_S)
        return None if at is None else self.snapshot(at)


def last_snapshot_at(
    records: bytes | bytearray, start_us: int, ts_us: int | None, after_s: int
) -> int | None:
    """The time of a last snapshot of ``records`` (kept since ``start_us``) when shaping ends at
    ``ts_us`` (None: at the last record's time), or None when the last record came before the session
    was ``after_s`` old. Shared by the TLS shaper and the opaque one (``dissect/opaque``)."""
    if not records:
        return None
    last_ms = RECORD.unpack_from(records, len(records) - RECORD.size)[0]
    if last_ms < after_s * _US_PER_MS:
        return None
    return ts_us if ts_us is not None else start_us + last_ms * _US_PER_MS


def unpack(records: bytes) -> list[tuple[int, bool, int, int]]:
    """``(ms since the hello, from the client, content type, length)`` of each kept record."""
    return [(ms, bool(kind >> 7), kind & 0x7F, length) for ms, kind, length in RECORD.iter_unpack(records)]
