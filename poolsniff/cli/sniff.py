"""``poolsniff sniff``: live interfaces through the pipeline to EVE lines (entry layer).

Parses the options into :class:`poolsniff.run.sniff.SniffOptions` and runs the live sensor
with the lists in use and the output stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from poolsniff.cli.exits import SNIFF_EXIT_HELP
from poolsniff.cli.options import (
    active,
    blocklist_option,
    confirm_option,
    confirmer,
    data_dir,
    output_option,
    pool_side_option,
    redact_option,
    sink_options,
    warn,
)

if TYPE_CHECKING:
    from poolsniff.confirm.worker import AlertConfirmer
    from poolsniff.output.interface import RecordWriter
    from poolsniff.output.stage import Outputs


@click.command(epilog=SNIFF_EXIT_HELP)
@click.option(
    "-i", "--interface", "interfaces", multiple=True, required=True, metavar="IFACE",
    help="Capture on this interface (repeatable; one pipeline per interface).",
)  # fmt: skip
@output_option("Append alert lines to FILE, reopened on SIGHUP, instead of stdout")
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
    "-j", "--jobs", type=click.IntRange(0), default=0, show_default=True, metavar="N",
    help="Capture processes per interface, each with its share of the flows (PACKET_FANOUT; "
    "0: one per CPU; 1: a single process).",
)  # fmt: skip
@click.option(
    "--buffer", "buffer_mib", type=click.IntRange(1, 1023), default=128, show_default=True, metavar="MIB",
    help="Receive buffer of each capture socket, in MiB (the kernel reserves twice that; past "
    "net.core.rmem_max it needs CAP_NET_ADMIN): a larger one absorbs longer bursts.",
)  # fmt: skip
@blocklist_option
@redact_option
@pool_side_option
@confirm_option
@sink_options
def sniff(
    interfaces: tuple[str, ...],
    output: str | None,
    duration: float | None,
    count: int | None,
    bpf: str | None,
    stats_interval: float,
    user: str | None,
    jobs: int,
    buffer_mib: int,
    blocklists: tuple[str, ...],
    redact: bool,
    pool_side_alerts: bool,
    confirm: bool,
    **sinks: Any,
) -> None:
    """Watch network interfaces live (a gateway sensor) and write alerts as they happen.

    Alerts are the same EVE lines as scan writes, with in_iface instead of
    pcap_filename, flushed one by one. SIGINT or SIGTERM stops with a summary,
    SIGHUP reopens the output file. Needs CAP_NET_RAW (root, or see docs/sniff.md).
    With --jobs N, each interface is spread over N capture processes by a flow
    hash (PACKET_FANOUT); every process sees all DNS.

    \b
    Example:
      poolsniff sniff -i eth1 -o /var/log/poolsniff/alerts.json --user poolsniff
    """
    from poolsniff.intel.store import lists_updated
    from poolsniff.output.stage import open_outputs
    from poolsniff.run.sniff import SniffOptions
    from poolsniff.run.sniff import sniff as run_sniff

    lists_in_use = active(blocklists)
    options = SniffOptions(
        interfaces, output, bpf, duration, count, stats_interval, user, redact, not pool_side_alerts, jobs,
        buffer_mib,
    )  # fmt: skip
    updated = lists_updated(lists_in_use.files)
    spools = data_dir(None)  # resolved before --user drops root: the spools go where the lists are

    def outputs(primary: RecordWriter) -> Outputs:
        return open_outputs(primary, warn=warn, blocklist_updated=updated, data_dir=spools, **sinks)

    def prober() -> AlertConfirmer | None:  # made once the capture processes are forked: it is a thread
        return confirmer(confirm, lists_in_use.lists)

    run_sniff(options, lists_in_use.lists, log=warn, outputs=outputs, confirmer=prober)
