"""The ids an alert and the flow record of its flow share: Community ID v1 against its reference, flow_id."""

from __future__ import annotations

import communityid
import pytest

from poolsniff.model import FlowKey
from poolsniff.output.flowids import community_id, flow_id


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


def test_flow_id_is_stable_and_json_safe() -> None:
    key = FlowKey("192.0.2.10", 50312, "198.51.100.10", 3333, 6)
    assert flow_id(key) == flow_id(FlowKey(*key))
    assert 0 < flow_id(key) < 2**53
    assert flow_id(key) != flow_id(key._replace(client_port=50313))
