"""Live replay benchmark: the highest tcpreplay rate at which ``poolsniff sniff`` loses no mining flow.

A network namespace gets a veth pair; ``poolsniff sniff -i veth1`` listens on one end while
``tcpreplay --pps RATE -i veth0`` replays the generated mixed capture into the other. After
each replay the sniffer is stopped with SIGINT and its summary line read (frames captured
after the kernel filter, dropped by the kernel, alerts); the alerts are checked against the
capture's mining flows. The rate doubles until a mining flow is missed, then the highest
good rate is narrowed down by bisection. Needs root, ``ip`` and ``tcpreplay``.

``--real N`` replays the real mix instead (``realmix.py``: the corpus's Ethernet captures joined,
that joined N times): its "mining flows" are the flows an offline ``scan`` of the same file alerts
on, so a run is good when every flow the offline scan alerts on is alerted live too (both with
``--suppress 0``, so that every alerted flow writes its own line).

The veth pair's MTU is raised to fit the capture's largest frame: captures taken on a host hold
frames larger than 1,514 bytes (segments the sending host's NIC or the capturing one coalesced: the
real mix has 695 of them in each copy, up to 37,506 bytes), and at the default 1,500 tcpreplay
could not send them (6,950 of the real mix joined ten times, "failed" in the table).

veth1's ``rx_dropped`` is reported apart, and is not a loss to poolsniff: on the real mix it counts
the 802.1Q frames whose VLAN has no VLAN device on veth1 (207 in each copy), which the kernel's stack
discards only after every packet socket has had them (a plain AF_PACKET socket on veth1 receives all
3,780 VLAN frames of the real mix joined three times while ``rx_dropped`` grows by 621). Earlier runs
took that count for veth1's backlog.

``--buffer MIB`` passes ``sniff --buffer`` (each socket's receive buffer). ``--jobs 1,2`` runs the
search once per number of capture processes (``sniff --jobs``; default 0, sniff's own default: one
per CPU) and prints each socket's kernel counts; ``--once`` replays at ``--start`` only (``0``:
``--topspeed``).

    python benchmarks/bench_live.py --packets 200000
    python benchmarks/bench_live.py --real 10 --start 400000
    python benchmarks/bench_live.py --real 10 --start 400000 --once --jobs 1,2
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
import realmix  # noqa: E402

from poolsniff.sources.pcap import read_frames  # noqa: E402

NS = f"psbench{os.getpid()}"
SNIFF_EXTRA: list[str] = []
"""More ``poolsniff sniff`` arguments for every replay (``--buffer``)."""


@dataclass
class Replay:
    """One replay at one rate."""

    pps: int
    sent_pps: float
    captured: int
    dropped: int
    alerted: int
    mining: int
    behind_s: float = 0.0
    """Seconds the sniffer took, after tcpreplay ended, to read what the kernel had queued."""
    link_dropped: int = 0
    """veth1's ``rx_dropped`` during the replay (see the module's docstring: not frames poolsniff missed)."""
    failed: int = 0
    """Frames tcpreplay could not send (larger than veth0's MTU, or the send failed)."""
    jobs: int = 1
    """``sniff --jobs``."""
    sockets: str = ""
    """With ``--jobs`` above 1: the kernel's counts of each socket (sniff's summary line)."""
    cpu_s: float = 0.0
    """User and system CPU seconds of the sniffer and its workers."""

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


def rx_dropped() -> int:
    """veth1's receive drops so far (``rx_dropped``: frames the stack discarded after the packet sockets
    had them, such as VLAN frames with no VLAN device; a full backlog; a frame longer than the MTU)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", NS, "cat", "/sys/class/net/veth1/statistics/rx_dropped"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(proc.stdout)


def largest_frame(capture: Path) -> int:
    """The longest frame in ``capture`` (0 when it has none)."""
    with open(capture, "rb") as f:
        return max((len(data) for _, _, data in read_frames(f, capture.name)), default=0)


def link_mtu(capture: Path) -> int:
    """The veth MTU that lets every frame of ``capture`` through (the Ethernet header is not part of it),
    no more than the 65,535 a veth allows."""
    return min(65535, max(1500, largest_frame(capture) - 14))


def ip(*args: str) -> None:
    """Run ``ip ARGS``."""
    subprocess.run(["ip", *args], check=True, capture_output=True)


def drain(err: Path, timeout: float = 300) -> float:
    """Wait until the sniffer has read what the kernel queued: its ``captured`` count, in the stats
    line it logs every second, has not moved for two lines. Returns when that was (monotonic)."""
    deadline = time.monotonic() + timeout
    last, still, moved = -1, 0, time.monotonic()
    while time.monotonic() < deadline and still < 2:
        time.sleep(1.0)
        found = re.findall(r"^poolsniff: stats: veth1: .*? (\d+) captured", err.read_text(), re.M)
        now = int(found[-1]) if found else -1
        if now == last:
            still += 1
        else:
            last, still, moved = now, 0, time.monotonic()
    return moved


def replay_once(capture: Path, manifest: dict[str, object], pps: int, tmp: Path, jobs: int = 1) -> Replay:
    """Sniff on veth1, replay into veth0 at ``pps``, stop, read the summary and the alerts."""
    out, err = tmp / f"alerts-{pps}-{jobs}.json", tmp / f"stderr-{pps}-{jobs}.txt"
    sniff = [
        *bench_scan.poolsniff_command(), "sniff", "-i", "veth1", "-o", str(out), "--stats-interval", "1",
        "--suppress", "0", "--jobs", str(jobs), *SNIFF_EXTRA,
    ]  # fmt: skip
    with open(err, "w") as errors:
        proc = subprocess.Popen(["ip", "netns", "exec", NS, *sniff], stderr=errors, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "listening on" not in err.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"poolsniff sniff did not start:\n{err.read_text()}")
        time.sleep(0.05)
    speed = f"--pps={pps}" if pps else "--topspeed"
    link_before = rx_dropped()
    report = subprocess.run(
        ["ip", "netns", "exec", NS, "tcpreplay", speed, "-i", "veth0", str(capture)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    replayed = time.monotonic()
    drained = drain(err)
    link_dropped = rx_dropped() - link_before
    proc.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(proc.pid, 0)  # the sniffer's CPU with its workers', not tcpreplay's
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    per_socket = [x for x in err.read_text().splitlines() if x.startswith("poolsniff: veth1 sockets: ")]
    line = [x for x in err.read_text().splitlines() if x.startswith("poolsniff: veth1: ")][-1]
    counts = {name: int(n) for n, name in re.findall(r"(\d+) (captured|dropped by the kernel|alerts?)", line)}
    records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    alerts = [r for r in records if r.get("event_type") == "alert"]  # not the flow and stats records
    seen = {(a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"]) for a in alerts}
    flows = manifest["mining"]
    assert isinstance(flows, list)
    alerted = sum((f["client_ip"], f["client_port"], f["server_ip"], f["server_port"]) in seen for f in flows)
    rate = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", report)
    sent = float(rate.group(1)) if rate else float("nan")
    failed = re.search(r"Failed packets:\s+(\d+)", report)
    return Replay(
        pps, sent, counts.get("captured", 0), counts.get("dropped by the kernel", 0), alerted, len(flows),
        max(0.0, drained - replayed), link_dropped, int(failed.group(1)) if failed else 0, jobs,
        per_socket[-1].split(": ", 2)[-1] if per_socket else "", cpu,
    )  # fmt: skip


def offline_manifest(capture: Path) -> dict[str, object]:
    """The flows an offline scan of ``capture`` alerts on, in the manifest's form (``mining``)."""
    proc = subprocess.run(
        [*bench_scan.poolsniff_command(), "scan", "-q", "--suppress", "0", str(capture)],
        capture_output=True, text=True, env=bench_scan._environ(),
    )  # fmt: skip
    records = [json.loads(x) for x in proc.stdout.splitlines()]
    alerts = [r for r in records if r["event_type"] == "alert"]
    flows = {(r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"]) for r in alerts}
    keys = ("client_ip", "client_port", "server_ip", "server_port")
    return {"mining": [dict(zip(keys, flow, strict=True)) for flow in sorted(flows, key=str)]}


def search(
    capture: Path,
    manifest: dict[str, object],
    start: int,
    limit: int,
    steps: int,
    jobs: int = 1,
    once: bool = False,
) -> list[Replay]:
    """Double the rate from ``start`` until a mining flow is lost (or ``limit``), then bisect."""
    runs: list[Replay] = []
    with tempfile.TemporaryDirectory() as tmp:
        if once:
            runs.append(replay_once(capture, manifest, start, Path(tmp), jobs))
            print(_line(runs[-1]), flush=True)
            return runs
        pps, good, bad = start, 0, 0
        while pps <= limit:
            run = replay_once(capture, manifest, pps, Path(tmp), jobs)
            runs.append(run)
            print(_line(run), flush=True)
            if not run.good:
                bad = pps
                break
            if run.sent_pps < 0.9 * pps:  # tcpreplay itself cannot go faster: one run flat out
                run = replay_once(capture, manifest, 0, Path(tmp), jobs)
                runs.append(run)
                print(_line(run), flush=True)
                break
            good, pps = pps, pps * 2
        for _ in range(steps if good and bad else 0):
            pps = (good + bad) // 2
            run = replay_once(capture, manifest, pps, Path(tmp), jobs)
            runs.append(run)
            print(_line(run), flush=True)
            good, bad = (pps, bad) if run.good else (good, pps)
    return runs


def _line(run: Replay) -> str:
    verdict = "ok" if run.good else "MINING FLOW LOST"
    asked = f"--pps {run.pps:>9,}" if run.pps else "--topspeed     "
    sockets = f"\n      sockets: {run.sockets}" if run.sockets else ""
    return (
        f"  --jobs {run.jobs} {asked}: sent {run.sent_pps:>10,.0f} pps ({run.failed:,} failed), "
        f"{run.captured:>9,} captured, "
        f"{run.dropped:>8,} dropped by the kernel "
        f"({run.link_dropped:,} discarded by veth1's stack after the taps), "
        f"read {run.behind_s:.0f} s after the replay, "
        f"mining flows {run.alerted}/{run.mining} {verdict}, {run.cpu_s:.1f} s CPU{sockets}"
    )


def main(
    packets: int,
    cache: str,
    seed: int,
    start: int = 25_000,
    limit: int = 1_600_000,
    real: int = 0,
    jobs: tuple[int, ...] = (0,),
    once: bool = False,
) -> None:
    """Set up the namespace, search the rate, print the result, tear down."""
    why = usable()
    if why is not None:
        print(f"\nlive replay: skipped ({why})")
        return
    if real:
        corpus, why = realmix.corpus_dir()
        if corpus is None:
            print(f"\nlive replay: skipped ({why})")
            return
        capture = realmix.build(Path(cache) / f"real-x{real}.pcap", times=real)
        manifest = offline_manifest(capture)
        packets = int(
            subprocess.run(
                ["capinfos", "-c", "-M", "-r", "-T", str(capture)], capture_output=True, text=True
            ).stdout.split()[-1]
        )
    else:
        capture, manifest = bench_scan.capture(Path(cache), packets, seed)
    print(f"\nlive replay of {capture.name} into a veth pair (poolsniff sniff on the other end):")
    ip("netns", "add", NS)
    try:
        ip("-n", NS, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        mtu = link_mtu(capture)
        for dev in ("veth0", "veth1"):
            ip("-n", NS, "link", "set", dev, "mtu", str(mtu))
        for dev in ("lo", "veth0", "veth1"):
            ip("-n", NS, "link", "set", dev, "up")
        print(f"  (veth MTU {mtu:,}: the capture's largest frame fits)")
        runs = [r for n in jobs for r in search(capture, manifest, start, limit, 3, n, once)]
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
    parser.add_argument("--real", type=int, default=0, help="replay the real mix joined N times instead")
    parser.add_argument("--jobs", default="0", help="sniff --jobs values to compare, comma-separated")
    parser.add_argument("--once", action="store_true", help="replay at --start only (0: --topspeed)")
    parser.add_argument("--buffer", type=int, help="sniff --buffer MIB (default: sniff's own)")
    args = parser.parse_args()
    jobs = tuple(int(n) for n in args.jobs.split(","))
    if args.buffer is not None:
        SNIFF_EXTRA += ["--buffer", str(args.buffer)]
        print(f"sniff --buffer {args.buffer}")
    main(args.packets, args.cache, args.seed, args.start, real=args.real, jobs=jobs, once=args.once)
