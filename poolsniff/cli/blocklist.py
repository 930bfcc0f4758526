"""``poolsniff blocklist check / list / update / export``: the pool lists (entry layer).

Each subcommand is a thin layer over :mod:`poolsniff.intel`: ``query`` explains a verdict and
describes the lists, ``update.refresh`` re-curates them, ``export`` writes them for resolvers and IDSs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from poolsniff.cli.exits import ExitStatus
from poolsniff.cli.options import active, data_dir, data_dir_option, list_files_option, output_option
from poolsniff.errors import OutputError
from poolsniff.intel.export import FORMATS as EXPORT_FORMATS
from poolsniff.intel.lists import CATEGORIES


@click.group("blocklist")
def blocklist_group() -> None:
    """Check, list, update and export the mining-pool blocklists.

    The lists written by `blocklist update` into the data directory are used when present,
    the shipped ones otherwise; the shipped allowlist always applies.
    """


@blocklist_group.command("check", short_help="Say whether names are listed, and by what.")
@click.argument("names", nargs=-1, required=True)
@list_files_option
@data_dir_option
def blocklist_check(names: tuple[str, ...], blocklists: tuple[str, ...], data_dir: str | None) -> ExitStatus:
    """Say for each NAME (host name or ip:port) whether it is listed, and by what.

    \b
    Exit status: 0 when every NAME is listed, 1 when any is not, 2 on a bad list file.
    Example:
      poolsniff blocklist check pool.supportxmr.com binance.com 94.23.251.22:3333
    """
    from poolsniff.intel.query import Explainer

    explainer = Explainer(active(blocklists, data_dir).lists)
    verdicts = [explainer.explain(name) for name in names]
    for verdict in verdicts:
        click.echo(verdict.line())
    listed = all(v.listed is not None for v in verdicts)
    return ExitStatus.CLEAN if listed else ExitStatus.ALERTS


@blocklist_group.command("list", short_help="Show the lists in use, their sources and age.")
@list_files_option
@data_dir_option
def blocklist_list(blocklists: tuple[str, ...], data_dir: str | None) -> None:
    """Show the lists in use: entries per list and per source, origin and age."""
    from poolsniff.intel.query import describe
    from poolsniff.intel.store import cached_copies

    folder = _data_dir(data_dir)
    lists_in_use = active(blocklists, data_dir)
    for line in describe(lists_in_use, cached_copies(folder), str(folder), time.time()):
        click.echo(line)


@blocklist_group.command("update", short_help="Fetch upstream lists and re-curate.")
@click.option("--sources", "sources_file", metavar="FILE", help="Sources YAML (default: the shipped one).")
@data_dir_option
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

    doc = load_sources(sources_file or default_sources_path())
    report = run_update(doc, _data_dir(data_dir), UpdateOptions(offline=offline, allow_http=allow_http))
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
@output_option("Write to FILE instead of stdout")
@click.option(
    "--category", "categories", multiple=True, type=click.Choice(CATEGORIES),
    help="Export only this list (repeatable; default: all four block lists).",
)  # fmt: skip
@list_files_option
@data_dir_option
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
    from poolsniff.files import write_atomic
    from poolsniff.intel.export import DATASET_NAME, export, suricata_rules

    lists = active(blocklists, data_dir).lists
    text = export(lists, fmt, categories=categories or CATEGORIES, serial=int(time.time()))
    rules = suricata_rules(Path(output).name if output else f"{DATASET_NAME}.lst")
    if output is None:
        click.echo(text, nl=False)
        if fmt == "suricata-dataset":
            hint = f"poolsniff: save this as {DATASET_NAME}.lst and load it with:\n{rules}"
            click.echo(hint, err=True, nl=False)
        return
    try:
        write_atomic(output, text, parents=True)
        if fmt == "suricata-dataset":
            write_atomic(Path(output).with_suffix(".rules"), rules, parents=True)
    except OSError as e:
        raise OutputError(f"{output}: cannot write: {e.strerror}") from e


_data_dir = data_dir
"""The commands' ``data_dir`` parameter shadows the helper's name inside them."""
