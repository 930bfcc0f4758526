"""poolsniff.valueclass: the value records' decorator (compiled ``model`` cannot hold it)."""

from __future__ import annotations

import dataclasses

from poolsniff import model
from poolsniff.valueclass import readonly


@readonly
class _Point:
    x: int
    y: int = 0


def test_a_readonly_class_is_a_dataclass_compared_and_hashed_by_its_fields() -> None:
    point = _Point(1, 2)
    assert dataclasses.is_dataclass(point) and point == _Point(1, 2) != _Point(1)
    assert hash(point) == hash(_Point(1, 2))
    assert [f.name for f in dataclasses.fields(point)] == ["x", "y"]


def test_it_is_not_frozen_at_run_time() -> None:
    """What keeps it unchanged is mypy (``tests/test_model.py``); run time pays no ``object.__setattr__``."""
    point = _Point(1)
    point.x = 5  # type: ignore[misc]
    assert point.x == 5


def test_every_value_record_of_model_is_one() -> None:
    for cls in (model.Event, model.FlowEnd, model.JsonMessage, model.Signature, model.FlowSummary):
        assert dataclasses.is_dataclass(cls), cls
        assert not cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
