"""Helpers of the command-line tests: run poolsniff as a user would, check one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import PCAPS

MINER = PCAPS / "stratum-v1-cgminer.pcap"
SYSTEM_CONFIG = Path("/etc/poolsniff/poolsniff.yaml")


def run(
    *args: str, home: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``poolsniff ARGS`` with XDG_CONFIG_HOME at ``home`` (and ``env``) and capture everything."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "poolsniff", *args], capture_output=True, text=True, timeout=120, env=env,
        input=stdin,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert proc.returncode == status, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture
def alerts(tmp_path: Path) -> Path:
    """EVE alerts of every bundled capture, as `scan` writes them."""
    path = tmp_path / "alerts.json"
    proc = run("scan", "-q", "-o", str(path), str(PCAPS), home=tmp_path)
    assert proc.returncode == 1, proc.stderr
    return path
