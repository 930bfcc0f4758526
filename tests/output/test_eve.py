"""EVE serialisation: field formats, orientation, Community ID against the reference package."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.detect import signatures as sigs
from poolsniff.model import Alert, Detection, FlowKey, Role
from poolsniff.output.eve import suppression_facts, to_eve
from poolsniff.output.evefields import format_ts, host_of, pool_of, record_ts, signature_of
from poolsniff.output.eventid import event_id_of, stamp

communityid = pytest.importorskip("communityid")


@pytest.mark.parametrize(
    ("ts_us", "text"),
    [
        (0, "1970-01-01T00:00:00.000000+0000"),
        (1501588800_123456, "2017-08-01T12:00:00.123456+0000"),
        (1714564800_000001, "2024-05-01T12:00:00.000001+0000"),
    ],
)
def test_timestamp_is_suricata_format(ts_us: int, text: str) -> None:
    assert format_ts(ts_us) == text


def _alert(miner_is_client: bool, role: Role = Role.MINER, **app: Any) -> Alert:
    key = FlowKey("192.0.2.10", 50312, "198.51.100.10", 3333, 6)
    det = Detection(1714564800_000000, key, sigs.MINER["stratum"], role, miner_is_client, app=dict(app))
    det.evidence.update({"flavour": "stratum-v1", "software": "cgminer"})
    return Alert(det, "x.pcap")


def test_record_is_oriented_miner_to_pool() -> None:
    rec = to_eve(_alert(True))
    assert (rec["src_ip"], rec["src_port"], rec["dest_ip"], rec["dest_port"]) == (
        "192.0.2.10",
        50312,
        "198.51.100.10",
        3333,
    )
    flipped = to_eve(_alert(False))
    assert (flipped["src_ip"], flipped["dest_port"]) == ("198.51.100.10", 50312)
    assert flipped["community_id"] == rec["community_id"]
    assert flipped["flow_id"] == rec["flow_id"]


def test_record_fields(eve_validator: Any) -> None:
    rec = to_eve(
        _alert(True, dns={"version": 3, "type": "request", "queries": [{"rrname": "a.b", "rrtype": "A"}]})
    )
    assert rec["event_type"] == "alert"
    assert rec["pcap_filename"] == "x.pcap"
    assert rec["proto"] == "TCP"
    assert rec["alert"]["category"] == "Crypto Currency Mining Activity Detected"
    assert rec["alert"]["signature_id"] == sigs.MINER["stratum"].sid
    assert rec["alert"]["metadata"] == {
        "role": ["miner"],
        "flavour": ["stratum-v1"],
        "software": ["cgminer"],
    }  # the id comes when the output stage writes the record
    assert stamp(rec)["alert"]["metadata"]["event_id"] == [event_id_of(rec)]
    assert rec["dns"]["queries"][0]["rrname"] == "a.b"
    assert not list(eve_validator.iter_errors(rec))


def test_live_records_carry_in_iface() -> None:
    alert = _alert(True)
    rec = to_eve(Alert(alert.detection, "eth0", live=True))
    assert rec["in_iface"] == "eth0" and "pcap_filename" not in rec


_IPS = st.sampled_from(["192.0.2.10", "198.51.100.10", "2001:db8::1", "10.0.0.1"])
_VALUES = st.sampled_from(["", "xmr.pool.example", "pool.example:3333", "ünï.example"])
_HIT_KEYS = st.sampled_from(["blocklist", "pool", "pool_host"])


@st.composite
def _any_alert(draw: st.DrawFn) -> Alert:
    """An alert with whatever may decide its pool: pool_host/pool evidence (empty too), several list hits."""
    key = FlowKey(draw(_IPS), draw(st.integers(1, 65535)), draw(_IPS), draw(st.integers(1, 65535)), 6)
    sig = draw(st.sampled_from([*sigs.MINER.values(), *sigs.POOL.values(), sigs.BEHAVIOUR]))
    ts = draw(st.integers(-(10**6), 2**64))
    det = Detection(ts, key, sig, draw(st.sampled_from(list(Role))), draw(st.booleans()))
    det.evidence.update(draw(st.dictionaries(st.sampled_from(["pool", "pool_host", "software"]), _VALUES)))
    det.hits.extend(draw(st.lists(st.dictionaries(_HIT_KEYS, _VALUES), max_size=3)))
    return Alert(det, "x.pcap", live=draw(st.booleans()))


@given(_any_alert())
def test_suppression_facts_are_what_suppression_reads_from_the_record(alert: Alert) -> None:
    record = to_eve(alert)
    assert isinstance(alert.detection, Detection)
    key, ts_us, signature = suppression_facts(alert.detection)
    assert key == (host_of(record), pool_of(record), signature_of(record)[0])
    assert ts_us == record_ts(record)
    assert signature == signature_of(record)
