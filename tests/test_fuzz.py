"""The atheris harness in fuzz/ runs each target for a bounded time without a crash.

Bounded by a run count, not by time, so the test is the same on a slow machine. Longer
campaigns: ``python fuzz/fuzz_poolsniff.py all -max_total_time=600``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("atheris", reason="atheris is not installed (pip install -e '.[test]')")


@pytest.mark.parametrize("target", ["decode", "capture", "pipeline", "prefilter", "parsers", "jsonrpc"])
def test_fuzz_target_survives(target: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_poolsniff.py"), target, "-atheris_runs=4000", "-seed=1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 4000" in proc.stderr
