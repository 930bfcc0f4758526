"""Write EVE records as JSON lines to a file or stdout (sink layer).

enrichment -> to_eve -> **JsonlWriter** -> a file, a pipe, a terminal

Each record is written as one whole line and flushed at once, so ``tail -f`` and log
forwarders see every alert as it happens and a crash never leaves half a line.
Write failures become ``OutputError``; a reader that went away (``poolsniff scan x |
head``) is ``BrokenPipeError``, which the CLI ends quietly on.
"""

from __future__ import annotations

import os
from typing import IO, Any

from poolsniff.errors import OutputError
from poolsniff.output.interface import encode


class JsonlWriter:
    """Appends JSON lines to a text stream, one flush per line."""

    def __init__(self, stream: IO[str], name: str) -> None:
        """Write to ``stream``; ``name`` is used in error messages."""
        self.stream = stream
        self.name = name
        self.written = 0

    @classmethod
    def open_path(cls, path: str) -> JsonlWriter:
        """Open ``path`` for appending (created if missing)."""
        try:
            stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as e:
            raise OutputError(f"{path}: cannot open for writing: {e.strerror}") from e
        return cls(stream, path)

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Write one record as a whole line and flush it."""
        line = (text if text is not None else encode(record)) + "\n"
        try:
            self.stream.write(line)
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"{self.name}: cannot write alerts: {os.strerror(e.errno or 0)}") from e
        self.written += 1

    def close(self) -> None:
        """Flush and close the stream (stdout is only flushed); a failed flush is OutputError."""
        error: OSError | None = None
        try:
            self.stream.flush()
        except OSError as e:
            error = e
        if self.stream.fileno() > 2:
            try:
                self.stream.close()
            except OSError as e:
                error = error or e
        if error is not None:
            raise OutputError(f"{self.name}: cannot write alerts: {os.strerror(error.errno or 0)}") from error
