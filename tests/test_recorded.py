"""Recorded captures of real programs: real XMRig sessions must alert, benign look-alikes must not.

``tests/data/real-xmrig/`` holds sessions of a genuine XMRig 6.16.0 against local pools
(``tools/record_real.py``); ``tests/data/lookalikes/`` holds long-lived benign sessions of real
programs that look like mining (``tools/record_lookalikes.py``). Each folder's PROVENANCE.md says how
every file was made. Each real-miner capture has its reviewed expected alerts in
``<capture>.expected.jsonl`` (``pytest --update-golden`` rewrites them; review the diff).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from poolsniff.intel.lists import load_shipped
from poolsniff.output.eve import to_eve
from poolsniff.output.eventid import ensure_id
from poolsniff.run.scan import scan_file

from .conftest import ROOT

REAL = sorted((ROOT / "tests" / "data" / "real-xmrig").glob("*.pcap"))
LOOKALIKES = sorted((ROOT / "tests" / "data" / "lookalikes").glob("*.pcap"))


MINER_ADDRESSES = {"10.66.0.1", "fd66::1"}
"""The client namespace's addresses in ``tools/nslab.py``."""


def scan_records(capture: Path) -> list[dict[str, Any]]:
    """Scan one capture with the shipped lists and return its EVE records."""
    records: list[dict[str, Any]] = []
    # each record with its id, as the output stage writes it
    scan_file(str(capture), load_shipped(), emit=lambda r: records.append(ensure_id(r)), to_record=to_eve)
    return records


@pytest.mark.parametrize("captures, least", [(REAL, 8), (LOOKALIKES, 8)], ids=["real-xmrig", "lookalikes"])
def test_the_recordings_are_there(captures: list[Path], least: int) -> None:
    assert len(captures) >= least
    provenance = (captures[0].parent / "PROVENANCE.md").read_text()
    for capture in captures:
        assert capture.name in provenance
        assert capture.stat().st_size < 1_000_000, capture.name


@pytest.mark.parametrize("capture", REAL, ids=[c.name for c in REAL])
def test_real_miner_matches_expected_alerts(capture: Path, update_golden: bool, eve_validator: Any) -> None:
    records = scan_records(capture)
    for rec in records:
        assert not list(eve_validator.iter_errors(rec)), rec
    lines = [json.dumps(r, sort_keys=True) for r in records]
    golden = capture.with_name(capture.name + ".expected.jsonl")
    if update_golden:
        golden.write_text("".join(line + "\n" for line in lines))
    assert golden.read_text().splitlines() == lines


@pytest.mark.parametrize("capture", REAL, ids=[c.name for c in REAL])
def test_real_miner_alerts(capture: Path) -> None:
    records = scan_records(capture)
    assert any({r["src_ip"], r["dest_ip"]} & MINER_ADDRESSES for r in records)
    assert any(r["alert"]["category"] == "Crypto Currency Mining Activity Detected" for r in records)


@pytest.mark.parametrize("capture", LOOKALIKES, ids=[c.name for c in LOOKALIKES])
def test_lookalike_is_silent(capture: Path) -> None:
    assert scan_records(capture) == []
