"""Errors carry what, where and how: file:line for lists, file and byte offset for captures."""

from __future__ import annotations

import pytest

from poolsniff.errors import (
    BlocklistError,
    CaptureDamaged,
    CaptureError,
    ConfigError,
    InputError,
    OutputError,
    PoolsniffError,
)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            BlocklistError("lists/mine.txt", 7, "co.uk is a public suffix"),
            "lists/mine.txt:7: co.uk is a public suffix",
        ),
        (
            CaptureDamaged("a.pcap", 1234, "record cut short"),
            "a.pcap: damaged at byte offset 1234: record cut short",
        ),
    ],
)
def test_messages_name_the_place(error: PoolsniffError, text: str) -> None:
    assert str(error) == text


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (CaptureDamaged, InputError),
        (BlocklistError, ConfigError),
        (InputError, PoolsniffError),
        (CaptureError, PoolsniffError),
        (OutputError, PoolsniffError),
    ],
)
def test_hierarchy_maps_to_exit_statuses(cls: type[Exception], base: type[Exception]) -> None:
    assert issubclass(cls, base)


def test_damage_keeps_its_parts() -> None:
    e = CaptureDamaged("a.pcap", 24, "bad")
    assert (e.path, e.offset, e.reason) == ("a.pcap", 24, "bad")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PoolsniffError("x"), 2),
        (ConfigError("x"), 2),
        (BlocklistError("a.txt", 1, "x"), 2),
        (InputError("x"), 3),
        (CaptureDamaged("a.pcap", 24, "bad"), 3),
        (CaptureError("x"), 3),
        (OutputError("x"), 4),
    ],
)
def test_each_error_carries_its_exit_status(error: PoolsniffError, status: int) -> None:
    assert error.exit_status == status
