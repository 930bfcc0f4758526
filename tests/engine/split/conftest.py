"""Fixtures of the split's tests."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.engine.decode import Decoder
from poolsniff.model import Packet
from poolsniff.sources.pcap import read_frames
from tests import factories_mixes as mixes


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


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated mixed traffic with plenty of mining."""
    return mixes.mix(tmp_path_factory.mktemp("mix") / "mix.pcap", 20_000, seed=5, mining_every=2000)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The short-flow mix: HTTP and TLS sessions of 10-40 packets, DNS, UDP of many kinds."""
    return mixes.short_mix(tmp_path_factory.mktemp("short") / "short.pcap", 20_000, seed=3, mining_every=1000)


def packets(path: Path) -> list[Packet]:
    """The decoded packets of a capture."""
    decoder = Decoder()
    with open(path, "rb") as fileobj:
        found = (decoder.decode(*frame) for frame in read_frames(fileobj, str(path)))
        return [p for p in found if p is not None]
