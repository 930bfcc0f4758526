"""Live replay benchmark: the highest tcpreplay rate at which ``poolsniff sniff`` loses no mining flow.

A network namespace gets a veth pair; ``poolsniff sniff -i veth1`` listens on one end while
``tcpreplay --pps RATE -i veth0`` replays the generated mixed capture into the other. After
each replay the sniffer is stopped with SIGINT and its summary line read (frames captured
after the kernel filter, dropped by the kernel, alerts); the alerts are checked against the
capture's mining flows. The rate doubles until a mining flow is missed, then the highest
good rate is narrowed down by bisection. Needs root, ``ip`` and ``tcpreplay``.

    python benchmarks/bench_live.py --packets 200000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_scan  # noqa: E402

NS = f"psbench{os.getpid()}"


@dataclass
class Replay:
    """One replay at one rate."""

    pps: int
    sent_pps: float
    captured: int
    dropped: int
    alerted: int
    mining: int

    @property
    def good(self) -> bool:
        """Every mining flow alerted."""
        return self.alerted == self.mining


def usable() -> str | None:
    """Why the live benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, raw sockets)"
    for tool in ("ip", "tcpreplay"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    help_text = subprocess.run(
        [*bench_scan.poolsniff_command(), "sniff", "--help"], capture_output=True, text=True
    )
    if help_text.returncode != 0:
        return "this poolsniff has no sniff command"
    return None


def ip(*args: str) -> None:
    """Run ``ip ARGS``."""
    subprocess.run(["ip", *args], check=True, capture_output=True)


def replay_once(capture: Path, manifest: dict[str, object], pps: int, tmp: Path) -> Replay:
    """Sniff on veth1, replay into veth0 at ``pps``, stop, read the summary and the alerts."""
    out, err = tmp / f"alerts-{pps}.json", tmp / f"stderr-{pps}.txt"
    sniff = [*bench_scan.poolsniff_command(), "sniff", "-i", "veth1", "-o", str(out), "--stats-interval", "0"]
    with open(err, "w") as errors:
        proc = subprocess.Popen(["ip", "netns", "exec", NS, *sniff], stderr=errors, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "listening on" not in err.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"poolsniff sniff did not start:\n{err.read_text()}")
        time.sleep(0.05)
    speed = f"--pps={pps}" if pps else "--topspeed"
    report = subprocess.run(
        ["ip", "netns", "exec", NS, "tcpreplay", speed, "-i", "veth0", str(capture)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    time.sleep(1.0)  # let the sniffer read what the kernel queued
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    line = [x for x in err.read_text().splitlines() if x.startswith("poolsniff: veth1: ")][-1]
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (captured|dropped by the kernel|alerts)", line)}
    records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    alerts = [r for r in records if r.get("event_type") == "alert"]  # not the flow and stats records
    seen = {(a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"]) for a in alerts}
    flows = manifest["mining"]
    assert isinstance(flows, list)
    alerted = sum((f["client_ip"], f["client_port"], f["server_ip"], f["server_port"]) in seen for f in flows)
    rate = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", report)
    sent = float(rate.group(1)) if rate else float("nan")
    return Replay(
        pps, sent, counts.get("captured", 0), counts.get("dropped by the kernel", 0), alerted, len(flows)
    )


def search(capture: Path, manifest: dict[str, object], start: int, limit: int, steps: int) -> list[Replay]:
    """Double the rate from ``start`` until a mining flow is lost (or ``limit``), then bisect."""
    runs: list[Replay] = []
    with tempfile.TemporaryDirectory() as tmp:
        pps, good, bad = start, 0, 0
        while pps <= limit:
            run = replay_once(capture, manifest, pps, Path(tmp))
            runs.append(run)
            print(_line(run), flush=True)
            if not run.good:
                bad = pps
                break
            if run.sent_pps < 0.9 * pps:  # tcpreplay itself cannot go faster: one run flat out
                run = replay_once(capture, manifest, 0, Path(tmp))
                runs.append(run)
                print(_line(run), flush=True)
                break
            good, pps = pps, pps * 2
        for _ in range(steps if good and bad else 0):
            pps = (good + bad) // 2
            run = replay_once(capture, manifest, pps, Path(tmp))
            runs.append(run)
            print(_line(run), flush=True)
            good, bad = (pps, bad) if run.good else (good, pps)
    return runs


def _line(run: Replay) -> str:
    verdict = "ok" if run.good else "MINING FLOW LOST"
    asked = f"--pps {run.pps:>9,}" if run.pps else "--topspeed     "
    return (
        f"  {asked}: sent {run.sent_pps:>10,.0f} pps, {run.captured:>9,} captured, "
        f"{run.dropped:>8,} dropped by the kernel, mining flows {run.alerted}/{run.mining} {verdict}"
    )


def main(packets: int, cache: str, seed: int, start: int = 25_000, limit: int = 1_600_000) -> None:
    """Set up the namespace, search the rate, print the result, tear down."""
    why = usable()
    if why is not None:
        print(f"\nlive replay: skipped ({why})")
        return
    capture, manifest = bench_scan.capture(Path(cache), packets, seed)
    print(f"\nlive replay of {capture.name} into a veth pair (poolsniff sniff on the other end):")
    ip("netns", "add", NS)
    try:
        ip("-n", NS, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        for dev in ("lo", "veth0", "veth1"):
            ip("-n", NS, "link", "set", dev, "up")
        runs = search(capture, manifest, start, limit, steps=3)
    finally:
        ip("netns", "delete", NS)
    good = [r for r in runs if r.good]
    if good:
        best = max(good, key=lambda r: r.sent_pps)
        limited = " (tcpreplay's own limit)" if all(r.good for r in runs) else ""
        print(
            f"highest rate with no mining flow lost: {best.sent_pps:,.0f} pps sent{limited}, "
            f"{best.dropped:,} frames dropped by the kernel ({best.captured:,} of the {packets:,} frames "
            "passed the kernel filter)"
        )
    else:
        print("no rate tried kept every mining flow")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "poolsniff-bench"))
    parser.add_argument("--start", type=int, default=25_000, help="first rate tried (packets/s)")
    args = parser.parse_args()
    main(args.packets, args.cache, args.seed, args.start)
