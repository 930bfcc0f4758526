"""Exceptions a user can act on (layer 0: imports nothing from poolsniff).

Parsers raise builtins (``ValueError``); the boundary that knows the file, line or
offset wraps them into one of these. Each class carries the exit status the command line
ends with (``exit_status``, the table in README.md); ``poolsniff.cli.exits`` prints the
message as one line and exits with it, in one place for every command.
Malformed packets are never errors: they are counted.
"""

from __future__ import annotations

from typing import ClassVar, Final

UNREADABLE: Final = "make the file readable (chmod) or run as a user who can read it"
"""How to mend an input this user may not read (after "permission denied"), whatever the input."""


class PoolsniffError(Exception):
    """An error the user can fix; the message is shown verbatim after ``poolsniff: error:``."""

    exit_status: ClassVar[int] = 2
    """What the command line exits with: 2 (usage) unless a subclass says otherwise."""


class InputError(PoolsniffError):
    """A capture that is missing, unreadable, or not a capture at all (exit status 3)."""

    exit_status: ClassVar[int] = 3


class CaptureDamaged(InputError):
    """A capture that is readable up to ``offset`` and broken after it.

    Frames before the damage have already been yielded; the scan warns and goes on.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: damaged at byte offset {offset}: {reason}")
        self.path, self.offset, self.reason = path, offset, reason


class CaptureError(PoolsniffError):
    """Live capture cannot start: no such interface, no permission, bad filter (exit status 3)."""

    exit_status: ClassVar[int] = 3


class OutputError(PoolsniffError):
    """Alerts, a report, a list or metrics cannot be written (exit status 4)."""

    exit_status: ClassVar[int] = 4


class ConfigError(PoolsniffError):
    """Bad configuration: YAML, unknown keys, wrong types (exit status 2)."""


class BlocklistError(ConfigError):
    """A bad line in a blocklist file, named by file and line."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source, self.line, self.reason = source, line, reason
