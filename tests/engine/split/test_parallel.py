"""engine.split.parallel (and the several-files scan in run.scan): more processes, same output.

The end-to-end sameness of a two-process scan is checked on many captures in
tests/engine/fast/test_prefilter.py; here: the pipes (large messages both ways at once), the replay
(the back sees exactly the events one process sees), a back that dies, and a folder
scanned by a pool with its alerts in file order.
"""

from __future__ import annotations

import io
import marshal
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.dissect.flows import SWEEP_EVERY, FlowTable
from poolsniff.dissect.streams import Direction
from poolsniff.engine.decode import Decoder
from poolsniff.engine.fast import walk
from poolsniff.engine.split import channel, parallel
from poolsniff.engine.split.recorder import DATA, END, START, Recorder
from poolsniff.engine.split.records import flat
from poolsniff.errors import InputError
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Detection, Event, FlowEnd, FlowKey, FlowSummary, Role
from poolsniff.output.eve import to_eve
from poolsniff.output.stage import Outputs
from poolsniff.output.suppress import Suppressor
from poolsniff.output.transports.jsonl import JsonlWriter
from poolsniff.run import scan
from poolsniff.sources.pcap import expand_paths, read_frames

from ...conftest import PCAPS
from .conftest import packets

DEMO = expand_paths([str(PCAPS)])


# --------------------------------------------------------------------------- replay


class Collect:
    """Stands in for the back's pipeline: keeps the events it is handed."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event, out: list[Detection]) -> None:
        self.events.append(event)


@pytest.mark.parametrize("capture", ["mix", *DEMO], ids=["mix", *(Path(p).name for p in DEMO)])
def test_the_back_replays_exactly_the_events_of_one_table(
    capture: str, mix: Path, lists: Blocklist, request: pytest.FixtureRequest
) -> None:
    path = mix if capture == "mix" else Path(capture)
    plain = FlowTable()
    expected = [event for p in packets(path) for event in plain.process(p)]
    expected += plain.close_all()
    recorder = Recorder()
    front = FlowTable(dissector=recorder)
    for p in packets(path):
        front.process(p)
    front.close_all()
    back = parallel.Back(lists, redact=False)
    collect = Collect()
    back.pipeline.handle = collect.handle  # type: ignore[method-assign]
    back.replay(recorder.items, [], [], [])
    assert collect.events == expected
    assert back.dissector.counters["flows-bypassed"] == plain.counters["flows-bypassed"]


def front_items(mix: Path, decide: Any, early: bool = False) -> tuple[list[Any], int]:
    """The items a front makes of ``mix`` (prefilter ``decide``, then the table for what it feeds), with
    ``early`` every direction of a flow with no shadow left forwarded as the front's recorder forwards
    them (``Recorder._forward``); and how many TCP packets the prefilter took."""
    recorder = Recorder()
    front = FlowTable(dissector=recorder)
    if early:
        recorder.fast = front.fast
    decoder, skipped = Decoder(), 0
    with open(mix, "rb") as fileobj:
        for ts, linktype, frame in read_frames(fileobj, str(mix)):
            if front.since_sweep < SWEEP_EVERY - 1:  # as the prefilter: the sweep's packet goes to the table
                kind = decide(front.fast, frame, ts)
                if kind != walk.FEED:
                    skipped += kind == walk.SKIP_TCP
                    front.since_sweep += kind == walk.SKIP_TCP
                    continue
            packet = decoder.decode(ts, linktype, frame)
            if packet is not None:
                front.process(packet, len(frame))
    front.close_all()
    return recorder.items, skipped


@pytest.mark.parametrize("decide", [walk.decide_frame, walk.DECIDE], ids=["python", "built"])
@pytest.mark.parametrize(
    "capture", ["mix", "short", *DEMO], ids=["mix", "short", *(Path(p).name for p in DEMO)]
)
def test_a_flow_with_no_shadow_left_is_forwarded_by_the_walk_with_the_same_items(
    capture: str, decide: Any, request: pytest.FixtureRequest, lists: Blocklist
) -> None:
    """Once a flow has no shadow left, nothing in the front reads its segments: the recorder lets the
    prefilter append them to the items itself. The items are those the recorder makes of every segment
    in Python, but for the segments after a web TLS session's hellos, which the back would only ignore
    (the prefilter drops them at once: ``Recorder._web``); on the generated mixes thousands of segments
    never reach Python."""
    path = Path(capture) if capture not in ("mix", "short") else request.getfixturevalue(capture)
    items, skipped = front_items(path, decide)
    again, fewer = front_items(path, decide, early=True)
    read = read_by_the_back(items, lists)
    assert read_by_the_back(again, lists) == read
    if capture in ("mix", "short"):
        assert fewer - skipped > 1000, (fewer, skipped)
        assert len(again) < len(items)  # web TLS sessions: their segments after the hellos dropped


BROWSER = PCAPS.parent / "tests" / "data" / "lookalikes" / "sse-https-chromium.pcap"
"""Chromium 156 reading server-sent events over HTTPS: its ClientHellos (1,931-1,995 bytes, post-quantum key
shares, ALPN h2 and http/1.1) come in two segments."""


@pytest.mark.parametrize("decide", [walk.decide_frame, walk.DECIDE], ids=["python", "built"])
def test_a_browsers_sessions_are_closed_at_their_hellos(decide: Any, lists: Blocklist) -> None:
    """The front keeps the first segment of each of Chromium's hellos, closes the client's direction at the
    second and the server's after its ServerHello: of each session only the two hellos cross the pipe
    (the events after them, a tick every 4 s, do not), and the back reads what it reads given them all."""
    items, _ = front_items(BROWSER, decide)
    again, _ = front_items(BROWSER, decide, early=True)
    assert read_by_the_back(again, lists) == read_by_the_back(items, lists)
    sides = Counter((item[1], item[2]) for item in again if item[0] == DATA)
    assert len(sides) >= 6 and set(sides.values()) == {1, 2}
    assert all(count == (2 if from_client else 1) for (_, from_client), count in sides.items())
    assert sum(1 for item in items if item[0] == DATA) >= sum(sides.values()) + 5


def read_by_the_back(items: list[Any], lists: Blocklist) -> list[Any]:
    """``items`` but the segments of a direction the back has said it is done with (it ignores them)."""
    back = parallel.Back(lists, redact=False)
    sides: dict[bytes, tuple[int, bool]] = {}
    done: set[tuple[int, bool]] = set()
    read: list[Any] = []
    for item in items:
        if item[0] == START:
            sides.update({item[6][0]: (item[1], True), item[6][1]: (item[1], False)})
        if item[0] == DATA and (item[1], item[2]) in done:
            continue
        read.append(item)
        closed: list[tuple[bytes, int]] = []
        back.replay([item], [], closed, [])
        done.update(sides[raw] for raw, _ in closed)
    return read


CAPTURES = ["mix", "short", *DEMO]
CAPTURE_IDS = ["mix", "short", *(Path(p).name for p in DEMO)]


def typed(value: Any) -> Any:
    """``value`` with the type of every part beside it (``==`` takes True for 1, bytearray for bytes)."""
    if isinstance(value, (list, tuple)):
        return type(value), [typed(v) for v in value]
    return type(value), value


@pytest.mark.parametrize("capture", CAPTURES, ids=CAPTURE_IDS)
def test_the_items_cross_the_pipe_as_they_are(capture: str, request: pytest.FixtureRequest) -> None:
    """The front's items go to the back in marshal's format (``channel._items``): every item of every
    kind the front makes, its walk's forwarded segments included, arrives equal and of the same types."""
    path = Path(capture) if capture not in ("mix", "short") else request.getfixturevalue(capture)
    items, _ = front_items(path, walk.DECIDE, early=True)
    kinds = {item[0] for item in items}
    assert {START, DATA, END} <= kinds or capture not in ("mix", "short")
    assert typed(marshal.loads(channel._items(items))) == typed(items)


def test_an_item_that_is_not_plain_data_is_refused_not_changed() -> None:
    key = FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6)
    with pytest.raises(ValueError):
        channel._items([(START, 1, key)])


def replayed(items: list[Any], lists: Blocklist) -> list[Event]:
    """The events the back hands its pipeline when it replays ``items``."""
    back = parallel.Back(lists, redact=False)
    collect = Collect()
    back.pipeline.handle = collect.handle  # type: ignore[method-assign]
    back.replay(items, [], [], [])
    return collect.events


@pytest.mark.parametrize("decide", [walk.decide_frame, walk.DECIDE], ids=["python", "built"])
def test_the_shadow_hands_out_the_body_nobody_reads_and_the_back_reads_the_same(
    decide: Any, short: Path, lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's shadow knows a body that is not JSON as soon as it has read its head: the front's
    prefilter skips the segments inside it from then on, not only once the back says so. The back takes
    each hole as that body and hands its pipeline exactly the events it hands it given every segment."""
    items, _ = front_items(short, decide, early=True)
    with monkeypatch.context() as patched:
        patched.setattr(Direction, "unread", lambda self: None)  # nobody hands a range out
        every, _ = front_items(short, decide, early=True)
    data = sum(1 for item in items if item[0] == DATA)
    assert data <= sum(1 for item in every if item[0] == DATA) - 1000
    assert replayed(items, lists) == replayed(every, lists)


# --------------------------------------------------------------------------- flow lines


def scanned_to_file(
    path: Path, lists: Blocklist, jobs: int, lines: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, int]:
    """An EVE file's text as ``scan`` writes it (the output's short ways), and how many alerted flows'
    lines the back made (those the output took, less those made in this process, the front)."""
    here: list[int] = []
    pid = os.getpid()
    maker = scan._line_maker

    def counted_maker(name: str) -> Callable[[FlowSummary], str]:
        make = maker(name)

        def counted(summary: FlowSummary) -> str:
            if os.getpid() == pid:  # the back is a fork: what it counts stays there
                here.append(1)
            return make(summary)

        return counted

    monkeypatch.setattr(scan, "_line_maker", counted_maker)

    class Stdout(io.StringIO):  # a stream the writer only flushes when it closes, as it does stdout
        def fileno(self) -> int:
            return 1

    stream = Stdout()
    writer = JsonlWriter(stream, path.name, hold_others=True)
    stage = Outputs(writer, suppressor=Suppressor(600))
    made: list[int] = []

    def take_line(line: str, end_us: int) -> None:
        made.append(end_us)
        stage.take_line(line, end_us)

    scan.scan_file(
        str(path), lists, emit=stage.write, to_record=to_eve, jobs=jobs, take=stage.take,
        take_line=take_line if lines else None,
    )  # fmt: skip
    stage.flush()
    writer.close()
    return stream.getvalue(), len(made) - len(here)


@pytest.mark.parametrize("caught_up", [True, False], ids=["back-waits", "back-behind"])
def test_the_back_makes_the_flows_lines_when_it_waits_with_the_same_eve_file(
    caught_up: bool, mix: Path, lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A back that has caught up with the front makes the alerted flows' lines itself; one that has
    not leaves them to the front, which makes them (not through ``release``). Either way the file is that
    of one process."""
    monkeypatch.setattr(scan, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "_caught_up", lambda channel: caught_up)
    one, none_made = scanned_to_file(mix, lists, jobs=1, lines=True, monkeypatch=monkeypatch)
    split, made = scanned_to_file(mix, lists, jobs=2, lines=True, monkeypatch=monkeypatch)
    assert split == one and none_made == 0
    flows = sum('"event_type":"flow"' in line for line in one.splitlines())
    assert flows > 10 and made == (flows if caught_up else 0)


def test_the_back_answers_with_lines_only_given_the_way_to_make_them(lists: Blocklist) -> None:
    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    end = FlowEnd(2_000_000, key, True, 1_000_000, (3, 2, 300, 200), "timeout", True)
    summary = FlowSummary(end, (Role.MINER,), True, "stratum")
    detection = Detection(1_500_000, key, next(iter(sigs.MINER.values())), Role.MINER, True)
    assert parallel._answers([detection, summary], None) == [flat(detection), flat(summary)]
    made = parallel._answers([detection, summary], lambda s: f"line of {s.end.flow.client_port}")
    assert made == [flat(detection), ("line of 50000", 2_000_000)]


# --------------------------------------------------------------------------- failures


def test_a_back_that_dies_is_reported_not_waited_for(
    mix: Path,
    lists: Blocklist,
    monkeypatch: pytest.MonkeyPatch,
    deadline: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def broken(self: parallel.Back, items: list[Any], out: list[Detection], *lists: list[Any]) -> bool:
        raise ValueError("a bug in the back")

    monkeypatch.setattr(parallel.Back, "replay", broken)
    with open(mix, "rb") as fileobj, pytest.raises(channel.PeerGone):
        parallel.scan_split(
            fileobj,
            str(mix),
            lists,
            release=lambda alert: None,
            redact=False,
            name="x",
            on_read=None,
        )
    assert "a bug in the back" in capfd.readouterr().err


# --------------------------------------------------------------------------- several files


def scan_all(paths: list[str], lists: Blocklist, jobs: int) -> list[tuple[str, Any]]:
    """Scan every path in order; (path, records and counts, or the error text)."""
    out: list[tuple[str, Any]] = []
    with scan.FileScans(paths, lists, to_record=to_eve, jobs=jobs) as scans:
        for path in paths:
            records: list[dict[str, Any]] = []
            try:
                result = scans.scan(path, emit=records.append)
            except InputError as e:
                out.append((path, str(e)))
                continue
            damage = None if result.damage is None else str(result.damage)
            out.append((path, (records, result.packets, result.flows, result.alerts, result.skipped, damage)))
    return out


def test_a_folder_in_a_pool_gives_the_files_in_order(
    lists: Blocklist, mix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "POOL_MIN_BYTES", 0)  # the files here are small
    (tmp_path / "not-a-capture.pcap").write_bytes(b"hello, this is text\n")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(mix.read_bytes()[:200_000])
    paths = [*DEMO[:4], str(tmp_path / "not-a-capture.pcap"), str(mix), str(cut), *DEMO[4:]]
    one = scan_all(paths, lists, jobs=1)
    assert scan_all(paths, lists, jobs=3) == one
    assert isinstance(one[4][1], str) and "not a pcap" in one[4][1]
    assert one[6][1][5] is not None  # the cut file's damage
    assert sum(len(outcome[0]) for _, outcome in one if not isinstance(outcome, str)) > 10


def test_one_file_and_many_jobs_is_split_over_two_processes(
    lists: Blocklist, mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "SPLIT_MIN_BYTES", 0)
    split: list[int] = []
    real = parallel.scan_split

    def spy(*args: Any, **kwargs: Any) -> Any:
        split.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "scan_split", spy)
    assert scan_all([str(mix)], lists, jobs=4) == scan_all([str(mix)], lists, jobs=1)
    assert split == [1]
    assert parallel.available()


@pytest.mark.parametrize(("least", "pooled"), [(0, True), (1 << 40, False)])
def test_a_pool_is_started_only_for_enough_bytes(
    least: int, pooled: bool, lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "POOL_MIN_BYTES", least)
    with scan.FileScans(DEMO, lists, to_record=to_eve, jobs=2) as scans:
        assert (scans._pool is not None) is pooled
