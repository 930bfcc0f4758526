"""The spool's on-disk format: order, reopen, a torn last record, a full spool, the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.spool import HEADER, Spool, spool_dir


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.peek()) is not None:
        out.append(record)
        spool.ack()
    return out


def records(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"event_id": {i}, "pad": "{"x" * (i % 37)}"}}'.encode() for i in range(start, start + n)]


def test_records_come_back_in_order_and_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", limit=1 << 20)
    want = records(500)
    for r in want:
        spool.append(r)
    assert len(spool) == 500
    assert drain(spool) == want
    assert len(spool) == 0 and spool.peek() is None
    spool.close()


def test_reopen_resumes_after_the_last_acknowledged_record(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    spool = Spool(directory, limit=4096)
    want = records(60)
    for r in want:
        spool.append(r)
    got = []
    for _ in range(25):
        record = spool.peek()
        assert record is not None
        got.append(record)
        spool.ack()
    spool.peek()  # peeked but never acknowledged: it comes back
    spool.close()
    spool = Spool(directory, limit=4096)
    assert len(spool) == 35
    spool.append(b"after")
    assert got + drain(spool) == [*want, b"after"]
    spool.close()
    spool = Spool(directory, limit=4096)
    assert spool.peek() is None
    spool.close()


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 3])
def test_a_torn_last_record_is_skipped_on_reopen(tmp_path: Path, cut: int) -> None:
    directory = tmp_path / "s"
    spool = Spool(directory, limit=1 << 20)
    for r in records(10):
        spool.append(r)
    spool.close()
    (segment,) = sorted(directory.glob("*.seg"))
    whole = segment.read_bytes()
    torn = HEADER.pack(100, 0)[: min(cut, HEADER.size)] + b"y" * max(0, cut - HEADER.size)
    segment.write_bytes(whole + torn)
    spool = Spool(directory, limit=1 << 20)
    assert segment.stat().st_size == len(whole)
    spool.append(b"next")
    assert drain(spool) == [*records(10), b"next"]
    spool.close()


def test_a_corrupt_record_ends_its_segment(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    spool = Spool(directory, limit=1 << 20)
    for r in records(5):
        spool.append(r)
    spool.close()
    (segment,) = directory.glob("*.seg")
    raw = bytearray(segment.read_bytes())
    raw[-1] ^= 0xFF  # last payload byte: CRC mismatch
    segment.write_bytes(bytes(raw))
    spool = Spool(directory, limit=1 << 20)
    assert drain(spool) == records(4)
    spool.close()


def test_a_full_spool_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    warnings: list[str] = []
    spool = Spool(tmp_path / "s", limit=4096, warn=warnings.append)
    want = records(400)
    for r in want:
        spool.append(r)
    assert spool.size <= 4096
    assert spool.dropped > 0 and warnings
    assert "dropped" in warnings[-1]
    kept = drain(spool)
    assert len(kept) + spool.dropped == 400
    assert kept == want[spool.dropped :]  # the newest survive, in order
    spool.close()


def test_dropping_while_reading_keeps_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", limit=2048)
    want = records(300)
    got: list[bytes] = []
    for i, r in enumerate(want):
        spool.append(r)
        if i % 7 == 0 and (record := spool.peek()) is not None:
            got.append(record)
            spool.ack()
    got += drain(spool)
    assert got == sorted(got, key=want.index)
    assert len(set(got)) == len(got)
    assert len(got) + spool.dropped == 300
    spool.close()


def test_a_second_process_cannot_share_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    with pytest.raises(OutputError, match="in use by another poolsniff process"):
        Spool(tmp_path / "s")  # flock locks per open file description, so this is a real conflict
    spool.close()
    Spool(tmp_path / "s").close()


def test_one_folder_per_sink_identity(tmp_path: Path) -> None:
    a = spool_dir(tmp_path, "redis://127.0.0.1:6379/0?stream=a")
    b = spool_dir(tmp_path, "redis://127.0.0.1:6379/0?stream=b")
    assert a != b and a.parent == b.parent == tmp_path / "spool"
    assert spool_dir(tmp_path, "redis://127.0.0.1:6379/0?stream=a") == a
