"""The pipeline, end to end, for one capture or one interface (composition layer).

source -> **decode -> flows/dissectors -> detectors -> enrichment** -> sinks

``Pipeline.feed(frame)`` runs one frame through decoding, the flow table, every detector
and enrichment, and returns the detections it releases. A detection is held briefly so
that one alert per flow and signature carries the whole story (a subscribe followed by an
authorize gives one alert with the agent *and* the wallet): it is released once it has a
login, when its flow ends, or ``HOLD_US`` of capture time later. Fallback signatures
(an address a pool name resolved to) are dropped when something more specific fired on
the flow. ``finish()`` releases everything at the end of input.

Per event, only the detectors that take its type (``Detector.events``) are called, and the
enricher only for the types it observes; the routes are worked out on the first event of
each type. The Stratum detector may ask whether a signature is already settled on a flow
(alerted, so a new detection of it is dropped) and then skip filling in its evidence.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from poolsniff.detect.interface import Detector
from poolsniff.detect.names import NameDetector
from poolsniff.detect.protocol import ProtocolDetector
from poolsniff.detect.signatures import FALLBACK
from poolsniff.detect.stratum import StratumDetector
from poolsniff.dissect.flows import FlowTable
from poolsniff.engine.decode import Decoder
from poolsniff.enrich.dnsmemory import DnsMemory
from poolsniff.enrich.enricher import Enricher
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Detection, Event, FlowEnd, FlowKey, Frame, Packet, Role

HOLD_US: Final = 5 * 1_000_000
"""How long a miner alert waits for the login that usually follows the subscribe."""
MAX_PENDING: Final = 10_000
MAX_DONE_FLOWS: Final = 100_000
CHECK_EVERY_US: Final = 1_000_000


@dataclass
class Stats:
    """Counters for the summary line and the stats output."""

    packets: int = 0
    bytes: int = 0
    alerts: int = 0
    suppressed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


Inspect = Callable[[Event], Iterable[Detection]]
"""A detector's ``inspect``."""


def build_detectors(
    blocklist: Blocklist, memory: DnsMemory, settled: Callable[[FlowKey, int], bool] | None = None
) -> list[Detector]:
    """Return the detectors in the order they run (``settled``: see ``StratumDetector``)."""
    return [StratumDetector(settled), ProtocolDetector(), NameDetector(blocklist, memory)]


class Pipeline:
    """Frames in, released detections out."""

    def __init__(self, blocklist: Blocklist, *, redact: bool = False) -> None:
        """Build a fresh pipeline (flows, DNS memory, pending alerts) over ``blocklist``."""
        self.decoder = Decoder()
        self.flows = FlowTable()
        self.memory = DnsMemory()
        self.enricher = Enricher(blocklist, self.memory, redact_ids=redact)
        self.detectors = build_detectors(blocklist, self.memory, self._settled)
        self._routes: dict[type[Event], tuple[bool, tuple[Inspect, ...]]] = {}
        """Event type -> (whether the enricher observes it, the ``inspect`` of each detector
        that takes it, in detector order); made on the first event of the type, so
        ``detectors`` is fixed from then on."""
        self.stats = Stats()
        self._pending: OrderedDict[tuple[FlowKey, int], Detection] = OrderedDict()
        self._held: dict[FlowKey, list[int]] = {}
        """Flow -> the signatures it has in ``_pending``, in ``_pending``'s order (so that a flow's
        end and a fallback's release need not walk every held detection)."""
        self._done: OrderedDict[FlowKey, set[int]] = OrderedDict()
        self.last_check = 0
        """Capture time of the last hold check; one runs once ``CHECK_EVERY_US`` has passed."""

    def feed(self, frame: Frame) -> list[Detection]:
        """Run one frame through the pipeline; return the detections it releases."""
        ts_us, linktype, data = frame
        stats = self.stats
        stats.packets += 1
        stats.bytes += len(data)
        packet = self.decoder.decode(ts_us, linktype, data)
        if packet is None:
            return []
        return self._track(ts_us, packet)

    def feed_packet(self, ts_us: int, size: int, packet: Packet) -> list[Detection]:
        """``feed`` for a frame of ``size`` bytes that the decoder's fast lane already decoded."""
        stats = self.stats
        stats.packets += 1
        stats.bytes += size
        return self._track(ts_us, packet)

    def _track(self, ts_us: int, packet: Packet) -> list[Detection]:
        """The flow table, the events and the hold check for one decoded packet."""
        events = self.flows.process(packet)
        out: list[Detection] = []
        if events:
            for event in events:
                self._event(event, out)
        if ts_us - self.last_check >= CHECK_EVERY_US:
            self.tick(ts_us, out)
        return out

    def tick(self, ts_us: int, out: list[Detection]) -> None:
        """The hold check, due once ``CHECK_EVERY_US`` of capture time has passed since the last.

        Its schedule depends on packet timestamps only (not on whether anything is held), so
        a process that sees the same packets runs it at the same packets (``engine.split.parallel``).
        """
        self.last_check = ts_us
        if self._pending:
            self._release_old(ts_us, out)

    def finish(self) -> list[Detection]:
        """End of input: close every flow and release every held detection."""
        out: list[Detection] = []
        for event in self.flows.close_all():
            self._event(event, out)
        for key in list(self._pending):
            self._release(key, out)
        self.stats.skipped = self.decoder.skipped + self.flows.counters
        if self.memory.evicted:
            self.stats.skipped["dns-memory-evicted"] = self.memory.evicted
        return out

    def handle(self, event: Event, out: list[Detection]) -> None:
        """Run one event through enrichment and the detectors; append what it releases to ``out``."""
        self._event(event, out)

    # ------------------------------------------------------------------ internals

    def _event(self, event: Event, out: list[Detection]) -> None:
        kind = type(event)
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = self._route(kind)
        observed, inspects = route
        if observed:
            self.enricher.observe(event)
        for inspect in inspects:
            for det in inspect(event):
                self._hold(det, out)
        if self._held and isinstance(event, FlowEnd):
            sids = self._held.get(event.flow)
            if sids:
                for sid in list(sids):
                    self._release((event.flow, sid), out)

    def _route(self, kind: type[Event]) -> tuple[bool, tuple[Inspect, ...]]:
        """Who sees events of type ``kind``: the enricher (or not), then these detectors."""
        inspects = tuple(d.inspect for d in self.detectors if issubclass(kind, d.events))
        return issubclass(kind, self.enricher.observes), inspects

    def _settled(self, flow: FlowKey, sid: int) -> bool:
        """Whether a new detection of ``sid`` on ``flow`` would be suppressed (see ``_hold``)."""
        done = self._done.get(flow)
        return done is not None and sid in done

    def _hold(self, det: Detection, out: list[Detection]) -> None:
        key = (det.flow, det.signature.sid)
        if self._settled(det.flow, key[1]):
            self.stats.suppressed += 1
            return
        held = self._pending.get(key)
        if held is None:
            if len(self._pending) >= MAX_PENDING:
                self._release(next(iter(self._pending)), out)
            self._pending[key] = held = det
            self._held.setdefault(det.flow, []).append(key[1])
        else:
            _merge(held, det)
        if _complete(held):
            self._release(key, out)

    def _release_old(self, now_us: int, out: list[Detection]) -> None:
        for key, det in list(self._pending.items()):
            if now_us - det.ts_us >= HOLD_US:
                self._release(key, out)

    def _release(self, key: tuple[FlowKey, int], out: list[Detection]) -> None:
        det = self._pending.pop(key)
        flow, sid = key
        sids = self._held[flow]
        sids.remove(sid)
        if not sids:
            del self._held[flow]
        done = self._done.get(flow)
        if done is None:
            if len(self._done) >= MAX_DONE_FLOWS:
                self._done.popitem(last=False)
            done = self._done[flow] = set()
        if sid in FALLBACK and (
            any(s not in FALLBACK for s in done) or any(s not in FALLBACK for s in self._held.get(flow, ()))
        ):
            return
        done.add(sid)
        self.stats.alerts += 1
        out.append(self.enricher.enrich(det))


def _merge(held: Detection, new: Detection) -> None:
    for k, v in new.evidence.items():
        held.evidence.setdefault(k, v)
    held.names.extend(n for n in new.names if n not in held.names)
    for k, app in new.app.items():
        held.app.setdefault(k, app)


def _complete(det: Detection) -> bool:
    """A held detection is complete when waiting cannot add to it."""
    if det.signature.sid in FALLBACK:
        return False
    if det.role != Role.MINER:
        return True
    # the CryptoNote login carries agent and login in one message; Stratum's authorize follows the subscribe
    return "login" in det.evidence


def run(frames: Iterable[Frame], pipeline: Pipeline) -> Iterator[Detection]:
    """Run ``frames`` through ``pipeline`` and yield detections as they are released."""
    for frame in frames:
        released = pipeline.feed(frame)
        if released:
            yield from released
    yield from pipeline.finish()
