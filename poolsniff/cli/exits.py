"""Exit statuses of the command line and the help text that documents them (entry layer).

Every command ends with one of :class:`ExitStatus`; README.md, docs/ and each command's
``--help`` epilog list them, and tests/test_docs.py checks that the README does.
"""

from __future__ import annotations

import os
import sys
from enum import IntEnum
from typing import NoReturn

import click


class ExitStatus(IntEnum):
    """Exit statuses, documented in README.md, docs/ and ``--help``."""

    CLEAN = 0
    ALERTS = 1
    USAGE = 2
    INPUT_ERROR = 3
    OUTPUT_ERROR = 4
    INTERRUPTED = 130


EXIT_HELP = """\b
Exit status:
  0    scanned, nothing found
  1    alerts found
  2    usage error (bad option, bad blocklist file)
  3    input error: no such file, or not a capture
  4    output error: alerts could not be written
  130  interrupted
"""

SNIFF_EXIT_HELP = """\b
Exit status:
  0    stopped cleanly: SIGINT, SIGTERM, --duration or --count
  2    usage error (bad option, bad blocklist file, unknown --user)
  3    capture cannot start: no such interface, no CAP_NET_RAW, a --bpf that does not compile
  4    output error: alerts could not be written
  130  interrupted while starting
"""

REPORT_EXIT_HELP = """\b
Exit status:
  0    report written
  3    input error: no such file, a line that is not EVE JSON (named file:line)
  4    output error: the report could not be written
"""


def fail(message: str, status: ExitStatus) -> NoReturn:
    """Print ``poolsniff: error: MESSAGE`` on stderr and exit with ``status``."""
    click.echo(f"poolsniff: error: {message}", err=True)
    sys.exit(int(status))


def quiet_pipe_exit() -> NoReturn:
    """The reader of stdout went away (``| head``): stop quietly, as cat and grep do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(int(ExitStatus.CLEAN))
