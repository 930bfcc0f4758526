"""One capture over two processes: the front reads and tracks, the back dissects and detects.

source -> prefilter -> decode -> flows (**front**)
       => dissectors -> detectors -> enrichment (**back**) -> sinks

The front process reads the file and runs the prefilter, the decoder and the tracking half
of the flow table. Its table is given a ``Recorder`` for a dissector (``recorder``): each call the table
makes (a flow starts, a SYN, a segment with data, a flow ends, a DNS datagram) becomes an
*item*, and so does each hold check (its schedule depends on packet times only). The back
process replays the items, in order, through the real ``Dissector`` and the pipeline's
detectors and enrichment: it sees exactly the events one process sees, in the same order,
so the alerts and their order are those of one process, with nothing to merge. The back
tells the front which directions have nothing more to read; the front marks them closed in
its ``fast`` map, so the prefilter skips their packets (until it knows, it sends their
segments along and the back ignores them, as one process would). It also tells it which
bytes ahead a direction will not read (an HTTP body that is not JSON, ``Direction.unread``):
the prefilter skips the segments wholly inside them, and the back's direction takes the hole
as that body. A server's shadow (``Recorder``) hands such a range out itself as soon as it has read the
head, so the body's segments are skipped from the next one on, not once the back's word arrives.
The front holds no TLS record shapes (the back reads the ClientHellos), so it sends
their segments along; the back reads those that only advance a shape in C (``walk.QUIET``), as
the one-process walk does. Once a flow has no shadow left, nothing in the front reads its
segments, and the front's prefilter appends them to the items itself (a ``fast`` entry with the
item list, in C), with no packet object and no Python call per segment. The back sends its
released detections back as tuples of plain values (``records``); the front makes alerts of them
and hands them to the output (``release``), which balances the two processes when alerts are many.
An alerted flow's EVE line (``eventid.flow_line``, in C) is the output's largest share; where the
scan's output takes such lines (``line_of``), the back makes them itself whenever it has caught up
with the front (no message of the front's waiting: the front is the slower), and the front writes
the text (``release_line``): the same line, made by whichever process has the time.
Messages are marshalled lists over two pipes (``channel``); the front never blocks on a full pipe
without reading the other.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any, BinaryIO, Final

from poolsniff.dissect.flow import Flow
from poolsniff.dissect.flows import Dissector, FlowTable
from poolsniff.engine.fast.prefilter import detections
from poolsniff.engine.fast.walk import QUIET, new_fast_map
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.split.channel import Channel, PeerGone
from poolsniff.engine.split.recorder import DATA, DNS, END, FINISH, START, SYN, TICK, Item, Recorder
from poolsniff.engine.split.records import Flat, flat, rebuilt
from poolsniff.engine.tracker import CHECK_EVERY_US, Tracker
from poolsniff.errors import CaptureDamaged
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, Event, FlowKey, FlowSummary, Packet, Released

_new = tuple.__new__

BATCH: Final = 128
"""Items per message. Small, so that the back's word that a direction has nothing more to read comes
back soon: the front forwards that direction's segments until then (512/2048 made the bulk mix's
front forward 183,000 segments; 128/512 took its --jobs 0 wall time from 1.69-1.80 s to 1.45-1.49 s)."""
FLUSH_PACKETS: Final = 512
"""Packets after which waiting items are sent even if there are fewer than ``BATCH``."""
WireUnread = tuple[bytes, int, int, int]
"""A direction's bytes ahead that nobody reads, back to front: its raw key, the flow id, the first
sequence number and the length (0: none any more)."""


def available() -> bool:
    """True where processes can be forked (the back inherits the loaded blocklist)."""
    import multiprocessing  # here, not at the top: a one-process scan does not pay for it

    return "fork" in multiprocessing.get_all_start_methods()


# --------------------------------------------------------------------------- front


class Front(Tracker):
    """The prefilter's engine in the front process: decode and track, items out, alerts in."""

    def __init__(
        self,
        channel: Channel,
        release: Callable[[Alert], None],
        name: str,
        lines: tuple[Callable[[FlowSummary], str], Callable[[str, int], None]] | None = None,
    ) -> None:
        """Send items over ``channel``; hand the detections that come back, as alerts of capture
        ``name``, to ``release`` (which makes their records and writes them). ``lines``: how an alerted
        flow's line is made and how the output takes it with its flow's end time (``scan_split``); then
        an alerted flow goes there as its line, made here or by the back, not through ``release``."""
        self.release = release
        self.lines = lines
        self.name = name
        self.recorder = Recorder()
        super().__init__(FlowTable(dissector=self.recorder, fast=new_fast_map()))
        self.recorder.fast = self.flows.fast
        self.flows.dns_forward = (self.recorder.items, DNS)  # the prefilter records DNS datagrams itself
        self.flows.on_end = self.flows.end_seen  # the recorder makes no events when a flow ends
        self.channel = channel
        self.report: dict[str, Any] | None = None
        self._sent_at = 0

    def _undecoded(self, ts_us: int) -> list[Released]:
        """An undecodable frame still counts towards the next flush."""
        return self._track(ts_us, None, 0)

    def _track(self, ts_us: int, packet: Packet | None, size: int) -> list[Released]:
        items = self.recorder.items
        if packet is not None:
            self.flows.process(packet, size)
            if ts_us - self.last_check >= CHECK_EVERY_US:
                self.last_check = ts_us
                items.append((TICK, ts_us))
        if len(items) >= BATCH or self.stats.packets - self._sent_at >= FLUSH_PACKETS:
            self.flush()
        return []

    def flush(self) -> None:
        """Send the waiting items; take in what the back has sent."""
        items = self.recorder.items
        if items:
            self.channel.send(items)
            items.clear()  # the same list: the prefilter appends forwarded segments to it
        self._sent_at = self.stats.packets
        self.channel.poll()
        self._take()

    def finish(self) -> None:
        """End of input: end every flow, tell the back, wait for its last alerts and its counts."""
        self.flows.close_all()
        self.recorder.items.append((FINISH,))
        self.flush()
        while self.report is None:
            message = self.channel.receive()
            if message is None:
                raise PeerGone("the back process of the scan stopped early (see the error above)")
            self.channel.inbox.appendleft(message)
            self._take()

    def _take(self) -> None:
        inbox, fast = self.channel.inbox, self.flows.fast
        while inbox:
            closed, unread, records, report = inbox.popleft()
            for raw, fid in closed:
                entry = fast.get(raw)
                if entry is not None and entry[0].fid == fid:
                    fast[raw] = (entry[0], True, entry[2])
            for raw, fid, first, length in unread:
                entry = fast.get(raw)
                if entry is not None and entry[0].fid == fid and not entry[1]:
                    fast[raw] = (entry[0], False, entry[2], first, length) if length else entry[:3]
            lines = self.lines
            for values in records:
                first = values[0]
                if type(first) is str:  # an alerted flow's line, made by the back (_answers)
                    assert lines is not None
                    lines[1](first, values[1])
                elif type(first) is tuple and lines is not None:  # an alerted flow whose line it left
                    line, end_us = _line(lines[0], rebuilt(values))
                    lines[1](line, end_us)
                else:
                    self.release(Alert(rebuilt(values), self.name))
            if report is not None:
                self.report = report


# --------------------------------------------------------------------------- back


class Back:
    """Replays the front's items through the dissector and the pipeline's detection half."""

    def __init__(self, blocklist: Blocklist, redact: bool, fold_pool: bool = True) -> None:
        """A fresh pipeline over ``blocklist`` (its own table stays empty)."""
        self.pipeline = Pipeline(blocklist, redact=redact, fold_pool=fold_pool)
        self.dissector = Dissector(self.pipeline.flows.counters)
        self.flows: dict[int, Flow] = {}

    def replay(
        self,
        items: list[Item],
        out: list[Released],
        closed: list[tuple[bytes, int]],
        unread: list[WireUnread],
    ) -> bool:
        """Replay ``items``; append released detections, newly closed directions and the bytes ahead that
        directions do not read (``Direction.unread``); True at the end."""
        handle, dis, flows = self.pipeline.handle, self.dissector, self.flows
        events: list[Event]
        for item in items:
            kind: int = item[0]
            if kind == DATA:
                _, fid, from_client, ts_us, seq, payload = item
                flow = flows[fid]
                if flow.shape is not None:  # a segment that only advances a TLS shape: read it in C
                    lane = dis.lane(flow, from_client)
                    if lane is not None and QUIET(lane[0], lane[1], from_client, ts_us, seq, payload):
                        continue
                events = []
                if dis.data(flow, from_client, ts_us, seq, payload, events):
                    bit = 1 if from_client else 2
                    if not flow.closed & bit:
                        flow.closed |= bit
                        closed.append((flow.raw[0 if from_client else 1], fid))
                if dis.unread:
                    self._unread(unread)
            elif kind == DNS:
                events = dis.dns(_new(Packet, item[1:]))
            elif kind == START:
                fid, ts_us, from_client, synced, key, raw = item[1:7]
                flow = flows[fid] = Flow(_new(FlowKey, key), None, None, raw, fid)
                events = []
                dis.start(flow, ts_us, from_client, synced, events)
                if len(item) > 7:  # the SYN that started it (Recorder.syn)
                    self._syn(flow, from_client, item[7], unread)
            elif kind == SYN:
                self._syn(flows[item[1]], item[2], item[3], unread)
                continue
            elif kind == END:
                _, fid, ts_us, from_client, first_ts, totals, reason, fins = item
                flow = flows.pop(fid)
                flow.first_ts, flow.counts, flow.fins = first_ts, list(totals), fins  # as the front saw it
                events = []
                dis.end(flow, ts_us, from_client, events, reason)
            elif kind == TICK:
                self.pipeline.tick(item[1], out)
                continue
            elif kind == FINISH:
                out.extend(self.pipeline.finish())
                return True
            else:
                continue
            for event in events:
                handle(event, out)
        return False

    def _syn(self, flow: Flow, from_client: bool, seq: int, unread: list[WireUnread]) -> None:
        """A SYN item, or the one a start item carries: the dissector's, and the unread ranges it changes."""
        self.dissector.syn(flow, from_client, seq)
        if self.dissector.unread:
            self._unread(unread)

    def _unread(self, unread: list[WireUnread]) -> None:
        for flow, from_client, first, length in self.dissector.unread:
            unread.append((flow.raw[0 if from_client else 1], flow.fid, first, length))
        self.dissector.unread.clear()

    def report(self) -> dict[str, Any]:
        """Counts for the front: alerts and the dissector's counters (what the scan result reports)."""
        stats = self.pipeline.stats
        return {"alerts": stats.alerts, "counters": dict(stats.skipped)}


def _back_main(
    rfd: int,
    wfd: int,
    theirs: tuple[int, int],
    blocklist: Blocklist,
    redact: bool,
    fold_pool: bool,
    line_of: Callable[[FlowSummary], str] | None,
) -> None:
    """The back process: replay item lists until the end item, send the released detections back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for fd in theirs:
        os.close(fd)
    channel = Channel(rfd, wfd, patient=True)
    back = Back(blocklist, redact, fold_pool)
    done = False
    while not done:
        items = channel.receive()
        if items is None:  # the front went away
            return
        out: list[Released] = []
        closed: list[tuple[bytes, int]] = []
        unread: list[WireUnread] = []
        done = back.replay(items, out, closed, unread)
        if out or closed or unread or done:
            records = _answers(out, line_of if _caught_up(channel) else None)
            channel.send((closed, unread, records, back.report() if done else None))


def _caught_up(channel: Channel) -> bool:
    """Whether the back has replayed every message of the front's it has read: then the front is the
    slower, and the back takes on the alerted flows' lines (a message waiting: it leaves them)."""
    return not channel.inbox


def _answers(out: list[Released], line_of: Callable[[FlowSummary], str] | None) -> list[Flat]:
    """What the back sends of its released detections: each as ``records.flat``, or, given ``line_of``
    (the back has caught up with the front), an alerted flow that ended as its line and its end time."""
    if line_of is None:
        return [flat(released) for released in out]
    return [_line(line_of, released) if type(released) is FlowSummary else flat(released) for released in out]


def _line(line_of: Callable[[FlowSummary], str], summary: Released) -> tuple[str, int]:
    """An alerted flow's line and its end time, as either process hands it to the output."""
    assert isinstance(summary, FlowSummary)
    return line_of(summary), summary.end.ts_us


# --------------------------------------------------------------------------- one scan


def scan_split(
    fileobj: BinaryIO,
    path: str,
    blocklist: Blocklist,
    *,
    release: Callable[[Alert], None],
    redact: bool,
    name: str,
    on_read: Callable[[], None] | None,
    fold_pool: bool = True,
    lines: tuple[Callable[[FlowSummary], str], Callable[[str, int], None]] | None = None,
) -> tuple[Front, CaptureDamaged | None]:
    """Scan an open capture over two processes; return the front (its counts, the back's report).

    Damage part-way ends the scan like the end of the file and is returned; the alerts
    found before are emitted. ``KeyboardInterrupt`` emits them too, then propagates. ``lines``: how an
    alerted flow's line is made (``eventid.flow_line`` of the capture's name), and how the output takes
    one (``Outputs.take_line``), made in either process; None, every detection goes to ``release``.
    """
    import multiprocessing

    a2b_r, a2b_w = os.pipe()
    b2a_r, b2a_w = os.pipe()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(
        target=_back_main,
        args=(a2b_r, b2a_w, (a2b_w, b2a_r), blocklist, redact, fold_pool, lines[0] if lines else None),
        daemon=True,
    )
    proc.start()
    os.close(a2b_r)
    os.close(b2a_w)
    front = Front(Channel(b2a_r, a2b_w, patient=False), release, name, lines)
    front.flows.dns_names = blocklist.wire_names()  # the back would make nothing of these queries
    damage: CaptureDamaged | None = None
    try:
        try:
            for _ in detections(fileobj, path, front, on_read=on_read, every=FLUSH_PACKETS):
                pass
        except CaptureDamaged as exc:
            damage = exc
        except KeyboardInterrupt:
            front.finish()  # keep what was found, then let the caller stop
            raise
        front.finish()
    finally:
        os.close(a2b_w)
        os.close(b2a_r)
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
    return front, damage
