"""EVE ``flow`` records of alerted flows: Suricata's fields, joined to the alerts, schema-valid."""

from __future__ import annotations

from typing import Any

import pytest

from poolsniff.model import Alert, FlowEnd, FlowKey, FlowSummary, Role
from poolsniff.output import eveflow
from poolsniff.output.eve import to_eve
from poolsniff.output.eveflow import MINER_IS_SERVER, flow_record, flowbits
from poolsniff.output.eventid import event_id_of, stamp
from poolsniff.output.flowids import community_id, flow_id

SECOND = 1_000_000
T0 = 1_714_564_800 * SECOND
FLOW = FlowKey("192.0.2.10", 50312, "198.51.100.10", 3333, 6)


def summary(
    *, roles: tuple[Role, ...] = (Role.MINER,), miner_is_client: bool = True, closed: bool = True,
    reason: str = "timeout", start: int = T0, end: int = T0 + 3_723_500_000,
) -> FlowSummary:
    """A summary of ``FLOW``: 11 packets (1,035 bytes) up, 6 (1,558 bytes) down."""
    ended = FlowEnd(end, FLOW, True, start, (11, 6, 1035, 1558), reason, closed)
    return FlowSummary(ended, roles, miner_is_client, "stratum")


def test_flow_record_fields() -> None:
    record = flow_record(summary(), "capture.pcap")
    assert record == {
        "timestamp": "2024-05-01T13:02:03.500000+0000",
        "flow_id": flow_id(FLOW),
        "pcap_filename": "capture.pcap",
        "event_type": "flow",
        "src_ip": "192.0.2.10",
        "src_port": 50312,
        "dest_ip": "198.51.100.10",
        "dest_port": 3333,
        "proto": "TCP",
        "community_id": community_id("192.0.2.10", "198.51.100.10", 6, 50312, 3333),
        "app_proto": "stratum",
        "flow": {
            "pkts_toserver": 11, "pkts_toclient": 6, "bytes_toserver": 1035, "bytes_toclient": 1558,
            "start": "2024-05-01T12:00:00.000000+0000", "end": "2024-05-01T13:02:03.500000+0000",
            "age": 3723, "state": "closed", "reason": "timeout", "alerted": True,
        },
        "metadata": {"flowbits": ["poolsniff.miner"]},  # the id comes when the stage writes it
    }  # fmt: skip
    stamp(record)
    assert record["metadata"]["flowvars"] == [{"event_id": event_id_of(record)}]


@pytest.mark.parametrize(
    ("roles", "miner_is_client", "bits"),
    [
        ((Role.MINER, Role.POOL), True, ["poolsniff.miner", "poolsniff.pool"]),
        ((Role.POOL,), False, ["poolsniff.pool", MINER_IS_SERVER]),
        ((Role.INFRA,), True, ["poolsniff.infrastructure"]),
        ((Role.CLIENT, Role.MINER), True, ["poolsniff.client", "poolsniff.miner"]),
    ],
)
def test_flowbits_say_the_roles_and_the_miners_side(
    roles: tuple[Role, ...], miner_is_client: bool, bits: list[str]
) -> None:
    assert flowbits(summary(roles=roles, miner_is_client=miner_is_client)) == bits


def test_flowbits_remembered_are_the_same_and_a_new_list_each_time() -> None:
    roles = (Role.POOL, Role.MINER, Role.POOL)
    first = flowbits(summary(roles=roles, miner_is_client=False))
    first.append("changed by its caller")
    again = flowbits(summary(roles=roles, miner_is_client=False))
    assert again == ["poolsniff.miner", "poolsniff.pool", MINER_IS_SERVER]
    assert flowbits(summary(roles=roles, miner_is_client=True)) == ["poolsniff.miner", "poolsniff.pool"]
    for n in range(eveflow.MAX_BITS + 10):  # ways beyond what is remembered: still right, memory bounded
        assert flowbits(summary(roles=(Role.CLIENT,) * (n + 1))) == ["poolsniff.client"]
    assert len(eveflow._BITS) <= eveflow.MAX_BITS


@pytest.mark.parametrize(
    ("closed", "reason", "state"),
    [(True, "timeout", "closed"), (False, "timeout", "established"), (False, "shutdown", "established"),
     (False, "forced", "established")],
)  # fmt: skip
def test_state_and_reason(closed: bool, reason: str, state: str) -> None:
    flow = flow_record(summary(closed=closed, reason=reason), "x.pcap")["flow"]
    assert (flow["state"], flow["reason"]) == (state, reason)


def test_live_flow_names_the_interface_and_to_eve_dispatches() -> None:
    record = to_eve(Alert(summary(), "eth1", live=True))
    assert record["in_iface"] == "eth1" and "pcap_filename" not in record
    assert record["event_type"] == "flow"


def test_age_is_whole_seconds_and_never_negative() -> None:
    assert flow_record(summary(start=T0, end=T0 + 999_999), "x")["flow"]["age"] == 0
    assert flow_record(summary(start=T0 + SECOND, end=T0), "x")["flow"]["age"] == 0


@pytest.mark.parametrize("live", [False, True])
def test_flow_records_validate(live: bool, eve_validator: Any) -> None:
    for roles in ((Role.MINER,), (Role.POOL, Role.CLIENT)):
        record = flow_record(summary(roles=roles, miner_is_client=False), "eth0", live)
        assert not list(eve_validator.iter_errors(record)), record
