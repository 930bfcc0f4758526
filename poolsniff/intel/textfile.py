"""Read a user-given text file (a list, a sources or settings YAML) for the reference-data layer.

blocklist / config loaders -> **read_text** -> their parsers

One place turns the ways reading can fail (missing, unreadable, not UTF-8) into a
``ConfigError`` that names the file and what it was for.
"""

from __future__ import annotations

import os
from pathlib import Path

from poolsniff.errors import ConfigError


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """Return the UTF-8 text of ``path``; ``what`` names it in errors ("blocklist", "YAML")."""
    origin = os.fspath(path)
    try:
        return Path(origin).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{origin}: not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise ConfigError(f"{origin}: cannot read {what}: {e.strerror}") from e
