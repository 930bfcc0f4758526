"""Counted nouns in the lines poolsniff prints: singular for one, plural otherwise."""

from __future__ import annotations

import pytest

from poolsniff.counted import counted


@pytest.mark.parametrize(
    ("n", "noun", "plural", "said"),
    [
        (0, "file", "", "0 files"),
        (1, "file", "", "1 file"),
        (2, "flow", "", "2 flows"),
        (1, "mining alert", "", "1 mining alert"),
        (12, "mining alert", "", "12 mining alerts"),
        (1, "match", "matches", "1 match"),
        (3, "match", "matches", "3 matches"),
    ],
)
def test_counted(n: int, noun: str, plural: str, said: str) -> None:
    assert counted(n, noun, plural) == said
