"""A capture read through a mapping (``sources/mapped.py``): the same bytes as read, at the same offsets."""

from __future__ import annotations

import io
import os
import random
import struct
from pathlib import Path
from typing import Any

import pytest

from poolsniff.engine.fast import prefilter
from poolsniff.intel.lists import Blocklist
from poolsniff.output.eve import to_eve
from poolsniff.run import scan
from poolsniff.sources import mapped
from poolsniff.sources.mapped import WINDOW, Mapping
from poolsniff.sources.pcap import CHUNK, Stream, read_frames
from tests import factories_mixes as mixes
from tests.factories_frames import block, pcap_file


def stream_of(path: Path) -> tuple[Stream, io.BufferedReader]:
    """A stream over ``path`` as ``open_records`` makes one, its first chunk read."""
    fileobj = open(path, "rb")  # noqa: SIM115 - closed by the test
    stream = Stream(str(path), lambda: fileobj.read1(CHUNK), fileobj)
    stream.fill(0, 16)
    return stream, fileobj


def read_through(stream: Stream, seed: int) -> bytes:
    """Everything the stream holds from its start, taken as a record reader takes it: records of
    random sizes (up to a little over a window), ``fill`` whenever the next one is not all there."""
    rng = random.Random(seed)
    out = bytearray()
    pos, end = 0, len(stream.view)
    while True:
        need = rng.choice((16, 60, 1514, 70_000, WINDOW + 4096))
        if end - pos < need:
            end, pos = stream.fill(pos, need), 0
            if end < need:
                out += stream.view[pos:end]
                return bytes(out)
        out += stream.view[pos : pos + need]
        pos += need


@pytest.fixture
def blob(tmp_path: Path) -> Path:
    """Random bytes, three windows and an odd tail."""
    path = tmp_path / "blob"
    path.write_bytes(random.Random(5).randbytes(3 * WINDOW + 12_345))
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_mapped_stream_hands_over_the_bytes_a_read_one_does(blob: Path, seed: int) -> None:
    stream, fileobj = stream_of(blob)
    with fileobj:
        stream.map()
        assert stream.mapping is not None
        assert read_through(stream, seed) == blob.read_bytes()
        assert stream.mapping is None  # read on past the mapped end: nothing was left there
        assert fileobj.tell() == blob.stat().st_size


def test_the_file_s_position_follows_the_windows(blob: Path) -> None:
    """Progress is the file's position: it moves with each window, as it moved with each read."""
    stream, fileobj = stream_of(blob)
    with fileobj:
        stream.map()
        seen = []
        pos = len(stream.view)
        for _ in range(3):
            stream.fill(pos, 16)
            seen.append(fileobj.tell())
            pos = len(stream.view)
        assert seen == [CHUNK + WINDOW, CHUNK + 2 * WINDOW, blob.stat().st_size]


def test_a_file_that_grows_after_it_was_mapped_is_read_on(blob: Path) -> None:
    """A capture still being written: past the size it had when it was mapped, the stream reads."""
    stream, fileobj = stream_of(blob)
    with fileobj:
        stream.map()
        more = random.Random(9).randbytes(300_000)
        with open(blob, "ab") as out:
            out.write(more)
        assert read_through(stream, 4) == blob.read_bytes()


def test_a_file_cut_short_after_it_was_mapped_is_read_to_its_new_end(blob: Path) -> None:
    """Truncated in place while it is scanned: the stream reads again from the next window on, and ends
    where the file now ends (the reader reports a record cut short), instead of a SIGBUS."""
    stream, fileobj = stream_of(blob)
    with fileobj:
        stream.map()
        stream.fill(len(stream.view), 16)  # the first window, mapped
        cut = CHUNK + WINDOW + 1000
        os.truncate(blob, cut)
        have = stream.fill(len(stream.view), 16)
        assert stream.mapping is None
        assert have == 1000 and stream.base == CHUNK + WINDOW
        assert bytes(stream.view) == blob.read_bytes()[CHUNK + WINDOW :]


def test_the_pages_behind_are_let_go(blob: Path) -> None:
    """The process holds a window of the file, not the file: each window drops the pages before it."""
    stream, fileobj = stream_of(blob)
    with fileobj:
        stream.map()
        mapping = stream.mapping
        assert mapping is not None
        stream.fill(len(stream.view), 16)
        stream.fill(len(stream.view), 16)
        assert mapping._dropped >= WINDOW  # noqa: SLF001 - what this test is about


def test_what_cannot_be_mapped_is_read(tmp_path: Path) -> None:
    """A file with less than a window left, a pipe, an object with no descriptor: no mapping."""
    small = tmp_path / "small"
    small.write_bytes(b"x" * (WINDOW - 1))
    with open(small, "rb") as fileobj:
        assert Mapping.open(fileobj, 0) is None
    r, w = os.pipe()
    with os.fdopen(r, "rb") as reader, os.fdopen(w, "wb"):
        assert Mapping.open(reader, 0) is None  # type: ignore[arg-type]
    assert Mapping.open(io.BytesIO(b"x" * 2 * WINDOW), 0) is None
    with open(small, "rb") as fileobj:
        fileobj.read(10)
        assert Mapping.open(fileobj, 0) is None  # not where the stream says it is


def frames_of(capture: Path) -> list[tuple[int, bytes]]:
    with open(capture, "rb") as fileobj:
        return [(ts, data) for ts, _, data in read_frames(fileobj, str(capture))]


def as_cooked(capture: Path) -> Path:
    """The capture rewritten with Linux cooked (SLL) headers: a classic pcap the Ethernet loop leaves to
    the frame-by-frame one."""
    out = capture.with_suffix(".sll.pcap")
    cooked = ((ts, struct.pack("!HHH8s", 0, 1, 6, d[6:12]) + d[12:]) for ts, d in frames_of(capture))
    out.write_bytes(pcap_file(cooked, linktype=113))
    return out


def as_pcapng(capture: Path) -> Path:
    """The capture rewritten as pcapng: a section, an interface, an enhanced packet block per frame."""
    frames = frames_of(capture)
    out = capture.with_suffix(".pcapng")
    head = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    head += block(1, struct.pack("<HHI", 1, 0, 0))
    epbs = (
        block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(d), len(d)) + d) for ts, d in frames
    )
    out.write_bytes(head + b"".join(epbs))
    return out


@pytest.mark.skipif(not prefilter.ACCELERATED, reason="the C walk (engine/fast/_walk.c) is not built here")
@pytest.mark.parametrize("kind", ["pcap", "pcapng", "cooked"])
def test_a_scan_through_the_mapping_is_the_scan_through_reads(
    kind: str, tmp_path: Path, lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same records and counts, one process and two, with the C walk over a mapped capture."""
    capture = mixes.mix(tmp_path / "mix.pcap", 12_000, seed=8, mining_every=2000)
    if kind == "pcapng":
        capture = as_pcapng(capture)
    elif kind == "cooked":
        capture = as_cooked(capture)
    assert capture.stat().st_size > 2 * WINDOW
    monkeypatch.setattr(scan, "SPLIT_MIN_BYTES", 0)
    windows: list[int] = []
    window = Mapping.window

    def counted(self: Mapping, start: int, need: int) -> Any:
        windows.append(start)
        return window(self, start, need)

    def outcome(jobs: int) -> tuple[Any, ...]:
        records: list[dict[str, Any]] = []
        r = scan.scan_file(str(capture), lists, emit=records.append, to_record=to_eve, jobs=jobs)
        return records, r.packets, r.flows, r.alerts, r.skipped

    monkeypatch.setattr(Mapping, "window", counted)
    mapped_runs = [outcome(1), outcome(2)]
    assert len(windows) >= 4  # two windows or more in each run
    monkeypatch.setattr(mapped.Mapping, "open", classmethod(lambda cls, fileobj, offset: None))
    read_runs = [outcome(1), outcome(2)]
    assert mapped_runs == read_runs
    assert any(record["event_type"] == "alert" for record in read_runs[0][0])
