"""Counted nouns for the lines poolsniff prints (shared by the CLI, the run loops and the reports):
"1 file", "2 files"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and ``noun``, in the plural (``plural``, or ``noun`` + "s") unless ``n`` is one."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
