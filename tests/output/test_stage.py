"""The sink stage as the CLI wires it: counting, suppression, forwarders, metrics, closing."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.detect import signatures as sigs
from poolsniff.errors import ConfigError, OutputError
from poolsniff.model import Alert, Detection, FlowEnd, FlowKey, FlowSummary, Role
from poolsniff.output.eve import to_eve
from poolsniff.output.evefields import suppressed_count
from poolsniff.output.stage import Outputs, open_outputs
from poolsniff.output.suppress import Suppressor
from poolsniff.output.transports.jsonl import JsonlWriter

from ..factories_eve import T0, eve
from .test_metrics import parse

Record = dict[str, Any]


class ListWriter:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def write(self, record: Record, text: str | None = None) -> None:
        self.records.append(record)


class FlakyForwarder:
    """Forwards every other record."""

    name = "flaky"

    def __init__(self) -> None:
        self.got: list[Record] = []
        self.dropped = 0
        self.pending = 2
        self.closed = False

    def write(self, record: Record, text: str | None = None) -> None:
        if len(self.got) + self.dropped & 1:
            self.dropped += 1
        else:
            self.got.append(record)

    def close(self) -> None:
        self.closed = True


def reconnecting_miner(n: int) -> list[Record]:
    return [eve(60 * i, sport=1000 + i, pool_host="xmr.pool.example") for i in range(n)]


def test_without_suppression_everything_passes_through_and_is_counted() -> None:
    primary = ListWriter()
    outputs = open_outputs(primary, suppress=0)
    records = reconnecting_miner(5)
    for r in records:
        outputs.write(r)
    outputs.close()
    assert primary.records == records
    assert sum(outputs.counters.alerts.values()) == 5


@pytest.mark.parametrize("suppress, lines", [("1h", 2), ("10m", 3), (3600, 2), ("0", 20), (None, 3)])
def test_suppression(suppress: str | int | None, lines: int) -> None:
    primary = ListWriter()
    outputs = open_outputs(primary, suppress=suppress)
    for r in reconnecting_miner(20):
        outputs.write(r)
    outputs.close()
    assert len(primary.records) == lines
    assert len(primary.records) + outputs.counters.suppressed == 20
    assert outputs.counters.suppressed == sum(suppressed_count(r) for r in primary.records)
    assert sum(outputs.counters.alerts.values()) == 20  # counted before suppression


def test_tick_writes_the_count_of_a_quiet_pair() -> None:
    primary = ListWriter()
    outputs = open_outputs(primary, suppress="1m")
    for r in [eve(0), eve(10), eve(20)]:
        outputs.write(r)
    assert len(primary.records) == 1
    outputs.tick(10**18)
    assert len(primary.records) == 2 and suppressed_count(primary.records[1]) == 1


def test_forwarders_get_what_the_primary_gets_and_their_drops_are_counted() -> None:
    primary, forwarder = ListWriter(), FlakyForwarder()
    outputs = Outputs(primary, forwarders=[forwarder])
    for r in reconnecting_miner(6):
        outputs.write(r)
    outputs.close()
    assert forwarder.got == primary.records[::2] and forwarder.closed
    assert outputs.counters.forward_dropped == {"flaky": 3}
    assert outputs.counters.forward_spooled == {"flaky": 2}
    assert outputs.forward_dropped == 3 and Outputs(primary).forward_dropped is None


@pytest.mark.parametrize(
    "options, message",
    [
        ({"suppress": "1x"}, "--suppress: bad duration '1x'"),
        ({"metrics_interval": "soon"}, "--metrics-interval: bad duration"),
        ({"metrics_interval": "0"}, "--metrics-interval: must be at least 1s"),
        ({"syslog": "syslog://h"}, "--syslog: bad syslog target"),
        ({"redis": "rediss://h"}, "--redis: bad Redis URL"),
        ({"redis": "redis://h"}, "--redis: the Redis sink needs a data directory"),
        ({"spool_size": "1K"}, "--spool-size: must be at least 64K"),
    ],
)
def test_bad_values_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_outputs(ListWriter(), **options)


def test_unreachable_collector_only_warns_and_its_alerts_are_spooled(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warnings: list[str] = []
    outputs = open_outputs(
        ListWriter(), syslog=f"tcp://127.0.0.1:{port}", data_dir=tmp_path, warn=warnings.append, suppress=0
    )
    for r in reconnecting_miner(3):
        outputs.write(r)
    assert outputs.counters.forward_spooled == {f"syslog tcp://127.0.0.1:{port}": 3}
    outputs.close()
    assert "Connection refused; alerts wait in the spool" in warnings[0]
    assert "3 alerts stay in the spool" in warnings[-1]


def test_a_spool_that_cannot_be_made_is_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot open the spool"):
        open_outputs(ListWriter(), redis="redis://127.0.0.1:1/0", data_dir=tmp_path / "file")


def test_syslog_and_metrics_together(tmp_path: Path) -> None:
    metrics = tmp_path / "poolsniff.prom"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        primary = ListWriter()
        outputs = open_outputs(
            primary, suppress="1h", syslog=f"udp://127.0.0.1:{receiver.getsockname()[1]}",
            metrics=str(metrics), metrics_interval="1h", blocklist_updated=0.0,
        )  # fmt: skip
        assert metrics.exists()  # written at start
        for r in reconnecting_miner(10):
            outputs.write(r)
        outputs.close()
        datagrams = [receiver.recv(65535) for _ in primary.records]
    assert [json.loads(d.split(b" - ", 1)[1]) for d in datagrams] == primary.records
    got = parse(metrics.read_text())
    assert sum(got["poolsniff_alerts_total"].values()) == 10
    assert got["poolsniff_alerts_suppressed_total"][()] == 10 - len(primary.records)
    assert got["poolsniff_blocklist_age_seconds"][()] > 0


@st.composite
def _alerts(draw: st.DrawFn) -> list[Alert]:
    """Alerts of a few hosts, pools and signatures at times that go mostly forward, and the records of
    alerted flows that end."""
    out: list[Alert] = []
    ts = T0 * 1_000_000
    for _ in range(draw(st.integers(0, 40))):
        ts += draw(st.integers(-5_000_000, 400_000_000))
        host = draw(st.sampled_from(["192.0.2.1", "2001:db8::3"]))
        key = FlowKey(host, draw(st.integers(1024, 1030)), "198.51.100.7", 3333, 6)
        if draw(st.integers(0, 3)) == 0:
            ended = FlowEnd(ts, key, True, ts - 10**6, (3, 2, 300, 200), "timeout", True)
            app_proto = draw(st.sampled_from(["", "stratum"]))
            live = draw(st.booleans())
            out.append(Alert(FlowSummary(ended, (Role.MINER,), True, app_proto), "x", live=live))
            continue
        sig = draw(st.sampled_from([sigs.MINER["stratum"], sigs.POOL["stratum"]]))
        det = Detection(ts, key, sig, Role.MINER, draw(st.booleans()))
        pool = draw(st.sampled_from(["", "a.pool.example"]))
        if pool:
            det.evidence["pool_host"] = pool
        out.append(Alert(det, "x.pcap", live=draw(st.booleans())))
    return out


class TextWriter(ListWriter):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str | None] = []

    def write(self, record: Record, text: str | None = None) -> None:
        super().write(record, text)
        self.lines.append(text)


def feed_both_ways(every: Outputs, taking: Outputs, alerts: list[Alert]) -> None:
    """``every`` is handed each alert's record; ``taking`` takes each alert the short way where it can."""
    for alert in alerts:
        every.write(to_eve(alert))
        if not taking.take(alert):
            taking.write(to_eve(alert))


@given(alerts=_alerts(), window=st.sampled_from([0, 60, 600, 3600]), max_keys=st.integers(1, 4))
def test_taking_alerts_the_short_way_writes_what_writing_every_record_does(
    alerts: list[Alert], window: int, max_keys: int
) -> None:
    def stage() -> tuple[Outputs, TextWriter]:
        primary = TextWriter()
        return Outputs(primary, suppressor=Suppressor(window, max_keys=max_keys) if window else None), primary

    every, every_out = stage()
    taking, taking_out = stage()
    feed_both_ways(every, taking, alerts)
    every.close()
    taking.close()
    assert taking_out.records == every_out.records
    assert taking_out.lines == every_out.lines
    assert taking.counters.alerts == every.counters.alerts
    assert taking.counters.written == every.counters.written
    assert taking.counters.suppressed == every.counters.suppressed
    assert sum(taking.counters.alerts.values()) == sum(isinstance(a.detection, Detection) for a in alerts)


@given(alerts=_alerts(), window=st.sampled_from([0, 600]), hold=st.booleans())
def test_an_eve_file_that_takes_lines_gets_what_writing_every_record_gives(
    alerts: list[Alert], window: int, hold: bool
) -> None:
    """With the JSON-lines writer, which takes an alerted flow's line alone (``write_line``), the short
    way makes no flow record at all: the file must hold the same lines, in the same order."""

    class Stdout(io.StringIO):  # a stream the writer only flushes when it closes, as it does stdout
        def fileno(self) -> int:
            return 1

    def stage() -> tuple[Outputs, io.StringIO]:
        stream = Stdout()
        writer = JsonlWriter(stream, "x", hold_others=hold)
        return Outputs(writer, suppressor=Suppressor(window) if window else None), stream

    every, every_out = stage()
    taking, taking_out = stage()
    assert taking.takes_lines
    feed_both_ways(every, taking, alerts)
    every.flush()
    taking.flush()
    for outputs in (every, taking):
        assert isinstance(outputs.primary, JsonlWriter)
        outputs.primary.close()
    assert taking_out.getvalue() == every_out.getvalue()
    assert taking.counters.written == every.counters.written


def test_a_writer_that_takes_no_lines_gets_the_flow_record() -> None:
    """A writer without ``write_line`` (a forwarder, a test's list) still gets each flow's record."""
    key = FlowKey("192.0.2.1", 1024, "198.51.100.7", 3333, 6)
    ended = FlowEnd(T0 * 1_000_000, key, True, T0 * 1_000_000 - 10**6, (1, 1, 1, 1))
    primary = TextWriter()
    stage = Outputs(primary)
    assert not stage.takes_lines
    assert stage.take(Alert(FlowSummary(ended, (Role.MINER,), True), "x"))
    assert [r["event_type"] for r in primary.records] == ["flow"] and primary.lines[0] is not None


def test_a_flow_record_taken_the_short_way_moves_the_clock_as_written_ones_do() -> None:
    key = FlowKey("192.0.2.1", 1024, "198.51.100.7", 3333, 6)
    t = T0 * 1_000_000
    sig = sigs.MINER["stratum"]
    first, repeat = (Alert(Detection(t + d, key, sig, Role.MINER, True), "x") for d in (0, 10**6))
    ended = FlowEnd(t + 700 * 10**6, key, True, t, (1, 1, 1, 1))
    flow_end = Alert(FlowSummary(ended, (Role.MINER,), True), "x")
    primary = TextWriter()
    stage = Outputs(primary, suppressor=Suppressor(600))
    for alert in (first, repeat, flow_end):
        if not stage.take(alert):
            stage.write(to_eve(alert))
    # the repeat, held in its window, is written late when the flow's end says ten minutes have passed
    assert [r["event_type"] for r in primary.records] == ["alert", "alert", "flow"]
    assert primary.records[1]["timestamp"] == to_eve(repeat)["timestamp"]
