"""run.collector: a scan and a capture look at young objects every YOUNG allocations, not 700."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poolsniff.errors import CaptureError
from poolsniff.intel.lists import Blocklist
from poolsniff.output.eve import to_eve
from poolsniff.run import collector
from poolsniff.run.scan import FileScans
from poolsniff.run.sniff import SniffOptions, sniff
from poolsniff.sources.pcap import expand_paths
from tests import factories_mixes as mixes

from ..conftest import PCAPS

DEMO = expand_paths([str(PCAPS)])


@pytest.fixture(autouse=True)
def default_collector() -> Iterator[None]:
    """Each test starts from CPython's thresholds and leaves the ones it found."""
    found = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*found)


def test_settle_raises_only_the_young_threshold() -> None:
    gc.set_threshold(700, 7, 9)
    collector.settle()
    assert gc.get_threshold() == (collector.YOUNG, 7, 9)
    collector.settle()  # twice is once
    assert gc.get_threshold() == (collector.YOUNG, 7, 9)


def test_a_scan_settles_the_collector_first(lists: Blocklist) -> None:
    capture = DEMO[0]
    scans = FileScans([capture], lists, to_record=to_eve)
    assert gc.get_threshold()[0] == collector.YOUNG
    scans.scan(capture, emit=lambda record: None)


def test_a_capture_settles_the_collector_before_it_opens_anything(lists: Blocklist) -> None:
    with pytest.raises(CaptureError):
        sniff(SniffOptions(("no-such-if0",)), lists, log=lambda line: None)
    assert gc.get_threshold()[0] == collector.YOUNG


COUNT_CYCLES = """
import gc, sys
import dpkt  # the first DNS name imports it, and its classes leave garbage once: not the scan's cycles
from poolsniff.intel.lists import load_shipped
from poolsniff.output.eve import to_eve
from poolsniff.run.scan import FileScans
scans = FileScans([sys.argv[1]], load_shipped(), to_record=to_eve)
gc.set_threshold(100, 10, 10)  # FileScans settled it; collect often, to look often
gc.collect()
runs = freed = 0
def count(phase, info):
    global runs, freed
    if phase == "stop":
        runs, freed = runs + 1, freed + info["collected"]
gc.callbacks.append(count)
scans.scan(sys.argv[1], emit=lambda record: None)
gc.callbacks.remove(count)
print(runs, freed)
"""


@pytest.mark.parametrize("make", [mixes.mix, mixes.short_mix], ids=["mix", "short"])
def test_a_scan_makes_no_garbage_cycles_while_it_runs(make: Any, tmp_path: Path) -> None:
    """What makes a high threshold safe: the collections that run during a scan of 20,000 packets (in a
    process of its own, nothing else running; hundreds of them) find nothing to free. (The pipeline
    itself is a cycle, through its bound methods, freed once, by the first collection after the scan.)"""
    path = str(make(tmp_path / "mix.pcap", 20_000, seed=4, mining_every=200))
    done = subprocess.run(
        [sys.executable, "-c", COUNT_CYCLES, path], capture_output=True, text=True, timeout=300, check=True
    )
    runs, freed = map(int, done.stdout.split())
    assert runs >= 50
    assert freed == 0
