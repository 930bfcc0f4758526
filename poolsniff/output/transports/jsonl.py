"""Write EVE records as JSON lines to a file or stdout (sink layer).

enrichment -> to_eve -> **JsonlWriter** -> a file, a pipe, a terminal

Each record is written as one whole line and flushed at once, so ``tail -f`` and log
forwarders see every alert as it happens and a crash never leaves half a line.
Write failures become ``OutputError``; a reader that went away (``poolsniff scan x |
head``) is ``BrokenPipeError``, which the CLI ends quietly on.

``hold_others=True`` (for an offline scan into a file, where most lines are ``flow`` records)
keeps the lines of records other than alerts until an alert comes, ``HOLD_BYTES`` of them wait,
or the writer closes, and writes them with one write and one flush: an alert is still on disk as
it is found, with every line before it, and every line is still written whole; a flush per line
is a system call per line, a tenth of what the output stage costs on a mining capture.
``sniff`` keeps the default, a flush per line, so that every record is seen as it happens.
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any, Final

from poolsniff.errors import OutputError
from poolsniff.output.interface import encode

HOLD_BYTES: Final = 64 * 1024
"""With ``hold_others``: lines held at most before they are written anyway."""


class JsonlWriter:
    """Appends JSON lines to a text stream, one flush per line."""

    def __init__(self, stream: IO[str], name: str, *, hold_others: bool = False) -> None:
        """Write to ``stream``; ``name`` is used in error messages; ``hold_others``: see above."""
        self.stream = stream
        self.name = name
        self.written = 0
        self.hold_others = hold_others
        self._held: list[str] = []
        self._held_size = 0

    @classmethod
    def open_path(cls, path: str, *, hold_others: bool = False) -> JsonlWriter:
        """Open ``path`` for appending (created if missing)."""
        try:
            stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as e:
            raise OutputError(f"{path}: cannot open for writing: {e.strerror}") from e
        return cls(stream, path, hold_others=hold_others)

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Write one record as a whole line and flush it (with ``hold_others``, maybe later)."""
        self._put((text if text is not None else encode(record)) + "\n", record.get("event_type") == "alert")

    def write_line(self, text: str) -> None:
        """Write the line of a record that is not an alert, made without the record (an alerted flow's
        line, ``eventid.flow_line``): as :meth:`write` writes that record."""
        self._put(text + "\n", False)

    def _put(self, line: str, alert: bool) -> None:
        if self.hold_others:
            self._held.append(line)
            self._held_size += len(line)
            self.written += 1
            if alert or self._held_size >= HOLD_BYTES:
                self._write_held()
            return
        self._write(line)
        self.written += 1

    def _write_held(self) -> None:
        lines, self._held, self._held_size = self._held, [], 0
        if lines:
            self._write("".join(lines))

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise self._cannot_write(e) from e

    def close(self) -> None:
        """Write the held lines, flush and close the stream (stdout is only flushed); a failed
        write or flush is OutputError."""
        error: OSError | None = None
        held, self._held, self._held_size = self._held, [], 0
        try:
            if held:
                self.stream.write("".join(held))
            self.stream.flush()
        except OSError as e:
            error = e
        if self.stream.fileno() > 2:
            try:
                self.stream.close()
            except OSError as e:
                error = error or e
        if error is not None:
            raise self._cannot_write(error) from error

    def _cannot_write(self, error: OSError) -> OutputError:
        """The one line for a write that failed: what, where, and what to do (the lines before it stay)."""
        remedy = (
            "free some space on that disk, or name another file with -o"
            if error.errno == errno.ENOSPC
            else "check that the file can still be written (its disk, its permissions)"
        )
        return OutputError(f"{self.name}: cannot write alerts: {os.strerror(error.errno or 0)}; {remedy}")
