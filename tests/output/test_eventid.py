"""The record id: where each record kind carries it, stable for the same record, new for a new one."""

from __future__ import annotations

import copy
import json
from typing import Any

from poolsniff.output.eventid import ensure_id, event_id_of, read_event_id, stamp
from poolsniff.output.evestats import RunCounts, stats_record

from ..factories_eve import eve


def test_an_alert_carries_it_in_its_metadata(eve_validator: Any) -> None:
    record = eve(0)
    assert read_event_id(record) is None  # to_eve leaves it to the output stage
    stamp(record)
    ident = record["alert"]["metadata"]["event_id"]
    assert ident == [event_id_of(record)] and len(ident[0]) == 32 and int(ident[0], 16) >= 0
    assert read_event_id(record) == ident[0] and "metadata" not in record
    assert not list(eve_validator.iter_errors(record))


def test_other_records_carry_it_in_flowvars(eve_validator: Any) -> None:
    record = stats_record(1_700_000_000_000_000, RunCounts(1, 2, 3, 4))
    assert record["metadata"] == {"flowvars": [{"event_id": event_id_of(record)}]}
    assert read_event_id(record) == event_id_of(record)
    assert not list(eve_validator.iter_errors(record))
    flow = {"event_type": "flow", "timestamp": "t", "metadata": {"flowbits": ["a"], "flowvars": [{"x": "1"}]}}
    stamp(flow)
    assert flow["metadata"]["flowvars"] == [{"x": "1"}, {"event_id": event_id_of(flow)}]


def test_the_same_record_the_same_id_and_stamping_again_changes_nothing() -> None:
    record = stamp(eve(0))
    again = stamp(copy.deepcopy(record))
    assert again == record
    assert event_id_of(json.loads(json.dumps(record))) == read_event_id(record)  # what a consumer reads back


def test_any_difference_a_different_id() -> None:
    base = read_event_id(stamp(eve(0)))
    others = {
        read_event_id(stamp(eve(1))),  # another time
        read_event_id(stamp(eve(0, sport=1001))),  # another flow
        read_event_id(stamp(eve(0, agent="other"))),  # other evidence
    }
    assert base not in others and len(others) == 3


def test_a_record_without_an_id() -> None:
    record = eve(0)
    assert read_event_id(record) is None and read_event_id(stamp(record)) == event_id_of(eve(0))
    assert ensure_id(record) is record and read_event_id(record) == event_id_of(eve(0))  # kept
    assert read_event_id({"event_type": "stats", "metadata": {"flowvars": [{"x": "1"}]}}) is None


def test_the_stage_stamps_what_it_writes_and_a_folded_alert_gets_its_own_id() -> None:
    from poolsniff.output.stage import Outputs
    from poolsniff.output.suppress import Suppressor

    written: list[dict[str, Any]] = []

    class Collect:
        def write(self, record: dict[str, Any], text: str | None = None) -> None:
            written.append(json.loads(text) if text is not None else copy.deepcopy(record))

    stage = Outputs(Collect(), suppressor=Suppressor(600))
    for i in range(3):  # the same pair three times within the window: one line, then one with the count
        stage.write(eve(i))
    stage.write({"event_type": "flow", "timestamp": "2024-05-01T12:00:00.000000+0000", "flow": {}})
    stage.close()
    alerts = [r for r in written if r["event_type"] == "alert"]
    assert len(alerts) == 2 and alerts[1]["alert"]["metadata"]["suppressed_count"] == ["1"]
    for record in written:
        assert read_event_id(record) == event_id_of(record)  # every written record, its own id
    assert len({read_event_id(r) for r in written}) == len(written)
