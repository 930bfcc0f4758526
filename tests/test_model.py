"""The records that flow through the pipeline behave as plain values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.model import Detection, FlowKey, FlowStart, Packet, Role


def test_flow_key_is_hashable_and_ordered_from_the_client() -> None:
    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    assert {key: 1}[FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)] == 1
    assert key.client_port == 50000 and key.server_port == 3333


def test_events_are_read_only_to_the_type_checker(tmp_path: Path) -> None:
    """Events, alerts and flow summaries are not frozen at run time (a frozen dataclass is slow to make:
    ``model._readonly``), so what keeps them unchanged is mypy: an assignment to a field is an error."""
    pytest.importorskip("mypy", reason="mypy (the lint extra) is not installed")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from poolsniff.model import Alert, FlowEnd, FlowKey, FlowSummary, JsonMessage\n"
        "ev = JsonMessage(1, FlowKey('a', 1, 'b', 2, 6), True, {'id': 1})\n"
        "print(ev.from_client)\n"
        "ev.from_client = False\n"
        "summary = FlowSummary(FlowEnd(1, ev.flow, True), (), True)\n"
        "summary.app_proto = 'x'\n"
        "alert = Alert(summary, 'x.pcap')\n"
        "alert.live = True\n"
    )
    # in a process of its own: mypy raises the interpreter's recursion limit for good
    command = [sys.executable, "-m", "mypy", str(probe), "--cache-dir", str(tmp_path / "cache")]
    run = subprocess.run([*command, "--no-error-summary"], capture_output=True, text=True, check=False)
    out, status = run.stdout, run.returncode
    assert status == 1 and out.count("error:") == 3 and out.count("read-only") == 3, out
    assert all(f"probe.py:{line}:" in out for line in (4, 6, 8)), out


def test_events_keep_the_equality_and_hash_of_their_fields() -> None:
    key = FlowKey("a", 1, "b", 2, 6)
    one, two = FlowStart(1, key, True), FlowStart(1, key, True)
    assert one == two and hash(one) == hash(two) and one != FlowStart(2, key, True)


def test_detection_collects_evidence_without_sharing_state() -> None:
    key = FlowKey("a", 1, "b", 2, 6)
    one = Detection(1, key, sigs.DNS_POOL, Role.CLIENT, True)
    two = Detection(1, key, sigs.DNS_POOL, Role.CLIENT, True)
    one.evidence["x"] = "y"
    one.names.append("n")
    assert two.evidence == {} and two.names == []


def test_packet_fields() -> None:
    p = Packet(5, b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 6, 1, 2, 0x18, 100, b"{}")
    assert (p.proto, p.sport, p.dport, p.payload) == (6, 1, 2, b"{}")


def test_a_detection_is_made_as_the_dataclass_made_it() -> None:
    """``Detection`` writes its ``__init__`` out (compiled with the model, where the generated one ran
    interpreted): the same fields in the same order, by position or by name, a fresh empty default each,
    the dataclass's equality and ``replace``."""
    import dataclasses

    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    sig = next(iter(sigs.MINER.values()))
    names = [f.name for f in dataclasses.fields(Detection)]
    assert names == "ts_us flow signature role miner_is_client evidence names app hits".split()
    a, b = Detection(1, key, sig, Role.MINER, True), Detection(1, key, sig, Role.MINER, True)
    assert a == b and (a.evidence, a.names, a.app, a.hits) == ({}, [], {}, [])
    a.evidence["x"] = "1"
    a.names.append("pool.example")
    assert b.evidence == {} and b.names == [] and a != b
    full = Detection(
        ts_us=2, flow=key, signature=sig, role=Role.POOL, miner_is_client=False,
        evidence={"e": "1"}, names=["n"], app={"app_proto": "stratum"}, hits=[{"blocklist": "x"}],
    )  # fmt: skip
    assert [getattr(full, n) for n in names] == [
        2, key, sig, Role.POOL, False, {"e": "1"}, ["n"], {"app_proto": "stratum"}, [{"blocklist": "x"}]
    ]
    assert dataclasses.replace(full, ts_us=3).hits == [{"blocklist": "x"}]
    with pytest.raises(TypeError):
        Detection(1, key, sig)  # type: ignore[call-arg]
    # in a program of its own (this process runs the sources): where the model is compiled, so is this
    probe = (
        "import poolsniff.model as m\n"
        "print(m.__file__.endswith('.py'), hasattr(m.Detection.__init__, '__code__'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "POOLSNIFF_PURE"}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    source, interpreted = run.stdout.split()
    assert interpreted == source, run.stdout
