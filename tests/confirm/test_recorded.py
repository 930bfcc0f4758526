"""scan --confirm on the real XMRig captures: each "possible" alert becomes a confirmed one (issue 13 goal).

For every capture of ``tests/data/real-xmrig/`` whose expected alerts hold a probe-worthy signature,
the pool servers that recorded it (the ``server:`` lines of its PROVENANCE.md, ``tools/fakepool.py``
with the same options) run again inside a network namespace of this test, on the same addresses
(put on the namespace's loopback), and ``poolsniff scan --confirm`` runs inside it too: the probes
reach those servers and nothing else; the namespace is deleted afterwards.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poolsniff.detect.signatures import CONFIRMED, probe_worthy
from tests.conftest import ROOT
from tests.sources.test_live import Netns, namespaces

REAL = ROOT / "tests" / "data" / "real-xmrig"


def servers(capture: str) -> list[list[str]]:
    """The ``fakepool.py`` argument lists that served ``capture`` when it was recorded."""
    text = (REAL / "PROVENANCE.md").read_text()
    section = text.split(f"### {capture}\n", 1)[1].split("\n### ", 1)[0]
    return [shlex.split(line) for line in re.findall(r"^\s+server: fakepool\.py (.*)$", section, re.M)]


def expected(capture: Path) -> list[dict[str, Any]]:
    """The alert records of ``capture``'s golden file (its flow records are left out)."""
    path = capture.with_name(capture.name + ".expected.jsonl")
    return alerts(path.read_text())


def alerts(text: str) -> list[dict[str, Any]]:
    """The ``event_type: alert`` records among the EVE lines of ``text``."""
    records = [json.loads(line) for line in text.splitlines()]
    return [r for r in records if r.get("event_type") == "alert"]


WORTHY = probe_worthy()
CAPTURES = [
    c for c in sorted(REAL.glob("*.pcap")) if any(r["alert"]["signature_id"] in WORTHY for r in expected(c))
]


def test_some_recorded_capture_has_a_possible_alert() -> None:
    """The real captures exercise --confirm at all (xmrig-tls-name: a TLS session to a resolved pool)."""
    assert "xmrig-tls-name.pcap" in [c.name for c in CAPTURES]


@pytest.fixture
def netns() -> Iterator[Callable[[], Netns]]:
    yield from namespaces()


def serve(ns: Netns, argv: list[str]) -> None:
    """Run one recorded server inside ``ns`` on its recorded address; return once it listens."""
    listen = argv[argv.index("--listen") + 1]
    host = listen.rpartition(":")[0].strip("[]")
    if ":" in host:
        ns.run("sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=0")
        ns.ip("addr", "add", f"{host}/128", "dev", "lo", "nodad")
    elif host != "127.0.0.1":
        ns.ip("addr", "add", f"{host}/32", "dev", "lo")
    proc = ns.popen(
        sys.executable, str(ROOT / "tools" / "fakepool.py"), *argv, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert "listening on" in first, f"fakepool {argv} did not start: {first!r}"


@pytest.mark.live
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: c.name)
def test_each_possible_alert_is_confirmed_against_the_recording_pool(
    netns: Callable[[], Netns], capture: Path
) -> None:
    ns = netns()
    for argv in servers(capture.name):
        serve(ns, argv)
    argv = ns.command(sys.executable, "-m", "poolsniff", "scan", "--confirm", str(capture))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    records = alerts(proc.stdout)
    possible = [r for r in records if r["alert"]["signature_id"] in WORTHY]
    confirmed = [r for r in records if r["alert"]["signature_id"] == CONFIRMED.sid]
    assert possible and len(confirmed) == len({(r["dest_ip"], r["dest_port"]) for r in possible}), proc.stderr
    for record in confirmed:
        meta = record["alert"]["metadata"]
        assert meta["confirms"][0] in {str(r["alert"]["signature_id"]) for r in possible}
        assert meta["probe_verdict"] == ["cryptonote-job"], meta
        assert meta["probe_transport"] == (["tls"] if "--tls" in str(servers(capture.name)) else ["plain"])
