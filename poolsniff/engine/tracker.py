"""The packet half of the engine: each frame counted, decoded and handed to the flow work.

source -> **decode -> flows** -> dissectors -> detectors -> enrichment -> output

:class:`Tracker` is what the prefilter (``engine/fast``) and the run modes feed, one frame at a
time (``feed``; ``feed_live`` asks the prefilter's decision first) or already decoded by the
decoder's fast lane (``feed_packet``). Its two kinds
are the whole pipeline (``engine/pipeline.Pipeline``: flows, dissectors, detectors) and the front
half of the two-process scan (``engine/split/parallel.Front``: flows only, events to the back);
they differ only in ``_track`` (and in what an undecodable frame means), so the feeding and its
counters exist once. The hold check runs every ``CHECK_EVERY_US`` of capture time in both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from poolsniff.dissect.flows import SWEEP_EVERY, FlowTable
from poolsniff.engine.decode import Decoder
from poolsniff.engine.fast.dropped import REASONS, SKIP_NOT_IP
from poolsniff.engine.fast.link import LINKTYPES
from poolsniff.engine.fast.walk import DECIDE, FAST_LANE, FEED, LINKTYPE_ETHERNET, SKIP_TCP
from poolsniff.model import Frame, Packet, Released

CHECK_EVERY_US: Final = 1_000_000
"""Capture time between two hold checks (the same packets see them in every process)."""


@dataclass
class Stats:
    """Counters for the summary line and the stats output."""

    packets: int = 0
    alerts: int = 0
    suppressed: int = 0
    """Detections dropped because the same flow already had that signature."""
    folded: int = 0
    """Pool-side detections folded into the miner alert of their session."""
    skipped: Counter[str] = field(default_factory=Counter)


class Tracker:
    """Frames in; what ``_track`` makes of each decoded packet out."""

    def __init__(self, flows: FlowTable) -> None:
        """Track into ``flows``, with fresh counters and a fresh decoder."""
        self.decoder = Decoder()
        self.flows = flows
        self.stats = Stats()
        self.last_check = 0
        """Capture time of the last hold check; one runs once ``CHECK_EVERY_US`` has passed."""

    def feed(self, frame: Frame) -> list[Released]:
        """Run one frame through; return the detections (and ended alerted flows) it releases."""
        ts_us, linktype, data = frame
        self.stats.packets += 1
        packet = self.decoder.decode(ts_us, linktype, data)
        if packet is None:
            return self._undecoded(ts_us)
        return self._track(ts_us, packet, len(data))

    def feed_live(self, frame: Frame) -> list[Released]:
        """``feed`` for a frame read from an interface: the prefilter's decision first (``walk.DECIDE``).

        A packet the flow table would drop at once (of a direction with nothing more to read, a UDP
        datagram it does not read, ...), or a frame the decoder would only count, is only counted, as a
        capture file's walk counts it, except where the idle sweep or the hold check is due: those run at
        the same packets as with ``feed``.
        The others are decoded by the decoder's fast lane in C where it can (``walk.FAST_LANE``).
        """
        ts_us, linktype, data = frame
        flows = self.flows
        if (
            linktype in LINKTYPES
            and ts_us - self.last_check < CHECK_EVERY_US
            and flows.since_sweep < SWEEP_EVERY - 1
        ):
            kind = DECIDE(flows.fast, data, ts_us, flows.dns_names, flows.on_syn, flows.on_end, linktype)
            if kind != FEED:
                self.stats.packets += 1
                if kind == SKIP_TCP:
                    flows.since_sweep += 1
                elif kind >= SKIP_NOT_IP:  # a frame the decoder only counts, by reason, as it would
                    self.decoder.skipped[REASONS[kind - SKIP_NOT_IP]] += 1
                return []
        if linktype == LINKTYPE_ETHERNET:
            packet = FAST_LANE(ts_us, data)
            if packet is not None:  # decoded in C, as a capture file's walk decodes it
                return self.feed_packet(ts_us, len(data), packet)
        return self.feed(frame)

    def feed_packet(self, ts_us: int, size: int, packet: Packet) -> list[Released]:
        """``feed`` for a frame of ``size`` bytes that the decoder's fast lane already decoded."""
        self.stats.packets += 1
        return self._track(ts_us, packet, size)

    def _track(self, ts_us: int, packet: Packet, size: int) -> list[Released]:
        """The flow work for one decoded packet of a ``size``-byte frame (the kinds differ here)."""
        raise NotImplementedError

    def _undecoded(self, ts_us: int) -> list[Released]:
        """A frame the decoder could not use (counted in ``decoder.skipped``): nothing by default."""
        return []
