"""Tests for the capture reader (source stage): formats, damage, paths, fuzzing, real files."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.errors import CaptureDamaged, InputError
from poolsniff.model import Frame
from poolsniff.sources import pcap
from poolsniff.sources.pcap import expand_paths, iter_capture, looks_like_capture, read_frames
from tests.factories_frames import (
    block,
    epb,
    idb,
    packet_block,
    pcap_file,
    pcap_header,
    pcap_record,
    shb,
    spb,
)

CORPUS = "/work/shared/corpus"
NAME = "cap.pcap"
T0 = 1_700_000_000_000_000  # µs

# µs timestamps; a zero-length frame and a timestamp going backwards are kept as they are
US_FRAMES = [(T0 + 1, b"first"), (T0 + 999_999, b""), (T0 - 5_000_000, b"x" * 1514)]
NS_FRAMES = [(T0 * 1000 + 123_456_789, b"a"), (T0 * 1000 + 999, b"bb"), (T0 * 1000, b"")]

MISSING = "no such file or directory; check the path (a capture file, a folder of captures, or - for stdin)"
"""What a missing capture path gets: what is wrong and how to fix it."""


def read_all(data: bytes, name: str = NAME) -> list[Frame]:
    """Read every frame of an in-memory capture."""
    return list(read_frames(io.BytesIO(data), name))


def read_damaged(data: bytes, name: str = NAME) -> tuple[list[Frame], CaptureDamaged]:
    """Read until the reader raises ``CaptureDamaged``; return the frames yielded before it."""
    frames: list[Frame] = []
    with pytest.raises(CaptureDamaged) as info:
        frames.extend(read_frames(io.BytesIO(data), name))
    return frames, info.value


# --------------------------------------------------------------------------- classic pcap


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("linktype", [1, 113, 101, 0])
def test_pcap_microseconds(order: str, linktype: int) -> None:
    data = pcap_file(US_FRAMES, order, linktype=linktype)
    assert read_all(data) == [(ts, linktype, frame) for ts, frame in US_FRAMES]


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcap_nanoseconds_are_truncated_to_microseconds(order: str) -> None:
    data = pcap_file(NS_FRAMES, order, nano=True, linktype=113)
    assert read_all(data) == [(ts // 1000, 113, frame) for ts, frame in NS_FRAMES]


def test_pcap_link_type_ignores_fcs_bits() -> None:
    data = pcap_file(US_FRAMES, linktype=1 | 0x14000000)  # FCS present, 4 bytes
    assert {linktype for _, linktype, _ in read_all(data)} == {1}


@pytest.mark.parametrize("nano", [False, True])
def test_pcap_written_by_dpkt(nano: bool) -> None:
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=65535, linktype=113, nano=nano)
    stamps = [1700000000.5, 1700000001.25, 1700000001.0]
    for i, stamp in enumerate(stamps):
        writer.writepkt(b"p" * i, ts=stamp)
    expected = [(int(stamp * 1_000_000), 113, b"p" * i) for i, stamp in enumerate(stamps)]
    assert read_all(out.getvalue()) == expected


# --------------------------------------------------------------------------- pcapng


def pcapng_two_sections(order: str) -> tuple[bytes, list[Frame]]:
    """A pcapng file exercising every block and tsresol form, then a section in the other order."""
    other = ">" if order == "<" else "<"
    sec = 1_700_000_000
    data = (
        shb(order)
        + idb(1, order)  # default resolution: µs
        + idb(113, order, tsresol=9)  # ns
        + idb(101, order, tsresol=0x80 | 20, tsoffset=10)  # 2^-20 s, +10 s
        + idb(228, order, tsresol=3)  # ms
        + block(0x0BAD, b"unknown block", order)
        + epb(0, T0 + 1, b"eth", order)
        + epb(1, T0 * 1000 + 123_456_789, b"sll", order)
        + block(4, b"\x00\x00\x00\x00", order)  # name resolution block
        + epb(2, (sec << 20) + (1 << 19), b"raw", order)
        + epb(3, sec * 1000 + 123, b"ms", order)
        + spb(b"simple", order)
        + packet_block(1, (sec + 1) * 10**9 + 999, b"old", order)
        + block(5, b"\x00" * 12, order)  # interface statistics block
        + block(0x40000BAD, b"custom", order)
        + epb(0, T0 + 2, b"", order)  # zero-length frame
        + shb(other)
        + idb(229, other)
        + epb(0, T0 + 3, b"second section", other)
    )
    frames = [
        (T0 + 1, 1, b"eth"),
        (T0 + 123_456, 113, b"sll"),
        ((sec + 10) * 1_000_000 + 500_000, 101, b"raw"),
        (sec * 1_000_000 + 123_000, 228, b"ms"),
        (sec * 1_000_000 + 123_000, 1, b"simple"),  # no timestamp: the previous one
        ((sec + 1) * 1_000_000, 113, b"old"),
        (T0 + 2, 1, b""),
        (T0 + 3, 229, b"second section"),
    ]
    return data, frames


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_sections_interfaces_and_blocks(order: str) -> None:
    data, frames = pcapng_two_sections(order)
    assert read_all(data) == frames


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_pcapng_builder_agrees_with_tshark(tmp_path: Path) -> None:
    data, frames = pcapng_two_sections("<")
    path = os.path.join(str(tmp_path), "two.pcapng")
    with open(path, "wb") as out:
        out.write(data)
    lines = tshark_fields(path, "frame.time_epoch", "frame.cap_len", "frame.encap_type")
    # tshark also lists unknown and custom blocks, with no encapsulation; it gives simple
    # packets no timestamp
    rows = [line.split("\t") for line in lines if not line.endswith("\t")]
    mine = iter(read_all(data))
    for stamp, caplen, _ in rows:
        ts_us, _, frame = next(mine)
        assert int(caplen) == len(frame)
        if stamp:
            seconds, fraction = stamp.split(".")
            assert ts_us == int(seconds) * 1_000_000 + int(fraction.ljust(9, "0")[:6])
    assert next(mine, None) is None


def test_pcapng_simple_packet_block_lengths() -> None:
    data = (
        shb()
        + idb(1, snaplen=4)
        + spb(b"0123456789")  # longer than the snaplen
        + spb(b"abcde")  # padded to 8 bytes in the block
        + spb(b"abcdef", origlen=3)
    )
    assert [frame for _, _, frame in read_all(data)] == [b"0123", b"abcd", b"abc"]


def test_pcapng_interfaces_restart_with_each_section() -> None:
    data = shb() + idb(1) + idb(113) + shb() + idb(1) + epb(1, T0, b"x")
    frames, exc = read_damaged(data)
    assert frames == []
    assert exc.offset == len(data) - len(epb(1, T0, b"x"))
    assert "interface 1, but the section defines only 1 interface(s)" in exc.reason


# --------------------------------------------------------------------------- gzip, chunking


def all_variants() -> list[tuple[str, bytes, list[Frame]]]:
    """Each uncompressed format with its expected frames."""
    ng_data, ng_frames = pcapng_two_sections("<")
    be_data, be_frames = pcapng_two_sections(">")
    return [
        ("pcap-le", pcap_file(US_FRAMES), [(t, 1, f) for t, f in US_FRAMES]),
        (
            "pcap-be-ns",
            pcap_file(NS_FRAMES, ">", True, 101),
            [(t // 1000, 101, f) for t, f in NS_FRAMES],
        ),
        ("pcapng-le", ng_data, ng_frames),
        ("pcapng-be", be_data, be_frames),
    ]


@pytest.mark.parametrize("label, data, frames", all_variants())
def test_gzip_is_found_by_magic(label: str, data: bytes, frames: list[Frame]) -> None:
    assert read_all(gzip.compress(data), name="capture.pcap") == frames


@pytest.mark.parametrize("label, data, frames", all_variants())
def test_gzip_with_several_members(label: str, data: bytes, frames: list[Frame]) -> None:
    cut = len(data) // 3
    members = gzip.compress(data[:cut]) + gzip.compress(data[cut : 2 * cut])
    assert read_all(members + gzip.compress(data[2 * cut :])) == frames


@pytest.mark.parametrize("chunk", [1, 3, 16, 17, 100])
@pytest.mark.parametrize("compress", [False, True])
def test_records_across_read_boundaries(monkeypatch: pytest.MonkeyPatch, chunk: int, compress: bool) -> None:
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    for _, data, frames in all_variants():
        assert read_all(gzip.compress(data) if compress else data) == frames


class ShortReads(io.BytesIO):
    """A file object that returns at most 5 bytes per read, like a pipe."""

    def read(self, size: int | None = -1) -> bytes:
        """Read at most 5 bytes."""
        return super().read(5 if size is None or size < 0 else min(size, 5))


@pytest.mark.parametrize("label, data, frames", all_variants())
def test_short_reads(label: str, data: bytes, frames: list[Frame]) -> None:
    assert list(read_frames(ShortReads(data), NAME)) == frames


# --------------------------------------------------------------------------- not a capture


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", f"{NAME}: empty file, not a capture"),
        (
            b"<html><body>404</body></html>\n",
            f"{NAME}: not a pcap or pcapng file (first bytes 3c 68 74 6d); "
            "expected a capture written by tcpdump, tshark or Wireshark",
        ),
        (
            b"ab",
            f"{NAME}: not a pcap or pcapng file (first bytes 61 62); "
            "expected a capture written by tcpdump, tshark or Wireshark",
        ),
        (gzip.compress(b""), f"{NAME}: empty file after gunzip, not a capture"),
        (
            gzip.compress(b"hello world"),
            f"{NAME}: not a pcap or pcapng file (first bytes 68 65 6c 6c after gunzip); "
            "expected a capture written by tcpdump, tshark or Wireshark",
        ),
    ],
)
def test_not_a_capture(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as info:
        read_all(data)
    assert str(info.value) == message
    assert not isinstance(info.value, CaptureDamaged)


# --------------------------------------------------------------------------- damage

RECORDS = [pcap_record(T0 + i, bytes([i]) * (10 + i)) for i in range(3)]
GOOD = [(T0 + i, 1, bytes([i]) * (10 + i)) for i in range(3)]
PCAP = pcap_header() + b"".join(RECORDS)
REC3 = 24 + len(RECORDS[0]) + len(RECORDS[1])  # offset of the third record
NG_HEAD = shb() + idb(1)
NG = NG_HEAD + b"".join(epb(0, T0 + i, bytes([i]) * (10 + i)) for i in range(2))  # GOOD[:2]


def lying(caplen: int) -> bytes:
    """A record header announcing ``caplen`` bytes, followed by fewer."""
    return struct.pack("<IIII", 1, 0, caplen, caplen) + b"\0" * 100


DAMAGE = [
    (
        "cut mid-record",
        PCAP[:-5],
        2,
        REC3,
        "record truncated: header says 12 bytes captured, only 7",
    ),
    ("cut in a record header", PCAP[: REC3 + 9], 2, REC3, "inside a record header (9 of 16"),
    (
        "caplen over snaplen",
        PCAP[:REC3] + lying(70000),
        2,
        REC3,
        "record header says 70000 bytes captured, more than the snaplen 65535",
    ),
    (
        "caplen over maximum",
        pcap_header(snaplen=0) + b"".join(RECORDS[:2]) + lying(262145),
        2,
        REC3,
        "record header says 262145 bytes captured, more than the maximum 262144",
    ),
    (
        "caplen over maximum, larger snaplen",
        pcap_header(snaplen=10**6) + b"".join(RECORDS[:2]) + lying(300000),
        2,
        REC3,
        "more than the maximum 262144",
    ),
    (
        "block shorter than 12",
        NG + struct.pack("<II", 6, 8) + b"\0" * 8,
        2,
        len(NG),
        "length is 8, shorter",
    ),
    (
        "block length not a multiple of 4",
        NG + block(6, b"\0" * 24)[:4] + struct.pack("<I", 46) + b"\0" * 40,
        2,
        len(NG),
        "length is 46, not a multiple of 4",
    ),
    (
        "block length over maximum",
        NG + struct.pack("<II", 6, 1 << 30) + b"\0" * 40,
        2,
        len(NG),
        "more than the 16777216-byte maximum",
    ),
    (
        "short interface description block",
        shb() + block(1, b"\x01\x00\x00\x00"),
        0,
        len(shb()),
        "interface description block of 16 bytes, shorter than 20",
    ),
    (
        "trailing length mismatch",
        NG + block(6, b"\0" * 24, trailer=40),
        2,
        len(NG),
        "block length 36 at its start but 40 at its end",
    ),
    (
        "undefined interface",
        NG + epb(5, T0, b"x"),
        2,
        len(NG),
        "refers to interface 5, but the section defines only 1",
    ),
    (
        "caplen over block",
        NG + epb(0, T0, b"abcd", caplen=9),
        2,
        len(NG),
        "says 9 bytes captured, but it holds only 4",
    ),
    (
        "truncated block",
        NG + epb(0, T0, b"abcdefgh")[:-6],
        2,
        len(NG),
        "block truncated: its header says 40 bytes, only 34 left",
    ),
    (
        "cut in a block header",
        NG + b"\x06\x00",
        2,
        len(NG),
        "inside a block header (2 of 12 bytes)",
    ),
    (
        "simple packet before interface",
        shb() + spb(b"x"),
        0,
        len(shb()),
        "simple packet block refers to interface 0",
    ),
    (
        "bad byte-order magic",
        NG + shb()[:8] + b"\x11\x22\x33\x44" + shb()[12:],
        2,
        len(NG),
        "byte-order magic 11 22 33 44",
    ),
    (
        "cut second section header",
        NG + shb()[:10],
        2,
        len(NG),
        "inside a block header (10 of 12 bytes)",
    ),
    (
        "short enhanced packet block",
        NG + block(6, b"\0" * 12),
        2,
        len(NG),
        "enhanced packet block of 24 bytes",
    ),
]


@pytest.mark.parametrize("label, data, good, offset, reason", DAMAGE, ids=[row[0] for row in DAMAGE])
def test_damage_after_good_frames(label: str, data: bytes, good: int, offset: int, reason: str) -> None:
    frames, exc = read_damaged(data)
    assert frames == GOOD[:good]
    assert exc.offset == offset
    assert reason in exc.reason
    assert str(exc) == f"{NAME}: damaged at byte offset {offset}: {exc.reason}"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (PCAP[:14], "file ends inside the pcap file header (14 of 24 bytes), no packets"),
        (shb()[:10], "file ends inside its section header block (10 of 12 bytes), no packets"),
    ],
)
def test_a_file_cut_inside_its_header_is_not_a_capture(data: bytes, reason: str) -> None:
    """No packet can be read from it: an input error (exit 3) like an empty file, not a damage warning."""
    with pytest.raises(InputError) as info:
        read_all(data)
    assert not isinstance(info.value, CaptureDamaged)
    assert str(info.value) == f"{NAME}: {reason}"


def test_damage_offsets_count_uncompressed_bytes() -> None:
    frames, exc = read_damaged(gzip.compress(PCAP[:-5]))
    assert (frames, exc.offset) == (GOOD[:2], REC3)


def test_gzip_truncated() -> None:
    records = [pcap_record(T0 + i, os.urandom(200)) for i in range(2000)]
    data = pcap_header() + b"".join(records)
    offsets = [24 + i * len(records[0]) for i in range(len(records))]
    expected = read_all(data)
    squeezed = gzip.compress(data)
    frames, exc = read_damaged(squeezed[: len(squeezed) // 2])
    assert 0 < len(frames) < len(expected)
    assert frames == expected[: len(frames)]
    assert exc.offset == offsets[len(frames)]
    assert "gzip stream ends early" in exc.reason


def test_gzip_corrupt_member() -> None:
    # a good member holding the header and two records, then a member whose deflate data
    # starts with an invalid block type (BFINAL=1, BTYPE=11)
    bad_member = gzip.compress(RECORDS[2])[:10] + b"\x07" + b"\0" * 20
    frames, exc = read_damaged(gzip.compress(PCAP[:REC3]) + bad_member)
    assert (frames, exc.offset) == (GOOD[:2], REC3)
    assert "gzip stream is corrupt" in exc.reason


def test_gzip_bad_crc() -> None:
    squeezed = bytearray(gzip.compress(PCAP))
    squeezed[-8] ^= 0xFF  # the CRC-32 of the member
    frames, exc = read_damaged(bytes(squeezed))
    assert (frames, exc.offset) == (GOOD, len(PCAP))
    assert "CRC check failed" in exc.reason


def test_gzip_header_corrupt() -> None:
    frames, exc = read_damaged(b"\x1f\x8b\x63" + b"\0" * 40)
    assert (frames, exc.offset) == ([], 0)
    assert "gzip stream is corrupt" in exc.reason


class FailingRead(io.BytesIO):
    """A file object whose reads fail after ``limit`` bytes, like a disk error."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        """Read, or raise EIO once past the limit."""
        if self.tell() >= self.limit:
            raise OSError(5, "Input/output error")
        want = self.limit - self.tell() if size is None or size < 0 else size
        return super().read(min(want, self.limit - self.tell()))

    read1 = read


def test_read_error_becomes_damage() -> None:
    frames: list[Frame] = []
    with pytest.raises(CaptureDamaged) as info:
        frames.extend(read_frames(FailingRead(PCAP, REC3 + 3), NAME))
    assert (frames, info.value.offset) == (GOOD[:2], REC3)
    assert info.value.reason == "read error: Input/output error"


# --------------------------------------------------------------------------- paths


def write(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` (creating folders); return the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    return path


def test_iter_capture(tmp_path: Path) -> None:
    path = write(os.path.join(str(tmp_path), "a.pcap"), PCAP)
    assert list(iter_capture(path)) == GOOD


def test_iter_capture_missing(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.pcap")
    with pytest.raises(InputError) as info:
        list(iter_capture(path))
    assert str(info.value) == f"{path}: {MISSING}"


def test_iter_capture_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list(iter_capture(str(tmp_path)))
    assert str(info.value) == (
        f"{tmp_path}: is a directory, not a capture file; scan the folder to read every capture inside it"
    )


@pytest.mark.parametrize(
    "error, message",
    [
        (
            PermissionError(13, "Permission denied"),
            "x.pcap: permission denied; make the file readable (chmod) or run as a user who can read it",
        ),
        (FileNotFoundError(2, "No such file"), f"x.pcap: {MISSING}"),
        (OSError(36, "File name too long"), "x.pcap: cannot open: File name too long"),
    ],
)
def test_open_errors(monkeypatch: pytest.MonkeyPatch, error: OSError, message: str) -> None:
    def fail(path: str, mode: str) -> None:
        raise error

    monkeypatch.setattr(pcap, "open", fail, raising=False)
    with pytest.raises(InputError) as info:
        list(iter_capture("x.pcap"))
    assert str(info.value) == message


def test_expand_paths(tmp_path: Path) -> None:
    root = str(tmp_path)
    ng_data, _ = pcapng_two_sections("<")
    files = {
        "z/late.pcap": PCAP,
        "a/nested/deep.cap": ng_data,
        "a/b.pcap.gz": gzip.compress(PCAP),
        "a/notes.txt": b"not a capture",
        "a/logs.gz": gzip.compress(b"log lines"),
        "a/broken.gz": b"\x1f\x8b\x63garbage",
        "m.ns": pcap_file(NS_FRAMES, nano=True),
        "empty": b"",
    }
    for rel, data in files.items():
        write(os.path.join(root, "tree", rel), data)
    explicit = write(os.path.join(root, "given.txt"), b"given as is")
    found = expand_paths([explicit, os.path.join(root, "tree")])
    tree = os.path.join(root, "tree")
    assert found == [explicit] + [
        os.path.join(tree, rel)
        for rel in ["a/b.pcap.gz", "a/broken.gz", "a/nested/deep.cap", "m.ns", "z/late.pcap"]
    ]


def test_expand_paths_missing(tmp_path: Path) -> None:
    missing = os.path.join(str(tmp_path), "nope")
    with pytest.raises(InputError) as info:
        expand_paths([missing])
    assert str(info.value) == f"{missing}: {MISSING}"


@pytest.mark.parametrize(
    "data, expected",
    [
        (PCAP, True),
        (pcap_file(NS_FRAMES, ">", nano=True), True),
        (NG, True),
        (gzip.compress(NG), True),
        (gzip.compress(b"text"), False),
        (b"text", False),
        (b"", False),
    ],
)
def test_looks_like_capture(tmp_path: Path, data: bytes, expected: bool) -> None:
    assert looks_like_capture(write(os.path.join(str(tmp_path), "f"), data)) is expected


# --------------------------------------------------------------------------- fuzzing


def read_or_input_error(data: bytes) -> None:
    """Read a capture; only ``InputError`` (and its subclasses) may escape."""
    try:
        for ts_us, linktype, frame in read_frames(io.BytesIO(data), NAME):
            assert isinstance(ts_us, int) and isinstance(linktype, int)
            assert isinstance(frame, bytes)
    except InputError:
        pass


@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    read_or_input_error(data)


HEADS = [pcap_header(), pcap_header(">", True), shb(), shb(">") + idb(1, ">"), NG_HEAD]


@given(st.sampled_from(HEADS), st.binary(max_size=400))
def test_fuzz_after_a_valid_header(head: bytes, tail: bytes) -> None:
    read_or_input_error(head + tail)


@given(
    st.sampled_from([PCAP, NG, pcapng_two_sections("<")[0], pcapng_two_sections(">")[0]]),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_fuzz_mutations(base: bytes, edits: list[tuple[int, int]], squeeze: bool) -> None:
    data = bytearray(gzip.compress(base) if squeeze else base)
    for where, value in edits:
        data[where % len(data)] = value
    read_or_input_error(bytes(data))


# --------------------------------------------------------------------------- real captures

CORPUS_FILES = [
    "mining/ndpi-2aea4da__ethereum-stratum.pcap",
    "mining/coiniumserv__fastcoin.pcapng",
    "mining/nesfit__cgminer.s0.pcapng",
    "mining/nesfit__xmr.suprnova.cc.pcapng",
    "benign/ndpi__dns_doh.pcap",
    "benign/ndpi__KakaoTalk_talk.pcap",
    "benign/ndpi__quic-v2.pcapng",
    "benign/ndpi__opc-ua.pcap",
]


def corpus_path(relpath: str) -> str:
    """The corpus file, or skip the test when the shared corpus is absent."""
    path = os.path.join(CORPUS, relpath)
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (the shared corpus is not mounted)")
    return path


def dpkt_frames(path: str) -> Iterator[tuple[float, bytes]]:
    """Frames as dpkt's universal reader sees them."""
    with open(path, "rb") as fileobj:
        yield from dpkt.pcap.UniversalReader(fileobj)


def tshark_fields(path: str, *fields: str) -> list[str]:
    """One line per frame from ``tshark -T fields``."""
    args = ["tshark", "-r", path, "-T", "fields"] + [x for f in fields for x in ("-e", f)]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


@pytest.mark.corpus
@pytest.mark.parametrize("relpath", CORPUS_FILES)
def test_same_frames_as_dpkt(relpath: str) -> None:
    path = corpus_path(relpath)
    mine = list(iter_capture(path))
    reference = list(dpkt_frames(path))
    assert len(mine) == len(reference) > 0
    assert [frame for _, _, frame in mine] == [bytes(buf) for _, buf in reference]
    assert all(abs(ts_us - ts * 1e6) <= 1 for (ts_us, _, _), (ts, _) in zip(mine, reference, strict=True))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.corpus
@pytest.mark.parametrize("relpath", CORPUS_FILES)
def test_same_frame_count_as_tshark(relpath: str) -> None:
    path = corpus_path(relpath)
    assert sum(1 for _ in iter_capture(path)) == len(tshark_fields(path, "frame.number"))
