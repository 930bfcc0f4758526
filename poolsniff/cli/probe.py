"""``poolsniff probe HOST:PORT...``: ask servers whether they are mining pools (entry layer).

ACTIVE traffic: this connects to each endpoint (``poolsniff.confirm``), within the probe rules:
never an endpoint or name on the allowlist, one probe per endpoint per day and a cap per hour
(kept in the data directory), one connection at a time. One line per endpoint, or ``--json``.
"""

from __future__ import annotations

import json

import click

from poolsniff.cli.exits import PROBE_EXIT_HELP, ExitStatus
from poolsniff.cli.options import active, blocklist_option, data_dir_option
from poolsniff.cli.options import data_dir as data_folder


@click.command(epilog=PROBE_EXIT_HELP, short_help="Ask servers whether they are mining pools (active).")
@click.argument("endpoints", nargs=-1, required=True, metavar="HOST:PORT...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per endpoint on stdout.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True, max=60), default=5.0, show_default=True,
    metavar="S", help="Seconds to connect, and again to wait for each reply.",
)  # fmt: skip
@blocklist_option
@data_dir_option
def probe(
    endpoints: tuple[str, ...],
    as_json: bool,
    timeout: float,
    blocklists: tuple[str, ...],
    data_dir: str | None,
) -> ExitStatus:
    """Ask each HOST:PORT whether it is a mining pool. ACTIVE: this connects to the servers.

    Sends the first line a miner sends (a CryptoNote login with a dummy wallet, a Stratum
    mining.subscribe, an eth-proxy eth_submitLogin), plain and then over TLS (the certificate is
    not verified, only named), and says what answered: a job, a subscribe result, an eth-proxy
    login, or not mining. Nothing is mined: no share is ever submitted.

    \b
    Rules (also for scan/sniff --confirm): never an endpoint or name on the allowlist; one probe
    per endpoint per day and 10 per hour in all, kept in the data directory (probes.json); one
    connection at a time.
    Example:
      poolsniff probe 203.0.113.7:443 pool.example.com:3333 --json
    """
    from poolsniff.confirm.ledger import Ledger
    from poolsniff.confirm.probe import Status
    from poolsniff.confirm.target import parse_target
    from poolsniff.confirm.worker import Confirmer
    from poolsniff.errors import ConfigError, OutputError

    try:
        targets = [parse_target(text) for text in endpoints]
    except ValueError as e:
        raise ConfigError(str(e)) from None
    confirmer = Confirmer(active(blocklists, data_dir).lists, Ledger(data_folder(data_dir)), timeout=timeout)
    found = False
    for target in targets:
        try:
            result = confirmer.confirm(target)
        except OutputError as e:
            raise OutputError(f"{e} (give a writable --data-dir)") from e
        found |= result.status is Status.MINING
        if as_json:
            click.echo(json.dumps(result.as_dict(), sort_keys=True))
        else:
            click.echo(result.line())
    return ExitStatus.ALERTS if found else ExitStatus.CLEAN
