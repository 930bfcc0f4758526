"""JSON-lines writer: whole lines, flushed, write errors become OutputError."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.jsonl import JsonlWriter


def test_writes_one_line_per_record(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    w = JsonlWriter.open_path(str(out))
    w.write({"a": 1, "b": "ü"})
    w.write({"a": 2})
    w.close()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [{"a": 1, "b": "ü"}, {"a": 2}]


def test_appends_to_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    out.write_text('{"old":true}\n')
    w = JsonlWriter.open_path(str(out))
    w.write({"new": True})
    w.close()
    assert out.read_text().splitlines() == ['{"old":true}', '{"new":true}']


def test_unwritable_path_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot open for writing"):
        JsonlWriter.open_path(str(tmp_path / "missing-dir" / "a.json"))


class _Full(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError(28, "No space left on device")


def test_disk_full_is_output_error() -> None:
    w = JsonlWriter(_Full(), "alerts.json")
    with pytest.raises(OutputError, match="alerts.json: cannot write alerts: No space left on device"):
        w.write({"a": 1})


def test_dev_full_is_output_error() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available on this system")
    w = JsonlWriter.open_path("/dev/full")
    with pytest.raises(OutputError, match="No space left on device"):
        w.write({"a": 1})
    with pytest.raises(OutputError):
        w.close()
