"""The quality bar on real captures recorded by others (../shared/corpus).

Every mining capture alerts, at least 99 % of the labelled mining flows are alerted, and
not one of the benign captures raises anything. The counts come from the shared scorer,
``../shared/tools/score.py``; every alert line must also validate against the EVE schema
and carry the right Community ID and ``pcap_filename``. Skipped where ../shared is absent.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import SHARED

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus_alerts(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scan the whole corpus once with the CLI, every alert written; return the alerts file.

    The scorer counts a flow as found when an alert line names it, so it scores what the detectors
    find with suppression off (``--suppress 0``); suppression only decides which lines are written.
    """
    out = tmp_path_factory.mktemp("corpus") / "alerts.json"
    proc = subprocess.run(
        [sys.executable, "-m", "poolsniff", "scan", "-q", "--suppress", "0", "-o", str(out), str(corpus)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return out


def _score(corpus: Path, alerts: Path) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "score.py"), str(corpus), str(alerts)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = proc.stdout.strip().splitlines()[-1]
    return dict(re.findall(r"(\w+)=(\S+)", summary))


def test_corpus_quality_bar(corpus: Path, corpus_alerts: Path) -> None:
    score = _score(corpus, corpus_alerts)
    hit, files = map(int, score["mining_files_hit"].split("/"))
    recalled, flows = map(int, score["flow_recall"].split("/"))
    assert files == 16 and hit == files, score
    assert recalled >= 0.99 * flows, score
    assert score["benign_files_alerted"].startswith("0/"), score
    assert score["benign_alerts"] == "0", score


def test_corpus_alerts_are_valid_eve(corpus: Path, corpus_alerts: Path, eve_validator: Any) -> None:
    communityid = pytest.importorskip("communityid")
    cid = communityid.CommunityID()
    names = {p.name for p in (corpus / "mining").iterdir()}
    seen = set()
    kinds = set()
    for line in corpus_alerts.read_text().splitlines():
        rec = json.loads(line)
        assert not list(eve_validator.iter_errors(rec)), rec
        kinds.add(rec["event_type"])
        if rec["event_type"] == "stats":
            continue
        proto = {"TCP": 6, "UDP": 17}[rec["proto"]]
        flow = communityid.FlowTuple(proto, rec["src_ip"], rec["dest_ip"], rec["src_port"], rec["dest_port"])
        assert rec["community_id"] == cid.calc(flow)
        assert rec["pcap_filename"] in names
        seen.add(rec["pcap_filename"])
    assert seen == names
    assert kinds == {"alert", "flow", "stats"}


def test_pool_side_and_coin_daemon_are_labelled(corpus_alerts: Path) -> None:
    """A capture taken on a pool says so: its pool side (in miner alerts), daemon RPC as infrastructure."""
    roles: dict[str, set[str]] = {}
    for line in corpus_alerts.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event_type") != "alert":
            continue
        metadata = rec["alert"]["metadata"]
        seen = roles.setdefault(rec["pcap_filename"], set())
        seen.update(metadata["role"])
        if "pool_signature_id" in metadata:
            seen.add("pool")
    for name in ("coiniumserv__fastcoin.pcapng", "coiniumserv__litecoin-testnet.pcapng"):
        assert {"miner", "pool", "infrastructure"} <= roles[name], roles[name]


@pytest.fixture(scope="module")
def default_output(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole corpus scanned with the defaults: suppression on, the pool side in the miner's alert."""
    out = tmp_path_factory.mktemp("corpus-default") / "alerts.json"
    proc = subprocess.run(
        [sys.executable, "-m", "poolsniff", "scan", "-q", "-o", str(out), str(corpus)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    return out


def five_tuples(path: Path, *kinds: str) -> set[tuple[str, str, int, str, int]]:
    """The flows (file, and both ends in a fixed order) of the records of ``kinds`` in an EVE file."""
    out = set()
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["event_type"] in kinds:
            a, b = (rec["src_ip"], rec["src_port"]), (rec["dest_ip"], rec["dest_port"])
            out.add((rec["pcap_filename"], *min(a, b), *max(a, b)))
    return out


def test_suppression_loses_no_alerted_flow(corpus_alerts: Path, default_output: Path) -> None:
    """Every TCP flow that alerts with --suppress 0 is in the default output: a line, or its flow record.

    That is how the score holds with suppression on: the scorer reads alert lines only, so it
    scores the --suppress 0 output, and this checks the default output names the same flows.
    """
    tcp_alerted = five_tuples(corpus_alerts, "alert") & five_tuples(corpus_alerts, "flow")
    kept = five_tuples(default_output, "alert", "flow")
    assert tcp_alerted and tcp_alerted <= kept
    assert five_tuples(default_output, "flow") == five_tuples(corpus_alerts, "flow")
    lines = sum(1 for line in default_output.read_text().splitlines() if '"event_type":"alert"' in line)
    assert lines < len(five_tuples(corpus_alerts, "alert"))


def test_coin_daemon_rpc_is_not_a_miner(corpus_alerts: Path) -> None:
    """CoiniumServ asking its daemon for templates is infrastructure; its RPC user is no wallet."""
    sids: set[int] = set()
    for line in corpus_alerts.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("event_type") != "alert" or not rec["pcap_filename"].startswith("coiniumserv__"):
            continue
        assert rec["alert"]["metadata"].get("wallet") != ["user"], rec
        if rec["src_ip"] == "10.0.0.13" and rec["dest_ip"] == "10.0.0.40":
            sids.add(rec["alert"]["signature_id"])
    assert sids == {9300120}
