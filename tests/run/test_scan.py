"""scan_file: one capture through a fresh pipeline; damage is a result, not an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poolsniff.errors import InputError
from poolsniff.intel.lists import load_shipped
from poolsniff.output.eve import to_eve
from poolsniff.run.scan import ScanResult, scan_file

from ..conftest import PCAPS

MINER = PCAPS / "stratum-v1-cgminer.pcap"


def scan(path: Path) -> tuple[ScanResult, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    return scan_file(str(path), load_shipped(), emit=out.append, to_record=to_eve), out


def test_counts_and_records() -> None:
    result, records = scan(MINER)
    assert result.packets == 18 and result.flows == 1
    assert [r["event_type"] for r in records] == ["alert", "flow"]
    assert result.alerts == 1  # the pool side goes into the miner's alert
    assert records[0]["alert"]["metadata"]["pool_signature_id"] == ["9300102"]
    flow = records[1]["flow"]
    assert flow["pkts_toserver"] + flow["pkts_toclient"] == 17  # all but the ACK after both FINs
    assert result.damage is None


def test_pool_side_kept_as_an_alert_of_its_own() -> None:
    out: list[dict[str, Any]] = []
    result = scan_file(str(MINER), load_shipped(), emit=out.append, to_record=to_eve, fold_pool=False)
    alerts = [r for r in out if r["event_type"] == "alert"]
    assert result.alerts == len(alerts) == 2
    assert [r["alert"]["signature_id"] for r in alerts] == [9300101, 9300102]
    assert alerts[0]["timestamp"] <= alerts[1]["timestamp"]


def test_truncated_capture_keeps_alerts_and_reports_offset(tmp_path: Path) -> None:
    data = MINER.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-40])
    result, records = scan(cut)
    assert result.damage is not None and result.damage.offset > 24
    assert records, "alerts found before the damage are kept"


def test_progress_reports_bytes(tmp_path: Path) -> None:
    seen: list[int] = []
    scan_file(str(MINER), load_shipped(), emit=lambda r: None, to_record=to_eve, progress=seen.append)
    assert seen[-1] == MINER.stat().st_size


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        scan(tmp_path / "gone.pcap")


def test_results_add_up() -> None:
    a, b = ScanResult(packets=1, flows=2, alerts=3, skipped={"x": 1}), ScanResult(packets=4, skipped={"x": 2})
    a.add(b)
    assert (a.packets, a.flows, a.alerts, a.skipped) == (5, 2, 3, {"x": 3})
