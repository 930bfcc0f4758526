"""The two pipes of a two-process scan: length-prefixed messages (engine, the split).

prefilter -> flows (front) **=> Channel =>** dissectors -> detectors (back), and back again

``engine.split.parallel`` sends lists of items from the front to the back and the back's answers
(closed directions, unread ranges, released detections) the other way, both in ``marshal``'s format
(cheaper than pickle's both ways): the items are plain tuples of numbers, bytes and strings, and so are
the answers (``records``); an answer that holds anything else (no detection does today) is pickled,
and told apart by its first byte.
The front never blocks on a full pipe without reading the other, and what the pipe cannot take yet
waits in the front (up to ``QUEUE_BYTES``) rather than the front waiting for it.
"""

from __future__ import annotations

import fcntl
import marshal
import os
import pickle
import select
import struct
from collections import deque
from typing import Any, Final

PIPE_BYTES: Final = 1 << 20
"""Pipe buffer asked for (Linux allows 1 MiB without privileges)."""
QUEUE_BYTES: Final = 16 << 20
"""Bytes of messages the front keeps for the back beyond what the pipe holds before it waits. The two
processes take turns being the slower one (a run of mining flows is heavy for the back, a run of new
flows for the front); with only the pipe between them each waited for the other about 0.3 s on the
real mix's mining part joined ten times, with this much room neither does."""
_LEN = struct.Struct("!I")
_PICKLED: Final = pickle.PROTO[0]
"""The first byte of anything pickled with protocol 2 or later."""
GONE: Final = "the other process of the scan has stopped (see the error above)"


class PeerGone(RuntimeError):
    """The other process of a two-process scan has exited (a bug: its traceback is on stderr)."""


class Channel:
    """Length-prefixed messages: read from ``rfd``, written to ``wfd`` (marshalled: ``_dumps``, ``_loads``).

    With ``patient=False`` (the front) writes never block: while the other side's pipe is
    full, what it sends back is read and queued, so neither side waits on the other forever.
    """

    def __init__(self, rfd: int, wfd: int, *, patient: bool) -> None:
        """Use the two pipe ends; the front passes ``patient=False``."""
        self.rfd, self.wfd, self.patient = rfd, wfd, patient
        self._buf = bytearray()
        self.inbox: deque[Any] = deque()
        self._out: deque[memoryview] = deque()
        """Messages (or the rest of one) the pipe did not take yet: the front's side only."""
        self._queued = 0
        _widen(rfd)
        _widen(wfd)
        if not patient:
            os.set_blocking(rfd, False)
            os.set_blocking(wfd, False)

    def send(self, message: Any) -> None:
        """Send one message; ``PeerGone`` if the other process has exited.

        The front's side (``patient=False``) writes what the pipe takes and keeps the rest, up to
        ``QUEUE_BYTES``, for later calls; past that it waits, reading what comes back meanwhile."""
        data = _answer(message) if self.patient else _items(message)
        head = _LEN.pack(len(data))  # written beside the message, not joined to it: no copy of the message
        if not self.patient:
            self._out.append(memoryview(head))
            self._out.append(memoryview(data))
            self._queued += len(head) + len(data)
            self._flush(QUEUE_BYTES)
            return
        try:
            for part in (head, data):
                view = memoryview(part)
                while view:
                    view = view[os.write(self.wfd, view) :]
        except BrokenPipeError as exc:
            raise PeerGone(GONE) from exc

    def drain(self) -> None:
        """Wait until every queued message is written, reading what comes back meanwhile (before the
        front closes its end)."""
        self._flush(0)

    def poll(self) -> None:
        """Write what the pipe takes of the queued messages; queue in ``inbox`` whatever complete
        messages have arrived (never blocks: ``send`` leaves no more than ``QUEUE_BYTES`` queued)."""
        if self._out:
            self._flush(QUEUE_BYTES)
        self._read()

    def _flush(self, room: int) -> None:
        """Write what the pipe takes of the queued messages; then, while more than ``room`` bytes are
        left, wait for the pipe, reading what comes back meanwhile."""
        try:
            self._write_queued()
            while self._queued > room:
                readable, writable, _ = select.select([self.rfd], [self.wfd], [])
                if readable:
                    self._read()
                if writable:
                    self._write_queued()
        except BrokenPipeError as exc:
            raise PeerGone(GONE) from exc

    def _write_queued(self) -> None:
        """Write what the pipe takes of the queued messages, in order (never blocks)."""
        out = self._out
        while out:
            sent = _write(self.wfd, out[0])
            if sent is None:
                return
            self._queued -= sent
            if sent == len(out[0]):
                out.popleft()
            else:
                out[0] = out[0][sent:]

    def receive(self) -> Any:
        """Wait for the next message (writing the queued ones meanwhile); None once the other side has
        closed its end."""
        while not self.inbox:
            if not self.patient:
                readable, writable, _ = select.select([self.rfd], [self.wfd] if self._out else [], [])
                if writable:
                    self.poll()
                    continue
            if not self._read():
                return None
        return self.inbox.popleft()

    def _read(self) -> bool:
        """Read what is there (blocking: at least something); False at end of stream."""
        while True:
            chunk = _read(self.rfd)
            if chunk is None:
                return True
            if not chunk:
                return bool(self.inbox)
            self._buf += chunk
            self._split()
            if self.patient:
                return True

    def _split(self) -> None:
        buf, pos = self._buf, 0
        while len(buf) - pos >= 4:
            size = _LEN.unpack_from(buf, pos)[0]
            if len(buf) - pos < 4 + size:
                break
            self.inbox.append(_loads(memoryview(buf)[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        del buf[:pos]


def _items(message: Any) -> bytes:
    """The front's list of items for the back: plain tuples of numbers, bytes and strings, which
    ``marshal`` writes in 0.21 us an item against pickle's 0.32 (no memo of every tuple and bytes; a
    ``FlowKey`` or any object that is not plain data is refused, ``ValueError``, not sent differently)."""
    return marshal.dumps(message, 4)


def _answer(message: Any) -> bytes:
    """The back's answer for the front: ``marshal``'s format where it holds plain data only (always, as
    ``records`` makes it: 0.3 of pickle's instructions to write), else pickled."""
    try:
        return marshal.dumps(message, 4)
    except ValueError:  # an object marshal does not write: pickle's first byte (PROTO) says which
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: memoryview) -> Any:
    """A message of either side: pickled if it starts as pickle's protocol 2+ does (0x80, which no
    ``marshal`` data starts with: that would be a reference flag on no type), else marshalled."""
    return pickle.loads(data) if data[0] == _PICKLED else marshal.loads(data)


def _widen(fd: int) -> None:
    """Ask for a larger pipe buffer (fewer switches between the processes)."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):  # older kernels, other systems: the default will do
        pass


def _write(fd: int, data: memoryview) -> int | None:
    """Write what the pipe takes; None when it is full (non-blocking end)."""
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return None


def _read(fd: int) -> bytes | None:
    """Read what the pipe holds; None when it is empty (non-blocking end), b"" at its end."""
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return None
