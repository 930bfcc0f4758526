"""The command line: exit statuses, one-line errors without tracebacks, output options.

Runs the installed entry point in a subprocess, as a user would, so stderr, stdout and the
exit status are the real ones.
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from poolsniff.output.eventid import without_id

from ..conftest import PCAPS
from ..factories_eve import alert_lines

MINER = PCAPS / "stratum-v1-cgminer.pcap"
BENIGN = PCAPS / "benign-mix.pcapng"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``poolsniff ARGS`` and capture everything."""
    return subprocess.run(
        [sys.executable, "-m", "poolsniff", *args],
        capture_output=True, text=True, timeout=120, input=None if stdin is None else stdin.decode(),
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    """The error is one line, names what went wrong, and there is no traceback."""
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in errors[0]


def test_alerts_found_exit_1_and_lines_on_stdout() -> None:
    proc = run("scan", str(MINER))
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["event_type"] for r in records] == ["alert", "flow", "stats"]  # the stats record ends a scan
    assert {r["pcap_filename"] for r in records[:2]} == {MINER.name}
    assert "poolsniff: 1 file, 18 packets, 1 flow, 1 alert in " in proc.stderr  # one of each, not "1 files"


@pytest.mark.parametrize("suppress", ["600", "0"])
def test_summary_tells_alerts_found_from_alert_lines_written(suppress: str) -> None:
    """XMRig --daemon polls with a new connection each second: with suppression the summary says
    how many alerts were found and how many lines carry them, and the two add up."""
    daemon = PCAPS.parent / "tests" / "data" / "real-xmrig" / "xmrig-daemon-solo.pcap"
    proc = run("scan", "--suppress", suppress, str(daemon))
    lines = alert_lines(proc.stdout)
    folded = sum(int(r["alert"]["metadata"].get("suppressed_count", ["0"])[0]) for r in lines)
    if folded:
        assert f"{len(lines) + folded} alerts ({len(lines)} written," in proc.stderr
    else:
        assert f" {len(lines)} alerts in " in proc.stderr
    assert (folded > 0) == (suppress != "0"), proc.stderr


def test_nothing_found_exit_0() -> None:
    proc = run("scan", str(BENIGN))
    assert proc.returncode == 0
    [stats] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert stats["event_type"] == "stats" and stats["stats"]["detect"]["alert"] == 0


def test_quiet_silences_summary() -> None:
    proc = run("scan", "-q", str(BENIGN))
    assert proc.returncode == 0 and proc.stderr == ""


def test_output_file_is_appended(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    out.write_text('{"earlier":true}\n')
    proc = run("scan", "-q", "-o", str(out), str(MINER))
    assert proc.returncode == 1 and proc.stdout == ""
    lines = out.read_text().splitlines()
    assert lines[0] == '{"earlier":true}' and len(lines) > 1


def test_missing_path_exit_3(tmp_path: Path) -> None:
    proc = run("scan", str(tmp_path / "nope.pcap"))
    assert_one_line_error(proc, 3, "nope.pcap", "no such file")


def test_text_file_exit_3(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("<html>hello</html>\n")
    proc = run("scan", str(text))
    assert_one_line_error(proc, 3, "notes.txt", "not a pcap or pcapng file")


def test_empty_file_exit_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    proc = run("scan", str(empty))
    assert_one_line_error(proc, 3, "empty.pcap", "empty")


BAD_INPUTS = {
    "missing": (None, "no such file or directory"),
    "text": (b"not a capture at all\n", "not a pcap or pcapng file"),
    "empty": (b"", "empty file, not a capture"),
    "cut-header": (MINER.read_bytes()[:14], "file ends inside the pcap file header (14 of 24 bytes)"),
    "zip": (b"PK\x03\x04" + bytes(40), "a zip archive; unzip it"),
}
"""Inputs that cannot be scanned, and the words of their one error line."""


def bad_input(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pcap"
    data = BAD_INPUTS[kind][0]
    if data is not None:
        path.write_bytes(data)
    return path


def traffic(text: str) -> list[str]:
    """The alert and flow lines of a scan's output (its closing stats record says when it ran)."""
    return [line for line in text.splitlines() if '"event_type":"stats"' not in line]


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
@pytest.mark.parametrize("first", [True, False], ids=["bad-first", "bad-last"])
def test_a_bad_input_does_not_stop_the_others(tmp_path: Path, kind: str, first: bool) -> None:
    bad, out = bad_input(tmp_path, kind), tmp_path / "alerts.json"
    paths = [str(bad), str(MINER)] if first else [str(MINER), str(bad)]
    alone = run("scan", "-q", str(MINER))
    proc = run("scan", "-q", "-o", str(out), *paths)
    assert proc.returncode == 1, proc.stderr  # alerts found: a script can still tell
    assert traffic(out.read_text()) == traffic(alone.stdout)  # the good capture's alerts, all of them
    errors = [line for line in proc.stderr.splitlines() if line.startswith("poolsniff: error: ")]
    assert errors == [line for line in errors if str(bad) in line and BAD_INPUTS[kind][1] in line] and errors
    assert "poolsniff: warning: 1 of 2 inputs could not be scanned" in proc.stderr
    strict = run("scan", "-q", "--strict", *paths)
    assert strict.returncode == 3 and traffic(strict.stdout) == traffic(alone.stdout)


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_only_bad_inputs_exit_3_and_create_no_output(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "alerts.json"
    proc = run("scan", "-o", str(out), str(bad_input(tmp_path, kind)), str(tmp_path / "also-missing.pcap"))
    assert proc.returncode == 3 and not out.exists()
    assert len(proc.stderr.splitlines()) == 2 and "Traceback" not in proc.stderr


def test_bad_input_and_no_alerts_is_3_not_clean(tmp_path: Path) -> None:
    proc = run("scan", "-q", str(BENIGN), str(tmp_path / "missing.pcap"))
    assert proc.returncode == 3 and "warning" not in proc.stderr


def test_a_folder_skips_what_is_not_a_capture_while_a_named_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("captures of the incident\n")
    shutil.copy(MINER, tmp_path / "m.pcap")
    folder = run("scan", "-q", str(tmp_path))
    assert folder.returncode == 1 and folder.stderr == ""
    named = run("scan", "-q", str(tmp_path / "README.txt"))
    assert_one_line_error(named, 3, "README.txt", "not a pcap")


@pytest.mark.parametrize("how", ["pipe", "file"])
def test_dash_reads_the_capture_from_stdin(how: str) -> None:
    alone = run("scan", "-q", str(MINER))
    command = [sys.executable, "-m", "poolsniff", "scan", "-q", "-"]
    if how == "pipe":
        proc = subprocess.run(command, input=MINER.read_bytes(), capture_output=True, timeout=120)
    else:  # a regular file as stdin (`scan - < m.pcap`) has a size and a position
        with MINER.open("rb") as f:
            proc = subprocess.run(command, stdin=f, capture_output=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in traffic(proc.stdout.decode())]
    assert {r["pcap_filename"] for r in records} == {"stdin"}
    expected = [json.loads(x) for x in traffic(alone.stdout)]
    # the same records but for the file name (and so the id, which hashes every field)
    renamed = [without_id({**r, "pcap_filename": MINER.name}) for r in records]
    assert renamed == [without_id(r) for r in expected]


def test_dash_twice_is_a_usage_error() -> None:
    assert_one_line_error(run("scan", "-", "-", stdin=b""), 2, "only once")


@pytest.mark.parametrize("tool", ["xz", "zstd", "bzip2", "gzip"])
def test_compressed_captures_made_by_the_usual_tools(tmp_path: Path, tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    packed = tmp_path / "m.pcap.packed"
    with packed.open("wb") as out:
        subprocess.run([tool, "-c", str(MINER)], stdout=out, check=True)
    alone = run("scan", "-q", str(MINER))
    proc = run("scan", "-q", str(packed))
    assert proc.returncode == 1, proc.stderr
    renamed = [without_id(json.loads(x)) for x in traffic(proc.stdout.replace(packed.name, MINER.name))]
    assert renamed == [without_id(json.loads(x)) for x in traffic(alone.stdout)]  # the id hashes the name


def test_truncated_capture_warns_with_offset_and_keeps_alerts(tmp_path: Path) -> None:
    data = MINER.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    proc = run("scan", "-q", str(cut))
    assert proc.returncode == 1
    assert "warning" in proc.stderr and "offset" in proc.stderr and "cut.pcap" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip()


def test_folder_is_read_recursively_in_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    shutil.copy(MINER, tmp_path / "b" / "c" / "z.pcap")
    (tmp_path / "a.pcap.gz").write_bytes(gzip.compress(MINER.read_bytes()))
    (tmp_path / "README.txt").write_text("not a capture")
    proc = run("scan", "-q", str(tmp_path))
    assert proc.returncode == 1
    names = [r["pcap_filename"] for r in alert_lines(proc.stdout)]
    assert names[0] == "a.pcap.gz" and names[-1] == "z.pcap"


def test_unwritable_output_exit_4(tmp_path: Path) -> None:
    proc = run("scan", "-o", str(tmp_path / "no" / "such" / "dir.json"), str(MINER))
    assert_one_line_error(proc, 4, "cannot open for writing")


def test_bad_blocklist_line_exit_2(tmp_path: Path) -> None:
    bl = tmp_path / "mine.txt"
    bl.write_text("good.example.net\nco.uk\n")
    proc = run("scan", "--blocklist", str(bl), str(MINER))
    assert_one_line_error(proc, 2, "mine.txt:2")


def test_extra_blocklist_is_used(tmp_path: Path) -> None:
    bl = tmp_path / "mine.txt"
    bl.write_text("notsupportxmr.com  # a name the shipped lists do not have\n")
    proc = run("scan", "-q", "--blocklist", str(bl), str(PCAPS / "dns-pool-lookup.pcap"))
    hosts = {r["alert"]["metadata"].get("pool_host", [""])[0] for r in alert_lines(proc.stdout)}
    assert "notsupportxmr.com" in hosts


def test_usage_error_exit_2() -> None:
    assert_one_line_error(run("scan"), 2, "Missing argument 'PATHS...'", "scan --help")
    assert_one_line_error(run("scan", "--no-such-option", str(MINER)), 2, "--no-such-option")


def test_redact_hides_wallets() -> None:
    plain = run("scan", "-q", str(MINER)).stdout
    hidden = run("scan", "-q", "--redact", str(MINER)).stdout
    wallets = {r["alert"]["metadata"].get("wallet", [""])[0] for r in alert_lines(plain)} - {""}
    assert wallets
    for wallet in wallets:
        assert wallet not in hidden
    assert "redacted" in hidden


def test_closed_stdout_pipe_ends_quietly() -> None:
    proc = subprocess.run(
        f"{shlex.quote(sys.executable)} -m poolsniff scan {shlex.quote(str(PCAPS))} | head -n 1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr and "Broken pipe" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 1


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_interrupt_exit_130_keeps_alerts(tmp_path: Path, signal_name: str) -> None:
    """A scan reading a capture that is still being written (a FIFO) is interrupted."""
    import os
    import signal
    import threading
    import time

    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    out = tmp_path / "a.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolsniff", "scan", "-q", "-o", str(out), str(fifo)],
        stderr=subprocess.PIPE, text=True,
        # a test runner started in the background hands its children SIGINT ignored, and Python keeps
        # an ignored SIGINT ignored: give the child the default disposition a user's shell gives it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(MINER.read_bytes())
            w.flush()
            time.sleep(30)

    threading.Thread(target=feed, daemon=True).start()
    # interrupt once the alerts are written, not after a fixed pause: under load poolsniff may not even
    # have started (nor set its signal handlers) 2 s after Popen
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().strip()):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no alert written within 60 s"
        time.sleep(0.05)
    proc.send_signal(getattr(signal, signal_name))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    assert out.read_text().strip(), "alerts found before the interrupt are kept"


def test_summary_counts_skipped_packets_by_reason(tmp_path: Path) -> None:
    data = bytearray(MINER.read_bytes())
    # make the first frame's Ethernet type unknown: counted as not-ip, not fatal
    data[24 + 16 + 12 : 24 + 16 + 14] = b"\x88\xb5"
    bad = tmp_path / "odd.pcap"
    bad.write_bytes(bytes(data))
    proc = run("scan", str(bad))
    assert "Traceback" not in proc.stderr
    assert "poolsniff: counters:" in proc.stderr and "not-ip 1" in proc.stderr


@pytest.mark.parametrize("command", ["scan", "report", "export"])
def test_output_dash_is_stdout_not_a_file_named_dash(tmp_path: Path, command: str) -> None:
    alerts = tmp_path / "alerts.json"
    assert run("scan", "-q", "-o", str(alerts), str(MINER)).returncode == 1
    args = {
        "scan": ["scan", "-q", str(MINER)],
        "report": ["report", "-q", "--format", "json", str(alerts)],
        "export": ["blocklist", "export", "--format", "hosts"],
    }[command]
    def poolsniff(output: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "poolsniff", *args, "-o", output]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    to_file, dashed = poolsniff(str(tmp_path / "out")), poolsniff("-")
    assert dashed.returncode == to_file.returncode, dashed.stderr
    assert not (tmp_path / "-").exists()
    written = (tmp_path / "out").read_text()
    assert written and to_file.stdout == ""
    if command == "scan":  # the stats record's time and uptime differ from run to run
        assert dashed.stdout.splitlines()[:-1] == written.splitlines()[:-1]
    else:
        assert dashed.stdout == written
