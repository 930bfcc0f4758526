"""The command line for running poolsniff in production: report, config check, --config, outputs.

Runs the installed entry point in a subprocess with its own environment, so no settings file
of the machine or the user is read (``XDG_CONFIG_HOME`` points into the test's folder).
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poolsniff.sources.pcap import open_capture, read_frames

from ..conftest import PCAPS
from ..factories_frames import pcap_file
from ..output.test_metrics import parse as parse_metrics
from ..output.transports.test_redis import Server, redis_server  # noqa: F401 - the fixture

MINER = PCAPS / "stratum-v1-cgminer.pcap"
SYSTEM_CONFIG = Path("/etc/poolsniff/poolsniff.yaml")


def run(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``poolsniff ARGS`` with XDG_CONFIG_HOME at ``home`` and capture everything."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "poolsniff", *args], capture_output=True, text=True, timeout=120, env=env,
        input=stdin,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert proc.returncode == status, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]


def reconnecting_miner(tmp_path: Path, sessions: int, gap_s: int = 60) -> Path:
    """A capture of the cgminer session of MINER repeated every ``gap_s`` s from a new client port."""
    with open_capture(str(MINER)) as f:
        frames = list(read_frames(f, str(MINER)))
    client_port = struct.unpack("!H", frames[0][2][34:36])[0]
    out = []
    for i in range(sessions):
        port = struct.pack("!H", 40000 + i)
        for ts, _linktype, data in frames:
            where = 34 if data[34:36] == struct.pack("!H", client_port) else 36
            out.append((ts + i * gap_s * 1_000_000, data[:where] + port + data[where + 2 :]))
    path = tmp_path / "reconnecting.pcap"
    path.write_bytes(pcap_file(out))
    return path


@pytest.fixture
def alerts(tmp_path: Path) -> Path:
    """EVE alerts of every bundled capture, as `scan` writes them."""
    path = tmp_path / "alerts.json"
    proc = run("scan", "-q", "-o", str(path), str(PCAPS), home=tmp_path)
    assert proc.returncode == 1, proc.stderr
    return path


# --------------------------------------------------------------------------- report


def test_report_table_json_csv_html(tmp_path: Path, alerts: Path) -> None:
    lines = [json.loads(x) for x in alerts.read_text().splitlines()]
    hosts = {r["src_ip"] for r in lines}
    table = run("report", str(alerts), home=tmp_path)
    assert table.returncode == 0 and table.stdout.startswith("HOST")
    assert all(h in table.stdout for h in hosts)
    assert f"{len(lines)} mining alerts, {len(hosts)} hosts" in table.stderr
    doc = json.loads(run("report", "--format", "json", str(alerts), home=tmp_path).stdout)
    assert {h["host"] for h in doc["hosts"]} == hosts
    assert sum(h["alerts"] for h in doc["hosts"]) == len(lines)
    rows = list(
        csv.DictReader(io.StringIO(run("report", "--format", "csv", "-q", str(alerts), home=tmp_path).stdout))
    )
    assert {r["host"] for r in rows} == hosts
    page = tmp_path / "report.html"
    html = run("report", "--format", "html", "-o", str(page), str(alerts), home=tmp_path)
    assert html.returncode == 0 and html.stdout == ""
    assert page.read_text().count("<section") == len(hosts)


def test_report_reads_stdin(tmp_path: Path, alerts: Path) -> None:
    proc = run("report", "--format", "json", "-", home=tmp_path, stdin=alerts.read_text())
    assert proc.returncode == 0 and json.loads(proc.stdout)["hosts"]


def test_report_bad_line_is_an_input_error_naming_file_and_line(tmp_path: Path, alerts: Path) -> None:
    with alerts.open("a") as f:
        f.write("{broken\n")
    count = len(alerts.read_text().splitlines())
    one_line_error(run("report", str(alerts), home=tmp_path), 3, f"{alerts}:{count}: not a JSON line")


def test_report_missing_file_and_unwritable_output(tmp_path: Path, alerts: Path) -> None:
    one_line_error(run("report", str(tmp_path / "none.json"), home=tmp_path), 3, "none.json: cannot open")
    proc = run("report", "-o", str(alerts / "under-a-file.html"), str(alerts), home=tmp_path)
    one_line_error(proc, 4, "cannot write the report")


# --------------------------------------------------------------------------- settings file


GOOD = "# poolsniff settings\nquiet: true\nsuppress: 1h\noutput: alerts.json\n"


def test_config_check(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(GOOD)
    proc = run("config", "check", str(path), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "quiet: True",
        "suppress: 3600",
        f"output: {tmp_path / 'alerts.json'}",
    ]
    assert f"{path}: ok, 3 settings" in proc.stderr


def test_config_check_bad_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(GOOD + "colour: red\n")
    one_line_error(run("config", "check", str(path), home=tmp_path), 2, f"{path}:5: unknown key 'colour'")


def test_config_check_finds_the_user_file(tmp_path: Path) -> None:
    if SYSTEM_CONFIG.exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine and is read first")
    one_line_error(run("config", "check", home=tmp_path), 2, "no settings file", str(tmp_path))
    user = tmp_path / "poolsniff" / "poolsniff.yaml"
    user.parent.mkdir()
    user.write_text(GOOD)
    proc = run("config", "check", home=tmp_path)
    assert proc.returncode == 0 and f"{user}: ok" in proc.stderr


def test_scan_takes_its_settings_from_the_file_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(GOOD)
    proc = run("scan", "--config", str(path), str(MINER), home=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr == ""  # output and quiet from the file
    written = (tmp_path / "alerts.json").read_text().splitlines()
    assert written
    other = tmp_path / "other.json"
    proc = run("scan", "--config", str(path), "-o", str(other), str(MINER), home=tmp_path)
    assert proc.returncode == 1 and len(other.read_text().splitlines()) == len(written)
    assert len((tmp_path / "alerts.json").read_text().splitlines()) == len(written)


def test_scan_reads_the_user_file_without_config(tmp_path: Path) -> None:
    if SYSTEM_CONFIG.exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine and is read first")
    user = tmp_path / "poolsniff" / "poolsniff.yaml"
    user.parent.mkdir()
    user.write_text("quiet: true\n")
    proc = run("scan", str(MINER), home=tmp_path)
    assert proc.returncode == 1 and proc.stdout and proc.stderr == ""


@pytest.mark.parametrize("command", [["scan", str(MINER)], ["sniff", "-i", "lo"]])
def test_bad_settings_file_stops_scan_and_sniff(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text("quiet: true\nredis_stream: x\n")
    proc = run(*command[:1], "--config", str(path), *command[1:], home=tmp_path)
    one_line_error(proc, 2, f"{path}:2: unknown key 'redis_stream'; did you mean 'redis-stream'?")


# --------------------------------------------------------------------------- outputs


def test_suppress_gives_one_line_per_window_and_counts_the_rest(tmp_path: Path) -> None:
    capture = reconnecting_miner(tmp_path, sessions=12)
    full = run("scan", "-q", str(capture), home=tmp_path)
    folded = run("scan", "-q", "--suppress", "5m", str(capture), home=tmp_path)
    assert full.returncode == folded.returncode == 1
    every = [json.loads(x) for x in full.stdout.splitlines()]
    kept = [json.loads(x) for x in folded.stdout.splitlines()]
    counts = [int(r["alert"]["metadata"].get("suppressed_count", ["0"])[0]) for r in kept]
    assert len(every) == 24  # a miner and a pool-side alert per session
    assert len(kept) < len(every) and len(kept) + sum(counts) == len(every)


def test_syslog_redis_and_metrics_from_scan(tmp_path: Path, redis_server: Any) -> None:  # noqa: F811
    server: Server = redis_server()
    metrics = tmp_path / "poolsniff.prom"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        proc = run(
            "scan", str(MINER), "--syslog", f"udp://127.0.0.1:{receiver.getsockname()[1]}",
            "--redis", server.url, "--redis-stream", "gateways", "--metrics", str(metrics), home=tmp_path,
        )  # fmt: skip
        lines = [json.loads(x) for x in proc.stdout.splitlines()]
        datagrams = [receiver.recv(65535) for _ in lines]
    assert proc.returncode == 1 and lines
    assert [json.loads(d.split(b" - ", 1)[1]) for d in datagrams] == lines
    assert server.call("XLEN", "gateways") == len(lines)
    got = parse_metrics(metrics.read_text())
    packets = int(proc.stderr.split(" packets")[0].split()[-1])
    assert got["poolsniff_packets_total"][()] == packets
    assert sum(got["poolsniff_alerts_total"].values()) == len(lines)


@pytest.mark.parametrize(
    "option, value, status, words",
    [
        ("--suppress", "soon", 2, ["--suppress: bad duration 'soon'"]),
        ("--syslog", "syslog://x", 2, ["--syslog: bad syslog target"]),
        ("--redis", "rediss://x", 2, ["--redis: bad Redis URL", "TLS"]),
        ("--metrics-interval", "0", 2, ["--metrics-interval: must be at least 1s"]),
        ("--metrics", "/nonexistent/dir/m.prom", 4, ["cannot write metrics"]),
    ],
)
def test_bad_output_options(tmp_path: Path, option: str, value: str, status: int, words: list[str]) -> None:
    one_line_error(run("scan", "-q", option, value, str(MINER), home=tmp_path), status, *words)


def test_unreachable_collector_is_an_output_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run("scan", "-q", "--syslog", f"tcp://127.0.0.1:{port}", str(MINER), home=tmp_path)
    one_line_error(proc, 4, f"syslog tcp://127.0.0.1:{port}: cannot connect")
