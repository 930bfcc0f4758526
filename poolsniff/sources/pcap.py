"""Capture files to frames: the source stage for offline scans.

source (this module) -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``read_frames(fileobj, name)`` streams ``Frame`` tuples ``(ts_us, linktype, data)`` out of a
classic pcap file (either byte order, microsecond or nanosecond magic), a pcapng file (any
number of sections and interfaces) or either of them compressed with gzip, xz, bzip2 or zstd
(:mod:`poolsniff.sources.compressed`); the format is found by its magic, never by the file
name. It reads 256 KiB chunks and walks record headers with precompiled ``struct`` unpackers;
memory stays bounded by one chunk plus one block. Damage after a valid header is reported as
``CaptureDamaged`` once every good frame before it has been yielded; a file that ends inside
its file header has no frame to give and is an ``InputError``, as an empty file is.
``open_records`` hands a classic pcap file to a caller that walks its records itself
(``poolsniff.engine.fast.prefilter``), and lets a ``Walker`` -- ``(buf, pos, end, big_endian,
interfaces, last_ts) -> (pos, last_ts)``, called before each pcapng block is read -- take
whole blocks. ``iter_capture`` and ``expand_paths`` are the thin path-handling wrappers;
the path ``-`` is standard input.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import BinaryIO, Final, NamedTuple

from poolsniff.errors import UNREADABLE, CaptureDamaged, InputError
from poolsniff.model import Frame
from poolsniff.sources.compressed import MAGIC_BYTES, UNDO, Damage, compression, not_a_capture, opener
from poolsniff.sources.mapped import Mapping

CHUNK: Final = 256 << 10
"""Bytes per read: enough that the per-read cost vanishes, few enough to stay in the CPU cache."""
MAX_CAPLEN: Final = 262144
"""Largest frame a pcap record may hold (libpcap's and Wireshark's limit)."""
MAX_BLOCK: Final = 16 << 20
"""Largest pcapng block accepted; a bigger length field is damage, not a reason to buffer it."""

PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
STDIN: Final = "-"
"""The path that means standard input (``poolsniff scan -``); its name in messages and alerts is ``stdin``."""
# magic -> (struct byte order, divisor turning the fraction field into microseconds)
PCAP_MAGICS: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1),
    b"\xa1\xb2\xc3\xd4": (">", 1),
    b"\x4d\x3c\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\x3c\x4d": (">", 1000),
}
_BOM_LE: Final = b"\x4d\x3c\x2b\x1a"
_BOM_BE: Final = b"\x1a\x2b\x3c\x4d"
_SHB: Final = 0x0A0D0D0A
_IDB, _PB, _SPB, _EPB = 1, 2, 3, 6

Interface = tuple[int, int, int, int, int]
"""A pcapng interface: (link type, ts multiplier, ts divisor, ts offset in µs, snaplen)."""
Buffer = bytes | memoryview
"""What a reader that takes the buffer protocol is handed (``Stream.view``)."""
Walker = Callable[[Buffer, int, int, bool, list[Interface], int], tuple[int, int]]
_Section = Generator[Frame, None, tuple[int | None, int]]


class Stream:
    """A sliding window over a byte stream: ``view`` holds the stream from offset ``base``."""

    __slots__ = ("name", "view", "base", "_read", "file", "mapping")

    def __init__(self, name: str, read: Callable[[], bytes], file: BinaryIO | None = None) -> None:
        """Read with ``read``; ``file``: the file it reads as it is (not decompressed): it may be mapped."""
        self.name, self._read, self.base = name, read, 0
        self.view: Buffer = b""
        """The bytes read, or, once :meth:`map` was called, a window of the mapped file (a
        ``memoryview``): read it through the buffer protocol (``struct``, the C walk); ``bytes()`` of a
        slice is a frame."""
        self.file = file
        self.mapping: Mapping | None = None

    @property
    def buf(self) -> bytes:
        """``view`` as bytes, for the readers of a file's first bytes and of a record cut short (a copy only
        of a mapped window, which none of them reads)."""
        return bytes(self.view)

    def map(self) -> None:
        """Take the rest of a regular file from a read-only mapping (``sources.mapped``) where it is worth
        it: from the next :meth:`fill` on, ``view`` is a window of it, until the mapped end."""
        if self.file is not None and self.mapping is None:
            self.mapping = Mapping.open(self.file, self.base + len(self.view))

    def fill(self, pos: int, need: int) -> int:
        """Drop ``view[:pos]`` and read until ``need`` bytes are buffered or the stream ends.

        Returns how many bytes are buffered; read and decompression errors become
        ``CaptureDamaged`` at the offset of ``pos`` (the record being read).
        """
        if self.mapping is not None:
            start = self.base + pos
            view = self.mapping.window(start, need)
            self.base, pos = start, 0
            if view is not None:
                self.view = view
                return len(view)
            self.mapping.leave(start)  # reads go on from there: past the mapped end, or the file was cut
            self.view, self.mapping = b"", None
        parts = [self.view[pos:]]
        self.base += pos
        have = len(parts[0])
        while have < need:
            try:
                chunk = self._read()
            except Damage as exc:
                raise self.damaged(0, str(exc)) from exc
            except OSError as exc:
                raise self.damaged(0, f"read error: {exc.strerror or exc}") from exc
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.view = b"".join(parts)
        return have

    def damaged(self, pos: int, reason: str) -> CaptureDamaged:
        """Build the error for damage found at ``view[pos]``."""
        return CaptureDamaged(self.name, self.base + pos, reason)


def read_frames(fileobj: BinaryIO, name: str) -> Iterator[Frame]:
    """Yield ``(ts_us, linktype, data)`` for every frame of a pcap/pcapng capture, gzipped or not.

    ``name`` is used in error messages. Raises ``InputError`` for an empty or unrecognised
    file and ``CaptureDamaged`` (after the good frames) for damage past a valid header.
    """
    found = open_records(fileobj, name)
    yield from found.frames() if isinstance(found, PcapRecords) else found


class PcapRecords(NamedTuple):
    """A classic pcap file, header read, for a caller that walks its records itself.

    The first record starts at ``stream.view[start]``. A record is a 16-byte header
    (``order + "IIII"``: seconds, fraction, captured and original length) and the frame; its
    time is ``seconds * 1000000 + fraction // frac_div`` µs; a length over ``limit`` is damage.
    """

    stream: Stream
    start: int
    order: str
    frac_div: int
    linktype: int
    snaplen: int
    limit: int

    def frames(self) -> Iterator[Frame]:
        """The frames of the records, as ``read_frames`` yields them."""
        return _pcap_frames(self)

    def caplen_damage(self, pos: int, caplen: int) -> CaptureDamaged:
        """The error for a record at ``stream.view[pos]`` whose captured length is over the limit."""
        return self.stream.damaged(pos, _caplen_reason(caplen, self.snaplen, self.limit))

    def truncated(self, end: int) -> CaptureDamaged:
        """The error for a file that ends inside the record at ``stream.view[0]`` (``end`` bytes left)."""
        if end < 16:
            return self.stream.damaged(0, f"file ends inside a record header ({end} of 16 bytes)")
        caplen = struct.unpack_from(self.order + "I", self.stream.view, 8)[0]
        left = f"only {end - 16} left in the file"
        return self.stream.damaged(0, f"record truncated: header says {caplen} bytes captured, {left}")


def open_records(
    fileobj: BinaryIO, name: str, walker: Walker | None = None, *, mapped: bool = False
) -> PcapRecords | Iterator[Frame]:
    """Recognise the format by magic (after gunzip if needed): a classic pcap as ``PcapRecords``
    (header read), pcapng as the iterator of its frames (less those ``walker`` takes). ``mapped``: the
    caller's walks read buffers, so a regular file may be mapped (``Stream.map``). Raises
    ``InputError`` (empty, unrecognised) or ``CaptureDamaged`` (a pcap ending in its header)."""
    # read1 returns what is available, so a capture still being written (a FIFO, stdin)
    # is processed as it arrives instead of once CHUNK bytes have piled up
    read1 = getattr(fileobj, "read1", None)
    stream = Stream(
        name, (lambda: read1(CHUNK)) if read1 is not None else (lambda: fileobj.read(CHUNK)), fileobj
    )
    if not stream.fill(0, MAGIC_BYTES):
        raise InputError(f"{name}: empty file, not a capture")
    inside = ""
    kind = compression(stream.buf)
    if kind is not None:
        stream = Stream(name, opener(kind, fileobj, stream.buf, name))
        inside = f" after {UNDO[kind]}"
        if not stream.fill(0, 4):
            raise InputError(f"{name}: empty file{inside}, not a capture")
    elif (what := not_a_capture(stream.buf)) is not None:
        raise InputError(f"{name}: {what}")
    magic = stream.buf[:4]
    if mapped:
        stream.map()
    if magic == PCAPNG_MAGIC:
        return _pcapng_frames(stream, walker)
    if magic in PCAP_MAGICS:
        return _pcap_header(stream, *PCAP_MAGICS[magic])
    raise InputError(
        f"{name}: not a pcap or pcapng file (first bytes {magic.hex(' ')}{inside}); "
        "expected a capture written by tcpdump, tshark or Wireshark"
    )


# --------------------------------------------------------------------------- classic pcap


def _pcap_header(s: Stream, order: str, frac_div: int) -> PcapRecords:
    """Read the file header of a classic pcap file whose 4 magic bytes start ``s.view``."""
    end = len(s.view) if len(s.view) >= 24 else s.fill(0, 24)
    if end < 24:  # no packet can follow: nothing of it can be scanned, as for an empty file
        raise InputError(f"{s.name}: file ends inside the pcap file header ({end} of 24 bytes), no packets")
    snaplen, network = struct.unpack_from(order + "II", s.view, 16)
    linktype = network & 0xFFFF  # the upper bits carry FCS information
    limit = min(snaplen, MAX_CAPLEN) if snaplen else MAX_CAPLEN
    return PcapRecords(s, 24, order, frac_div, linktype, snaplen, limit)


def _pcap_frames(r: PcapRecords) -> Iterator[Frame]:
    """Frames of a classic pcap file."""
    s, frac_div, linktype, limit = r.stream, r.frac_div, r.linktype, r.limit
    unpack = struct.Struct(r.order + "IIII").unpack_from
    buf, pos, end = s.view, r.start, len(s.view)
    while True:
        if end - pos < 16:
            end, buf, pos = s.fill(pos, 16), s.view, 0
            if end < 16:
                if end:
                    raise r.truncated(end)
                return
        sec, frac, caplen, _ = unpack(buf, pos)
        if caplen > limit:
            raise r.caplen_damage(pos, caplen)
        stop = pos + 16 + caplen
        if stop > end:
            end, buf, pos = s.fill(pos, 16 + caplen), s.view, 0
            stop = 16 + caplen
            if stop > end:
                raise r.truncated(end)
        yield sec * 1000000 + frac // frac_div, linktype, bytes(buf[pos + 16 : stop])
        pos = stop


def _caplen_reason(caplen: int, snaplen: int, limit: int) -> str:
    if limit == snaplen:
        return f"record header says {caplen} bytes captured, more than the snaplen {snaplen}"
    return f"record header says {caplen} bytes captured, more than the maximum {MAX_CAPLEN}"


# --------------------------------------------------------------------------- pcapng


def _pcapng_frames(s: Stream, walker: Walker | None = None) -> Iterator[Frame]:
    """Frames of every section of a pcapng file whose first block starts ``s.view``."""
    pos: int | None = 0
    last_ts = 0
    while pos is not None:
        pos, last_ts = yield from _pcapng_section(s, pos, last_ts, walker)


def _section_order(s: Stream, pos: int) -> tuple[str, int]:
    """Read the byte-order magic of the section header block at ``view[pos]``."""
    if len(s.view) - pos < 12:
        have, pos = s.fill(pos, 12), 0
        if have < 12 and s.base == 0:
            reason = f"file ends inside its section header block ({have} of 12 bytes), no packets"
            raise InputError(f"{s.name}: {reason}")
        if have < 12:
            raise s.damaged(0, f"file ends inside a section header block ({have} of 12 bytes)")
    bom = bytes(s.view[pos + 8 : pos + 12])
    if bom == _BOM_LE:
        return "<", pos
    if bom == _BOM_BE:
        return ">", pos
    raise s.damaged(pos, f"section header block has byte-order magic {bom.hex(' ')}")


def _pcapng_section(s: Stream, pos: int, last_ts: int, walker: Walker | None) -> _Section:
    """Frames of the section starting at ``buf[pos]``; returns where the next section starts."""
    order, pos = _section_order(s, pos)
    head = struct.Struct(order + "II").unpack_from
    epb = struct.Struct(order + "IIIII").unpack_from
    u32 = struct.Struct(order + "I").unpack_from
    ifaces: list[Interface] = []
    buf, end, start = s.view, len(s.view), s.base + pos
    while True:
        if walker is not None and ifaces:
            pos, last_ts = walker(buf, pos, end, order == ">", ifaces, last_ts)
        if end - pos < 12:
            end, buf, pos = s.fill(pos, 12), s.view, 0
            if end < 12:
                if end:
                    raise s.damaged(0, f"file ends inside a block header ({end} of 12 bytes)")
                return None, last_ts
        btype, blen = head(buf, pos)
        if btype == _SHB and s.base + pos != start:
            return pos, last_ts
        if blen < 12 or blen & 3 or blen > MAX_BLOCK:
            raise s.damaged(pos, _block_length_reason(btype, blen))
        bend = pos + blen
        if bend > end:
            end, buf, pos, bend = s.fill(pos, blen), s.view, 0, blen
            if bend > end:
                raise s.damaged(
                    0, f"block truncated: its header says {blen} bytes, only {end} left in the file"
                )
        if u32(buf, bend - 4)[0] != blen:
            raise s.damaged(pos, f"block length {blen} at its start but {u32(buf, bend - 4)[0]} at its end")
        if btype == _EPB:
            if blen < 32:
                raise s.damaged(pos, f"enhanced packet block of {blen} bytes, shorter than 32")
            ifid, high, low, caplen, _ = epb(buf, pos + 8)
            if caplen > blen - 32:
                raise s.damaged(pos, _holds_reason("enhanced packet", caplen, blen - 32))
            try:
                linktype, mul, div, offset, _ = ifaces[ifid]
            except IndexError:
                raise s.damaged(pos, _iface_reason("enhanced packet", ifid, ifaces)) from None
            last_ts = ((high << 32) | low) * mul // div + offset
            yield last_ts, linktype, bytes(buf[pos + 28 : pos + 28 + caplen])  # bytes of bytes: no copy
        elif btype == _IDB:
            if blen < 20:
                raise s.damaged(pos, f"interface description block of {blen} bytes, shorter than 20")
            ifaces.append(_interface(buf, pos, bend, order))
        elif btype == _SPB or btype == _PB:
            frame = _other_packet(s, pos, blen, btype, order, ifaces, last_ts)
            last_ts = frame[0]
            yield frame
        pos = bend


def _block_length_reason(btype: int, blen: int) -> str:
    if blen < 12:
        why = "shorter than the 12-byte minimum"
    elif blen & 3:
        why = "not a multiple of 4"
    else:
        why = f"more than the {MAX_BLOCK}-byte maximum"
    return f"block of type 0x{btype:08x} says its length is {blen}, {why}"


def _holds_reason(kind: str, caplen: int, room: int) -> str:
    return f"{kind} block says {caplen} bytes captured, but it holds only {room}"


def _iface_reason(kind: str, ifid: int, ifaces: list[Interface]) -> str:
    return f"{kind} block refers to interface {ifid}, but the section defines only {len(ifaces)} interface(s)"


def _interface(buf: Buffer, pos: int, bend: int, order: str) -> Interface:
    """Parse an interface description block: link type, snaplen, if_tsresol, if_tsoffset."""
    linktype, _, snaplen = struct.unpack_from(order + "HHI", buf, pos + 8)
    mul, div, offset = 1, 1, 0
    option = struct.Struct(order + "HH").unpack_from
    p, stop = pos + 16, bend - 4
    while p + 4 <= stop:
        code, olen = option(buf, p)
        p += 4
        if code == 0 or p + olen > stop:
            break
        if code == 9 and olen >= 1:
            mul, div = _tsresol(buf[p])
        elif code == 14 and olen >= 8:
            offset = struct.unpack_from(order + "q", buf, p)[0] * 1000000
        p += (olen + 3) & ~3
    return (linktype, mul, div, offset, snaplen)


def _tsresol(value: int) -> tuple[int, int]:
    """(multiplier, divisor) turning timestamp units of ``if_tsresol`` into microseconds."""
    if value & 0x80:  # 2^-n seconds
        return 1000000, 1 << (value & 0x7F)
    if value >= 6:  # 10^-n seconds
        return 1, 10 ** (value - 6)
    return 10 ** (6 - value), 1


def _other_packet(
    s: Stream,
    pos: int,
    blen: int,
    btype: int,
    order: str,
    ifaces: list[Interface],
    last_ts: int,
) -> Frame:
    """Return the frame of a simple packet block or an obsolete packet block at ``view[pos]``."""
    buf = s.view
    if btype == _SPB:
        if blen < 16:
            raise s.damaged(pos, f"simple packet block of {blen} bytes, shorter than 16")
        if not ifaces:
            raise s.damaged(pos, _iface_reason("simple packet", 0, ifaces))
        linktype, _, _, _, snaplen = ifaces[0]
        caplen = min(struct.unpack_from(order + "I", buf, pos + 8)[0], blen - 16)
        if snaplen:
            caplen = min(caplen, snaplen)
        return last_ts, linktype, bytes(buf[pos + 12 : pos + 12 + caplen])
    if blen < 32:
        raise s.damaged(pos, f"packet block of {blen} bytes, shorter than 32")
    ifid, _, high, low, caplen, _ = struct.unpack_from(order + "HHIIII", buf, pos + 8)
    if caplen > blen - 32:
        raise s.damaged(pos, _holds_reason("packet", caplen, blen - 32))
    if ifid >= len(ifaces):
        raise s.damaged(pos, _iface_reason("packet", ifid, ifaces))
    linktype, mul, div, offset, _ = ifaces[ifid]
    return ((high << 32) | low) * mul // div + offset, linktype, bytes(buf[pos + 28 : pos + 28 + caplen])


# --------------------------------------------------------------------------- paths


MISSING: Final = (
    "no such file or directory; check the path (a capture file, a folder of captures, or - for stdin)"
)
"""What a capture path that does not exist gets, after the path."""


def open_capture(path: str) -> BinaryIO:
    """Open a capture file (``-``: stdin) for reading; ``InputError`` says what is wrong and how to fix it."""
    if path == STDIN:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    try:
        return open(path, "rb")  # the caller closes it
    except FileNotFoundError as exc:
        raise InputError(f"{path}: {MISSING}") from exc
    except IsADirectoryError as exc:
        raise InputError(
            f"{path}: is a directory, not a capture file; scan the folder to read every capture inside it"
        ) from exc
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied; {UNREADABLE}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc


def iter_capture(path: str) -> Iterator[Frame]:
    """Open ``path`` and yield its frames; the file is closed when the iterator ends."""
    with open_capture(path) as fileobj:
        yield from read_frames(fileobj, path)


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files as given; folders replaced by the captures found in them, recursively, sorted."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found.extend(sorted(_captures_under(path)))
        elif os.path.lexists(path):
            found.append(path)
        else:
            raise InputError(f"{path}: {MISSING}")
    return found


def _captures_under(folder: str) -> Iterator[str]:
    def fail(exc: OSError) -> None:
        raise InputError(
            f"{exc.filename}: cannot list folder ({exc.strerror}); fix its permissions or leave it out"
        ) from exc

    for root, _, files in os.walk(folder, onerror=fail):
        for file in files:
            path = os.path.join(root, file)
            if os.path.isfile(path) and looks_like_capture(path):
                yield path


def looks_like_capture(path: str) -> bool:
    """Tell whether the file starts with a pcap/pcapng magic, or is compressed (the reader checks inside)."""
    try:
        with open(path, "rb") as fileobj:
            head = fileobj.read(MAGIC_BYTES)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror or exc}); fix its permissions or leave it out"
        ) from exc
    return _is_capture_magic(head[:4]) or (compression(head) is not None and _holds_capture(path))


def _is_capture_magic(head: bytes) -> bool:
    return head == PCAPNG_MAGIC or head in PCAP_MAGICS


def _holds_capture(path: str) -> bool:
    """A compressed file whose first bytes inside are a capture's (or unreadable: the scan says why)."""
    try:
        with open(path, "rb") as fileobj:
            head = fileobj.read(MAGIC_BYTES)
            inner = Stream(path, opener(compression(head) or "", fileobj, head, path))
            inner.fill(0, 4)
    except (InputError, OSError):
        return True  # unreadable, or no zstandard: kept, so the scan reports it instead of a silent skip
    return _is_capture_magic(inner.buf[:4])
