"""The records that flow through the pipeline behave as plain values."""

from __future__ import annotations

import dataclasses

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.model import Detection, FlowKey, JsonMessage, Packet, Role


def test_flow_key_is_hashable_and_ordered_from_the_client() -> None:
    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    assert {key: 1}[FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)] == 1
    assert key.client_port == 50000 and key.server_port == 3333


def test_events_are_frozen() -> None:
    ev = JsonMessage(1, FlowKey("a", 1, "b", 2, 6), True, {"id": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.from_client = False  # type: ignore[misc]


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
