"""Exceptions a user can act on (layer 0: imports nothing from poolsniff).

Parsers raise builtins (``ValueError``); the boundary that knows the file, line or
offset wraps them into one of these, and ``poolsniff.cli`` maps each class to an exit status.
Malformed packets are never errors: they are counted.
"""

from __future__ import annotations


class PoolsniffError(Exception):
    """An error the user can fix; the message is shown verbatim after ``Error:``."""


class InputError(PoolsniffError):
    """A capture that is missing, unreadable, or not a capture at all (exit status 3)."""


class CaptureDamaged(InputError):
    """A capture that is readable up to ``offset`` and broken after it.

    Frames before the damage have already been yielded; the scan warns and goes on.
    """

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: damaged at byte offset {offset}: {reason}")
        self.path, self.offset, self.reason = path, offset, reason


class CaptureError(PoolsniffError):
    """Live capture cannot start: no such interface, no permission, bad filter."""


class OutputError(PoolsniffError):
    """Alerts cannot be written (exit status 4)."""


class ConfigError(PoolsniffError):
    """Bad configuration: YAML, unknown keys, wrong types (exit status 2)."""


class BlocklistError(ConfigError):
    """A bad line in a blocklist file, named by file and line."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source, self.line, self.reason = source, line, reason
