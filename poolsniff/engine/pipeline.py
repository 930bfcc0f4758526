"""The pipeline, end to end, for one capture or one interface (composition layer).

source -> **decode -> flows/dissectors -> detectors -> enrichment** -> sinks

``Pipeline.feed(frame)`` runs one frame through decoding, the flow table, every detector
and enrichment, and returns the detections it releases. A detection is held briefly so
that one alert per flow and signature carries the whole story (a subscribe followed by an
authorize gives one alert with the agent *and* the wallet): it is released once it has a
login (and the pool's answer, when the pool side is folded in; a TLS name or a tunnel: the
ServerHello's JA3S, which goes on every alert of the flow), when its flow ends, or
``HOLD_US`` of capture time later. Fallback signatures
(an address a pool name resolved to) are dropped when something more specific fired on
the flow. ``finish()`` releases everything at the end of input.

**One session, one alert.** The pool side of a session whose miner side has alerted (or is
held) is folded into the miner's alert (``pool_signature_id``, ``pool_method`` and whatever
the pool side adds to the evidence) instead of raising an alert of its own; ``fold_pool=False``
keeps both. **Time order within a flow:** a flow's detections are released in the order of
their timestamps (a detection is a flow's first message of its signature): one that is
complete waits while an earlier one of the same flow is still held, and goes out right after it.

Per event, only the detectors that take its type (``Detector.events``) are called, and the
enricher only for the types it observes; the routes are worked out on the first event of
each type. The Stratum detector may ask whether a signature is already settled on a flow
(alerted, so a new detection of it is dropped) and then skip filling in its evidence.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from poolsniff.detect.behaviour import BehaviourDetector
from poolsniff.detect.interface import Detector
from poolsniff.detect.names import NameDetector
from poolsniff.detect.protocol import ProtocolDetector
from poolsniff.detect.signatures import FALLBACK, MINER, TUNNEL_POOL
from poolsniff.detect.stratum import StratumDetector
from poolsniff.dissect.flows import FlowTable
from poolsniff.engine.fast.walk import new_fast_map
from poolsniff.engine.tracker import CHECK_EVERY_US, Tracker
from poolsniff.enrich.dnsmemory import DnsMemory
from poolsniff.enrich.enricher import Enricher
from poolsniff.intel.lists import Blocklist
from poolsniff.model import (
    PROTO_TCP,
    Detection,
    Event,
    FlowEnd,
    FlowKey,
    FlowSummary,
    Frame,
    Packet,
    Released,
    Role,
    TlsServerHello,
)

HOLD_US: Final = 5 * 1_000_000
"""How long a miner alert waits for the login that usually follows the subscribe."""
MAX_PENDING: Final = 10_000
MAX_DONE_FLOWS: Final = 100_000
MINER_SIDS: Final = frozenset(sig.sid for sig in MINER.values())
"""The miner-side signature of each dialect: a pool side folds into these."""


Inspect = Callable[[Event], list[Detection]]
"""A detector's ``inspect``."""


def build_detectors(
    blocklist: Blocklist, memory: DnsMemory, settled: Callable[[FlowKey, int], bool] | None = None
) -> list[Detector]:
    """Return the detectors in the order they run (``settled``: see ``StratumDetector``)."""
    return [
        StratumDetector(settled), ProtocolDetector(), NameDetector(blocklist, memory), BehaviourDetector(),
    ]  # fmt: skip


class Pipeline(Tracker):
    """Frames in, released detections out."""

    def __init__(self, blocklist: Blocklist, *, redact: bool = False, fold_pool: bool = True) -> None:
        """Build a fresh pipeline (flows, DNS memory, pending alerts) over ``blocklist``.

        ``fold_pool``: the pool side of a session whose miner side alerted goes into the miner's
        alert rather than an alert of its own.
        """
        super().__init__(FlowTable(fast=new_fast_map()))
        self.flows.dns_names = blocklist.wire_names()
        self.fold_pool = fold_pool
        self.memory = DnsMemory()
        self.enricher = Enricher(blocklist, self.memory, redact_ids=redact)
        self.detectors = build_detectors(blocklist, self.memory, self._settled)
        self._routes: dict[type[Event], tuple[bool, tuple[Inspect, ...]]] = {}
        """Event type -> (whether the enricher observes it, the ``inspect`` of each detector
        that takes it, in detector order); made on the first event of the type, so
        ``detectors`` is fixed from then on."""
        self._pending: OrderedDict[tuple[FlowKey, int], Detection] = OrderedDict()
        self._held: dict[FlowKey, list[int]] = {}
        """Flow -> the signatures it has in ``_pending``, in ``_pending``'s order (so that a flow's
        end and a fallback's release need not walk every held detection)."""
        self._done: OrderedDict[FlowKey, set[int]] = OrderedDict()
        self._folded: dict[FlowKey, set[int]] = {}
        """Flow -> pool-side signatures folded into a held miner detection (settled at its release)."""
        self._alerted: dict[FlowKey, _Alerted] = {}
        """TCP flows that alerted: what their ``FlowSummary`` will say when they end."""

    def _track(self, ts_us: int, packet: Packet, size: int) -> list[Released]:
        """The flow table, the events and the hold check for one decoded packet."""
        events = self.flows.process(packet, size)
        out: list[Released] = []
        if events:
            for event in events:
                self.handle(event, out)
        if ts_us - self.last_check >= CHECK_EVERY_US:
            self.tick(ts_us, out)
        return out

    def tick(self, ts_us: int, out: list[Released]) -> None:
        """The hold check, due once ``CHECK_EVERY_US`` of capture time has passed since the last.

        Its schedule depends on packet timestamps only (not on whether anything is held), so
        a process that sees the same packets runs it at the same packets (``engine.split.parallel``).
        """
        self.last_check = ts_us
        if self._pending:
            self._release_old(ts_us, out)

    def finish(self) -> list[Released]:
        """End of input: close every flow and release every held detection."""
        out: list[Released] = []
        for event in self.flows.close_all():
            self.handle(event, out)
        for key in list(self._pending):
            if key in self._pending:  # not released behind an earlier one
                self._release(key, out)
        self.stats.skipped = self.decoder.skipped + self.flows.counters
        if self.memory.evicted:
            self.stats.skipped["dns-memory-evicted"] = self.memory.evicted
        return out

    def handle(self, event: Event, out: list[Released]) -> None:
        """Run one event through enrichment and the detectors; append what it releases to ``out``."""
        kind = type(event)
        route = self._routes.get(kind)
        if route is None:
            route = self._routes[kind] = self._route(kind)
        observed, inspects = route
        if observed:
            self.enricher.observe(event)
        if self._held and event.flow in self._held:
            self._expire(event.flow, event.ts_us, out)
        for inspect in inspects:
            for det in inspect(event):
                self._hold(det, out)
        if kind is FlowEnd:
            assert isinstance(event, FlowEnd)
            self._flow_end(event, out)
            self.enricher.forget(event.flow)
        elif kind is TlsServerHello and self._held and event.flow in self._held:
            # the JA3S is in: what waited for it on this flow may be complete now
            first = self._first_held(event.flow)
            if first is not None and self._complete(self._pending[(event.flow, first)], self.fold_pool):
                self._release((event.flow, first), out)

    # ------------------------------------------------------------------ internals

    def _flow_end(self, event: FlowEnd, out: list[Released]) -> None:
        """Release what the flow holds; an alerted flow's summary follows its alerts."""
        flow = event.flow
        sids = self._held.get(flow) if self._held else None
        if sids:
            for sid in list(sids):
                if (flow, sid) in self._pending:  # not released behind an earlier one
                    self._release((flow, sid), out)
        self._done.pop(flow, None)  # the flow is gone: a new one on the same ports starts afresh
        self._folded.pop(flow, None)
        alerted = self._alerted.pop(flow, None)
        if alerted is not None:
            out.append(FlowSummary(event, tuple(alerted.roles), alerted.miner_is_client, alerted.app_proto))

    def _route(self, kind: type[Event]) -> tuple[bool, tuple[Inspect, ...]]:
        """Who sees events of type ``kind``: the enricher (or not), then these detectors."""
        inspects = tuple(d.inspect for d in self.detectors if issubclass(kind, d.events))
        return issubclass(kind, self.enricher.observes), inspects

    def _settled(self, flow: FlowKey, sid: int) -> bool:
        """Whether a new detection of ``sid`` on ``flow`` would be suppressed (see ``_hold``)."""
        done = self._done.get(flow)
        return done is not None and sid in done

    def _hold(self, det: Detection, out: list[Released]) -> None:
        key = (det.flow, det.signature.sid)
        if self._settled(det.flow, key[1]):
            self.stats.suppressed += 1
            return
        if self.fold_pool and det.role == Role.POOL:
            folded = self._fold(det)
            if isinstance(folded, tuple):
                if self._complete(self._pending[folded], True) and self._first_held(folded[0]) == folded[1]:
                    self._release(folded, out)
                return
            if folded:
                return
        held = self._pending.get(key)
        if held is None:
            if len(self._pending) >= MAX_PENDING:
                self._release(next(iter(self._pending)), out)
            self._pending[key] = held = det
            self._held.setdefault(det.flow, []).append(key[1])
        else:
            _merge(held, det)
        if self._complete(held, self.fold_pool) and self._first_held(det.flow) == key[1]:
            self._release(key, out)

    def _complete(self, det: Detection, fold_pool: bool) -> bool:
        """``_complete``, knowing whether the flow's ServerHello has been seen (asked only of a detection
        that waits for it: most do not, and the question is a look-up by the flow's key)."""
        hello_seen = not _waits_for_hello(det) or self.enricher.facts.has_server_hello(det.flow)
        return _complete(det, fold_pool, hello_seen)

    def _first_held(self, flow: FlowKey) -> int | None:
        """The signature of the flow's earliest held detection (``_held`` keeps them in time order).

        Fallbacks do not count: one is dropped when anything more specific alerts on its flow,
        so it never goes out after a later alert of the flow.
        """
        sids = self._held.get(flow)
        if sids is not None:
            for sid in sids:  # a loop, not next() of a generator: that is an object and calls per question
                if sid not in FALLBACK:
                    return sid
        return None

    def _fold(self, det: Detection) -> tuple[FlowKey, int] | bool:
        """Fold a pool-side detection into its session's miner alert.

        Returns the key of the held miner detection it went into, True when the miner's alert
        is already out (the pool side is settled with it), False when the flow has no miner side.
        """
        flow = det.flow
        if det.signature.sid in self._folded.get(flow, ()):  # folded already: a repeat
            self.stats.suppressed += 1
            return True
        for sid in self._held.get(flow, ()):
            miner = self._pending[(flow, sid)]
            if miner.role == Role.MINER and miner.miner_is_client == det.miner_is_client:
                _fold_into(miner, det)
                self._folded.setdefault(flow, set()).add(det.signature.sid)
                self.stats.folded += 1
                return (flow, sid)
        done = self._done.get(flow)
        if done is not None and not done.isdisjoint(MINER_SIDS):
            done.add(det.signature.sid)
            self.stats.folded += 1
            return True
        return False

    def _expire(self, flow: FlowKey, now_us: int, out: list[Released]) -> None:
        """Release the flow's held detections whose hold is over, before its next event is seen.

        The hold check (``tick``) runs at times set by every packet of the input; without this,
        whether a late message of a flow still joins its held detection would depend on unrelated
        packets (a filtered capture would alert differently from the whole one).
        """
        for sid in list(self._held.get(flow, ())):
            det = self._pending.get((flow, sid))
            if det is not None and now_us - det.ts_us >= HOLD_US:
                self._release((flow, sid), out)

    def _release_old(self, now_us: int, out: list[Released]) -> None:
        for key, det in list(self._pending.items()):
            if now_us - det.ts_us >= HOLD_US and key in self._pending:
                self._release(key, out)

    def _release(self, key: tuple[FlowKey, int], out: list[Released]) -> None:
        """Release one held detection, then the complete ones of its flow that waited behind it."""
        self._release_one(key, out)
        flow = key[0]
        sid = self._first_held(flow)
        while sid is not None and self._complete(self._pending[(flow, sid)], self.fold_pool):
            self._release_one((flow, sid), out)
            sid = self._first_held(flow)

    def _release_one(self, key: tuple[FlowKey, int], out: list[Released]) -> None:
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
        if self._folded and flow in self._folded and sid in MINER_SIDS:
            done.update(self._folded.pop(flow))
        self.stats.alerts += 1
        out.append(self.enricher.enrich(det))
        if flow.proto == PROTO_TCP:
            self._note_alert(det)

    def _note_alert(self, det: Detection) -> None:
        """Remember what an alert says about its TCP flow, for the flow's summary."""
        alerted = self._alerted.get(det.flow)
        if alerted is None:
            app_proto = det.signature.app_proto or next(iter(det.app), "")
            alerted = self._alerted[det.flow] = _Alerted(det.miner_is_client, [], app_proto)
        if det.role not in alerted.roles:
            alerted.roles.append(det.role)
        if "pool_signature_id" in det.evidence and Role.POOL not in alerted.roles:
            alerted.roles.append(Role.POOL)


def _merge(held: Detection, new: Detection) -> None:
    for k, v in new.evidence.items():
        held.evidence.setdefault(k, v)
    held.names.extend(n for n in new.names if n not in held.names)
    for k, app in new.app.items():
        held.app.setdefault(k, app)


class _Alerted:
    """What the alerts of a TCP flow said: who the miner is, the roles, the application protocol (a
    plain class: a dataclass's generated ``__init__`` stays interpreted in this compiled module)."""

    def __init__(self, miner_is_client: bool, roles: list[Role], app_proto: str) -> None:
        self.miner_is_client = miner_is_client
        self.roles = roles
        self.app_proto = app_proto


POOL_SIDE_SKIPPED: Final = frozenset({"role", "flavour", "method"})
"""Evidence of a folded pool side that the miner's own says better."""


def _fold_into(miner: Detection, pool: Detection) -> None:
    """The pool side of the session goes into the miner's alert."""
    e = miner.evidence
    e.setdefault("pool_signature_id", str(pool.signature.sid))
    if "method" in pool.evidence:
        e.setdefault("pool_method", pool.evidence["method"])
    for k, v in pool.evidence.items():
        if k not in POOL_SIDE_SKIPPED:
            e.setdefault(k, v)
    miner.names.extend(n for n in pool.names if n not in miner.names)
    for k, app in pool.app.items():
        miner.app.setdefault(k, app)


def _complete(det: Detection, fold_pool: bool, hello_seen: bool = True) -> bool:
    """A held detection is complete when waiting cannot add to it.

    A miner's waits for its login (the CryptoNote login carries agent and login in one message;
    Stratum's authorize follows the subscribe) and, when the pool side is folded in, for the
    pool's answer, which comes one round trip later. One with a ``tls`` object or of a tunnel
    waits for the flow's ServerHello (``hello_seen``): its JA3S goes on every alert of the flow.
    """
    sid = det.signature.sid
    if sid in FALLBACK:
        return False
    if not hello_seen and _waits_for_hello(det):
        return False
    if det.role != Role.MINER:
        return True
    return "login" in det.evidence and (not fold_pool or "pool_signature_id" in det.evidence)


def _waits_for_hello(det: Detection) -> bool:
    """Whether a detection waits for its flow's ServerHello (one with a ``tls`` object, or of a tunnel)."""
    return det.signature.sid == TUNNEL_POOL.sid or "tls" in det.app


def run(frames: Iterable[Frame], pipeline: Pipeline) -> Iterator[Released]:
    """Run ``frames`` through ``pipeline`` and yield detections as they are released."""
    for frame in frames:
        released = pipeline.feed(frame)
        if released:
            yield from released
    yield from pipeline.finish()
