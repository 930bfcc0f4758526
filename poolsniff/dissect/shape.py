"""TLS record shapes of a session: sizes and times of its records, no payload (dissection layer).

flows -> **shape** (after a ClientHello) -> TlsRecords events -> behaviour detector

TLS encrypts Stratum, but every record starts with a five-byte header in the clear (type,
version, length; RFC 8446 §5.1), so a session's rhythm stays visible: the miner's login right
after the handshake, the pool's job pushes, the miner's small submits and their smaller
answers. :class:`RecordShape` reads those headers from both directions of one flow, starting
at the ClientHello, and keeps ``(time, direction, type, length)`` per record in eight packed
bytes. A session whose ClientHello offers a web protocol in ALPN (:data:`WEB_ALPNS`) is not shaped
at all. A shape stops -- and the flow's directions may then be skipped by the prefilter -- as soon
as the session cannot be Stratum or has been seen long enough:

- a record after the handshake larger than :data:`BULK_RECORD`, or any larger than :data:`HUGE_RECORD`
  (downloads, pages, video);
- more than :data:`MAX_RECORDS` records, or :data:`MAX_SECONDS` of session;
- bytes out of order or lost (the record boundaries are gone).

Until then it reports a :class:`~poolsniff.model.TlsRecords` snapshot to the detectors at a
server's record once the session is :data:`REPORT_AFTER_S` old, then at a server's record after at
least :data:`REPORT_EVERY` more records, and once more when it stops or the flow ends. The flow table
bounds how many flows are shaped at once.

Most segments of a shaped session only move the reading on (the next stream byte, what is left of the
current record, one more 8-byte record). The shape keeps that state in a small ``bytearray``
(:data:`STATE`, :data:`SIDE`) which the flow table hands to the prefilter with ``records``: the C walk
(``engine/fast/_walk.c``) advances it itself for an in-order segment that leaves it :data:`QUIET`
(:func:`quiet` is its reference) and leaves any other segment -- a snapshot due, a stop, a gap --
to :meth:`RecordShape.feed`, which reads the same state with :func:`advance`.
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
WEB_ALPNS: Final = frozenset({"h2", "h3", "http/1.1", "http/1.0", "spdy/3.1", "h2c"})
"""ALPN protocols of the web. A session whose ClientHello offers one is not shaped: the behaviour
detector's eighth rule (``detect/behaviour``) judges no such session, so its shape would only keep both
directions open, every segment read, to the session's end (a browser's or an HTTP library's)."""
APPLICATION_DATA: Final = 23
_TLS_TYPES: Final = frozenset({20, 21, 22, APPLICATION_DATA, 24})
RECORD: Final = struct.Struct("!IBxH")
"""One kept record: milliseconds since the hello, direction << 7 | content type, length."""
_US_PER_MS: Final = 1000


STATE: Final = struct.Struct("=qIIBB2x")
"""The head of a shape's state: start (µs, when ``OPEN``), records counted, records reported, done, open."""
SIDE: Final = struct.Struct("=IIBB4s2x")
"""One side's state: next stream byte, bytes left of the current record, next byte known, partial header."""
STATE_SIZE: Final = STATE.size + 2 * SIDE.size
"""52 bytes: ``STATE``, then the server's ``SIDE``, then the client's (``_walk.c`` reads the same layout)."""
DONE: Final = 16
"""Offset of the done byte."""
OPEN: Final = 17
"""Offset of the byte saying the prefilter may advance the shape itself (the start fits 64 bits)."""
QUIET, SNAPSHOT, STOP = range(3)
"""What a segment did to a shape (:func:`advance`): nothing to report, a snapshot is due, shaping stops."""
_COUNTS = struct.Struct("=II")
_INT64 = range(-(1 << 63), 1 << 63)
_MAX_MS = 0xFFFFFFFF


def new_state(start_us: int, server_next: int | None, client_next: int | None) -> bytearray:
    """A shape's state at its ClientHello (see ``STATE`` and ``SIDE``)."""
    state = bytearray(STATE_SIZE)
    usable = start_us in _INT64
    STATE.pack_into(state, 0, start_us if usable else 0, 0, 0, 0, usable)
    for at, known in ((STATE.size, server_next), (STATE.size + SIDE.size, client_next)):
        SIDE.pack_into(state, at, known or 0, 0, known is not None, 0, b"")
    return state


def advance(
    state: bytearray,
    records: bytearray,
    start_us: int,
    from_client: bool,
    ts_us: int,
    seq: int,
    payload: bytes,
) -> int:
    """Read the record headers of one segment into ``state`` and ``records`` (in place): QUIET,
    SNAPSHOT when a snapshot is due, or STOP when shaping must stop (the state is then as far as
    the segment was read). ``_walk.c`` does the same for a segment that leaves it QUIET."""
    at = STATE.size + from_client * SIDE.size
    count, reported = _COUNTS.unpack_from(state, 8)
    next_seq, need, known, head_len, head = SIDE.unpack_from(state, at)
    if not known:
        next_seq = seq
    offset = (seq - next_seq) & 0xFFFFFFFF
    if offset >= 0x80000000:  # wholly or partly seen before: a retransmission
        skip = (next_seq - seq) & 0xFFFFFFFF
        if skip >= len(payload):
            return QUIET
        payload, seq = payload[skip:], next_seq
    elif offset:
        return STOP  # a gap: the next header is lost
    next_seq = (seq + len(payload)) & 0xFFFFFFFF
    head = head[:head_len]
    pos, end, ok = 0, len(payload), True
    while pos < end:
        if need:
            step = min(need, end - pos)
            need -= step
            pos += step
            continue
        take = 5 - len(head)
        head += payload[pos : pos + take]
        pos += take
        if len(head) < 5:
            break
        ctype, major, length = head[0], head[1], (head[3] << 8) | head[4]
        head = b""
        if ctype not in _TLS_TYPES or major != 3 or length > 2**14 + 2048:
            ok = False
            break
        if length > HUGE_RECORD or (length > BULK_RECORD and count >= HANDSHAKE_RECORDS):
            ok = False
            break
        need = length
        if count < MAX_RECORDS:
            ms = min(max(0, (ts_us - start_us) // _US_PER_MS), _MAX_MS)
            records += RECORD.pack(ms, from_client << 7 | ctype, length)
        count += 1
    SIDE.pack_into(state, at, next_seq, need, True, len(head), head)
    _COUNTS.pack_into(state, 8, count, reported)
    if not ok or ts_us - start_us > MAX_SECONDS * 1_000_000 or count >= MAX_RECORDS:
        return STOP
    if (
        not from_client
        and count - reported >= REPORT_EVERY
        and ts_us - start_us >= REPORT_AFTER_S * 1_000_000
    ):
        return SNAPSHOT
    return QUIET


def quiet(
    state: bytearray, records: bytearray, from_client: bool, ts_us: int, seq: int, payload: bytes
) -> bool:
    """Advance the shape by one segment if that is all the segment does (QUIET); else change nothing.

    The prefilter's way (``engine/fast/walk.decide``, the reference of ``_walk.c``): only a side
    whose next byte is known, of an open shape that is not done; the rest goes to :meth:`RecordShape.feed`.
    """
    if state[DONE] or not state[OPEN] or not state[STATE.size + from_client * SIDE.size + 8]:
        return False
    trial, kept = bytearray(state), len(records)
    if advance(trial, records, STATE.unpack_from(state)[0], from_client, ts_us, seq, payload) != QUIET:
        del records[kept:]
        return False
    state[:] = trial
    return True


class RecordShape:
    """The record headers of one TLS session, from its ClientHello on.

    Its state is a ``bytearray`` (``STATE``, ``SIDE``) that the prefilter may advance too: the flow
    table hands it, with ``records``, to the ``fast`` entries of the flow's directions.
    """

    __slots__ = ("flow", "hello", "start_us", "state", "records")

    def __init__(self, hello: TlsClientHello, client_next: int | None, server_next: int | None) -> None:
        """Start after ``hello``; ``client_next``/``server_next``: each side's next stream byte (if known)."""
        self.flow: FlowKey = hello.flow
        self.hello = hello
        self.start_us = hello.ts_us
        self.state = new_state(hello.ts_us, server_next, client_next)
        self.records = bytearray()
        """Eight bytes per record (``RECORD``); never replaced, only extended (the prefilter holds it)."""

    @property
    def count(self) -> int:
        """Records read so far (those past ``MAX_RECORDS`` are counted, not kept)."""
        return int(_COUNTS.unpack_from(self.state, 8)[0])

    @property
    def reported(self) -> int:
        """``count`` at the last snapshot."""
        return int(_COUNTS.unpack_from(self.state, 12)[0])

    @reported.setter
    def reported(self, value: int) -> None:
        struct.pack_into("=I", self.state, 12, value)

    @property
    def done(self) -> bool:
        """Whether shaping has stopped."""
        return bool(self.state[DONE])

    @done.setter
    def done(self, value: bool) -> None:
        self.state[DONE] = bool(value)

    def active(self) -> bool:
        """Whether the shape is still being read."""
        return not self.state[DONE]

    def feed(self, from_client: bool, ts_us: int, seq: int, payload: bytes) -> TlsRecords | None:
        """Read the record headers in one segment; return a snapshot when one is due."""
        got = advance(self.state, self.records, self.start_us, from_client, ts_us, seq, payload)
        if got == STOP:
            return self.stop()
        if got == SNAPSHOT:
            return self.snapshot(ts_us)
        return None

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
