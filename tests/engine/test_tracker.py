"""poolsniff.engine.tracker: the feeding and the counters the pipeline and the split front share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poolsniff.dissect import flows as flows_module
from poolsniff.dissect.flows import FlowTable
from poolsniff.engine import pipeline as pipeline_module
from poolsniff.engine import tracker as tracker_module
from poolsniff.engine.fast import walk as walk_module
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.tracker import Tracker
from poolsniff.intel.lists import Blocklist, load_shipped
from poolsniff.model import Alert, Frame, Packet, Released
from poolsniff.output.eve import to_eve
from poolsniff.output.eventid import without_id
from poolsniff.sources.pcap import read_frames
from tests import factories_mixes as mixes

from ..factories_frames import eth, ipv4, only_counted, relinked, tcp


class Recording(Tracker):
    def __init__(self) -> None:
        super().__init__(FlowTable())
        self.seen: list[tuple[int, Packet, int]] = []
        self.undecoded: list[int] = []

    def _track(self, ts_us: int, packet: Packet, size: int) -> list[Released]:
        self.seen.append((ts_us, packet, size))
        return []

    def _undecoded(self, ts_us: int) -> list[Released]:
        self.undecoded.append(ts_us)
        return []


def test_every_frame_is_counted_and_decoded_once() -> None:
    tracker = Recording()
    frame = eth(ipv4(tcp(b"hello")))
    tracker.feed((5, 1, frame))
    tracker.feed((6, 1, b"\x00" * 10))  # too short to decode
    assert tracker.stats.packets == 2
    assert [(ts, size) for ts, _, size in tracker.seen] == [(5, len(frame))] and tracker.undecoded == [6]


def test_feed_packet_counts_like_feed() -> None:
    tracker = Recording()
    frame = eth(ipv4(tcp(b"hello")))
    packet = tracker.decoder.decode(7, 1, frame)
    assert packet is not None
    tracker.feed_packet(7, len(frame), packet)
    assert tracker.stats.packets == 1 and tracker.seen == [(7, packet, len(frame))]


def test_the_pipeline_is_a_tracker() -> None:
    assert isinstance(Pipeline(Blocklist()), Tracker)


# --------------------------------------------------------------------------- feed_live


def _frames(path: Path) -> list[Frame]:
    with open(path, "rb") as fileobj:
        return list(read_frames(fileobj, str(path)))


class _Counting(Pipeline):
    """A pipeline that counts the packets reaching its flow work."""

    tracked = 0

    def _track(self, ts_us: int, packet: Packet, size: int) -> list[Released]:
        self.tracked += 1
        return super()._track(ts_us, packet, size)


Outcome = tuple[list[dict[str, Any]], int, dict[str, int], int]


def _run(frames: list[Frame], lists: Blocklist, live: bool) -> Outcome:
    """Alert records, packets counted, the counters (flows, expired, evicted, ...) and packets tracked
    of ``frames`` fed one way."""
    pipeline = _Counting(lists)
    feed = pipeline.feed_live if live else pipeline.feed
    out = [without_id(to_eve(Alert(d, "x"))) for f in frames for d in feed(f)]
    out += [without_id(to_eve(Alert(d, "x"))) for d in pipeline.finish()]
    return out, pipeline.stats.packets, dict(pipeline.stats.skipped), pipeline.tracked


@pytest.fixture(scope="module")
def shipped() -> Blocklist:
    return load_shipped()


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    """The benchmark's mix, 20,000 packets, with a mining session of each kind every 1,000 (many alerts)."""
    path = tmp_path_factory.mktemp("busy") / "busy.pcap"
    return _frames(mixes.mix(path, 20_000, seed=8, mining_every=1000))


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    """The short-flow mix, 20,000 packets."""
    return _frames(mixes.short_mix(tmp_path_factory.mktemp("short") / "short.pcap", 20_000, seed=8))


@pytest.mark.parametrize(
    ("settings", "counter"),
    [
        ({}, None),
        ({"SWEEP_EVERY": 97}, None),
        ({"SWEEP_EVERY": 300, "IDLE_TIMEOUT_US": 20_000}, "flows-expired"),
        ({"MAX_FLOWS": 12}, "flows-evicted"),
        ({"HOLD_US": 20_000, "CHECK_EVERY_US": 3_000}, None),
    ],
    ids=["defaults", "sweep-often", "expire-idle", "evict", "release-held-often"],
)
@pytest.mark.parametrize("walk", ["c", "python"])
def test_feed_live_gives_what_feed_gives_and_tracks_less(
    settings: dict[str, int],
    counter: str | None,
    walk: str,
    busy: list[Frame],
    short: list[Frame],
    shipped: Blocklist,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frames fed as a live capture reads them: the prefilter's decision first (``walk.DECIDE``, in C or
    its Python reference), then the pipeline. The alerts (in order, with their times), the packets
    counted and every counter are those of ``feed``, with sweeps, expiry, eviction and hold releases
    made frequent so that they fall among skipped packets; far fewer packets reach the flow work. So too
    for the Linux cooked frames of ``-i any``."""
    if walk == "python":
        monkeypatch.setattr(tracker_module, "DECIDE", walk_module.decide_frame)
        monkeypatch.setattr(tracker_module, "FAST_LANE", walk_module.fast_lane)
    elif not walk_module.ACCELERATED:
        pytest.skip("the C record walk (engine/fast/_walk.c) is not built here")
    for name, value in settings.items():  # every module that holds the setting, as it reads its own
        for module in (flows_module, pipeline_module, tracker_module):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    # frames the decoder only counts, among the short mix's (live capture counts them without decoding)
    extra = [(short[i * 1500][0], 1, frame) for i, frame in enumerate(only_counted())]
    odd = sorted(short + extra, key=lambda f: f[0])
    cooked = [(ts, 276, relinked(frame, 276)) for ts, _, frame in short]  # as ``sniff -i any`` reads them
    for frames in (busy, short, odd, cooked):
        want = _run(frames, shipped, live=False)
        got = _run(frames, shipped, live=True)
        assert want[0] and got[:3] == want[:3]
        assert got[3] < 0.7 * want[3], (got[3], want[3])
        if counter is not None:
            assert want[2].get(counter, 0) > 0
        if frames is odd:
            assert want[2]["not-ip"] == 6 and want[2]["other-proto"] == 5, want[2]
