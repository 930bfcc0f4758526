"""Compressed captures: gzip, xz, bzip2 and zstd read as the plain capture; archives named."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from poolsniff.errors import CaptureDamaged, InputError
from poolsniff.sources.compressed import compression, not_a_capture
from poolsniff.sources.pcap import looks_like_capture, read_frames

from ..factories_frames import pcap_header
from .test_pcap import GOOD, NAME, NG, PCAP, REC3, RECORDS, read_all, read_damaged

zstandard = pytest.importorskip(
    "zstandard", reason="the zstd test needs the zstandard package (poolsniff[zstd])"
)

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("kind", list(COMPRESS))
@pytest.mark.parametrize(("capture", "frames"), [(PCAP, GOOD), (NG, GOOD[:2])], ids=["pcap", "pcapng"])
def test_each_compression_reads_as_the_plain_capture(kind: str, capture: bytes, frames: list[object]) -> None:
    packed = COMPRESS[kind](capture)
    assert compression(packed) == kind
    assert read_all(packed) == frames


@pytest.mark.parametrize("kind", list(COMPRESS))
def test_a_truncated_compressed_capture_keeps_the_frames_before(kind: str) -> None:
    records = b"".join(RECORDS) * 20_000  # 1.3 MB: more than a bzip2 block, so some come out whole
    packed = COMPRESS[kind](pcap_header() + records)
    frames, damage = read_damaged(packed[: len(packed) * 3 // 4])
    assert len(frames) > 3 and frames[:3] == GOOD
    assert (
        damage.offset >= REC3
        and damage.reason == f"{kind} stream ends early (the compressed file is truncated)"
    )


@pytest.mark.parametrize("kind", ["xz", "zstd"])
def test_several_frames_or_streams_are_one_capture(kind: str) -> None:
    packed = COMPRESS[kind](PCAP) + COMPRESS[kind](b"")  # as `cat a.xz b.xz` makes
    assert read_all(packed) == GOOD


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (b"PK\x03\x04" + b"\0" * 30, "a zip archive; unzip it"),
        (b"7z\xbc\xaf\x27\x1c" + b"\0" * 30, "a 7-Zip archive"),
        (b"\x04\x22\x4d\x18" + b"\0" * 30, "lz4-compressed; decompress it first (lz4 -d)"),
    ],
)
def test_an_archive_is_named_with_what_to_do(head: bytes, words: str) -> None:
    assert (not_a_capture(head) or "").startswith(words)
    with pytest.raises(InputError) as info:
        read_all(head)
    assert str(info.value) == f"{NAME}: {not_a_capture(head)}"


def test_zstd_without_zstandard_says_how_to_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now raises ImportError
    with pytest.raises(InputError) as info:
        list(read_frames(io.BytesIO(COMPRESS["zstd"](PCAP)), NAME))
    assert not isinstance(info.value, CaptureDamaged)
    assert "zstd-compressed" in str(info.value) and "poolsniff[zstd]" in str(info.value)
    assert f"zstd -d {NAME}" in str(info.value)


@pytest.mark.parametrize("kind", list(COMPRESS))
def test_a_folder_keeps_compressed_captures_and_skips_compressed_text(tmp_path: Path, kind: str) -> None:
    capture, text = tmp_path / f"c.pcap.{kind}", tmp_path / f"notes.txt.{kind}"
    capture.write_bytes(COMPRESS[kind](PCAP))
    text.write_bytes(COMPRESS[kind](b"just some notes\n" * 10))
    assert looks_like_capture(str(capture)) and not looks_like_capture(str(text))
