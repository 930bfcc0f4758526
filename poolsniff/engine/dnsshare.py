"""DNS for the workers of ``sniff --jobs``: all learn every answer, one alerts on it (composition layer).

source (a worker's DNS socket) -> **decode -> owner?** -> the pipeline (flows/dissectors -> detectors ->
enrichment), or -> **flows -> DnsMessage -> the pipeline's DNS memory** only

The kernel spreads flows over the workers by a hash, so the answer that names a pool's address and
the later connection to that address usually reach different workers; the connection is only named
after the pool where the answer was seen. Each worker therefore reads every DNS message (a socket of
its own, ``sources.fanout``), and ``DnsShare.feed`` hands it on:

- to the worker's ``Pipeline`` when this worker *owns* the message's flow (``owner``: a hash of the
  flow's two ends, the same for a query and its answer): that worker alone alerts on it, counts it
  and keeps its flow (DNS over TCP included), as one process would;
- otherwise to a table of its own (``FlowTable``: DNS over TCP is reassembled too) whose answers go
  into the pipeline's DNS memory and nowhere else: learnt, never alerted, never counted.
"""

from __future__ import annotations

import zlib

from poolsniff.dissect.flow import FastMap
from poolsniff.dissect.flows import FlowTable
from poolsniff.engine.decode import Decoder
from poolsniff.engine.fast.walk import DECIDE, LINKTYPE_ETHERNET, SKIP_UDP, new_fast_map
from poolsniff.engine.pipeline import Pipeline
from poolsniff.model import DnsMessage, Frame, Packet, Released

_NO_FLOWS: FastMap = new_fast_map()
"""The ``fast`` map ``DECIDE`` is given for another worker's DNS frame: only its UDP test counts (empty,
of the kind the tables have: the C walk looks a TCP frame up in it without making a key)."""


def owner(packet: Packet, workers: int) -> int:
    """The worker (0 .. ``workers`` - 1) that alerts on ``packet``'s DNS flow; both directions agree."""
    here = packet.src + packet.sport.to_bytes(2, "big")
    there = packet.dst + packet.dport.to_bytes(2, "big")
    low, high = (here, there) if here <= there else (there, here)
    return zlib.crc32(low + high) % workers


class DnsShare:
    """One worker's DNS frames: its own go through its pipeline, the others only teach its memory."""

    def __init__(self, pipeline: Pipeline, index: int, workers: int) -> None:
        """Worker ``index`` of ``workers``, alerting through ``pipeline``."""
        self.pipeline = pipeline
        self.index = index
        self.workers = workers
        self.decoder = Decoder()
        self.learner = FlowTable()
        """The DNS flows of the other workers (DNS over TCP needs its segments put together)."""
        self.learnt = 0
        """DNS frames of other workers' flows read for their answers only."""

    def owned(self, frame: Frame) -> bool:
        """Whether this worker alerts on (and counts) ``frame``."""
        packet = self.decoder.decode(*frame)
        return self.index == 0 if packet is None else owner(packet, self.workers) == self.index

    def feed(self, frame: Frame) -> list[Released]:
        """Run one frame of the DNS socket through; return what the pipeline releases.

        A query for a name no list holds (``engine.fast.udp.dns_quiet``) is only counted by its owner,
        as ``Tracker.feed_live`` counts it, and not read by the others: it teaches nothing."""
        ts_us, linktype, data = frame
        packet = self.decoder.decode(ts_us, linktype, data)
        if packet is None:  # undecodable: worker 0 counts it, as one process would once
            return self.pipeline.feed(frame) if self.index == 0 else []
        if owner(packet, self.workers) == self.index:
            if linktype == LINKTYPE_ETHERNET:
                return self.pipeline.feed_live(frame)
            return self.pipeline.feed_packet(ts_us, len(data), packet)
        self.learnt += 1
        names = self.pipeline.flows.dns_names
        if linktype == LINKTYPE_ETHERNET and DECIDE(_NO_FLOWS, data, ts_us, names) == SKIP_UDP:
            return []  # only DNS reaches this socket: SKIP_UDP is a quiet query (never with no names)
        memory = self.pipeline.memory
        for event in self.learner.process(packet, len(data)):
            if isinstance(event, DnsMessage) and event.is_response:
                memory.observe(event)
        return []
