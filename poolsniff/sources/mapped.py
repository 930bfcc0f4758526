"""A capture file read through a read-only mapping, a window at a time (the source stage).

source (``pcap.Stream``, its bytes from **a mapping**) -> the prefilter's C walk -> decode -> flows ...

Read with ``read``, every byte of a capture is copied twice before the walk sees it: by the kernel
into a chunk, then with what was left of the chunk before. The C walk reads its records through the
buffer protocol, so a regular file that it walks is mapped instead and handed over a ``WINDOW`` at
a time, as a ``memoryview`` of the mapping: nothing is copied. The pages of the windows behind are
dropped from the process's memory (``MADV_DONTNEED``; the page cache keeps them), so the process
holds one window of the file at a time, as it held one chunk; each window's pages are mapped in one
call (``MADV_POPULATE_READ``, Linux 5.14) rather than faulted in a few at a time. The file's
position follows the windows, so that progress is reported as before and, past the size the file
had when it was mapped (a capture still being written), the stream reads on from there. A file cut
short since it was mapped (truncated in place) is read, not mapped, from the next window on, so the
damage is reported as damage; cut short in the very window being walked (a few milliseconds), it stops
the process with SIGBUS, as it does other tools that map their input (``rg --mmap``).
"""

from __future__ import annotations

import mmap
import os
import stat
from typing import BinaryIO, Final

WINDOW: Final = 4 << 20
"""Bytes of the file handed over at a time (more when one record needs more)."""
_POPULATE_READ: Final = 22
"""``MADV_POPULATE_READ`` (Linux 5.14; Python 3.11's ``mmap`` has no name for it): map a window's pages
in one call. Older kernels refuse it (EINVAL), and the pages are faulted in as they are read."""


class Mapping:
    """A regular file mapped read-only, handed over a window at a time from a given offset."""

    __slots__ = ("fileobj", "size", "_map", "_view", "_dropped", "_populate")

    def __init__(self, fileobj: BinaryIO, mapped: mmap.mmap) -> None:
        """Hand over ``mapped``, the whole of ``fileobj`` (see :meth:`open`)."""
        self.fileobj = fileobj
        self.size = len(mapped)
        self._map = mapped
        self._view = memoryview(mapped)
        self._dropped = 0
        """Bytes at the start of the mapping whose pages were dropped."""
        self._populate = True

    @classmethod
    def open(cls, fileobj: BinaryIO, offset: int) -> Mapping | None:
        """A mapping of ``fileobj``, read up to ``offset``; None where it is not a regular file at that
        offset, or where what is left is not worth mapping (less than a window)."""
        try:
            fd = fileobj.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size - offset < WINDOW or fileobj.tell() != offset:
                return None
            return cls(fileobj, mmap.mmap(fd, info.st_size, access=mmap.ACCESS_READ))
        except (OSError, ValueError, AttributeError):  # no descriptor (BytesIO), closed, not mappable
            return None

    def window(self, start: int, need: int) -> memoryview | None:
        """The file's bytes from ``start``: ``need`` or more (a ``WINDOW`` if the file has that many); None
        when the mapping does not hold ``need`` of them, or the file no longer does (the stream reads
        from there on: :meth:`leave`)."""
        size = self.size
        if start + need > size:
            return None
        stop = min(size, start + max(need, WINDOW))
        if os.fstat(self.fileobj.fileno()).st_size < stop:  # cut short since it was mapped
            return None
        edge = start - start % mmap.PAGESIZE
        if edge > self._dropped:  # the pages behind: this process is done with them
            self._map.madvise(mmap.MADV_DONTNEED, self._dropped, edge - self._dropped)
            self._dropped = edge
        if self._populate:
            try:
                self._map.madvise(_POPULATE_READ, edge, stop - edge)
            except OSError:
                self._populate = False
        self.fileobj.seek(stop)
        return self._view[start:stop]

    def leave(self, start: int) -> None:
        """Position the file at ``start``, where reading goes on: no byte of the mapping is handed out or
        read after this (those past a cut would stop the process)."""
        self.fileobj.seek(start)
