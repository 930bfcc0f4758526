"""``poolsniff probe`` and ``scan --confirm``, run as a user would, against pools the tests start on loopback.

The data directory (and so the probe ledger) is the per-test one of the autouse fixture, so the
one-probe-per-day rule is seen across two runs of the command.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.confirm import pools
from tests.factories_eve import alert_lines
from tests.factories_frames import eth, ipv4, pcap_file, tcp
from tests.ports import closed_port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poolsniff", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_pool_is_confirmed_once_a_day_exit_1_then_0() -> None:
    with pools.running("cryptonote") as pool:
        first = run("probe", f"127.0.0.1:{pool.port}")
        again = run("probe", f"127.0.0.1:{pool.port}")
    assert first.returncode == 1, first.stderr
    assert (
        first.stdout
        == f"127.0.0.1:{pool.port}: mining (cryptonote-job over plain: job 4711 (target b88d0600))\n"
    )
    assert again.returncode == 0 and "skipped (probed 0.0 h ago" in again.stdout
    assert pool.connections == 1


def test_json_has_one_object_per_endpoint() -> None:
    with closed_port() as closed, pools.fakepool("eth-proxy") as pool:
        proc = run("probe", "--json", f"127.0.0.1:{pool.port}", f"127.0.0.1:{closed}")
    assert proc.returncode == 1, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["status"] == "mining" and first["mining"] and first["verdict"] == "eth-proxy"
    assert first["endpoint"] == f"127.0.0.1:{pool.port}" and first["hello"] == "eth-proxy"
    assert [a["hello"] for a in first["attempts"]] == ["cryptonote", "stratum-v1", "eth-proxy"]
    assert second["status"] == "unreachable" and second["verdict"] is None and not second["mining"]


def test_nothing_mining_exits_0() -> None:
    with closed_port() as port:
        proc = run("probe", f"127.0.0.1:{port}")
    assert proc.returncode == 0 and "unreachable (connect failed" in proc.stdout


def test_an_allowlisted_endpoint_is_not_probed(tmp_path: Path) -> None:
    with pools.running("cryptonote") as pool:
        allow = tmp_path / "allow.txt"
        allow.write_text(f"# category: allow\n127.0.0.1:{pool.port} local\n")
        proc = run("probe", "--blocklist", str(allow), f"127.0.0.1:{pool.port}")
    assert proc.returncode == 0 and "skipped (on the allowlist" in proc.stdout
    assert pool.connections == 0


def test_a_bad_endpoint_is_a_usage_error() -> None:
    proc = run("probe", "127.0.0.1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == "poolsniff: error: 127.0.0.1: give HOST:PORT (the port is required)\n"


def test_an_unwritable_ledger_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with closed_port() as port:
        proc = run("probe", "--data-dir", str(tmp_path / "file"), f"127.0.0.1:{port}")
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.startswith("poolsniff: error: ") and "probe ledger" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stdout == ""


def capture(path: Path, port: int) -> Path:
    """A capture of a connection from 10.9.8.7 to 127.0.0.1:``port`` carrying opaque bytes."""
    client, server = socket.inet_aton("10.9.8.7"), socket.inet_aton("127.0.0.1")
    t = 1_714_564_800_000_000
    frames = [
        (t, eth(ipv4(tcp(b"", 40000, port, 1, 0x02), src=client, dst=server))),
        (t + 1000, eth(ipv4(tcp(b"", port, 40000, 500, 0x12), src=server, dst=client))),
        (t + 2000, eth(ipv4(tcp(b"\x17\x03\x03\x00\x04abcd", 40000, port, 2, 0x18), src=client, dst=server))),
    ]
    path.write_bytes(pcap_file(frames))
    return path


def test_scan_confirm_raises_a_listed_endpoint_that_answers_to_confirmed(tmp_path: Path) -> None:
    with pools.fakepool("stratum-v1") as pool:
        listed = tmp_path / "mine.txt"
        listed.write_text(f"127.0.0.1:{pool.port} test\n")
        pcap = capture(tmp_path / "c.pcap", pool.port)
        plain = run("scan", "--blocklist", str(listed), str(pcap))
        proc = run("scan", "--confirm", "--blocklist", str(listed), str(pcap))
        sent = pool.requests(at_least=2)
    assert len(sent) == 2  # the two hellos of the --confirm run; the plain scan sent nothing
    assert plain.returncode == proc.returncode == 1, proc.stderr
    records = alert_lines(proc.stdout)
    assert [r["alert"]["signature_id"] for r in records] == [9300205, 9300301]
    meta = records[1]["alert"]["metadata"]
    assert meta["confirms"] == ["9300205"] and meta["probe_verdict"] == ["stratum-subscribe"]
    assert records[1]["flow_id"] == records[0]["flow_id"] and records[1]["alert"]["severity"] == 1
    assert f"poolsniff: confirm: 127.0.0.1:{pool.port}: mining (stratum-subscribe" in proc.stderr
    assert "2 alerts" in proc.stderr


def test_scan_confirm_of_a_server_that_is_no_pool_adds_nothing(tmp_path: Path) -> None:
    listed = tmp_path / "mine.txt"
    with closed_port() as port:
        listed.write_text(f"127.0.0.1:{port} test\n")
        proc = run("scan", "--confirm", "--blocklist", str(listed), str(capture(tmp_path / "c.pcap", port)))
    assert proc.returncode == 1
    assert [r["alert"]["signature_id"] for r in alert_lines(proc.stdout)] == [9300205]
    assert "unreachable" in proc.stderr


def test_confirm_from_the_settings_file(tmp_path: Path) -> None:
    with pools.fakepool("eth-proxy") as pool:
        listed = tmp_path / "mine.txt"
        listed.write_text(f"127.0.0.1:{pool.port} test\n")
        config = tmp_path / "poolsniff.yaml"
        config.write_text(f"confirm: true\nblocklist: {listed}\n")
        proc = run("scan", "--config", str(config), str(capture(tmp_path / "c.pcap", pool.port)))
    sids = [r["alert"]["signature_id"] for r in alert_lines(proc.stdout)]
    assert sids == [9300205, 9300301]
