"""Each bundled capture in pcaps/ against its reviewed expected-alerts file.

``pcaps/<capture>.expected.jsonl`` holds the alerts, one EVE record per line with sorted
keys. ``pytest --update-golden`` rewrites them; review the diff by eye before committing.
The test also checks that every capture has an expected file (an empty one for benign
captures) and that the demo captures are what ``tools/make_pcaps.py`` makes today.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poolsniff.intel.lists import load_shipped
from poolsniff.output.eve import to_eve
from poolsniff.output.eventid import ensure_id
from poolsniff.run.scan import scan_file
from poolsniff.sources.pcap import expand_paths

from .conftest import PCAPS, ROOT

CAPTURES = [Path(p) for p in expand_paths([str(PCAPS)])]


def expected_path(capture: Path) -> Path:
    """Where a capture's expected alerts live."""
    return capture.with_name(capture.name + ".expected.jsonl")


def scan_records(capture: Path) -> list[dict[str, Any]]:
    """Scan one capture with the shipped lists and return its EVE records."""
    records: list[dict[str, Any]] = []
    # each record with its id, as the output stage writes it
    scan_file(str(capture), load_shipped(), emit=lambda r: records.append(ensure_id(r)), to_record=to_eve)
    return records


def test_every_capture_has_an_expected_file() -> None:
    assert len(CAPTURES) >= 10
    missing = [c.name for c in CAPTURES if not expected_path(c).exists()]
    assert not missing


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_capture_matches_expected_alerts(capture: Path, update_golden: bool, eve_validator: Any) -> None:
    records = scan_records(capture)
    for rec in records:
        assert not list(eve_validator.iter_errors(rec)), rec
    lines = [json.dumps(r, sort_keys=True) for r in records]
    golden = expected_path(capture)
    if update_golden:
        golden.write_text("".join(line + "\n" for line in lines))
    assert golden.read_text().splitlines() == lines


def test_benign_capture_is_silent() -> None:
    assert scan_records(PCAPS / "benign-mix.pcapng") == []


def test_demo_captures_are_reproducible(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_pcaps.py"), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    made = sorted(p.name for p in tmp_path.iterdir() if p.name != "README.md")
    assert made == sorted(c.name for c in CAPTURES)
    for name in made:
        assert (tmp_path / name).read_bytes() == (PCAPS / name).read_bytes(), name
