"""Options shared by scan and sniff: the settings file (--config) and the output stage's options.

Runs the installed entry point in a subprocess with its own environment, so no settings file
of the machine or the user is read (``XDG_CONFIG_HOME`` points into the test's folder).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from poolsniff.sources.pcap import open_capture, read_frames

from ..factories_eve import alert_lines
from ..factories_frames import pcap_file
from ..output.test_metrics import parse as parse_metrics
from ..output.transports.test_redis import Server, redis_server  # noqa: F401 - the fixture
from .conftest import MINER, SYSTEM_CONFIG, one_line_error, run


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


# --------------------------------------------------------------------------- settings file


GOOD = "# poolsniff settings\nquiet: true\nsuppress: 1h\noutput: alerts.json\n"


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
    full = run("scan", "-q", "--suppress", "0", str(capture), home=tmp_path)
    folded = run("scan", "-q", "--suppress", "5m", str(capture), home=tmp_path)
    assert full.returncode == folded.returncode == 1
    every = alert_lines(full.stdout)
    kept = alert_lines(folded.stdout)
    counts = [int(r["alert"]["metadata"].get("suppressed_count", ["0"])[0]) for r in kept]
    assert len(every) == 12  # one per session: the pool side is in the miner's alert
    assert len(kept) < len(every) and len(kept) + sum(counts) == len(every)


def test_suppression_is_on_by_default_for_ten_minutes(tmp_path: Path) -> None:
    """Sessions a minute apart for 12 minutes: the first line, the next window's, the final count."""
    capture = reconnecting_miner(tmp_path, sessions=12)
    default = run("scan", "-q", str(capture), home=tmp_path)
    ten = run("scan", "-q", "--suppress", "10m", str(capture), home=tmp_path)
    kept = alert_lines(default.stdout)
    assert default.returncode == 1 and kept == alert_lines(ten.stdout)
    counts = [int(r["alert"]["metadata"].get("suppressed_count", ["0"])[0]) for r in kept]
    assert len(kept) + sum(counts) == 12 and len(kept) < 12


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
        lines = alert_lines(proc.stdout)  # syslog and Redis get the alerts, not the flow and stats records
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


def test_unreachable_collector_warns_and_the_next_run_delivers(tmp_path: Path) -> None:
    """A syslog receiver that is away: scan still ends (alerts found), its alerts wait in the spool."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run("scan", "-q", "--syslog", f"tcp://127.0.0.1:{port}", str(MINER), home=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"syslog tcp://127.0.0.1:{port}: Connection refused; alerts wait in the spool" in proc.stderr
    assert "alerts stay in the spool" in proc.stderr


def test_a_spool_in_use_or_not_creatable_is_a_one_line_output_error(tmp_path: Path) -> None:
    from poolsniff.output.transports.spool import Spool, spool_dir

    data = Path(os.environ["POOLSNIFF_DATA_DIR"])
    url = "redis://127.0.0.1:1/0"
    held = Spool(spool_dir(data, "redis redis://127.0.0.1:1/0 stream poolsniff"))  # another poolsniff
    try:
        proc = run("scan", "-q", "--redis", url, str(MINER), home=tmp_path)
    finally:
        held.close()
    one_line_error(proc, 4, "the spool is in use by another poolsniff process")
    (tmp_path / "not-a-dir").write_text("")
    env = {"POOLSNIFF_DATA_DIR": str(tmp_path / "not-a-dir")}
    one_line_error(
        run("scan", "-q", "--redis", url, str(MINER), home=tmp_path, env=env), 4, "cannot open the spool"
    )
