"""Metrics: the Prometheus text format parsed back, atomic rewrites, the background writer."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.metrics import HELP, PREFIX, Counters, MetricsFile, escape_label, render

from ..factories_eve import eve

SAMPLE = re.compile(r'(?P<name>[a-z_]+)(?:\{(?P<labels>(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\})? (?P<value>\S+)')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Parse the text format strictly: HELP and TYPE before every metric's samples."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    typed: set[str] = set()
    helped: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge")
            typed.add(name)
        else:
            match = SAMPLE.fullmatch(line)
            assert match, line
            name = match["name"]
            assert name in typed and name in helped, f"{name} has no HELP/TYPE before it"
            labels = tuple(LABEL.findall(match["labels"] or ""))
            out.setdefault(name, {})[labels] = float(match["value"])
    assert typed == helped == {PREFIX + n for n in HELP}
    return out


def test_render_round_trips() -> None:
    c = Counters(packets=1234, drops=5, flows=67, suppressed=8, blocklist_updated=1_000.0)
    for record in (eve(0), eve(1), eve(2, "dns")):
        c.count_alert(record)
    c.forward_dropped["redis redis://h:6379/0 stream poolsniff"] = 3
    got = parse(render(c, now=1_090.5))
    assert got["poolsniff_packets_total"] == {(): 1234}
    assert got["poolsniff_drops_total"] == {(): 5}
    assert got["poolsniff_flows_total"] == {(): 67}
    assert got["poolsniff_alerts_suppressed_total"] == {(): 8}
    assert got["poolsniff_alerts_total"] == {
        (("signature_id", "9300101"), ("signature", "POOLSNIFF COINMINER Stratum v1 miner session")): 2,
        (
            ("signature_id", "9300201"),
            ("signature", "POOLSNIFF COINMINER DNS query for a mining pool domain"),
        ): 1,
    }
    assert got["poolsniff_forward_dropped_total"] == {
        (("output", "redis redis://h:6379/0 stream poolsniff"),): 3
    }
    assert got["poolsniff_blocklist_age_seconds"] == {(): 90.5}


def test_unknown_blocklist_age_has_no_sample() -> None:
    got = parse(render(Counters(), now=0))
    assert "poolsniff_blocklist_age_seconds" not in got
    assert "poolsniff_alerts_total" not in got  # no signature has fired: HELP and TYPE only
    assert got["poolsniff_packets_total"] == {(): 0}


@pytest.mark.parametrize(
    "raw, escaped", [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"), ("plain", "plain")]
)
def test_escape_label(raw: str, escaped: str) -> None:
    assert escape_label(raw) == escaped
    c = Counters()
    record = eve(0)
    record["alert"]["signature"] = raw
    c.count_alert(record)
    [(labels, _)] = parse(render(c, 0))["poolsniff_alerts_total"].items()
    assert dict(labels)["signature"] == escaped


def test_the_file_is_replaced_readably(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.prom"
    path.write_text("old\n")
    MetricsFile(str(path), Counters(), clock=lambda: 0.0).write()
    assert parse(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["poolsniff.prom"]  # no temporary file left behind


def test_a_missing_directory_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="m.prom: cannot write metrics: No such file or directory"):
        MetricsFile(str(tmp_path / "missing" / "m.prom"), Counters()).write()


def test_metrics_file_writes_at_start_periodically_and_at_close(tmp_path: Path) -> None:
    path = tmp_path / "m.prom"
    counters = Counters()
    refreshed = threading.Event()
    calls: list[int] = []

    def refresh(c: Counters) -> None:
        calls.append(1)
        c.add(packets=10)
        if len(calls) >= 3:
            refreshed.set()

    metrics = MetricsFile(str(path), counters, interval_s=0.01, refresh=refresh)
    metrics.start()
    assert path.exists()
    for i in range(500):  # counting while the thread renders
        counters.count_alert(eve(i % 7))
    assert refreshed.wait(30), "the background writer did not write"
    metrics.close()
    got = parse(path.read_text())
    assert got["poolsniff_packets_total"][()] == 10 * len(calls) == 10 * metrics.writes
    assert sum(got["poolsniff_alerts_total"].values()) == 500


def test_background_failure_warns_once_and_close_raises(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    warnings: list[str] = []
    failed = threading.Event()

    def warn(message: str) -> None:
        warnings.append(message)
        failed.set()

    metrics = MetricsFile(str(folder / "m.prom"), Counters(), interval_s=0.01, warn=warn)
    metrics.start()
    (folder / "m.prom").unlink()
    folder.rmdir()
    assert failed.wait(30)
    with pytest.raises(OutputError, match="cannot write metrics"):
        metrics.close()
    assert len(warnings) == 1 and "will try again" in warnings[0]


def test_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        MetricsFile(str(tmp_path / "m"), Counters(), interval_s=0)


UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
"""The text format's three escapes in label values."""


def test_the_reference_parser_reads_what_we_write() -> None:
    """prometheus_client's own text-format parser is the oracle: every family and sample we write,
    hostile label values included, reads back the same through it."""
    parser = pytest.importorskip("prometheus_client.parser", reason="pip install -e '.[test]'")
    c = Counters(packets=7, drops=1, flows=3, suppressed=2, blocklist_updated=100.0)
    for record in (eve(0), eve(2, "dns")):
        c.count_alert(record)
    c.forward_dropped['syslog "tcp://h:601"\nnext\\line'] = 4
    text = render(c, now=160.0)
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    ours = parse(text)
    for name, samples in ours.items():
        family = families[name.removesuffix("_total")]
        assert family.type == ("counter" if name.endswith("_total") else "gauge")
        theirs = {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == name}
        plain = {tuple(sorted((k, re.sub(r'\\[\\"n]', lambda m: UNESCAPE[m[0]], v)) for k, v in key)): value
                 for key, value in samples.items()}  # fmt: skip
        assert theirs == plain
    dropped = families["poolsniff_forward_dropped"].samples[0]
    assert dropped.labels == {"output": 'syslog "tcp://h:601"\nnext\\line'} and dropped.value == 4
