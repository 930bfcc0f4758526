"""The command line: a thin click layer over the pipeline (entry layer; the only click user).

``poolsniff scan PATH...`` picks the source (capture files) and the sink (EVE JSON lines),
runs the pipeline, and maps errors to exit statuses. Everything it does is callable from
Python through ``poolsniff.scan``.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import IO, Any, NoReturn

import click

from poolsniff import __version__
from poolsniff.blocklist import Blocklist, load_files, load_shipped
from poolsniff.errors import InputError, OutputError, PoolsniffError
from poolsniff.scan import ScanResult, scan_file
from poolsniff.sinks.eve import to_eve
from poolsniff.sinks.jsonl import JsonlWriter
from poolsniff.sources.pcap import expand_paths


class ExitStatus(IntEnum):
    """Exit statuses, documented in README.md and in ``--help``."""

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


def _fail(message: str, status: ExitStatus) -> NoReturn:
    click.echo(f"poolsniff: error: {message}", err=True)
    sys.exit(int(status))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="poolsniff")
def main() -> None:
    """Find cryptocurrency miners in network traffic and write Suricata EVE alerts."""


def _load_lists(extra: tuple[str, ...]) -> Blocklist:
    try:
        lists = load_shipped()
        if extra:
            load_files(lists, list(extra))
    except PoolsniffError as e:
        _fail(f"{e} (fix the line or drop the file from --blocklist)", ExitStatus.USAGE)
    return lists


@contextmanager
def _writer(output: str | None) -> Iterator[JsonlWriter]:
    try:
        writer = JsonlWriter.open_path(output) if output else JsonlWriter(sys.stdout, "stdout")
    except OutputError as e:
        _fail(str(e), ExitStatus.OUTPUT_ERROR)
    try:
        yield writer
    finally:
        try:
            writer.close()
        except (OutputError, BrokenPipeError):
            pass


def _progress(enabled: bool, total: int) -> Callable[[int], None]:
    """Return a callback taking bytes-read-so-far; draws a bar on a terminal stderr."""
    if not enabled or not sys.stderr.isatty() or total < 8 << 20:
        return lambda _done: None
    bar = click.progressbar(length=total, label="scanning", file=sys.stderr, width=30)
    state = {"done": 0}

    def update(done: int) -> None:
        bar.update(done - state["done"])
        state["done"] = done
        if done >= total:
            bar.render_finish()

    return update


@main.command(epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", metavar="FILE", help="Append alert lines to FILE instead of stdout.")
@click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE",
    help="Also load this list of pool names / ip:port entries (repeatable).",
)  # fmt: skip
@click.option("--redact", is_flag=True, help="Hide wallets, logins and e-mails in alerts.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
def scan(
    paths: tuple[str, ...], output: str | None, blocklists: tuple[str, ...], redact: bool, quiet: bool
) -> None:
    """Scan capture files (pcap, pcapng, gzip) and folders of them for mining traffic.

    Alerts are written as Suricata EVE JSON lines, one per flow and signature.

    \b
    Example:
      poolsniff scan pcaps/ -o alerts.json
    """
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        files = expand_paths(list(paths))
    except InputError as e:
        _fail(str(e), ExitStatus.INPUT_ERROR)
    lists = _load_lists(blocklists)
    total = ScanResult()
    input_errors = 0
    with _writer(output) as writer:
        for path in files:
            try:
                result = _scan_one(path, lists, redact, writer, quiet)
            except InputError as e:
                click.echo(f"poolsniff: error: {e}", err=True)
                input_errors += 1
                continue
            except OutputError as e:
                _fail(str(e), ExitStatus.OUTPUT_ERROR)
            except BrokenPipeError:
                _quiet_pipe_exit()
            except KeyboardInterrupt:
                click.echo("poolsniff: interrupted", err=True)
                sys.exit(int(ExitStatus.INTERRUPTED))
            if result.damage is not None:
                click.echo(f"poolsniff: warning: {result.damage}; alerts before it were kept", err=True)
            total.add(result)
    if not quiet:
        secs = time.monotonic() - started
        click.echo(
            f"poolsniff: {len(files)} files, {total.packets} packets, {total.flows} flows, "
            f"{total.alerts} alerts in {secs:.2f} s",
            err=True,
        )
    if input_errors:
        sys.exit(int(ExitStatus.INPUT_ERROR))
    sys.exit(int(ExitStatus.ALERTS if total.alerts else ExitStatus.CLEAN))


def _scan_one(path: str, lists: Blocklist, redact: bool, writer: JsonlWriter, quiet: bool) -> ScanResult:
    import os

    size = os.path.getsize(path)
    progress = _progress(not quiet, size)

    def emit(record: dict[str, Any]) -> None:
        writer.write(record)

    return scan_file(path, lists, emit=emit, redact=redact, progress=progress, to_record=to_eve)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops a scan like Ctrl-C: alerts found so far are kept."""
    raise KeyboardInterrupt


def _quiet_pipe_exit() -> NoReturn:
    """The reader of stdout went away (``| head``): stop quietly, as cat and grep do."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(int(ExitStatus.CLEAN))


def _stderr() -> IO[str]:
    return sys.stderr
