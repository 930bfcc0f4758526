"""``poolsniff report``: EVE alert files summarised per host (entry layer).

Reads the files with :mod:`poolsniff.report.summary` and renders them with
:mod:`poolsniff.report.render` as a table, JSON, CSV or HTML.
"""

from __future__ import annotations

import shutil
import sys

import click

from poolsniff.cli.exits import REPORT_EXIT_HELP
from poolsniff.cli.options import output_option
from poolsniff.counted import counted
from poolsniff.errors import OutputError
from poolsniff.report.render import FORMATS as REPORT_FORMATS


@click.command(epilog=REPORT_EXIT_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), default="table", show_default=True,
    help="table (plain text that fits the terminal), json, csv, or html (one self-contained page).",
)  # fmt: skip
@output_option("Write the report to FILE instead of stdout")
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
    from poolsniff.files import write_atomic
    from poolsniff.report.render import render
    from poolsniff.report.summary import ReadStats, summarise_files

    stats = ReadStats()
    hosts = summarise_files(files, stats)
    width = shutil.get_terminal_size().columns if output is None and sys.stdout.isatty() else 1 << 20
    text = render(hosts, fmt, width=width, inputs=files)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            write_atomic(output, text, parents=True)
        except OSError as e:
            raise OutputError(f"{output}: cannot write the report: {e.strerror}") from e
    if not quiet:
        summary = (
            f"{counted(len(files), 'file')}, {counted(stats.lines, 'line')}, "
            f"{counted(stats.alerts, 'mining alert')}, {counted(stats.flows, 'flow record')}, "
            f"{counted(len(hosts), 'host')}"
        )
        click.echo(f"poolsniff: {summary}", err=True)
