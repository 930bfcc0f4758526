"""benchmarks/: the capture generator is deterministic, and the benchmark runs end to end.

A small run of ``benchmarks/bench_scan.py`` (20,000 packets, one round) must print its
figures and find every mining flow of the generated capture alerted, with one process and
with two. Times are printed, never asserted on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_instructions  # noqa: E402
import bench_scan  # noqa: E402
import mixcap  # noqa: E402
import realmix  # noqa: E402
import shortmix  # noqa: E402


@pytest.mark.parametrize(("seed", "same"), [(1, True), (2, False)])
def test_the_generator_is_deterministic(seed: int, same: bool, tmp_path: Path) -> None:
    first = mixcap.generate(str(tmp_path / "a.pcap"), 3000, seed=1)
    second = mixcap.generate(str(tmp_path / "b.pcap"), 3000, seed=seed)
    assert ((tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes()) is same
    assert (first == second) is same
    assert first["packets"] == 3000 and sum(first["kinds"].values()) == 3000  # type: ignore[attr-defined]


def test_the_mix_has_every_kind_of_traffic(tmp_path: Path) -> None:
    manifest = mixcap.generate(str(tmp_path / "m.pcap"), 60_000, seed=1)
    kinds = manifest["kinds"]
    assert isinstance(kinds, dict)
    assert set(kinds) == {"bulk", "bulk6", "vlan", "tls", "dns", "stratum", "xmrig", "resolved", "dns-pool"}
    mining = manifest["mining"]
    assert isinstance(mining, list)
    assert {m["kind"] for m in mining} == {"stratum", "xmrig", "dns-pool", "dns-then-connection"}
    saved = json.loads((tmp_path / "m.pcap.manifest.json").read_text())
    assert saved == json.loads(json.dumps(manifest))


def test_a_small_benchmark_run_prints_its_figures_and_alerts_every_mining_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench_scan.main(["--packets", "20000", "--rounds", "1", "--cache", str(tmp_path)])
    out = capsys.readouterr().out
    for jobs in (0, 1):
        row = re.search(
            rf"^poolsniff --jobs {jobs} +([\d,]+) +([\d,]+) +([\d.]+)s +([\d.]+)s +(\d+) MiB", out, re.M
        )
        assert row, out
        found = re.search(rf"mining flows alerted \(--jobs {jobs}\): (\d+)/(\d+)", out)
        assert found and int(found[2]) >= 4 and found[1] == found[2], out
    assert "MISSED" not in out
    if shutil.which("ndpiReader"):
        assert (
            re.search(r"^ndpiReader \(nDPI\) +[\d,]+", out, re.M) and "ratio poolsniff --jobs 0 / nDPI" in out
        )


def test_the_short_flow_mix_is_deterministic_and_has_every_kind(tmp_path: Path) -> None:
    first = shortmix.generate(str(tmp_path / "a.pcap"), 20_000, seed=1)
    second = shortmix.generate(str(tmp_path / "b.pcap"), 20_000, seed=1)
    assert (tmp_path / "a.pcap").read_bytes() == (tmp_path / "b.pcap").read_bytes() and first == second
    kinds = first["kinds"]
    assert isinstance(kinds, dict)
    assert set(kinds) >= {"http", "tls", "dns", "quic", "ntp", "mdns", "rtp", "game", "stratum", "xmrig"}
    assert sum(kinds.values()) == 20_000
    mining = first["mining"]
    assert isinstance(mining, list) and {m["kind"] for m in mining} >= {"stratum", "xmrig"}


def test_the_real_mix_joins_the_ethernet_captures_of_the_corpus() -> None:
    corpus, why = realmix.corpus_dir()
    if corpus is None:
        pytest.skip(why)
    files = realmix.ethernet_files(corpus)
    assert len(files) > 300
    every = sorted(p for p in corpus.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    others = [p for p in every if p not in files]
    assert others and all(realmix.linktypes(p) != {realmix.LINKTYPE_ETHERNET} for p in others)


def test_the_real_mix_parts_split_it_into_benign_and_mining_captures() -> None:
    corpus, why = realmix.corpus_dir()
    if corpus is None:
        pytest.skip(why)
    whole = realmix.ethernet_files(corpus)
    parts = {part: realmix.ethernet_files(corpus, part) for part in realmix.PARTS}
    assert sorted(parts["benign"] + parts["mining"]) == whole
    assert parts["mining"] and parts["benign"] and not set(parts["mining"]) & set(parts["benign"])
    assert all(p.is_relative_to(corpus / "mining") for p in parts["mining"])


def test_the_launcher_leaves_no_process_behind_it_and_python_says_nothing() -> None:
    """The timed commands' launcher reaps each command (the Popen knows it) and is itself closed at exit:
    a run of it prints no ResourceWarning ("subprocess ... is still running") and leaves no process."""
    script = (
        "import os, sys; sys.path.insert(0, sys.argv[1]); import launcher\n"
        "L = launcher.Launcher()\n"
        "for _ in range(2):\n"
        "    L.begin(['true'], dict(os.environ)); print(L.end()[2])\n"
        "print(L._proc.pid)\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "always", "-c", script, str(ROOT / "benchmarks")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    *statuses, pid = run.stdout.split()
    assert statuses == ["0", "0"]
    assert "ResourceWarning" not in run.stderr, run.stderr
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (.ci/run has it)")
def test_the_instruction_count_of_a_scan_is_printed_per_process_and_in_total(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``bench_instructions.py`` scans under callgrind and prints what it counted (a scan of even a small
    capture executes hundreds of millions of instructions, most of them the start); ``--keep`` leaves
    callgrind's file of each process, and refuses a folder that holds something."""
    capture = str(ROOT / "pcaps" / "benign-mix.pcapng")
    assert bench_instructions.main([capture, "--keep", str(tmp_path / "kept")]) == 0
    out = capsys.readouterr().out
    processes = [int(n.replace(",", "")) for n in re.findall(r"process \d+: ([\d,]+)", out)]
    total = re.search(r"total: ([\d,]+)", out)
    assert processes and total, out
    assert int(total[1].replace(",", "")) == sum(processes) > 50_000_000
    assert len(list((tmp_path / "kept").glob("run-0/*/callgrind.*"))) == len(processes)
    assert bench_instructions.main([capture, "--keep", str(tmp_path / "kept")]) == 2
