"""poolsniff.engine.tracker: the feeding and the counters the pipeline and the split front share."""

from __future__ import annotations

from poolsniff.dissect.flows import FlowTable
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.tracker import Tracker
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Packet, Released

from ..factories_frames import eth, ipv4, tcp


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
