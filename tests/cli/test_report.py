"""poolsniff report: formats, stdin, bad lines named by file and line, output errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from poolsniff.output.evefields import suppressed_count

from .conftest import MINER, one_line_error, run


def test_report_table_json_csv_html(tmp_path: Path, alerts: Path) -> None:
    records = [json.loads(x) for x in alerts.read_text().splitlines()]
    lines = [r for r in records if r["event_type"] == "alert"]
    flows = [r for r in records if r["event_type"] == "flow"]
    hosts = {r["src_ip"] for r in lines}
    table = run("report", str(alerts), home=tmp_path)
    assert table.returncode == 0 and table.stdout.startswith("HOST")
    assert all(h in table.stdout for h in hosts)
    assert f"{len(lines)} mining alerts, {len(flows)} flow records, {len(hosts)} hosts" in table.stderr
    doc = json.loads(run("report", "--format", "json", str(alerts), home=tmp_path).stdout)
    assert {h["host"] for h in doc["hosts"]} == hosts
    assert sum(h["alerts"] for h in doc["hosts"]) == sum(1 + suppressed_count(r) for r in lines)
    assert sum(h["flows"] for h in doc["hosts"]) == len(flows) > 0
    rows = list(
        csv.DictReader(io.StringIO(run("report", "--format", "csv", "-q", str(alerts), home=tmp_path).stdout))
    )
    assert {r["host"] for r in rows} == hosts
    page = tmp_path / "report.html"
    html = run("report", "--format", "html", "-o", str(page), str(alerts), home=tmp_path)
    assert html.returncode == 0 and html.stdout == ""
    assert page.read_text().count("<section") == len(hosts)


def test_report_summary_of_one_of_each_is_singular(tmp_path: Path) -> None:
    """One file, one alert, one flow record, one host: no "1 files" or "1 hosts"."""
    eve = tmp_path / "one.json"
    assert run("scan", "-q", "-o", str(eve), str(MINER), home=tmp_path).returncode == 1
    proc = run("report", str(eve), home=tmp_path)
    assert proc.returncode == 0
    assert "poolsniff: 1 file, 3 lines, 1 mining alert, 1 flow record, 1 host\n" in proc.stderr


def test_report_reads_stdin(tmp_path: Path, alerts: Path) -> None:
    proc = run("report", "--format", "json", "-", home=tmp_path, stdin=alerts.read_text())
    assert proc.returncode == 0 and json.loads(proc.stdout)["hosts"]


def test_report_bad_line_is_an_input_error_naming_file_and_line(tmp_path: Path, alerts: Path) -> None:
    with alerts.open("a") as f:
        f.write("{broken\n")
    count = len(alerts.read_text().splitlines())
    one_line_error(run("report", str(alerts), home=tmp_path), 3, f"{alerts}:{count}: not a JSON line")


def test_report_missing_file_and_unwritable_output(tmp_path: Path, alerts: Path) -> None:
    missing = run("report", str(tmp_path / "none.json"), home=tmp_path)
    one_line_error(missing, 3, "none.json: cannot open", "check the path")
    folder = run("report", str(tmp_path), home=tmp_path)
    one_line_error(folder, 3, "cannot open", "name the EVE file inside it")
    proc = run("report", "-o", str(alerts / "under-a-file.html"), str(alerts), home=tmp_path)
    one_line_error(proc, 4, "cannot write the report")
