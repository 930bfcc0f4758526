"""The one error-to-exit map: each error class ends as one line and its status, in one place."""

from __future__ import annotations

import errno

import click
import pytest

from poolsniff.cli.exits import EXIT_HELP, REPORT_EXIT_HELP, SNIFF_EXIT_HELP, Carried, ExitStatus, run
from poolsniff.errors import (
    BlocklistError,
    CaptureDamaged,
    CaptureError,
    ConfigError,
    InputError,
    OutputError,
    PoolsniffError,
)


@pytest.mark.parametrize("status", list(ExitStatus))
def test_scan_help_lists_every_status(status: ExitStatus) -> None:
    assert f"\n  {int(status):<4} " in EXIT_HELP


@pytest.mark.parametrize("text", [EXIT_HELP, SNIFF_EXIT_HELP, REPORT_EXIT_HELP])
def test_help_lists_known_statuses_only(text: str) -> None:
    codes = [int(line.split()[0]) for line in text.splitlines()[2:] if line.strip()]
    assert codes and set(codes) <= {int(s) for s in ExitStatus}


def raising(error: BaseException) -> object:
    def command() -> object:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (ConfigError("a.yaml:3: unknown key 'x'"), 2, "poolsniff: error: a.yaml:3: unknown key 'x'"),
        (BlocklistError("l.txt", 7, "bad"), 2, "poolsniff: error: l.txt:7: bad"),
        (PoolsniffError("odd"), 2, "poolsniff: error: odd"),
        (InputError("x.pcap: cannot open"), 3, "poolsniff: error: x.pcap: cannot open"),
        (CaptureDamaged("x.pcap", 24, "cut"), 3, "poolsniff: error: x.pcap: damaged at byte offset 24: cut"),
        (CaptureError("eth9: no such interface"), 3, "poolsniff: error: eth9: no such interface"),
        (OutputError("o.json: disk full"), 4, "poolsniff: error: o.json: disk full"),
        (KeyboardInterrupt(), 130, "poolsniff: interrupted"),
        (Carried(KeyboardInterrupt()), 130, "poolsniff: interrupted"),
        (click.Abort(), 130, "poolsniff: interrupted"),
        (OSError(errno.ENOSPC, "No space left on device"), 4,
         "poolsniff: error: stdout: cannot write: No space left on device"),
        (Carried(OSError(errno.EIO, "Input/output error", "m.prom")), 4,
         "poolsniff: error: m.prom: cannot write: Input/output error"),
        (click.BadParameter("bad duration", param_hint="'--suppress'"), 2,
         "poolsniff: error: Invalid value for '--suppress': bad duration"),
    ],
)  # fmt: skip
def test_each_error_is_one_line_and_its_status(
    capsys: pytest.CaptureFixture[str], error: BaseException, status: int, line: str
) -> None:
    assert run(raising(error)) == status
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""


@pytest.mark.parametrize("error", [BrokenPipeError(errno.EPIPE, "Broken pipe"), Carried(BrokenPipeError())])
def test_a_reader_that_went_away_ends_quietly_with_141(
    capsys: pytest.CaptureFixture[str], error: BaseException
) -> None:
    assert run(raising(error)) == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("result", "status"), [(None, 0), (ExitStatus.ALERTS, 1), (3, 3), ("text", 0)])
def test_a_command_returns_its_status(result: object, status: int) -> None:
    assert run(lambda: result) == status


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (1, 1), (130, 130), ("message", 1)])
def test_sys_exit_keeps_its_status(code: object, status: int) -> None:
    assert run(raising(SystemExit(code))) == status
