"""Tests for poolsniff.confirm.worker: allowlist and limits gate each probe; the queue never blocks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from poolsniff.confirm.ledger import Ledger
from poolsniff.confirm.probe import ProbeResult, Status, probe
from poolsniff.confirm.target import Target
from poolsniff.confirm.worker import AlertConfirmer, Confirmer
from poolsniff.detect.signatures import CONFIRMED, ENDPOINT_POOL
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Role
from tests.confirm import pools
from tests.factories_eve import SIGS, eve

T0 = 1_800_000_000.0


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def lists(*allow: str) -> Blocklist:
    blocklist = Blocklist()
    blocklist.add_allow_lines(allow, "test-allow")
    return blocklist


def local(port: int, name: str | None = None) -> Target:
    return Target("127.0.0.1", port, "127.0.0.1", name)


def test_a_pool_is_probed_once_per_day_across_restarts(tmp_path: Path) -> None:
    clock = Clock()
    with pools.running("cryptonote") as pool:
        first = Confirmer(lists(), Ledger(tmp_path), clock=clock).confirm(local(pool.port))
        again = Confirmer(lists(), Ledger(tmp_path), clock=clock).confirm(local(pool.port))  # a restart
        clock.now += 24 * 3600
        next_day = Confirmer(lists(), Ledger(tmp_path), clock=clock).confirm(local(pool.port))
    assert first.status is Status.MINING
    assert again.status is Status.SKIPPED and "one probe per endpoint per day" in again.detail
    assert "mining (cryptonote-job over plain" in again.detail  # what the last probe said
    assert next_day.status is Status.MINING
    assert pool.connections == 2


def test_the_global_cap_holds(tmp_path: Path) -> None:
    confirmer = Confirmer(lists(), Ledger(tmp_path, max_per_hour=2), clock=Clock())
    with pools.running("eth-proxy") as a, pools.running("eth-proxy") as b, pools.running("eth-proxy") as c:
        results = [confirmer.confirm(local(p.port)) for p in (a, b, c)]
    assert [r.status for r in results] == [Status.MINING, Status.MINING, Status.SKIPPED]
    assert "global cap" in results[2].detail and c.connections == 0


@pytest.mark.parametrize("allow", ["127.0.0.1:{port}", "example.com"])
def test_the_allowlist_is_never_probed(tmp_path: Path, allow: str) -> None:
    with pools.running("cryptonote") as pool:
        confirmer = Confirmer(lists(allow.format(port=pool.port)), Ledger(tmp_path), clock=Clock())
        result = confirmer.confirm(local(pool.port, "pool.example.com"))
    assert result.status is Status.SKIPPED and "allowlist" in result.detail
    assert pool.connections == 0


def test_a_name_that_does_not_resolve_is_unreachable(tmp_path: Path) -> None:
    result = Confirmer(lists(), Ledger(tmp_path)).confirm(
        Target("no-such.invalid", 1, name="no-such.invalid")
    )
    assert result.status is Status.UNREACHABLE and "cannot resolve" in result.detail


@pytest.fixture(autouse=True)
def endpoint_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SIGS, "endpoint", (ENDPOINT_POOL, Role.MINER))


def test_alerts_are_confirmed_off_the_callers_thread(tmp_path: Path) -> None:
    lines: list[str] = []
    threads: set[str] = set()

    def prober(target: Target, timeout: float) -> ProbeResult:
        threads.add(threading.current_thread().name)
        return probe(target, timeout)

    with pools.running("stratum-v1") as pool:
        confirmer = Confirmer(lists(), Ledger(tmp_path), prober=prober)
        worker = AlertConfirmer(confirmer, log=lines.append)
        record = eve(0, "endpoint", dest="127.0.0.1", dport=pool.port)
        for _ in range(3):  # the same endpoint again: queued once
            worker.offer(record)
        worker.offer(eve(0, "miner", dest="127.0.0.1", dport=pool.port))  # not probe-worthy
        out = worker.finish()
    assert [r["alert"]["signature_id"] for r in out] == [CONFIRMED.sid]
    assert out[0]["alert"]["metadata"]["probe_verdict"] == ["stratum-subscribe"]
    assert threads == {"poolsniff-confirm"}
    assert worker.probed == worker.confirmed == 1 and pool.connections == 2
    assert len(lines) == 1 and "mining (stratum-subscribe over plain" in lines[0]


def test_a_full_queue_drops_targets_without_blocking(tmp_path: Path) -> None:
    gate = threading.Event()

    def stuck(target: Target, timeout: float) -> ProbeResult:
        gate.wait(30)
        return ProbeResult(target, Status.NOT_MINING, "closed")

    worker = AlertConfirmer(
        Confirmer(lists(), Ledger(tmp_path), prober=stuck), log=lambda _: None, queue_size=2
    )
    for i in range(10):
        worker.offer(eve(0, "endpoint", dest=f"127.0.0.{i + 1}", dport=3333))
    gate.set()
    worker.finish()
    assert worker.dropped >= 10 - 3  # one being probed, two waiting
    assert worker.probed + worker.dropped == 10 and worker.confirmed == 0


def test_a_ledger_that_cannot_be_written_stops_probing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    lines: list[str] = []
    worker = AlertConfirmer(Confirmer(lists(), Ledger(tmp_path / "file")), log=lines.append)
    worker.offer(eve(0, "endpoint", dest="127.0.0.1", dport=1))
    assert worker.finish() == []
    assert worker.failed is not None and "cannot open the probe ledger" in lines[0]
