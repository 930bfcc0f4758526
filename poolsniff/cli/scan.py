"""``poolsniff scan``: capture files and folders through the pipeline to EVE lines (entry layer).

Picks the source (capture files) and the sink (EVE JSON lines and the output stage), runs
:mod:`poolsniff.run.scan`, and says what it found. Everything it does is callable from Python
through ``poolsniff.run.scan``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from poolsniff.cli.exits import EXIT_HELP, ExitStatus
from poolsniff.cli.options import (
    active,
    blocklist_option,
    confirm_option,
    confirmer,
    output_option,
    outputs,
    pool_side_option,
    redact_option,
    sink_options,
    writer,
)
from poolsniff.counted import counted
from poolsniff.errors import InputError

if TYPE_CHECKING:
    from poolsniff.confirm.worker import AlertConfirmer
    from poolsniff.output.stage import Outputs
    from poolsniff.run.scan import FileScans, ScanResult


@click.command(epilog=EXIT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@output_option("Append alert lines to FILE instead of stdout")
@blocklist_option
@redact_option
@pool_side_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@click.option(
    "-j", "--jobs", type=click.IntRange(0), default=0, show_default=True, metavar="N",
    help="Processes: a large capture is split over two, a folder's files spread over N (0: one per CPU; "
    "1: a single process).",
)  # fmt: skip
@click.option(
    "--strict", is_flag=True,
    help="Exit 3 when any input could not be scanned, even if alerts were found (default: 1 and a warning).",
)  # fmt: skip
@confirm_option
@sink_options
def scan(
    paths: tuple[str, ...],
    output: str | None,
    blocklists: tuple[str, ...],
    redact: bool,
    pool_side_alerts: bool,
    quiet: bool,
    jobs: int,
    strict: bool,
    confirm: bool,
    **sinks: Any,
) -> ExitStatus:
    """Scan capture files (pcap, pcapng; gzip, xz, bzip2, zstd) and folders of them for mining traffic.

    Alerts are written as Suricata EVE JSON lines, one per flow and signature.
    PATH - reads a capture from stdin. A path that cannot be scanned is one error
    line, and the others are still scanned; folders skip files that are not captures.

    \b
    Example:
      poolsniff scan pcaps/ -o alerts.json
    """
    from poolsniff.output.eve import to_eve
    from poolsniff.run.scan import FileScans, ScanResult
    from poolsniff.sources.inputs import gather

    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    inputs = gather(paths)
    for error in inputs.errors:
        click.echo(f"poolsniff: error: {error}", err=True)
    if not inputs.files:  # nothing to scan: no output is opened, -o is not created
        return ExitStatus.INPUT_ERROR
    files = inputs.files
    lists_in_use = active(blocklists)
    lists = lists_in_use.lists
    total = ScanResult()
    input_errors = len(inputs.errors)
    prober = confirmer(confirm, lists)
    with (
        writer(output) as jsonl,
        outputs(jsonl, sinks, lists_in_use) as stage,
        FileScans(
            files, lists, to_record=to_eve, redact=redact, jobs=jobs, fold_pool=not pool_side_alerts
        ) as scans,
    ):
        for path in files:
            try:
                result = _scan_one(path, scans, stage, quiet, prober)
            except InputError as e:  # the other files are still scanned
                click.echo(f"poolsniff: error: {e}", err=True)
                input_errors += 1
                continue
            if result.damage is not None:
                click.echo(f"poolsniff: warning: {result.damage}; alerts before it were kept", err=True)
            total.add(result)
            stage.counters.add(packets=result.packets, flows=result.flows)
        if prober is not None:  # the probes still queued: wait for them, the scan is done
            for record in prober.finish():
                stage.write(record)
            total.alerts += prober.confirmed
        stage.flush()  # suppression's final lines, then the run's counts
        stage.write(_stats(total, stage, time.monotonic() - started))
    if not quiet:
        secs = time.monotonic() - started
        click.echo(
            f"poolsniff: {counted(len(files), 'file')}, {counted(total.packets, 'packet')}, "
            f"{counted(total.flows, 'flow')}, "
            f"{_alerts(total.alerts, stage.counters.written)} in {secs:.2f} s",
            err=True,
        )
        if total.skipped:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(total.skipped.items()) if v)
            click.echo(f"poolsniff: counters: {counts}", err=True)
    return _status(total.alerts, input_errors, len(inputs.errors) + len(files), strict)


def _alerts(found: int, written: int) -> str:
    """``N alerts``, and how many alert lines carry them when suppression folded repeats."""
    if written == found:
        return counted(found, "alert")
    return f"{found} alerts ({written} written, the rest counted in their suppressed_count)"


def _status(alerts: int, input_errors: int, inputs: int, strict: bool) -> ExitStatus:
    """1 when alerts were found, even if some inputs were not scanned (--strict: 3); 3 when
    inputs were not scanned and nothing was found in the others, since that is not "clean"."""
    if not input_errors:
        return ExitStatus.ALERTS if alerts else ExitStatus.CLEAN
    if alerts and not strict:
        click.echo(
            f"poolsniff: warning: {input_errors} of {inputs} inputs could not be scanned (see above); "
            "exit status 1 for the alerts in the others (--strict: 3)",
            err=True,
        )
        return ExitStatus.ALERTS
    return ExitStatus.INPUT_ERROR


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


def _scan_one(
    path: str, scans: FileScans, stage: Outputs, quiet: bool, prober: AlertConfirmer | None
) -> ScanResult:
    size = os.path.getsize(path) if path != "-" else 0
    progress = _progress(not quiet, size)

    def emit(record: dict[str, Any]) -> None:
        stage.write(record)
        if prober is not None:
            prober.offer(record)
            for confirmed in prober.ready():
                stage.write(confirmed)

    # a prober is offered every record: none is taken the short way past it
    take = stage.take if prober is None else None
    take_line = stage.take_line if take is not None and stage.takes_lines else None
    return scans.scan(path, emit=emit, progress=progress, take=take, take_line=take_line)


def _stats(total: ScanResult, stage: Outputs, seconds: float) -> dict[str, Any]:
    """The EVE ``stats`` record that ends a scan."""
    from poolsniff.output.evestats import RunCounts, stats_record

    counts = RunCounts(
        seconds, total.packets, total.flows, total.alerts, stage.counters.suppressed,
        forward_dropped=stage.forward_dropped,
    )  # fmt: skip
    return stats_record(time.time_ns() // 1000, counts)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops a scan like Ctrl-C: alerts found so far are kept."""
    raise KeyboardInterrupt
