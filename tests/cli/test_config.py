"""poolsniff config check: the settings it prints, the line of a bad key, where it looks."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SYSTEM_CONFIG, one_line_error, run
from .test_options import GOOD


def test_config_check(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(GOOD)
    proc = run("config", "check", str(path), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "quiet: True",
        "suppress: 3600",
        f"output: {tmp_path / 'alerts.json'}",
    ]
    assert f"{path}: ok, 3 settings" in proc.stderr


def test_config_check_bad_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(GOOD + "colour: red\n")
    one_line_error(run("config", "check", str(path), home=tmp_path), 2, f"{path}:5: unknown key 'colour'")


def test_config_check_finds_the_user_file(tmp_path: Path) -> None:
    if SYSTEM_CONFIG.exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine and is read first")
    one_line_error(run("config", "check", home=tmp_path), 2, "no settings file", str(tmp_path))
    user = tmp_path / "poolsniff" / "poolsniff.yaml"
    user.parent.mkdir()
    user.write_text(GOOD)
    proc = run("config", "check", home=tmp_path)
    assert proc.returncode == 0 and f"{user}: ok" in proc.stderr
