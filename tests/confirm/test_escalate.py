"""Tests for poolsniff.confirm.escalate: which alerts are probed, and the confirmed alert."""

from __future__ import annotations

import pytest

from poolsniff.confirm.escalate import confirmed, target_of
from poolsniff.confirm.hello import Dialect, Kind, Reply
from poolsniff.confirm.probe import Attempt, ProbeResult, Status
from poolsniff.confirm.target import Target
from poolsniff.detect.signatures import CONFIRMED, ENDPOINT_POOL, RESOLVED_POOL
from tests.factories_eve import SIGS, eve


@pytest.fixture(autouse=True)
def more_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    from poolsniff.model import Role

    monkeypatch.setitem(SIGS, "endpoint", (ENDPOINT_POOL, Role.MINER))
    monkeypatch.setitem(SIGS, "resolved", (RESOLVED_POOL, Role.MINER))


KINDS = [("tls", True), ("endpoint", True), ("resolved", True), ("dns", False), ("miner", False)]


@pytest.mark.parametrize(("kind", "probed"), [*KINDS, ("xmr", False), ("pool", False)])
def test_only_probe_worthy_alerts_have_a_target(kind: str, probed: bool) -> None:
    target = target_of(eve(0, kind, dest="198.51.100.7", dport=443))
    assert (target is not None) is probed
    if target is not None:
        assert (target.ip, target.port) == ("198.51.100.7", 443)


def test_the_pool_name_is_the_sni_else_pool_host() -> None:
    record = eve(0, "endpoint", pool_host="pool.example.com")
    assert target_of(record) == Target("198.51.100.10", 3333, "198.51.100.10", "pool.example.com")
    record["tls"] = {"sni": "xmr.example.net"}
    assert (target_of(record) or Target("", 0)).name == "xmr.example.net"
    assert (target_of(eve(0, "endpoint")) or Target("", 0)).name is None


def test_udp_and_odd_records_have_no_target() -> None:
    record = eve(0, "endpoint")
    assert target_of({**record, "proto": "UDP"}) is None
    assert target_of({**record, "dest_port": "3333"}) is None
    assert target_of({"alert": "x"}) is None


def result(transport: str = "tls") -> ProbeResult:
    reply = Reply(Kind.CRYPTONOTE_JOB, "job 4711 (target b88d0600)")
    attempts = [Attempt("plain", Dialect.CRYPTONOTE, Reply(Kind.NOT_MINING, "closed")),
                Attempt(transport, Dialect.CRYPTONOTE, reply)]  # fmt: skip
    tls = {"subject": "CN=pool", "issuer": "CN=pool", "version": "TLSv1.3"}
    return ProbeResult(
        Target("198.51.100.10", 3333, "198.51.100.10"), Status.MINING, reply.detail, attempts, tls
    )


def test_the_confirmed_alert_copies_the_flow_and_says_what_the_probe_saw() -> None:
    record = eve(0, "endpoint", pool_host="pool.example.com", suppressed_count="3")
    out = confirmed(record, result(), "2026-12-05T12:00:00+0000")
    alert = out["alert"]
    assert (alert["signature_id"], alert["signature"], alert["severity"]) == (CONFIRMED.sid, CONFIRMED.msg, 1)
    meta = alert["metadata"]
    assert meta["confirms"] == [str(ENDPOINT_POOL.sid)]
    assert meta["probe_verdict"] == ["cryptonote-job"] and meta["probe_hello"] == ["cryptonote"]
    assert meta["probe_transport"] == ["tls"] and meta["probe_reply"] == ["job 4711 (target b88d0600)"]
    assert meta["probe_tls_subject"] == meta["probe_tls_issuer"] == ["CN=pool"]
    assert meta["probe_time"] == ["2026-12-05T12:00:00+0000"]
    assert meta["pool_host"] == ["pool.example.com"] and "suppressed_count" not in meta
    for key in ("timestamp", "flow_id", "src_ip", "dest_ip", "dest_port", "community_id"):
        assert out[key] == record[key]
    assert record["alert"]["signature_id"] == ENDPOINT_POOL.sid  # the original is left alone


def test_a_plain_confirmation_has_no_certificate_names() -> None:
    meta = confirmed(eve(0, "endpoint"), result("plain"), "t")["alert"]["metadata"]
    assert "probe_tls_subject" not in meta and meta["probe_transport"] == ["plain"]


def test_a_probe_that_found_nothing_confirms_nothing() -> None:
    empty = ProbeResult(Target("198.51.100.10", 3333, "198.51.100.10"), Status.NOT_MINING, "closed")
    with pytest.raises(ValueError):
        confirmed(eve(0, "endpoint"), empty, "t")


def test_the_confirmed_alert_is_valid_eve(eve_validator: object) -> None:
    out = confirmed(eve(0, "tls"), result(), "2026-12-05T12:00:00+0000")
    errors = list(eve_validator.iter_errors(out))  # type: ignore[attr-defined]
    assert not errors, errors[0].message
