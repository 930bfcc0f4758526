"""A record's id and line written together (``stamped_text``): byte for byte what ``json`` makes."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.model import Alert, FlowEnd, FlowKey, FlowSummary, Role
from poolsniff.output.eve import to_eve
from poolsniff.output.eveflow import flow_record, flow_texts
from poolsniff.output.eventid import stamp, stamped_flow, stamped_text
from poolsniff.output.evestats import RunCounts, stats_record

from ..factories_eve import eve

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # control, quote, non-ASCII
PORT = st.integers(min_value=0, max_value=65535)
IP = st.ip_addresses().map(str)
COUNT = st.integers(min_value=0, max_value=2**70)  # beyond 64 bits too


def reference(record: dict[str, Any]) -> tuple[str, str]:
    """The id (SHA-256 of the sorted compact JSON, id left out) and the line, as ``json`` makes them."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    ident = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    stamped = copy.deepcopy(record)
    stamped.setdefault("metadata", {}).setdefault("flowvars", []).append({"event_id": ident})
    return ident, json.dumps(stamped, separators=(",", ":"), ensure_ascii=False)


@st.composite
def summaries(draw: st.DrawFn) -> tuple[FlowSummary, str, bool]:
    key = FlowKey(draw(IP), draw(PORT), draw(IP), draw(PORT), draw(st.sampled_from((6, 17, 132))))
    start = draw(st.integers(min_value=-(10**12), max_value=2**62))
    end = start + draw(st.integers(min_value=-(10**9), max_value=10**13))
    counts = (draw(COUNT), draw(COUNT), draw(COUNT), draw(COUNT))
    ended = FlowEnd(end, key, True, start, counts, draw(TEXT), draw(st.booleans()))
    roles = tuple(draw(st.lists(st.sampled_from(list(Role)), min_size=1, max_size=4)))
    app_proto = draw(st.sampled_from(("", "stratum", "tls", "é\n")))
    summary = FlowSummary(ended, roles, draw(st.booleans()), app_proto)
    return summary, draw(TEXT), draw(st.booleans())


@given(summaries())
def test_a_flow_record_is_written_as_json_writes_it(made: tuple[FlowSummary, str, bool]) -> None:
    summary, source, live = made
    record = flow_record(summary, source, live)
    assert flow_texts(record) is not None  # the fast way was taken
    ident, line = reference(record)
    assert stamped_text(record) == line
    assert record["metadata"]["flowvars"] == [{"event_id": ident}]


@given(summaries())
def test_a_flow_record_stamped_as_it_is_made_is_the_one_stamped_when_written(
    made: tuple[FlowSummary, str, bool],
) -> None:
    summary, source, live = made
    record = flow_record(summary, source, live)
    line = stamped_text(record)
    assert stamped_flow(summary, source, live) == (record, line)


def test_every_other_record_is_written_as_json_writes_it() -> None:
    key = FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6)
    base = flow_record(FlowSummary(FlowEnd(5, key, True, 1), (Role.MINER,), True), "x")
    changed: list[dict[str, Any]] = [eve(0), eve(1, sport=1001), stats_record(0, RunCounts(1, 2, 3, 4))]
    for path, value in [
        (("flow_id",), True), (("src_port",), 1.5), (("flow", "age"), False), (("flow", "alerted"), 1),
        (("timestamp",), 7), (("metadata", "flowbits"), ("x",)), (("metadata", "flowbits"), [1]),
        (("flow", "extra"), 1), (("extra",), "x"), (("metadata", "flowvars"), [{"x": "1"}]),
    ]:  # fmt: skip
        record = copy.deepcopy(base)
        *parents, last = path
        target = record
        for parent in parents:
            target = target[parent]
        target[last] = value
        changed.append(record)
    reordered = dict(reversed(list(copy.deepcopy(base).items())))
    for record in [*changed, reordered, {k: v for k, v in base.items() if k != "metadata"}]:
        expected = json.dumps(stamp(copy.deepcopy(record)), separators=(",", ":"), ensure_ascii=False)
        assert flow_texts(record) is None
        assert stamped_text(record) == expected


def test_a_record_that_has_its_id_keeps_it() -> None:
    record = stamp(eve(0))
    before = copy.deepcopy(record)
    assert stamped_text(record) == json.dumps(before, separators=(",", ":"), ensure_ascii=False)
    assert record == before


@pytest.mark.parametrize("live", [False, True])
def test_to_eve_flow_records_take_the_fast_way(live: bool) -> None:
    key = FlowKey("192.0.2.1", 4000, "2001:db8::1", 3333, 6)
    ended = FlowEnd(10**15, key, True, 10**15 - 7, (1, 2, 3, 4))
    record = to_eve(Alert(FlowSummary(ended, (Role.POOL,), False, "stratum"), "ünïcode.pcap", live=live))
    assert flow_texts(record) is not None
    line = reference(record)[1]
    assert stamped_text(record) == line
