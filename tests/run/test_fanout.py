"""``sniff --jobs 2``: one interface over two capture processes gives the alerts, counts and signals of one.

Live (root, a namespace of their own with a veth pair, tcpreplay; skipped otherwise): captures are
replayed into one end while ``poolsniff sniff --jobs 2`` listens on the other; its records are compared
with an offline scan of the same file. The service tests (SIGTERM, SIGHUP, ``--count``, ``--jobs 1``)
are parametrized over the number of processes in ``test_sniff``.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.engine.decode import Decoder
from poolsniff.engine.dnsshare import owner
from poolsniff.engine.pipeline import Pipeline
from poolsniff.intel.lists import load_shipped
from poolsniff.sources.pcap import expand_paths, iter_capture

from ..conftest import PCAPS
from ..sources.test_live import (
    ETH,
    Netns,
    alerts_of,
    comparable,
    namespaces,
    need_root,
    run_bpf,
    scan_frames,
    strip_outer_tag,
)
from .test_sniff import (
    POOL_NAME,
    Sniffer,
    _dns,
    _tcp,
    ethernet_frames,
    replay,
    summary_numbers,
    write_pcap,
)

CORPUS_CAPTURES = ("nesfit__cgminer.s0.pcapng", "ndpi__mining.pcapng")
"""Real mining captures of ../shared/corpus replayed where it exists (small: a few seconds each)."""
MTU_FRAME = 1514
"""Frames larger than the veth carries are left out of a replayed file (the scan reads the same file)."""


@pytest.fixture
def veth() -> Iterator[Netns]:
    """A namespace of its own holding a veth pair: replay into veth0, sniff on veth1."""
    need_root("tcpreplay")
    factory = namespaces()
    make = next(factory)
    try:
        ns = make()
        ns.veth("veth0", "veth1")
        yield ns
    finally:
        factory.close()  # deletes the namespace


def sockets(stderr: str, iface: str) -> dict[str, tuple[int, int]]:
    """The last per-socket line of ``iface``: socket -> (frames received, dropped)."""
    line = [x for x in stderr.splitlines() if x.startswith(f"poolsniff: {iface} sockets: ")][-1]
    return {
        name: (int(got), int(lost))
        for name, got, lost in re.findall(r"(\S+#\d) (\d+) received (\d+) dropped", line)
    }


def check_against_scan(ns: Netns, tmp: Path, path: Path, pps: int) -> dict[str, tuple[int, int]]:
    """Replay ``path`` into ``sniff --jobs 2``; its records must be the scan's; return the sockets' counts."""
    expected = comparable(scan_frames(iter_capture(str(path))))
    one = Pipeline(load_shipped())  # one process fed what the kernel filter keeps: the counts to match
    for frame in iter_capture(str(path)):
        if run_bpf(ETH, strip_outer_tag(frame[2])):
            one.feed(frame)
    one.finish()
    kept = one.stats.packets
    sniffer = Sniffer(
        ns, tmp, "-i", "veth1", "-o", str(tmp / "alerts.json"), "--jobs", "2", "--stats-interval", "0.5"
    )
    assert "listening on veth1 with 2 processes" in sniffer.stderr()
    replay(ns, "veth0", path, pps)
    sniffer.wait_for(lambda: f" {kept} captured" in sniffer.stderr(), "every kept frame in a stats line")
    assert sniffer.stop() == 0
    stderr = sniffer.stderr()
    counts = summary_numbers(stderr, "veth1")
    assert counts["captured"] == kept and counts["dropped_by_the_kernel"] == 0
    assert (counts["flows"], counts["alerts"]) == (one.flows.counters["flows"], one.stats.alerts)
    records = [r for r in sniffer.records() if r["event_type"] != "stats"]
    assert expected and comparable(records) == expected  # the same lines, none twice, none missing
    each = sockets(stderr, "veth1")
    assert sorted(each) == ["dns#0", "dns#1", "flows#0", "flows#1"]
    assert each["dns#0"] == each["dns#1"]  # every DNS frame reached both workers
    assert each["flows#0"][0] + each["flows#1"][0] + each["dns#0"][0] == kept
    return each


@pytest.mark.live
def test_two_processes_alert_as_scan_does(veth: Netns, tmp_path: Path) -> None:
    path = tmp_path / "demo.pcap"
    write_pcap(path, ethernet_frames(*[Path(p) for p in expand_paths([str(PCAPS)])]), step_us=500)
    each = check_against_scan(veth, tmp_path, path, 2000)
    assert each["flows#0"][0] > 0 and each["flows#1"][0] > 0  # both workers had flows


@pytest.mark.live
@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_CAPTURES)
def test_two_processes_alert_as_scan_does_on_real_mining(
    veth: Netns, tmp_path: Path, corpus: Path, name: str
) -> None:
    frames = [f for f in ethernet_frames(corpus / "mining" / name) if len(f) <= MTU_FRAME]
    path = tmp_path / "real.pcap"
    write_pcap(path, frames, step_us=200)
    check_against_scan(veth, tmp_path, path, 5000)


def lookups_then_connections(pairs: int) -> list[bytes]:
    """``pairs`` lookups of the pool, each answered, then a connection to the answer: the lookups are all
    owned by worker 0 (the one that alerts on them), the connections spread by the kernel's hash."""
    decoder = Decoder()
    resolver, frames = b"\n\x63\0\x35", []
    port = 20000
    for k in range(pairs):
        client, pool = bytes([10, 99, 1, k + 1]), bytes([10, 99, 2, k + 1])
        while True:  # a lookup worker 0 owns: worker 1 only learns from it
            port += 1
            query = _dns(client, resolver, port, POOL_NAME, None)
            packet = decoder.decode(0, 1, query)
            assert packet is not None
            if owner(packet, 2) == 0:
                break
        frames += [query, _dns(client, resolver, port, POOL_NAME, pool)]
        frames += [
            _tcp(client, pool, (port + 1, 443), 7, 0, 0x02),
            _tcp(pool, client, (443, port + 1), 9, 8, 0x12),
        ]
    return frames


@pytest.mark.live
def test_an_answer_names_a_connection_on_the_other_worker(veth: Netns, tmp_path: Path) -> None:
    """Every connection to a resolved pool address alerts, also on worker 1, which owns no lookup."""
    pairs = 24
    path = tmp_path / "lookups.pcap"
    write_pcap(path, lookups_then_connections(pairs), step_us=1000)
    expected = alerts_of(scan_frames(iter_capture(str(path))))
    kinds = sorted(a["alert"]["signature"] for a in expected)
    assert len(expected) == 2 * pairs and len(set(kinds)) == 2  # a DNS alert and a connection alert each
    each = check_against_scan(veth, tmp_path, path, 1000)
    assert each["flows#0"][0] > 0 and each["flows#1"][0] > 0  # connections on both workers


@pytest.mark.live
def test_a_worker_that_dies_stops_the_run_with_one_line(veth: Netns, tmp_path: Path) -> None:
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "--jobs", "2")
    children = Path(f"/proc/{sniffer.proc.pid}/task/{sniffer.proc.pid}/children")
    if not children.exists():
        pytest.skip("this kernel does not list a process's children in /proc")
    workers = [int(pid) for pid in children.read_text().split()]
    assert len(workers) == 2
    os.kill(workers[1], signal.SIGKILL)
    assert sniffer.proc.wait(timeout=60) == 3
    errors = [x for x in sniffer.stderr().splitlines() if x.startswith("poolsniff: error:")]
    assert errors == [
        "poolsniff: error: capture worker 1 stopped unexpectedly (killed by signal 9); its error is above; "
        "run with --jobs 1 to carry on without workers"
    ]
    time.sleep(0.2)
    assert not children.exists() or not children.read_text().split()  # the other worker is gone too


@pytest.mark.live
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_buffer_sets_each_sockets_receive_buffer(veth: Netns, tmp_path: Path, jobs: str) -> None:
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "--buffer", "16", "--jobs", jobs, "--duration", "0.2")
    assert sniffer.proc.wait(timeout=60) == 0
    assert "receive buffer 32768 KiB" in sniffer.stderr()  # the kernel reserves twice what is asked
