"""Tests for poolsniff.confirm.ledger: the rate-limit state kept in the data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from poolsniff.confirm.ledger import FILE, Ledger
from poolsniff.errors import OutputError


def test_a_claim_survives_a_restart(tmp_path: Path) -> None:
    with Ledger(tmp_path).state() as state:
        state.claim("192.0.2.1:3333", 1000.0)
    with Ledger(tmp_path).state() as state:  # a new process, the same data directory
        assert state.refusal("192.0.2.1:3333", 2000.0) is not None


def test_limits_given_to_the_ledger_apply(tmp_path: Path) -> None:
    with Ledger(tmp_path, per_endpoint_s=10, max_per_hour=1).state() as state:
        state.claim("192.0.2.1:3333", 1000.0)
        assert state.refusal("192.0.2.1:3333", 1011.0) is not None  # the hourly cap of 1
        assert "global cap" in (state.refusal("192.0.2.2:1", 1011.0) or "")


def test_a_damaged_file_is_an_empty_ledger(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text("{not json")
    with Ledger(tmp_path).state() as state:
        assert state.seen == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_an_unwritable_data_dir_is_an_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    with pytest.raises(OutputError, match="probe ledger"), Ledger(folder).state():
        pass


def test_a_data_dir_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="probe ledger"), Ledger(tmp_path / "file").state():
        pass
