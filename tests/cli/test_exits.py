"""The exit statuses: each is documented in every help text that can end with it."""

from __future__ import annotations

import pytest

from poolsniff.cli.exits import EXIT_HELP, REPORT_EXIT_HELP, SNIFF_EXIT_HELP, ExitStatus, fail


@pytest.mark.parametrize("status", list(ExitStatus))
def test_scan_help_lists_every_status(status: ExitStatus) -> None:
    assert f"\n  {int(status):<4} " in EXIT_HELP


@pytest.mark.parametrize("text", [EXIT_HELP, SNIFF_EXIT_HELP, REPORT_EXIT_HELP])
def test_help_lists_known_statuses_only(text: str) -> None:
    codes = [int(line.split()[0]) for line in text.splitlines()[2:] if line.strip()]
    assert codes and set(codes) <= {int(s) for s in ExitStatus}


def test_fail_prints_one_line_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        fail("x.pcap: cannot open: no such file", ExitStatus.INPUT_ERROR)
    assert stop.value.code == 3
    assert capsys.readouterr().err == "poolsniff: error: x.pcap: cannot open: no such file\n"
