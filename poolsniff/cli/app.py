"""The command line: a thin click layer over the pipeline (entry layer; the only click user).

``poolsniff scan PATH...`` picks the source (capture files) and the sink (EVE JSON lines),
runs the pipeline, and maps errors to exit statuses. Everything it does is callable from
Python through ``poolsniff.run.scan``.

Each command imports the machinery it uses when it runs, not when this module is imported:
``poolsniff scan`` does not pay for the updater, the reports, live capture or the process
pool, and ``--help`` and ``--version`` need none of them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from poolsniff import __version__
from poolsniff.errors import (
    BlocklistError,
    CaptureError,
    ConfigError,
    InputError,
    OutputError,
    PoolsniffError,
)
from poolsniff.intel.export import FORMATS as EXPORT_FORMATS
from poolsniff.intel.lists import CATEGORIES
from poolsniff.report.render import FORMATS as REPORT_FORMATS

if TYPE_CHECKING:
    from poolsniff.intel.store import Active
    from poolsniff.output.stage import Outputs, RecordWriter
    from poolsniff.output.transports.jsonl import JsonlWriter
    from poolsniff.run.scan import FileScans, ScanResult


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


def _fail(message: str, status: ExitStatus) -> NoReturn:
    click.echo(f"poolsniff: error: {message}", err=True)
    sys.exit(int(status))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="poolsniff")
def main() -> None:
    """Find cryptocurrency miners in network traffic and write Suricata EVE alerts."""


@contextmanager
def _writer(output: str | None) -> Iterator[JsonlWriter]:
    from poolsniff.output.transports.jsonl import JsonlWriter

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


# --------------------------------------------------------------------------- config file, outputs


def _apply_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """The settings of the config file become the defaults of this command's options."""
    from poolsniff.cli.settings import find_config, load_config

    path = find_config(value, os.environ)
    if path is None:
        return
    try:
        settings = load_config(path).settings(ctx.command.name)
    except ConfigError as e:
        _fail(f"{e} (fix the file, or give another with --config)", ExitStatus.USAGE)
    names = {opt: p.name for p in ctx.command.params for opt in p.opts}
    ctx.default_map = {names[f"--{k}"]: v for k, v in settings.items() if f"--{k}" in names}


_config_option = click.option(
    "--config", metavar="FILE", is_eager=True, expose_value=False, callback=_apply_config,
    help="Settings file (default: /etc/poolsniff/poolsniff.yaml, else ~/.config/poolsniff/poolsniff.yaml).",
)  # fmt: skip
SINK_OPTIONS = (
    ("--suppress", "DURATION", "One alert per host, pool and signature per DURATION (30s, 10m, 1h, 1d)."),
    ("--syslog", "URL", "Also send alerts to syslog (RFC 5424): udp://host:514 or tcp://host:601."),
    ("--redis", "URL", "Also XADD alerts to a Redis stream: redis://[:password@]host:6379/0."),
    ("--redis-stream", "NAME", "The Redis stream to add to (default: poolsniff)."),
    ("--metrics", "FILE", "Keep Prometheus counters in FILE (for node_exporter's textfile collector)."),
    ("--metrics-interval", "DURATION", "How often --metrics FILE is rewritten (default: 60s)."),
)


def _sink_options(command: Callable[..., None]) -> Callable[..., None]:
    for flag, metavar, text in reversed(SINK_OPTIONS):
        command = click.option(flag, metavar=metavar, help=text)(command)
    return _config_option(command)


def _warn(line: str) -> None:
    click.echo(line, err=True)


@contextmanager
def _outputs(primary: JsonlWriter, sinks: dict[str, Any], active: Active) -> Iterator[Outputs]:
    from poolsniff.intel.store import lists_updated
    from poolsniff.output.stage import open_outputs

    try:
        outputs = open_outputs(primary, warn=_warn, blocklist_updated=lists_updated(active.files), **sinks)
    except ConfigError as e:
        _fail(str(e), ExitStatus.USAGE)
    except OutputError as e:
        _fail(str(e), ExitStatus.OUTPUT_ERROR)
    try:
        yield outputs
    finally:
        try:
            outputs.close()
        except OutputError as e:
            _warn(f"poolsniff: error: {e}")


@main.command(epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", metavar="FILE", help="Append alert lines to FILE instead of stdout.")
@click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE",
    help="Also load this list of pool names / ip:port entries (repeatable).",
)  # fmt: skip
@click.option("--redact", is_flag=True, help="Hide wallets, logins and e-mails in alerts.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@click.option(
    "-j", "--jobs", type=click.IntRange(0), default=0, show_default=True, metavar="N",
    help="Processes: a large capture is split over two, a folder's files spread over N (0: one per CPU; "
    "1: a single process).",
)  # fmt: skip
@_sink_options
def scan(
    paths: tuple[str, ...],
    output: str | None,
    blocklists: tuple[str, ...],
    redact: bool,
    quiet: bool,
    jobs: int,
    **sinks: Any,
) -> None:
    """Scan capture files (pcap, pcapng, gzip) and folders of them for mining traffic.

    Alerts are written as Suricata EVE JSON lines, one per flow and signature.

    \b
    Example:
      poolsniff scan pcaps/ -o alerts.json
    """
    from poolsniff.output.eve import to_eve
    from poolsniff.run.scan import FileScans, ScanResult
    from poolsniff.sources.pcap import expand_paths

    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        files = expand_paths(list(paths))
    except InputError as e:
        _fail(str(e), ExitStatus.INPUT_ERROR)
    active = _active(blocklists)
    lists = active.lists
    total = ScanResult()
    input_errors = 0
    with (
        _writer(output) as jsonl,
        _outputs(jsonl, sinks, active) as writer,
        FileScans(files, lists, to_record=to_eve, redact=redact, jobs=jobs) as scans,
    ):
        for path in files:
            try:
                result = _scan_one(path, scans, writer, quiet)
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
            writer.counters.add(packets=result.packets, flows=result.flows)
    if not quiet:
        secs = time.monotonic() - started
        click.echo(
            f"poolsniff: {len(files)} files, {total.packets} packets, {total.flows} flows, "
            f"{total.alerts} alerts in {secs:.2f} s",
            err=True,
        )
        if total.skipped:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(total.skipped.items()) if v)
            click.echo(f"poolsniff: counters: {counts}", err=True)
    if input_errors:
        sys.exit(int(ExitStatus.INPUT_ERROR))
    sys.exit(int(ExitStatus.ALERTS if total.alerts else ExitStatus.CLEAN))


def _scan_one(path: str, scans: FileScans, writer: Outputs, quiet: bool) -> ScanResult:
    size = os.path.getsize(path)
    progress = _progress(not quiet, size)

    def emit(record: dict[str, Any]) -> None:
        writer.write(record)

    return scans.scan(path, emit=emit, progress=progress)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops a scan like Ctrl-C: alerts found so far are kept."""
    raise KeyboardInterrupt


def _quiet_pipe_exit() -> NoReturn:
    """The reader of stdout went away (``| head``): stop quietly, as cat and grep do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(int(ExitStatus.CLEAN))


SNIFF_EXIT_HELP = """\b
Exit status:
  0    stopped cleanly: SIGINT, SIGTERM, --duration or --count
  2    usage error (bad option, bad blocklist file, unknown --user)
  3    capture cannot start: no such interface, no CAP_NET_RAW, a --bpf that does not compile
  4    output error: alerts could not be written
  130  interrupted while starting
"""


@main.command(epilog=SNIFF_EXIT_HELP)
@click.option(
    "-i", "--interface", "interfaces", multiple=True, required=True, metavar="IFACE",
    help="Capture on this interface (repeatable; one pipeline per interface).",
)  # fmt: skip
@click.option("-o", "--output", metavar="FILE", help="Append alert lines to FILE (reopened on SIGHUP).")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Stop after S seconds."
)
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Stop after N captured packets.")
@click.option("--bpf", metavar="EXPR", help="A tcpdump-style filter, ANDed with the built-in one.")
@click.option(
    "--stats-interval", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="S",
    help="Seconds between stats lines on stderr (0: none).",
)  # fmt: skip
@click.option("--user", metavar="NAME", help="Switch to this user once the capture sockets are open.")
@click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE",
    help="Also load this list of pool names / ip:port entries (repeatable).",
)  # fmt: skip
@click.option("--redact", is_flag=True, help="Hide wallets, logins and e-mails in alerts.")
@_sink_options
def sniff(
    interfaces: tuple[str, ...],
    output: str | None,
    duration: float | None,
    count: int | None,
    bpf: str | None,
    stats_interval: float,
    user: str | None,
    blocklists: tuple[str, ...],
    redact: bool,
    **sinks: Any,
) -> None:
    """Watch network interfaces live (a gateway sensor) and write alerts as they happen.

    Alerts are the same EVE lines as scan writes, with in_iface instead of
    pcap_filename, flushed one by one. SIGINT or SIGTERM stops with a summary,
    SIGHUP reopens the output file. Needs CAP_NET_RAW (root, or see docs/sniff.md).

    \b
    Example:
      poolsniff sniff -i eth1 -o /var/log/poolsniff/alerts.json --user poolsniff
    """
    from poolsniff.intel.store import lists_updated
    from poolsniff.output.stage import open_outputs
    from poolsniff.run.sniff import SniffOptions
    from poolsniff.run.sniff import sniff as run_sniff

    active = _active(blocklists)
    options = SniffOptions(interfaces, output, bpf, duration, count, stats_interval, user, redact)
    updated = lists_updated(active.files)

    def outputs(primary: RecordWriter) -> Outputs:
        return open_outputs(primary, warn=_warn, blocklist_updated=updated, **sinks)

    try:
        run_sniff(options, active.lists, log=lambda line: click.echo(line, err=True), outputs=outputs)
    except CaptureError as e:
        _fail(str(e), ExitStatus.INPUT_ERROR)
    except ConfigError as e:
        _fail(str(e), ExitStatus.USAGE)
    except OutputError as e:
        _fail(str(e), ExitStatus.OUTPUT_ERROR)
    except BrokenPipeError:
        _quiet_pipe_exit()
    except KeyboardInterrupt:
        click.echo("poolsniff: interrupted", err=True)
        sys.exit(int(ExitStatus.INTERRUPTED))
    sys.exit(int(ExitStatus.CLEAN))


# --------------------------------------------------------------------------- blocklist commands

DATA_DIR_HELP = (
    "Data directory of updated lists (default: $POOLSNIFF_DATA_DIR, else "
    "$XDG_DATA_HOME/poolsniff or ~/.local/share/poolsniff)."
)


_list_files = click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE", help="Also load this list (repeatable)."
)
_data_dir_option = click.option("--data-dir", metavar="DIR", help=DATA_DIR_HELP)


def _data_dir(option: str | None) -> Path:
    from poolsniff.intel.store import resolve_data_dir

    return resolve_data_dir(option, os.environ)


def _active(extra: tuple[str, ...], data_dir: str | None = None) -> Active:
    from poolsniff.intel.store import load_active

    folder = _data_dir(data_dir)
    try:
        return load_active(folder, list(extra))
    except BlocklistError as e:
        if e.source.startswith(str(folder)):
            hint = f"run `poolsniff blocklist update` again, or delete {folder / 'lists'}"
            _fail(f"{e} ({hint})", ExitStatus.USAGE)
        _fail(f"{e} (fix the line or drop the file from --blocklist)", ExitStatus.USAGE)
    except PoolsniffError as e:
        _fail(f"{e} (fix the line or drop the file from --blocklist)", ExitStatus.USAGE)


@main.group("blocklist")
def blocklist_group() -> None:
    """Check, list, update and export the mining-pool blocklists.

    The lists written by `blocklist update` into the data directory are used when present,
    the shipped ones otherwise; the shipped allowlist always applies.
    """


@blocklist_group.command("check", short_help="Say whether names are listed, and by what.")
@click.argument("names", nargs=-1, required=True)
@_list_files
@_data_dir_option
def blocklist_check(names: tuple[str, ...], blocklists: tuple[str, ...], data_dir: str | None) -> None:
    """Say for each NAME (host name or ip:port) whether it is listed, and by what.

    \b
    Exit status: 0 when every NAME is listed, 1 when any is not, 2 on a bad list file.
    Example:
      poolsniff blocklist check pool.supportxmr.com binance.com 94.23.251.22:3333
    """
    from poolsniff.intel.query import Explainer

    explainer = Explainer(_active(blocklists, data_dir).lists)
    verdicts = [explainer.explain(name) for name in names]
    for verdict in verdicts:
        click.echo(verdict.line())
    listed = all(v.listed is not None for v in verdicts)
    sys.exit(int(ExitStatus.CLEAN if listed else ExitStatus.ALERTS))


@blocklist_group.command("list", short_help="Show the lists in use, their sources and age.")
@_list_files
@_data_dir_option
def blocklist_list(blocklists: tuple[str, ...], data_dir: str | None) -> None:
    """Show the lists in use: entries per list and per source, origin and age."""
    from poolsniff.intel.query import describe
    from poolsniff.intel.store import cached_copies

    folder = _data_dir(data_dir)
    active = _active(blocklists, data_dir)
    for line in describe(active, cached_copies(folder), str(folder), time.time()):
        click.echo(line)


@blocklist_group.command("update", short_help="Fetch upstream lists and re-curate.")
@click.option("--sources", "sources_file", metavar="FILE", help="Sources YAML (default: the shipped one).")
@_data_dir_option
@click.option("--offline", is_flag=True, help="Re-curate from the cached copies; no network access.")
@click.option("--allow-http", is_flag=True, help="Allow plain http:// sources (https only by default).")
def blocklist_update(sources_file: str | None, data_dir: str | None, offline: bool, allow_http: bool) -> None:
    """Download the upstream lists, check them, and re-curate the blocklists.

    Each source that fails keeps its last good copy; the report says per source: updated,
    unchanged, offline or failed, and why. The Public Suffix List is refreshed too.

    \b
    Exit status: 0 (also when some sources failed), 2 bad sources file, 4 data dir not writable.
    """
    from poolsniff.cli.settings import default_sources_path, load_sources
    from poolsniff.intel.update.refresh import Options as UpdateOptions
    from poolsniff.intel.update.refresh import update as run_update

    try:
        doc = load_sources(sources_file or default_sources_path())
    except ConfigError as e:
        _fail(str(e), ExitStatus.USAGE)
    folder = _data_dir(data_dir)
    try:
        report = run_update(doc, folder, UpdateOptions(offline=offline, allow_http=allow_http))
    except OutputError as e:
        _fail(str(e), ExitStatus.OUTPUT_ERROR)
    except PoolsniffError as e:
        _fail(str(e), ExitStatus.USAGE)
    for result in [*report.sources, *([report.psl] if report.psl else [])]:
        click.echo(result.line())
    for change in report.lists:
        click.echo(f"{change.category:<9} {change.entries:>6} entries  (+{change.added} -{change.removed})")
    if report.lists:
        click.echo(f"lists written to {report.folder}")
    else:
        click.echo("no usable source copy: the lists in use were left as they are")
    if report.failed():
        click.echo(f"poolsniff: warning: {len(report.failed())} source(s) failed; see above", err=True)


@blocklist_group.command("export", short_help="Write the lists for a resolver or an IDS.")
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS), help="Output syntax.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option(
    "--category", "categories", multiple=True, type=click.Choice(CATEGORIES),
    help="Export only this list (repeatable; default: all four block lists).",
)  # fmt: skip
@_list_files
@_data_dir_option
def blocklist_export(
    fmt: str,
    output: str | None,
    categories: tuple[str, ...],
    blocklists: tuple[str, ...],
    data_dir: str | None,
) -> None:
    """Write the block lists for a resolver (hosts, dnsmasq, unbound, rpz, adblock) or an IDS.

    \b
    For suricata-dataset, -o FILE also writes the rules that load it to FILE's .rules sibling.
    Examples:
      poolsniff blocklist export --format dnsmasq -o /etc/dnsmasq.d/poolsniff.conf
      poolsniff blocklist export --format suricata-dataset -o poolsniff-pools.lst
    """
    from poolsniff.intel.export import DATASET_NAME, export, suricata_rules
    from poolsniff.intel.store import write_atomic

    lists = _active(blocklists, data_dir).lists
    text = export(lists, fmt, categories=categories or CATEGORIES, serial=int(time.time()))
    rules = suricata_rules(Path(output).name if output else f"{DATASET_NAME}.lst")
    if output is None:
        click.echo(text, nl=False)
        if fmt == "suricata-dataset":
            hint = f"poolsniff: save this as {DATASET_NAME}.lst and load it with:\n{rules}"
            click.echo(hint, err=True, nl=False)
        return
    try:
        write_atomic(Path(output), text.encode())
        if fmt == "suricata-dataset":
            write_atomic(Path(output).with_suffix(".rules"), rules.encode())
    except OSError as e:
        _fail(f"{output}: cannot write: {e.strerror}", ExitStatus.OUTPUT_ERROR)


# --------------------------------------------------------------------------- report, config check

REPORT_EXIT_HELP = """\b
Exit status:
  0    report written
  3    input error: no such file, a line that is not EVE JSON (named file:line)
  4    output error: the report could not be written
"""


@main.command(epilog=REPORT_EXIT_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), default="table", show_default=True,
    help="table (plain text that fits the terminal), json, csv, or html (one self-contained page).",
)  # fmt: skip
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def report(files: tuple[str, ...], fmt: str, output: str | None, quiet: bool) -> None:
    """Summarise EVE alert files per host: who has been mining, when, with which pools.

    Reads alert lines as scan and sniff write them (plain or gzip; - is stdin); other event
    types and non-mining alerts are skipped, so a Suricata eve.json works too.

    \b
    Examples:
      poolsniff report /var/log/poolsniff/alerts.json*
      poolsniff report alerts.json --format html -o miners.html
    """
    from poolsniff.intel.store import write_atomic
    from poolsniff.report.render import render
    from poolsniff.report.summary import ReadStats, summarise_files

    stats = ReadStats()
    try:
        hosts = summarise_files(files, stats)
    except InputError as e:
        _fail(str(e), ExitStatus.INPUT_ERROR)
    width = shutil.get_terminal_size().columns if output is None and sys.stdout.isatty() else 1 << 20
    text = render(hosts, fmt, width=width, inputs=files)
    try:
        if output is None:
            click.echo(text, nl=False)
        else:
            write_atomic(Path(output), text.encode())
    except BrokenPipeError:
        _quiet_pipe_exit()
    except OSError as e:
        _fail(f"{output or 'stdout'}: cannot write the report: {e.strerror}", ExitStatus.OUTPUT_ERROR)
    if not quiet:
        summary = f"{len(files)} files, {stats.lines} lines, {stats.alerts} mining alerts, {len(hosts)} hosts"
        click.echo(f"poolsniff: {summary}", err=True)


@main.group("config")
def config_group() -> None:
    """Check the settings file that scan and sniff read (poolsniff.yaml)."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path())
def config_check(file: str | None) -> None:
    """Validate FILE (default: the file scan and sniff would read) and print its settings.

    \b
    Exit status: 0 valid; 2 invalid (the error names file:line) or no file found.
    """
    from poolsniff.cli.settings import config_candidates, find_config, load_config

    path = find_config(file, os.environ)
    if path is None:
        places = " or ".join(config_candidates(os.environ))
        _fail(f"no settings file: none at {places}; name one: poolsniff config check FILE", ExitStatus.USAGE)
    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e), ExitStatus.USAGE)
    for key, value in config.settings().items():
        click.echo(f"{key}: {', '.join(value) if isinstance(value, tuple) else value}")
    click.echo(f"poolsniff: {path}: ok, {len(config.given)} settings", err=True)


def _version_everywhere(group: click.Group) -> None:
    """``--version`` works on every command, as ``--help`` does."""
    for cmd in group.commands.values():
        click.version_option(__version__, "-V", "--version", prog_name="poolsniff")(cmd)
        if isinstance(cmd, click.Group):
            _version_everywhere(cmd)


_version_everywhere(main)
