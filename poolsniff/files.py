"""Writing a whole file without clobbering what the path names (layer 0: imports nothing of poolsniff).

The one :func:`write_atomic` of the code base: the lists and their caches (``intel``), the
metrics file (``output.metrics``), ``report -o`` and ``blocklist export -o`` all write through it.
Alert files are appended to instead (``output.transports.jsonl``), which never replaces anything.

What ``path`` names decides how it is written:

- nothing yet, or a regular file: the data goes to a temporary file in the same folder, is
  flushed to disk and renamed over ``path``, so a reader sees the old content or the new, never
  a part, and a failure leaves the old file; an existing file keeps its permission bits, a new
  one gets 0644 (a collector or a resolver usually runs as another user);
- a symbolic link: the same, done to the file it points to; the link stays a link;
- a FIFO or a device: opened and written, as ``cat > PATH`` would: a FIFO waits for its
  reader, ``/dev/null`` takes everything, ``/dev/full`` fails with ENOSPC. Renaming over them
  would turn them into regular files (a ``report -o /dev/full`` run as root used to).

Failures are :class:`OSError` whose ``filename`` is the path given; callers say what they
were writing (``OutputError`` ``<path>: cannot write the report: <why>``).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

NEW_FILE_MODE = 0o644
"""Permission bits of a file that did not exist."""


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, parents: bool = False) -> None:
    """Write ``data`` (str as UTF-8) as the whole content of ``path``; ``parents`` creates its folder."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    given = os.fspath(path)
    target = os.path.realpath(given)  # through symbolic links, also one that points nowhere yet
    try:
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if mode is not None and not stat.S_ISREG(mode):
            _write_through(target, raw)
        else:
            _replace(target, raw, NEW_FILE_MODE if mode is None else stat.S_IMODE(mode), parents)
    except OSError as e:
        e.filename = given
        raise


def _write_through(target: str, raw: bytes) -> None:
    """Write into a FIFO or a device as it is."""
    with open(target, "wb") as out:  # a failed write, or the flush on closing, raises
        out.write(raw)


def _replace(target: str, raw: bytes, mode: int, parents: bool) -> None:
    """A temporary file in the same folder, fsync'ed, renamed over ``target``."""
    folder = os.path.dirname(target)
    if parents:
        os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
