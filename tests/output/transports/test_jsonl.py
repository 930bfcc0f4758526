"""JSON-lines writer: whole lines, flushed, write errors become OutputError."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.jsonl import HOLD_BYTES, JsonlWriter


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


def test_each_line_is_on_disk_once_written_by_default(tmp_path: Path) -> None:
    """``sniff``'s writer: every record, flow or alert, is readable as soon as it is written."""
    out = tmp_path / "alerts.json"
    w = JsonlWriter.open_path(str(out))
    w.write({"event_type": "flow", "n": 1})
    assert out.read_text().splitlines() == ['{"event_type":"flow","n":1}']
    w.close()


def test_held_lines_are_written_whole_with_the_next_alert_or_at_close(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    w = JsonlWriter.open_path(str(out), hold_others=True)
    w.write({"event_type": "flow", "n": 1})
    w.write({"event_type": "flow", "n": 2}, '{"event_type":"flow","n":2}')
    assert out.read_text() == ""  # held
    w.write({"event_type": "alert", "n": 3})  # an alert is on disk at once, with what came before
    lines = ['{"event_type":"flow","n":1}', '{"event_type":"flow","n":2}', '{"event_type":"alert","n":3}']
    assert out.read_text().splitlines() == lines
    w.write({"event_type": "stats", "n": 4})
    assert out.read_text().splitlines() == lines
    w.close()
    assert out.read_text().splitlines() == [*lines, '{"event_type":"stats","n":4}']


def test_held_lines_are_written_when_enough_wait(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    w = JsonlWriter.open_path(str(out), hold_others=True)
    record = {"event_type": "flow", "pad": "x" * 1000}
    n = 0
    while not out.read_text():
        w.write(record)
        n += 1
    assert n == -(-HOLD_BYTES // len(json.dumps(record, separators=(",", ":")) + "\n"))
    assert out.read_text().count("\n") == n and out.read_text().endswith("\n")
    w.close()


def test_a_held_line_that_cannot_be_written_is_output_error() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available on this system")
    w = JsonlWriter.open_path("/dev/full", hold_others=True)
    w.write({"event_type": "flow"})
    with pytest.raises(OutputError, match="/dev/full: cannot write alerts: No space left on device"):
        w.write({"event_type": "alert"})
    w.write({"event_type": "flow"})
    with pytest.raises(OutputError, match="No space left on device"):
        w.close()


@pytest.mark.parametrize(
    ("error", "remedy"),
    [
        (OSError(errno.ENOSPC, "full"), "; free some space on that disk, or name another file with -o"),
        (
            OSError(errno.EIO, "gone"),
            "; check that the file can still be written (its disk, its permissions)",
        ),
    ],
    ids=["full", "other"],
)
def test_a_failed_write_says_what_to_do(error: OSError, remedy: str) -> None:
    """The one error line ends with what to do about it: room on the disk, or a file that can be written."""

    class Failing(io.StringIO):
        def write(self, text: str) -> int:
            raise error

    w = JsonlWriter(Failing(), "alerts.json")
    with pytest.raises(OutputError) as raised:
        w.write({"event_type": "alert"})
    assert str(raised.value) == f"alerts.json: cannot write alerts: {os.strerror(error.errno or 0)}{remedy}"
