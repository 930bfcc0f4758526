"""Compressed captures: gzip, xz, bzip2 and zstd, found by their magic (source stage).

source (:mod:`poolsniff.sources.pcap` reads through this) -> decode -> ...

:func:`opener` looks at the first bytes of a capture file: for a compressed one it returns
the name of the compression and a chunk reader that decompresses; for an archive or a
compression poolsniff cannot read, :func:`not_a_capture` says what the file is, so that
the error tells the user what to do rather than "not a pcap".

gzip, xz (``lzma``) and bzip2 are in the standard library. zstd needs the ``zstandard``
package (``pip install 'poolsniff[zstd]'``), the only module that imports it: Python reads
zstd itself only from 3.14 on, and zstd is what ``tcpdump -w - | zstd`` and many log
pipelines now write. Without the package a zstd capture is an error saying to install it
or to run ``zstd -d``.

A reader raises only once the good data before a problem has been returned; the problem
is then :class:`Damage` with a reason (``xz stream ends early (the compressed file is
truncated)``), which the pcap reader turns into ``CaptureDamaged`` at the right offset.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Final

from poolsniff.errors import InputError

CHUNK: Final = 256 << 10
"""Bytes of decompressed data a reader returns at most per call."""

COMPRESSIONS: Final = {
    b"\x1f\x8b": "gzip",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bzip2",
    b"\x28\xb5\x2f\xfd": "zstd",
}
"""Magic -> compression poolsniff reads."""
UNDO: Final = {"gzip": "gunzip", "xz": "unxz", "bzip2": "bunzip2", "zstd": "unzstd"}
"""The command that undoes each, as messages name it (``empty file after unxz``)."""

ARCHIVES: Final = {
    b"PK\x03\x04": "a zip archive; unzip it and scan the folder",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive; extract it (7z x) and scan the folder",
    b"Rar!\x1a\x07": "a RAR archive; extract it and scan the folder",
    b"\x04\x22\x4d\x18": "lz4-compressed; decompress it first (lz4 -d)",
    b"\x89LZO\x00": "lzop-compressed; decompress it first (lzop -d)",
}
"""Magic -> what the file is and what to do, for files that are not captures poolsniff reads."""

MAGIC_BYTES: Final = 6
"""Enough of the start of a file to tell every magic above."""


class Damage(ValueError):
    """The compressed stream breaks off or is corrupt; the reason is the message."""


def compression(head: bytes) -> str | None:
    """The compression whose magic starts ``head`` (``gzip``, ``xz``, ``bzip2``, ``zstd``), else None."""
    return next((name for magic, name in COMPRESSIONS.items() if head.startswith(magic)), None)


def not_a_capture(head: bytes) -> str | None:
    """What a file starting with ``head`` is, when it is a known archive or compression; else None."""
    return next((what for magic, what in ARCHIVES.items() if head.startswith(magic)), None)


def opener(kind: str, fileobj: BinaryIO, prefix: bytes, name: str) -> Callable[[], bytes]:
    """A chunk reader decompressing ``kind``: ``prefix`` (already read) then the rest of ``fileobj``."""
    raw: Any = _Prefixed(prefix, fileobj)  # file-like enough for every decompressor
    stream: Any
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "xz":
        stream = lzma.LZMAFile(raw, "rb")
    elif kind == "bzip2":
        stream = bz2.BZ2File(raw, "rb")
    else:
        stream = _zstd(raw, name)
    return _chunks(stream, kind)


def _zstd(raw: Any, name: str) -> _Zstd:
    try:
        import zstandard
    except ImportError:
        raise InputError(
            f"{name}: a zstd-compressed capture; install the zstandard package "
            f"(pip install 'poolsniff[zstd]') or decompress it first: zstd -d {name}"
        ) from None
    return _Zstd(raw, zstandard.ZstdDecompressor().decompressobj)


class _Zstd:
    """Reads a zstd stream of one or more frames, and says when the last frame breaks off.

    zstandard's own ``stream_reader`` returns a clean end-of-file for a truncated frame; its
    decompressor object says whether the frame ended (``eof``). Input goes in 1 KiB at a time,
    so that one call cannot expand into more than a few dozen MiB however the data was made.
    """

    PIECE: Final = 1 << 10

    def __init__(self, raw: Any, new: Callable[[], Any]) -> None:
        self.raw, self.new = raw, new
        self.dec, self.started = new(), False
        self.input, self.out, self.at = b"", b"", 0

    def read1(self, size: int) -> bytes:
        """Up to ``size`` decompressed bytes; b"" at the end; EOFError if the last frame is cut."""
        while self.at >= len(self.out):
            if not self.input:
                self.input = self.raw.read(CHUNK)
                if not self.input:
                    if self.started:
                        raise EOFError("zstd frame ends early")
                    return b""
            piece, self.input = self.input[: self.PIECE], self.input[self.PIECE :]
            self.started = True
            self.out, self.at = self.dec.decompress(piece), 0
            if self.dec.eof:
                self.input = self.dec.unused_data + self.input
                self.dec, self.started = self.new(), False
        data = self.out[self.at : self.at + size]
        self.at += len(data)
        return data


def _errors() -> tuple[type[BaseException], ...]:
    """What a decompressing read can raise: the standard library's, and zstandard's if it is there."""
    found: list[type[BaseException]] = [OSError, EOFError, zlib.error, lzma.LZMAError]
    try:
        import zstandard

        found.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(found)


def _chunks(stream: Any, kind: str) -> Callable[[], bytes]:
    """Read up to CHUNK decompressed bytes per call; a problem is raised after the data before it."""
    read1: Callable[[int], bytes] = getattr(stream, "read1", None) or stream.read
    errors = _errors()
    pending: list[Damage] = []

    def read() -> bytes:
        if pending:
            raise pending.pop()
        parts: list[bytes] = []
        have = 0
        while have < CHUNK:
            try:
                piece = read1(CHUNK - have)
            except errors as exc:
                damage = Damage(_reason(kind, exc))
                if not parts:
                    raise damage from exc
                pending.append(damage)
                break
            if not piece:
                break
            parts.append(piece)
            have += len(piece)
        return b"".join(parts)

    return read


def _reason(kind: str, exc: BaseException) -> str:
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower() or "premature end" in str(exc):
        return f"{kind} stream ends early (the compressed file is truncated)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"read error: {exc.strerror}"
    return f"{kind} stream is corrupt ({exc})"


class _Prefixed(io.RawIOBase):
    """A readable file that first returns ``prefix``, then the rest of ``fileobj``."""

    def __init__(self, prefix: bytes, fileobj: BinaryIO) -> None:
        super().__init__()
        self._prefix, self._fileobj = prefix, fileobj

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the prefix, then from the file."""
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        data = self._fileobj.read(len(view))
        view[: len(data)] = data
        return len(data)
