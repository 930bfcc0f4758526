"""Tests for poolsniff.enrich.enricher: pool names from DNS memory, list matches, registrable domain,
redaction."""

from __future__ import annotations

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.enrich.dnsmemory import DnsMemory
from poolsniff.enrich.enricher import REDACTED_KEYS, Enricher
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Detection, DnsMessage, FlowKey, Role

TS = 1_700_000_000_000_000
SECOND = 1_000_000
MINER_IP, POOL_IP = "10.0.0.1", "94.23.251.22"
DNS_FLOW = FlowKey(MINER_IP, 5353, "10.0.0.53", 53, 17)
# Monero Project general fund (a published standard address).
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
ETH = "0x9c99d212f7e5daa18ab50810e0fd255d1f04303b"


def blocklist() -> Blocklist:
    """supportxmr.com and eth.pp.ua, category pool."""
    bl = Blocklist()
    bl.add_lines(["supportxmr.com maltrail", "eth.pp.ua curated"], "test", "pool")
    return bl


def enricher(*, redact: bool = False, resolved: tuple[str, str] | None = None) -> Enricher:
    """An Enricher whose memory has seen ``resolved`` = (name, address) answered, TTL 600."""
    e = Enricher(blocklist(), DnsMemory(), redact_ids=redact)
    if resolved is not None:
        name, address = resolved
        e.observe(
            DnsMessage(TS, DNS_FLOW, False, 1, True, 0, 0, 0x8180, ((name, 1),), ((name, 1, address, 600),))
        )
    return e


def detection(
    *,
    miner_is_client: bool = True,
    evidence: dict[str, str] | None = None,
    names: list[str] | None = None,
    ts: int = TS + SECOND,
) -> Detection:
    """A Stratum miner detection on a flow miner -> pool (or pool -> miner when not ``miner_is_client``)."""
    flow = (
        FlowKey(MINER_IP, 40000, POOL_IP, 3333, 6)
        if miner_is_client
        else FlowKey(POOL_IP, 3333, MINER_IP, 40000, 6)
    )
    return Detection(ts, flow, sigs.MINER["stratum"], Role.MINER, miner_is_client, dict(evidence or {}),
                     list(names or []))  # fmt: skip


# --------------------------------------------------------------------------- pool names from DNS memory


@pytest.mark.parametrize("miner_is_client", [True, False], ids=["miner-is-client", "pool-is-client"])
def test_pool_host_from_dns_memory(miner_is_client: bool) -> None:
    """The pool's address (whichever end it is) is named after the listed name it resolved from."""
    det = enricher(resolved=("pool.supportxmr.com", POOL_IP)).enrich(
        detection(miner_is_client=miner_is_client)
    )
    e = det.evidence
    assert (e["pool_host"], e["resolved_from"], e["pool"]) == ("pool.supportxmr.com",) * 2 + (
        "supportxmr.com",
    )
    assert e["blocklist_entry"] == "supportxmr.com"
    assert "pool.supportxmr.com" in det.names


MEMORY_MISS_ROWS = [
    pytest.param(("pool.supportxmr.com", "203.0.113.9"), TS + SECOND, id="other-address"),
    pytest.param(("pool.supportxmr.com", POOL_IP), TS + 3600 * SECOND, id="expired"),
    pytest.param(None, TS + SECOND, id="nothing-remembered"),
]


@pytest.mark.parametrize(("resolved", "ts"), MEMORY_MISS_ROWS)
def test_no_pool_host_without_valid_memory(resolved: tuple[str, str] | None, ts: int) -> None:
    """No remembered, unexpired answer for the pool's address: nothing is added."""
    det = enricher(resolved=resolved).enrich(detection(ts=ts))
    assert "pool_host" not in det.evidence and "resolved_from" not in det.evidence
    assert "blocklist" not in det.evidence


def test_dns_query_is_not_remembered() -> None:
    """Only responses feed the memory."""
    e = Enricher(blocklist(), DnsMemory())
    e.observe(DnsMessage(TS, DNS_FLOW, True, 1, False, 0, 0, 0x0100, (("pool.supportxmr.com", 1),),
                         (("pool.supportxmr.com", 1, POOL_IP, 600),)))  # fmt: skip
    assert "pool_host" not in e.enrich(detection()).evidence


def test_pool_host_from_message_is_kept() -> None:
    """A pool host the miner named (Stratum params) wins over DNS memory."""
    det = detection(evidence={"pool_host": "eu1.ethermine.org"}, names=["eu1.ethermine.org"])
    e = enricher(resolved=("pool.supportxmr.com", POOL_IP)).enrich(det).evidence
    assert (e["pool_host"], e["pool"]) == ("eu1.ethermine.org", "ethermine.org")
    assert "resolved_from" not in e


def test_pool_host_from_a_name() -> None:
    """A name from the flow (Host, SNI) becomes the pool host when nothing else named one."""
    e = enricher().enrich(detection(names=["Pool.Eth.pp.ua."])).evidence
    assert (e["pool_host"], e["pool"]) == ("pool.eth.pp.ua", "eth.pp.ua")


# --------------------------------------------------------------------------- blocklist and registrable domain

BLOCKLIST_ROWS = [
    pytest.param(["pool.eth.pp.ua"], "eth.pp.ua", id="host-header"),
    pytest.param(["example.org", "x.supportxmr.com"], "supportxmr.com", id="second-name"),
    pytest.param(["notsupportxmr.com"], None, id="unlisted"),
    pytest.param([], None, id="no-names"),
]


@pytest.mark.parametrize(("names", "entry"), BLOCKLIST_ROWS)
def test_blocklist_match_from_names(names: list[str], entry: str | None) -> None:
    """The first listed name of the flow adds the matching entry."""
    e = enricher().enrich(detection(names=names)).evidence
    assert e.get("blocklist_entry") == entry
    if entry is not None:
        assert (e["blocklist"], e["blocklist_category"]) == ("test", "pool")


def test_existing_blocklist_evidence_is_kept() -> None:
    """A detector's own match (the DNS query it fired on) is not replaced."""
    det = detection(
        evidence={"blocklist": "pool", "blocklist_entry": "supportxmr.com"}, names=["pool.eth.pp.ua"]
    )
    assert enricher().enrich(det).evidence["blocklist_entry"] == "supportxmr.com"


@pytest.mark.parametrize(
    ("host", "pool"),
    [
        ("eu1-zcash.flypool.org", "flypool.org"),
        ("pool.eth.pp.ua", "eth.pp.ua"),
        ("xmr.pool.gntl.co.uk", "gntl.co.uk"),
        (POOL_IP, None),
        ("2001:db8::1", None),
        ("pp.ua", None),
    ],
)
def test_registrable_pool_domain(host: str, pool: str | None) -> None:
    """``pool`` is the registrable domain of a named pool host; addresses and suffixes get none."""
    assert enricher().enrich(detection(evidence={"pool_host": host})).evidence.get("pool") == pool


# --------------------------------------------------------------------------- redaction

IDENTITY = {
    "login": f"{XMR}.rig1",
    "wallet": XMR,
    "payment_id": "a1" * 32,
    "email": "vvesely@mailinator",
    "worker": "rig1",
    "software": "XMRig",
    "agent": "XMRig/6.22.2",
}


@pytest.mark.parametrize("key", REDACTED_KEYS)
def test_redaction_hides_identities(key: str) -> None:
    """With redaction on, logins, wallets, payment ids and e-mails keep neither value nor middle."""
    e = enricher(redact=True).enrich(detection(evidence=IDENTITY)).evidence
    assert e[key] != IDENTITY[key]
    assert "[redacted" in e[key]
    assert IDENTITY[key][5:-4] not in e[key]


def test_redaction_keeps_the_rest_and_is_off_by_default() -> None:
    """Workers and software stay; without the option nothing changes."""
    redacted = enricher(redact=True).enrich(detection(evidence=IDENTITY)).evidence
    assert {k: redacted[k] for k in ("worker", "software", "agent")} == {
        "worker": "rig1", "software": "XMRig", "agent": "XMRig/6.22.2",
    }  # fmt: skip
    plain = enricher().enrich(detection(evidence=IDENTITY)).evidence
    assert {k: plain[k] for k in IDENTITY} == IDENTITY


def test_redaction_names_the_wallet_type() -> None:
    """A redacted login still says what kind of wallet it held."""
    e = enricher(redact=True).enrich(detection(evidence={"login": f"{ETH}.rig1", "wallet": ETH})).evidence
    assert e["login"].endswith("[redacted ethereum]") and e["wallet"].endswith("[redacted ethereum]")


# --------------------------------------------------------------------------- every list hit on the flow

MINE = "mine.txt"


def with_endpoint(bl: Blocklist, entry: str) -> Blocklist:
    """``bl`` plus the user's list ``mine.txt`` holding ``entry``."""
    bl.add_lines([entry], MINE, "pool", list_name="mine")
    return bl


@pytest.mark.parametrize("miner_is_client", [True, False], ids=["miner-is-client", "pool-is-client"])
def test_pool_endpoint_on_the_users_list_is_on_the_alert(miner_is_client: bool) -> None:
    e = Enricher(with_endpoint(Blocklist(), f"{POOL_IP}:3333"), DnsMemory())
    det = e.enrich(detection(miner_is_client=miner_is_client))
    assert (det.evidence["blocklist"], det.evidence["blocklist_entry"]) == ("mine", f"{POOL_IP}:3333")
    assert [h["blocklist_entry"] for h in det.hits] == [f"{POOL_IP}:3333"]


def test_an_endpoint_on_another_port_is_no_hit() -> None:
    e = Enricher(with_endpoint(Blocklist(), f"{POOL_IP}:9999"), DnsMemory())
    det = e.enrich(detection())
    assert "blocklist" not in det.evidence and det.hits == []


def test_every_hit_of_the_flow_is_kept_name_first() -> None:
    e = Enricher(with_endpoint(blocklist(), f"{POOL_IP}:3333"), DnsMemory())
    det = e.enrich(detection(names=["pool.supportxmr.com"]))
    assert [h["blocklist_entry"] for h in det.hits] == ["supportxmr.com", f"{POOL_IP}:3333"]
    assert [h["blocklist"] for h in det.hits] == ["test", "mine"]
    assert det.evidence["blocklist_entry"] == "supportxmr.com"


def test_a_detections_own_hit_comes_first_and_is_not_repeated() -> None:
    own = {"blocklist": "mine", "blocklist_entry": f"{POOL_IP}:3333", "blocklist_category": "pool",
           "blocklist_source": ""}  # fmt: skip
    e = Enricher(with_endpoint(blocklist(), f"{POOL_IP}:3333"), DnsMemory())
    det = e.enrich(detection(evidence=own, names=["supportxmr.com"]))
    assert [h["blocklist_entry"] for h in det.hits] == [f"{POOL_IP}:3333", "supportxmr.com"]
