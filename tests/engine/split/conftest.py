"""Fixtures of the split's tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail instead of hanging when the processes wait on each other."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the processes of the scan are stuck")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
