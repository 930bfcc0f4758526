"""EVE serialisation: field formats, orientation, Community ID against the reference package."""

from __future__ import annotations

from typing import Any

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.model import Alert, Detection, FlowKey, Role
from poolsniff.output.eve import community_id, flow_id, to_eve
from poolsniff.output.evefields import format_ts
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


@pytest.mark.parametrize(
    ("src", "dst", "proto", "sport", "dport"),
    [
        ("192.0.2.10", "198.51.100.10", 6, 50312, 3333),
        ("198.51.100.10", "192.0.2.10", 6, 3333, 50312),
        ("10.0.0.1", "10.0.0.1", 6, 80, 80),
        ("192.0.2.30", "192.0.2.53", 17, 41000, 53),
        ("2001:db8:10::20", "2001:db8:99::9", 6, 50123, 9999),
        ("2001:db8::1", "2001:db8::1", 17, 5353, 53),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 65535])
def test_community_id_matches_reference(
    src: str, dst: str, proto: int, sport: int, dport: int, seed: int
) -> None:
    ref = communityid.CommunityID(seed=seed)
    expected = ref.calc(communityid.FlowTuple(proto, src, dst, sport, dport))
    assert community_id(src, dst, proto, sport, dport, seed) == expected


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


def test_flow_id_is_stable_and_json_safe() -> None:
    key = FlowKey("192.0.2.10", 50312, "198.51.100.10", 3333, 6)
    assert flow_id(key) == flow_id(FlowKey(*key))
    assert 0 < flow_id(key) < 2**53
    assert flow_id(key) != flow_id(key._replace(client_port=50313))
