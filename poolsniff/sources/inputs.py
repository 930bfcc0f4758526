"""The inputs of a scan: the paths of the command line, turned into the captures to read (source stage).

source (this module picks the files; :mod:`poolsniff.sources.pcap` reads them) -> decode -> ...

Each path is looked at on its own, and one that cannot be scanned is an error of its own
while the others are still scanned (:func:`gather` returns both):

- a folder stands for the captures in it: its files are read recursively, in sorted order, and
  those that are not captures (notes, a README, checksums next to a capture set) are skipped,
  because the user asked for what in the folder can be scanned; a folder that cannot be listed
  is an error;
- a file named on the command line must be a capture: missing, unreadable, empty, not a capture,
  an archive, cut inside its header are errors, because the user asked for that very file and
  its not being scanned is news;
- ``-`` is standard input (once).

A named regular file is opened and its first bytes checked here, so that a scan whose inputs
are all bad opens no output (``-o`` is not created). A FIFO or a device is not read ahead:
what it holds can only be read once, by the scan.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from poolsniff.errors import ConfigError, InputError
from poolsniff.sources.pcap import STDIN, expand_paths, open_capture, open_records


@dataclass
class Inputs:
    """The captures to scan, in order, and an error for each path that cannot be scanned."""

    files: list[str] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def gather(paths: Sequence[str]) -> Inputs:
    """Look at each path in turn (see the module); ``-`` twice is a ConfigError (usage)."""
    if list(paths).count(STDIN) > 1:
        raise ConfigError("- (standard input) can be given only once")
    found = Inputs()
    for path in paths:
        _add(path, found)
    return found


def _add(path: str, found: Inputs) -> None:
    try:
        if path == STDIN:
            found.files.append(path)
        elif os.path.isdir(path):
            found.files.extend(expand_paths([path]))
        else:
            check(path)
            found.files.append(path)
    except InputError as e:
        found.errors.append(e)


def check(path: str) -> None:
    """Raise the InputError the scan of ``path`` would start with; a FIFO or device is not read."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = stat.S_IFREG  # open_capture says what is wrong
    if not stat.S_ISREG(mode):
        return  # opening a FIFO would wait for its writer
    with open_capture(path) as fileobj:
        open_records(fileobj, path)
