"""Exit statuses, and the one place where an error becomes a line on stderr and a status (entry layer).

Every command ends with one of :class:`ExitStatus`; README.md, docs/ and each command's
``--help`` epilog list them, and tests/test_docs.py checks that the README does.

:func:`run` wraps every command, ``--help`` and ``--version`` included (``app.main`` calls it):

- a :class:`~poolsniff.errors.PoolsniffError` prints ``poolsniff: error: <message>`` and exits
  with the status its class carries (``exit_status``: 2 usage, 3 input, 4 output);
- a click usage error prints one such line too, naming the ``--help`` to read;
- Ctrl-C (or SIGTERM in ``scan``) prints ``poolsniff: interrupted`` and exits 130;
- a reader of stdout that went away (``poolsniff … | head``) ends the command quietly with 141,
  the status a shell shows for ``cat`` killed by SIGPIPE; poolsniff does not die of SIGPIPE
  itself, because the same signal would kill it on a syslog or Redis connection that drops;
- stdout that cannot be written (a full disk, ``/dev/full``) is an output error, exit 4;
  stdout is flushed here before exiting, so a failure of the last, buffered, write is seen too.

Commands return their status (or None for 0) and raise; none of them catches an error to exit.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum

import click

from poolsniff.errors import PoolsniffError


class ExitStatus(IntEnum):
    """Exit statuses, documented in README.md, docs/ and ``--help``."""

    CLEAN = 0
    ALERTS = 1
    USAGE = 2
    INPUT_ERROR = 3
    OUTPUT_ERROR = 4
    INTERRUPTED = 130
    BROKEN_PIPE = 141


EXIT_HELP = """\b
Exit status:
  0    scanned, nothing found
  1    alerts found (also when some inputs could not be scanned, unless --strict)
  2    usage error (bad option, bad blocklist file)
  3    input error: no such file, or not a capture (and no alerts in the others)
  4    output error: alerts could not be written
  130  interrupted
  141  the reader of stdout went away (as for a tool killed by SIGPIPE)
"""

SNIFF_EXIT_HELP = """\b
Exit status:
  0    stopped cleanly: SIGINT, SIGTERM, --duration or --count
  2    usage error (bad option, bad blocklist file, unknown --user)
  3    capture cannot start (no interface, no CAP_NET_RAW, bad --bpf), or a --jobs process died
  4    output error: alerts could not be written
  130  interrupted while starting
  141  the reader of stdout went away
"""

REPORT_EXIT_HELP = """\b
Exit status:
  0    report written
  3    input error: no such file, a line that is not EVE JSON (named file:line)
  4    output error: the report could not be written
  141  the reader of stdout went away
"""


PROBE_EXIT_HELP = """\b
Exit status:
  0    probed (or skipped), no endpoint confirmed as a mining pool
  1    a mining pool confirmed: some endpoint answered a hello with work
  2    usage error: a bad HOST:PORT, a bad --blocklist file
  4    output error: the probe ledger in the data directory cannot be written (nothing probed)
  141  the reader of stdout went away
"""


class _NeverRaised(click.ClickException):
    """Stands in for ``NoArgsIsHelpError`` where click does not have it."""


_NO_ARGS_IS_HELP: type[click.ClickException] = getattr(click.exceptions, "NoArgsIsHelpError", _NeverRaised)
"""click 8.2 and later raise it for ``poolsniff blocklist`` alone (8.1 prints the help and exits 0)."""


class Carried(Exception):
    """An interrupt or OSError carried past click's own handling of them to :func:`run`.

    click answers Ctrl-C with a blank line and "Aborted!" and a broken pipe with status 1;
    ``app`` wraps parsing and invoking in :func:`carry` so that :func:`run` decides instead.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def carry() -> Iterator[None]:
    """Re-raise KeyboardInterrupt, EOFError and OSError as :class:`Carried`."""
    try:
        yield
    except (KeyboardInterrupt, EOFError, OSError) as e:
        raise Carried(e) from e


def run(command: Callable[[], object]) -> int:
    """Run ``command`` (click's ``main`` with ``standalone_mode=False``); return the exit status.

    Every error ends here as at most one line on stderr, never a traceback.
    """
    try:
        try:
            result = command()
        except Carried as carried:
            raise carried.error from None
        status = int(result) if isinstance(result, int) else 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else int(e.code is not None)
    except PoolsniffError as e:
        _say(f"poolsniff: error: {e}")
        status = e.exit_status
    except _NO_ARGS_IS_HELP as e:  # a group without its command: the help, as click shows it
        e.show()
        status = e.exit_code
    except click.UsageError as e:
        where = f"; see {e.ctx.command_path} --help" if e.ctx is not None else ""
        _say(f"poolsniff: error: {e.format_message().rstrip('.')}{where}")
        status = e.exit_code
    except click.ClickException as e:
        _say(f"poolsniff: error: {e.format_message()}")
        status = e.exit_code
    except (KeyboardInterrupt, EOFError, click.Abort):
        _say("poolsniff: interrupted")
        status = ExitStatus.INTERRUPTED
    except OSError as e:
        return _os_error(e)
    try:
        sys.stdout.flush()
    except OSError as e:
        return _os_error(e)
    return status


def _os_error(error: OSError) -> int:
    """A write that failed where no command turned it into an OutputError: stdout, as a rule."""
    _silence(sys.stdout)
    if isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE:
        return ExitStatus.BROKEN_PIPE
    where = error.filename or "stdout"
    reason = error.strerror or os.strerror(error.errno or 0)
    _say(f"poolsniff: error: {where}: cannot write: {reason}")
    return ExitStatus.OUTPUT_ERROR


def _say(line: str) -> None:
    """One line on stderr; if stderr itself is gone there is no one to tell."""
    try:
        click.echo(line, err=True)
    except OSError:
        _silence(sys.stderr)


def _silence(stream: object) -> None:
    """Point a failed standard stream at /dev/null, so the interpreter's last flush cannot fail."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass
