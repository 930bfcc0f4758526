"""A bounded on-disk queue of alerts a forwarding sink could not deliver yet (sink layer).

enrichment -> to_eve -> [suppress] -> syslog / redis sinks -> **spool** -> Connection -> a collector

One spool is one folder, used by one sink identity (:func:`spool_dir`: a hash of the sink's
URL under the data directory) and locked by one process at a time (``flock`` on ``lock``; a
second poolsniff on the same spool gets an ``OutputError``).

Format. The folder holds segment files ``<16-digit sequence>.seg``, appended to in order. Each
record is a header of 8 bytes, the payload length and the CRC-32 of the payload (both
unsigned big-endian 32-bit), then the payload. A file ``offset`` says where reading resumes:
``<segment sequence> <byte offset>``, replaced atomically (temporary file and rename) after
each acknowledged record.

Crash safety. A record is handed to the kernel (``write`` + ``flush``) before ``append``
returns, so a killed process loses nothing it appended; segments and the offset file are
``fsync``-ed when a segment is closed (rotation, :meth:`Spool.close`), not per record: after a
machine crash the last records may be missing or the offset may point back a little, which
re-delivers records (delivery is at least once; consumers de-duplicate on the record's id).
On opening, a torn last record (short header, short payload or CRC mismatch) is cut off, as is
anything after it in that segment.

Bound. When the segments add up to more than ``limit`` bytes the oldest segment is deleted
whole (segments are at most a sixteenth of the limit), its unread records counted in
:attr:`Spool.dropped` and reported once per drop through ``warn``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final

from poolsniff.errors import OutputError
from poolsniff.output.options import Option

DEFAULT_LIMIT: Final = 64 * 1024 * 1024
"""Default spool size in bytes (64 MiB)."""
HEADER: Final = struct.Struct(">II")
"""Record header: payload length, CRC-32 of the payload."""
MAX_RECORD: Final = 16 * 1024 * 1024
"""A length above this in a header marks a torn or corrupt record."""
SUFFIX: Final = ".seg"

MIN_LIMIT: Final = 64 * 1024
"""The smallest spool size accepted."""
UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
"""Size suffixes (binary: ``64M`` is 64 MiB; ``KiB``/``MiB``/``GiB`` and a trailing ``B`` are accepted)."""

Warn = Callable[[str], None]


def parse_size(value: str) -> int:
    """A ``--spool-size``: bytes, or a number with ``K``, ``M`` or ``G`` (``64M``, ``1GiB``)."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in UNITS else ""
    number = text[: len(text) - len(unit)].strip()
    if not number.isdigit():
        raise ValueError(f"bad size {value!r} (use bytes or a number with K, M or G, e.g. 64M)")
    size = int(number) * UNITS[unit]
    if size < MIN_LIMIT:
        raise ValueError(f"must be at least {MIN_LIMIT // 1024}K")
    return size


OPTIONS: Final = (
    Option(
        "spool-size", "SIZE",
        "Disk kept per forwarding sink (Redis, syslog over TCP) for alerts not delivered yet; the "
        "oldest are dropped first when it is full (default: 64M).",
        parse_size, "size: bytes, or with K, M or G (default `64M`)",
    ),
)  # fmt: skip
"""The output stage's options this module takes (see :mod:`poolsniff.output.options`)."""


def spool_dir(data_dir: Path, identity: str) -> Path:
    """The spool folder of the sink named by ``identity`` (its URL) under ``data_dir``."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return data_dir / "spool" / digest


class Spool:
    """Append-only segments plus a persisted read position; see the module docstring."""

    def __init__(self, directory: Path, limit: int = DEFAULT_LIMIT, *, warn: Warn | None = None) -> None:
        """Open (creating) and lock ``directory``; OutputError if it cannot or another process holds it."""
        if limit < 2 * HEADER.size:
            raise ValueError(f"spool size {limit} is too small")
        self.directory, self.limit = directory, limit
        self.segment_limit = max(limit // 16, HEADER.size + 1)
        self.warn = warn or (lambda _message: None)
        self.dropped = 0
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = open(directory / "lock", "a+b")  # noqa: SIM115 - held until close()
        except OSError as e:
            raise OutputError(f"{directory}: cannot open the spool: {e.strerror or e}") from e
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._lock.close()
            raise OutputError(
                f"{directory}: the spool is in use by another poolsniff process; give each one its own sink "
                "or data directory"
            ) from e
        self._segments: dict[int, int] = {}  # sequence -> size in bytes
        self._counts: dict[int, int] = {}  # sequence -> records not yet read
        self._read_seq, self._read_pos = 0, 0
        self._writer: BinaryIO | None = None
        self._reader: BinaryIO | None = None
        self._reader_seq = -1
        self._peeked: list[tuple[int, int]] = []  # (segment, position after) of each peeked record
        self._recover()

    # -- public ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Records appended and not yet acknowledged."""
        return sum(self._counts.values())

    @property
    def size(self) -> int:
        """Bytes the segment files take."""
        return sum(self._segments.values())

    def append(self, payload: bytes) -> None:
        """Add ``payload`` at the end (dropping the oldest segments if the spool is full)."""
        if len(payload) > MAX_RECORD:
            raise ValueError(f"a spooled record is limited to {MAX_RECORD} bytes")
        record = HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        seq = self._last_seq()
        full = self._writer is not None and 0 < self._segments[seq] and (
            self._segments[seq] + len(record) > self.segment_limit
        )
        if self._writer is None or full:
            seq = self._rotate()
        writer = self._writer
        assert writer is not None
        writer.write(record)
        writer.flush()
        self._segments[seq] += len(record)
        self._counts[seq] += 1
        self._trim()

    def peek(self) -> bytes | None:
        """The oldest unacknowledged record, or None when the spool is empty."""
        batch = self.peek_batch(1)
        return batch[0] if batch else None

    def peek_batch(self, records: int, max_bytes: int = MAX_RECORD) -> list[bytes]:
        """Up to ``records`` of the oldest unacknowledged records (at least one if any, and no
        more than ``max_bytes`` after the first), in order; :meth:`ack` acknowledges them all."""
        batch: list[bytes] = []
        self._peeked = []
        seq, pos, size = self._read_seq, self._read_pos, 0
        while len(batch) < records:
            if seq not in self._segments or pos >= self._segments[seq]:
                later = [s for s in self._segments if s > seq]
                if not later:
                    break
                seq, pos = min(later), 0
                continue
            reader = self._open_reader(seq)
            reader.seek(pos)
            payload = _read_record(reader, self._segments[seq] - pos)
            if payload is None:  # cannot happen after _recover; treat the rest as lost
                self._segments[seq] = pos
                self._counts[seq] = 0
                continue
            if batch and size + len(payload) > max_bytes:
                break
            pos += HEADER.size + len(payload)
            size += len(payload)
            batch.append(payload)
            self._peeked.append((seq, pos))
        return batch

    def ack(self) -> None:
        """Mark the records :meth:`peek` or :meth:`peek_batch` returned as delivered (persisting the
        read position once)."""
        if not self._peeked:
            raise RuntimeError("ack without peek")
        peeked, self._peeked = self._peeked, []
        for seq, pos in peeked:
            if seq not in self._segments:  # dropped meanwhile by _trim
                continue
            for done in [s for s in self._segments if s < seq]:  # read to their end
                self._delete(done)
            self._read_seq, self._read_pos = seq, pos
            self._counts[seq] -= 1
        self._save_offset()

    def close(self) -> None:
        """Flush to disk and release the lock."""
        for handle in (self._writer, self._reader):
            if handle is not None:
                if handle is self._writer:
                    _sync(handle)
                handle.close()
        self._writer = self._reader = None
        self._save_offset(sync=True)
        self._lock.close()

    # -- internals ------------------------------------------------------------------------

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{SUFFIX}"

    def _last_seq(self) -> int:
        return max(self._segments) if self._segments else -1

    def _recover(self) -> None:
        for path in self.directory.glob(f"*{SUFFIX}"):
            if path.stem.isdigit():
                self._segments[int(path.stem)] = path.stat().st_size
        offset = self.directory / "offset"
        try:
            seq_text, pos_text = offset.read_text("ascii").split()
            self._read_seq, self._read_pos = int(seq_text), int(pos_text)
        except (OSError, ValueError):
            self._read_seq, self._read_pos = (min(self._segments) if self._segments else 0), 0
        for seq in sorted(self._segments):
            if seq < self._read_seq:
                self._delete(seq)
                continue
            start = self._read_pos if seq == self._read_seq else 0
            good, count = _scan(self._path(seq), start)
            if good < self._segments[seq]:
                with open(self._path(seq), "r+b") as handle:
                    handle.truncate(good)
                self._segments[seq] = good
            self._counts[seq] = count
        if self._read_seq in self._segments and self._read_pos > self._segments[self._read_seq]:
            self._read_pos = self._segments[self._read_seq]

    def _rotate(self) -> int:
        if self._writer is not None:
            _sync(self._writer)
            self._writer.close()
        seq = self._last_seq() + 1
        self._writer = open(self._path(seq), "ab")  # noqa: SIM115 - kept open for appending
        self._segments[seq], self._counts[seq] = 0, 0
        _sync_dir(self.directory)
        return seq

    def _trim(self) -> None:
        while self.size > self.limit and len(self._segments) > 1:
            oldest = min(self._segments)
            lost = self._counts.get(oldest, 0)
            self._delete(oldest)
            self.dropped += lost
            if oldest == self._read_seq:
                self._read_seq, self._read_pos = min(self._segments), 0
                self._save_offset()
            if lost:
                self.warn(
                    f"poolsniff: warning: spool {self.directory} is full ({self.limit} bytes); "
                    f"dropped the {lost} oldest undelivered alerts ({self.dropped} so far)"
                )

    def _delete(self, seq: int) -> None:
        if self._reader_seq == seq and self._reader is not None:
            self._reader.close()
            self._reader, self._reader_seq = None, -1
        self._segments.pop(seq, None)
        self._counts.pop(seq, None)
        self._path(seq).unlink(missing_ok=True)

    def _open_reader(self, seq: int) -> BinaryIO:
        if self._reader is None or self._reader_seq != seq:
            if self._reader is not None:
                self._reader.close()
            self._reader = open(self._path(seq), "rb")  # noqa: SIM115 - cached between peeks
            self._reader_seq = seq
        return self._reader

    def _save_offset(self, *, sync: bool = False) -> None:
        tmp = self.directory / "offset.tmp"
        with open(tmp, "w", encoding="ascii") as out:
            out.write(f"{self._read_seq} {self._read_pos}\n")
            if sync:
                _sync(out)
        os.replace(tmp, self.directory / "offset")


def _read_record(handle: BinaryIO, available: int) -> bytes | None:
    """The record at the handle's position, or None if it is torn or corrupt."""
    if available < HEADER.size:
        return None
    header = handle.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, crc = HEADER.unpack(header)
    if length > MAX_RECORD or HEADER.size + length > available:
        return None
    payload = handle.read(length)
    if len(payload) < length or zlib.crc32(payload) != crc:
        return None
    return payload


def _scan(path: Path, start: int) -> tuple[int, int]:
    """(end of the last whole record, records from ``start``) of a segment."""
    size = path.stat().st_size
    pos, count = 0, 0
    with open(path, "rb") as handle:
        while True:
            payload = _read_record(handle, size - pos)
            if payload is None:
                return pos, count
            if pos >= start:
                count += 1
            pos += HEADER.size + len(payload)


def _sync(handle: BinaryIO | object) -> None:
    flush = getattr(handle, "flush", None)
    if flush is not None:
        flush()
    fileno = getattr(handle, "fileno", None)
    if fileno is not None:
        os.fsync(fileno())


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
