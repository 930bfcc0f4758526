"""Tests for poolsniff.report.render: the format name picks the renderer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from poolsniff.report.render import render
from poolsniff.report.summary import summarise

from ..factories_eve import eve


@pytest.mark.parametrize("fmt, check", [
    ("table", lambda t: t.startswith("HOST")),
    ("json", lambda t: json.loads(t)["hosts"][0]["host"] == "192.0.2.10"),
    ("csv", lambda t: t.startswith("host,first_seen")),
    ("html", lambda t: "<svg" in t and "eve.json" in t),
])  # fmt: skip
def test_render_dispatches_on_the_format(fmt: str, check: Any) -> None:
    assert check(render(summarise([eve(0)]), fmt, width=200, inputs=["eve.json"]))


def test_render_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render([], "xml")
