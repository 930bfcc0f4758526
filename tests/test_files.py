"""write_atomic: a rename for regular files and new paths, written through for links, FIFOs and devices."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from poolsniff.files import write_atomic

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")


def device(folder: Path, name: str, minor: int) -> Path:
    """A character device of the memory driver (major 1) in ``folder``: 3 is null, 7 is full."""
    path = folder / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


class FifoReader:
    """A FIFO and a thread that reads it, writer after writer, as a consumer of the file would."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path, self.data = path, b""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping.is_set():
            with open(self.path, "rb") as f:  # waits for the next writer
                self.data += f.read()

    def join(self) -> bytes:
        """Stop reading (a last, empty, writer wakes the thread up) and return what was read.

        The writer opens without blocking, so it never waits for a reader that has just left: a
        blocking open, after the thread had seen ``stopping`` and ended, waited forever (a CI run hung
        here). ENXIO says no reader is waiting at that moment: the thread is between two writers, or
        leaving; look again once it has had a moment."""
        self.stopping.set()
        while self.thread.is_alive():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                self.thread.join(timeout=0.01)
                continue
            os.close(fd)
            self.thread.join(timeout=30)
        return self.data


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Callable[[Path], FifoReader]]:
    """Make FIFOs with their readers; every reader is stopped after the test, whatever happened."""
    readers: list[FifoReader] = []

    def make(path: Path) -> FifoReader:
        readers.append(FifoReader(path))
        return readers[-1]

    yield make
    for reader in readers:
        reader.join()


def test_a_new_file_is_created_0644(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    write_atomic(target, "één\n")
    assert target.read_bytes() == "één\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["new.txt"]


def test_parents_creates_the_folder_and_without_it_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        write_atomic(tmp_path / "sub" / "x.txt", b"x")
    assert e.value.filename == str(tmp_path / "sub" / "x.txt")
    write_atomic(tmp_path / "sub" / "x.txt", b"x", parents=True)
    assert (tmp_path / "sub" / "x.txt").read_bytes() == b"x"


def test_a_regular_file_is_replaced_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "pool.txt"
    target.write_bytes(b"one\n")
    target.chmod(0o640)
    inode = target.stat().st_ino
    write_atomic(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["pool.txt"]


def test_a_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pool.txt"
    target.write_bytes(b"old\n")

    def crash(src: str, dst: str) -> None:
        assert Path(src).read_bytes() == b"new\n"  # the whole new content is on disk first
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left") as e:
        write_atomic(target, b"new\n")
    assert e.value.filename == str(target)
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pool.txt"]  # no temporary file left


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_stays_a_link_and_its_target_gets_the_data(tmp_path: Path, dangling: bool) -> None:
    real = tmp_path / "real" / "lists.conf"
    real.parent.mkdir()
    if not dangling:
        real.write_bytes(b"old\n")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    write_atomic(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new\n"


def test_a_fifo_stays_a_fifo_and_its_reader_gets_the_data(
    tmp_path: Path, fifo: Callable[[Path], FifoReader]
) -> None:
    reader = fifo(tmp_path / "pipe")
    write_atomic(reader.path, b"x" * 200_000)  # more than a pipe holds: the reader must be draining it
    assert reader.join() == b"x" * 200_000
    assert stat.S_ISFIFO(reader.path.lstat().st_mode)


@ROOT_ONLY
def test_a_device_stays_a_device(tmp_path: Path) -> None:
    null = device(tmp_path, "null", 3)
    write_atomic(null, b"gone\n")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


@pytest.mark.parametrize("made", [False, True])
def test_a_full_device_is_an_oserror_naming_the_path(tmp_path: Path, made: bool) -> None:
    if made and os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root")
    full = device(tmp_path, "full", 7) if made else Path("/dev/full")
    with pytest.raises(OSError) as e:
        write_atomic(full, b"data\n")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(full)
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as e:
        write_atomic(tmp_path, b"x")
    assert e.value.filename == str(tmp_path)
