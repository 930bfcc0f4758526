"""Benchmark of the whole offline scan, ``poolsniff scan`` against ``ndpiReader``, in turn.

With no capture size given it runs the matrix of issue 12 and prints one table, a ratio
per row (poolsniff's default against ``ndpiReader -i FILE -q``, best and median of
alternating rounds, peak RSS of each):

- ``bulk``: the bulk-heavy mix of ``mixcap.py``, 1,000,000 packets;
- ``short``: the short-flow mix of ``shortmix.py`` (short HTTP and TLS sessions, heavy DNS,
  QUIC-like, NTP, mDNS, RTP-like and game UDP), 1,000,000 packets;
- ``real x30``: the 379 Ethernet captures of ``../shared/corpus`` joined with
  ``mergecap -a -F pcap``, that file joined 30 times (``realmix.py``; 3.58M packets);
- each of these three as pcapng (``editcap -F pcapng``);
- ``real 4M``: 4,000,000 packets of the real mix;
- ``real-benign`` and ``real-mining``: the real mix's two parts, each joined 30 times (the
  363 benign and the 16 mining Ethernet captures): where the real row's time goes. A mining
  capture must be read whole and gives an alert and a flow record per mining flow; nDPI
  classifies a flow and stops;
- ``real-sll``: the real mix x30 as ``tcpdump -i any`` captures it (Linux cooked v1 frames,
  ``realmix.relinked``; ndpiReader 4.2 reads v1, not v2).

The real-mix rows are skipped, with the reason printed, where the corpus or mergecap is
absent. ``--quick`` runs the same matrix on small captures (100,000 packets, the corpus
joined 3 times, 400,000 real packets) for one round, for development.

    python benchmarks/bench_scan.py                        # the matrix (takes a few minutes)
    python benchmarks/bench_scan.py --quick                # the small matrix, one round
    python benchmarks/bench_scan.py --rows short,short-ng  # some rows only

With ``--packets`` or ``--sizes`` it times the bulk mix alone, as it did before the
matrix, and prints its detail:

Generates the mixed capture with ``benchmarks/mixcap.py`` (or reuses it: captures are cached
by size and seed), then runs, for a few rounds and alternating, ``poolsniff scan -q FILE``
(once per ``--jobs`` value) and ``ndpiReader -i FILE -q`` (when it is installed). For each it
prints packets/s, MB/s, wall time (best and median round), peak RSS (of the largest process,
from ``wait4``; the commands are started by ``launcher.py``, so that figure is the command's
own), the peak of the processes' summed PSS (sampled from /proc every 5 ms in one extra round
per tool, whose time is not counted: the sampler would take CPU from a tool using both cores;
a forked process's pages shared with its parent count once) and the ratio poolsniff/nDPI. It
also checks that every mining flow of the capture was alerted.

    python benchmarks/bench_scan.py                        # 1,000,000 packets, about 1 GB
    python benchmarks/bench_scan.py --sizes 1000000,4000000  # the flat-memory check
    python benchmarks/bench_scan.py --packets 20000 --rounds 1   # a quick smoke run

With ``--live`` it also looks for the highest ``tcpreplay`` rate into a veth pair at which
``poolsniff sniff`` loses no mining flow (needs root, tcpreplay and ``poolsniff sniff``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mixcap  # noqa: E402
import realmix  # noqa: E402
import shortmix  # noqa: E402
from launcher import Launcher  # noqa: E402

NDPI = "ndpiReader"


@dataclass
class Run:
    """One timed run of one command."""

    wall: float
    max_rss_kib: int
    """Peak RSS of the largest process (wait4)."""
    pss_kib: int
    """Peak of the processes' summed PSS (sampled every 5 ms)."""
    status: int


@dataclass
class Figures:
    """The rounds of one tool on one capture."""

    label: str
    runs: list[Run] = field(default_factory=list)
    """The timed rounds (not sampled: a sampler would take CPU from a tool that uses every core)."""
    sampled: list[Run] = field(default_factory=list)
    """The extra round whose memory was sampled from /proc (its time is not counted)."""

    @property
    def best(self) -> float:
        """Fastest round."""
        return min(r.wall for r in self.runs)

    @property
    def median(self) -> float:
        """Median round."""
        return statistics.median(r.wall for r in self.runs)

    @property
    def rss(self) -> int:
        """Peak RSS of the largest process over the rounds (KiB)."""
        return max(r.max_rss_kib for r in self.runs)

    @property
    def pss(self) -> int:
        """Peak of the summed PSS of all processes in the sampled round (KiB)."""
        return max((r.pss_kib for r in self.sampled), default=0)


def poolsniff_command() -> list[str]:
    """``poolsniff`` next to this interpreter (the virtualenv), else ``python -m poolsniff``."""
    exe = Path(sys.executable).with_name("poolsniff")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "poolsniff"]


def _tree_pss_kib(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants, from /proc (0 where unreadable).

    PSS shares each page among the processes mapping it, so the pages a forked process
    still shares with its parent are counted once, not twice as a sum of RSS would.
    """
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += next(
                (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


DATA_DIR = Path(tempfile.gettempdir()) / "poolsniff-bench-data"
"""The data directory of the timed scans (``$POOLSNIFF_DATA_DIR``): the shipped lists only, and a
parsed-lists cache of its own, warm after the first scan, so that scans of other poolsniff
trees on the same machine (which key the shared cache differently) do not make it cold."""


def _environ() -> dict[str, str]:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "POOLSNIFF_DATA_DIR": str(DATA_DIR)}


LAUNCHER = Launcher()
"""Starts the timed commands (``benchmarks/launcher.py``: a command's peak RSS is then its own)."""


def timed(cmd: list[str], *, sample: bool = False) -> Run:
    """Run ``cmd`` (output discarded) through the launcher; wall time, peak RSS of the command
    from wait4 and, with ``sample``, the tree's summed PSS sampled every 5 ms (0 otherwise)."""
    peak = [0]
    pid = LAUNCHER.begin(cmd, _environ())
    done = threading.Event()

    def sampling() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_pss_kib(pid))
            done.wait(0.005)

    sampler = threading.Thread(target=sampling, daemon=True)
    if sample:
        sampler.start()
    wall, max_rss, status = LAUNCHER.end()
    done.set()
    if sample:
        sampler.join()
    return Run(wall, max_rss, peak[0], status)


def capture(cache: Path, packets: int, seed: int) -> tuple[Path, dict[str, object]]:
    """The cached capture of ``packets`` packets (generated if missing) and its manifest."""
    path = cache / f"mix-{packets}-s{seed}.pcap"
    manifest = Path(str(path) + ".manifest.json")
    if not (path.exists() and manifest.exists()):
        cache.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ({packets:,} packets) ...", flush=True)
        started = time.perf_counter()
        mixcap.generate(str(path), packets, seed)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return path, json.loads(manifest.read_text())


def scan_alerts(path: Path, jobs: int) -> list[dict[str, object]]:
    """Scan once with ``--jobs jobs``; return the alerts."""
    with tempfile.NamedTemporaryFile("w+", suffix=".json") as out:
        subprocess.run(
            [*poolsniff_command(), "scan", "-q", "--jobs", str(jobs), str(path), "-o", out.name],
            check=False,
            env=_environ(),
        )
        records = [json.loads(line) for line in Path(out.name).read_text().splitlines()]
        return [r for r in records if r.get("event_type") == "alert"]  # not the flow and stats records


def check_mining(path: Path, manifest: dict[str, object], jobs: int) -> tuple[int, int, list[str]]:
    """Scan once, keep the alerts; return (mining flows alerted, mining flows, the ones missed)."""
    alerts = scan_alerts(path, jobs)
    seen = {(a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"], a["proto"]) for a in alerts}
    flows = manifest["mining"]
    assert isinstance(flows, list)
    missed = []
    for f in flows:
        proto = "TCP" if f["proto"] == 6 else "UDP"
        if (f["client_ip"], f["client_port"], f["server_ip"], f["server_port"], proto) not in seen:
            missed.append(
                f"{f['kind']} {f['client_ip']}:{f['client_port']} -> {f['server_ip']}:{f['server_port']}"
            )
    return len(flows) - len(missed), len(flows), missed


def warm(path: Path) -> None:
    """Read ``path`` once, so that the run that follows finds it in the page cache. Not counted.

    The machines these figures come from keep little page cache: a capture read a minute earlier is
    partly gone (the 985 MB bulk capture lost 90 MB in 60 s, one read 10 minutes earlier had 16 MB
    left), and a run that reads it from disk is slower by what the disk takes, whichever tool it is."""
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


def bench(path: Path, packets: int, rounds: int, jobs: list[int], ndpi: bool) -> list[Figures]:
    """Time every tool on ``path`` for ``rounds`` rounds, alternating between them."""
    tools = [Figures(f"poolsniff --jobs {j}") for j in jobs]
    commands = [
        [*poolsniff_command(), "scan", "-q", "--jobs", str(j), str(path), "-o", os.devnull] for j in jobs
    ]
    if ndpi:
        tools.append(Figures("ndpiReader (nDPI)"))
        commands.append([NDPI, "-i", str(path), "-q"])
    for command in commands:  # warm the page cache and the lists cache; not counted
        timed(command)
    for r in range(rounds):
        order = list(range(len(tools)))
        if r % 2:
            order.reverse()
        for i in order:
            warm(path)
            run = timed(commands[i])
            if run.status not in (0, 1):
                raise SystemExit(f"{' '.join(commands[i])} exited with status {run.status}")
            tools[i].runs.append(run)
    for tool, command in zip(tools, commands, strict=True):
        tool.sampled.append(timed(command, sample=True))
    return tools


def report(path: Path, packets: int, tools: list[Figures]) -> None:
    """Print one line per tool, then the ratios to nDPI."""
    size_mb = path.stat().st_size / 1e6
    print(f"\n{path.name}: {packets:,} packets, {size_mb:,.0f} MB, {len(tools[0].runs)} rounds")
    print(
        f"{'tool':22} {'packets/s':>12} {'MB/s':>8} {'wall best':>10} {'median':>8} {'peak RSS':>10} {'PSS sum':>9}"  # noqa: E501
    )
    for t in tools:
        print(
            f"{t.label:22} {packets / t.best:>12,.0f} {size_mb / t.best:>8,.0f} {t.best:>9.2f}s {t.median:>7.2f}s"  # noqa: E501
            f" {t.rss / 1024:>7.0f} MiB {t.pss / 1024:>5.0f} MiB"
        )
    ndpi = next((t for t in tools if t.label.startswith("ndpiReader")), None)
    if ndpi is None:
        print("ndpiReader not installed: no ratio")
        return
    for t in tools:
        if t is not ndpi:
            print(
                f"ratio {t.label} / nDPI: {t.best / ndpi.best:.2f} (best), {t.median / ndpi.median:.2f} (median)"  # noqa: E501
            )


# --------------------------------------------------------------------------- the matrix

ROWS = (
    "bulk", "short", "real", "bulk-ng", "short-ng", "real-ng", "real-4m", "real-benign", "real-mining",
    "real-sll",
)  # fmt: skip
"""The matrix's rows, in the order they are printed."""


@dataclass
class Row:
    """One row of the matrix: a capture, both tools' rounds, what the alerts say."""

    name: str
    path: Path
    packets: int
    tools: list[Figures]
    check: str


def pcapng_of(path: Path) -> Path:
    """``path`` converted with ``editcap -F pcapng`` (cached next to it)."""
    out = path.with_suffix(".pcapng")
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        subprocess.run(["editcap", "-F", "pcapng", str(path), str(tmp)], check=True)
        tmp.replace(out)
    return out


def generated(cache: Path, kind: str, packets: int, seed: int) -> tuple[Path, dict[str, object]]:
    """The cached generated capture of ``kind`` ('bulk' or 'short') and its manifest."""
    if kind == "bulk":
        return capture(cache, packets, seed)
    path = cache / f"short-{packets}-s{seed}.pcap"
    manifest = Path(str(path) + ".manifest.json")
    if not (path.exists() and manifest.exists()):
        cache.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ({packets:,} packets) ...", flush=True)
        shortmix.generate(str(path), packets, seed)
    return path, json.loads(manifest.read_text())


def count_packets(path: Path) -> int:
    """Packets in a capture (``capinfos``)."""
    out = subprocess.run(["capinfos", "-M", "-c", str(path)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


def matrix(args: argparse.Namespace, ndpi: bool) -> None:
    """Build or reuse every capture of the matrix, time each row, print the table."""
    cache = Path(args.cache)
    small = args.quick
    gen_packets = 100_000 if small else 1_000_000
    times = 3 if small else 30
    real_packets = 400_000 if small else 4_000_000
    rounds = 1 if small and args.rounds is None else (args.rounds or 3)
    wanted = args.rows.split(",") if args.rows else list(ROWS)
    unknown = set(wanted) - set(ROWS)
    if unknown:
        raise SystemExit(f"unknown rows {sorted(unknown)}; the rows are {', '.join(ROWS)}")
    corpus, why = realmix.corpus_dir()
    rows: list[Row] = []
    skipped: list[str] = []
    for name in [r for r in ROWS if r in wanted]:
        base = name.removesuffix("-ng")
        manifest: dict[str, object] | None = None
        if base in ("bulk", "short"):
            path, manifest = generated(cache, base, gen_packets, args.seed)
        elif corpus is None:
            skipped.append(f"{name}: {why}")
            continue
        elif base == "real":
            path = realmix.build(cache / f"real-x{times}.pcap", times)
        elif base == "real-sll":
            joined = realmix.build(cache / f"real-x{times}.pcap", times)
            path = realmix.relinked(joined, cache / f"real-x{times}-sll.pcap", realmix.LINKS["sll"])
        elif base in ("real-benign", "real-mining"):
            part = base.removeprefix("real-")
            path = realmix.build(cache / f"real-{part}-x{times}.pcap", times, part=part)
        else:
            path = realmix.build(cache / f"real-{real_packets}.pcap", packets=real_packets)
        if name.endswith("-ng"):
            path = pcapng_of(path)
        packets = manifest["packets"] if manifest is not None else count_packets(path)
        assert isinstance(packets, int)
        print(f"timing {name}: {path.name} ({packets:,} packets), {rounds} round(s) ...", flush=True)
        tools = bench(path, packets, rounds, [0], ndpi)
        if manifest is not None:
            alerted, total, missed = check_mining(path, manifest, 0)
            check = f"mining flows {alerted}/{total}" + (f" MISSED {len(missed)}" if missed else "")
        else:
            check = f"{len(scan_alerts(path, 0)):,} alerts"
        rows.append(Row(name, path, packets, tools, check))
    print_matrix(rows, ndpi)
    for line in skipped:
        print(f"skipped {line}")


def print_matrix(rows: list[Row], ndpi: bool) -> None:
    """One table: per row the capture, poolsniff's and nDPI's times and peak RSS, the ratio; first, what
    ``poolsniff --version`` says of the poolsniff timed (compiled or pure Python: ``poolsniff.native``)."""
    version = subprocess.run([*poolsniff_command(), "--version"], capture_output=True, text=True, check=False)
    print(f"\ntimed: {version.stdout.strip() or version.stderr.strip()}")
    print(
        "\n| row | capture | packets | MB | poolsniff best / median | peak RSS | "
        "ndpiReader best / median | peak RSS | ratio best / median | alerts |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ps = row.tools[0]
        size = row.path.stat().st_size / 1e6
        cells = [row.name, row.path.name, f"{row.packets:,}", f"{size:,.0f}"]
        cells += [f"{ps.best:.2f} / {ps.median:.2f} s", f"{ps.rss / 1024:.0f} MiB"]
        if ndpi:
            nd = row.tools[-1]
            cells += [f"{nd.best:.2f} / {nd.median:.2f} s", f"{nd.rss / 1024:.0f} MiB"]
            cells += [f"{ps.best / nd.best:.2f} / {ps.median / nd.median:.2f}"]
        else:
            cells += ["-", "-", "no ndpiReader"]
        cells.append(row.check)
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    """Parse options, generate or reuse the captures, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, help="time the bulk mix alone, of this size")
    parser.add_argument("--sizes", help="several bulk-mix sizes, comma-separated (overrides --packets)")
    parser.add_argument("--quick", action="store_true", help="the matrix on small captures, one round")
    parser.add_argument("--rows", help=f"matrix rows to run, comma-separated (of {', '.join(ROWS)})")
    parser.add_argument("--rounds", type=int, help="rounds per tool (default 3; 1 with --quick)")
    parser.add_argument(
        "--jobs", default="0,1", help="poolsniff --jobs values to time (default 0,1: default, one process)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "poolsniff-bench"))
    parser.add_argument("--no-ndpi", action="store_true", help="do not run ndpiReader")
    parser.add_argument("--live", action="store_true", help="also measure live replay (root, tcpreplay)")
    parser.add_argument("--live-packets", type=int, default=200_000, help="capture size for --live")
    args = parser.parse_args(argv)
    LAUNCHER.start()  # while this process is small: see launcher.py
    ndpi = not args.no_ndpi and shutil.which(NDPI) is not None
    if not ndpi:
        print("ndpiReader not installed (Debian: libndpi-bin): no ratios")
    if args.packets is None and args.sizes is None:
        matrix(args, ndpi)
        if args.live:
            import bench_live

            bench_live.main(args.live_packets, args.cache, args.seed)
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.packets]
    jobs = [int(j) for j in args.jobs.split(",")]
    for packets in sizes:
        path, manifest = capture(Path(args.cache), packets, args.seed)
        tools = bench(path, packets, args.rounds or 3, jobs, ndpi)
        report(path, packets, tools)
        for j in jobs:
            alerted, total, missed = check_mining(path, manifest, j)
            print(f"mining flows alerted (--jobs {j}): {alerted}/{total}")
            for line in missed:
                print(f"  MISSED {line}")
    if args.live:
        import bench_live

        bench_live.main(args.live_packets, args.cache, args.seed)


if __name__ == "__main__":
    main()
