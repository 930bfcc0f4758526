"""The root of the command line: ``poolsniff`` and its commands (entry layer).

One module per command group (:mod:`~poolsniff.cli.scan`, :mod:`~poolsniff.cli.sniff`,
:mod:`~poolsniff.cli.report`, :mod:`~poolsniff.cli.blocklist`, :mod:`~poolsniff.cli.config`)
hangs its commands here; options they share are in :mod:`~poolsniff.cli.options`, the exit
statuses in :mod:`~poolsniff.cli.exits`.

Each command imports the machinery it uses when it runs, not when this module is imported:
``poolsniff scan`` does not pay for the updater, the reports, live capture or the process
pool, and ``--help`` and ``--version`` need none of them.
"""

from __future__ import annotations

import click

from poolsniff import __version__
from poolsniff.cli.blocklist import blocklist_group
from poolsniff.cli.config import config_group
from poolsniff.cli.exits import EXIT_HELP
from poolsniff.cli.report import report
from poolsniff.cli.scan import scan
from poolsniff.cli.sniff import sniff


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="poolsniff")
def main() -> None:
    """Find cryptocurrency miners in network traffic and write Suricata EVE alerts."""


for _command in (scan, sniff, blocklist_group, report, config_group):
    main.add_command(_command)


def _version_everywhere(group: click.Group) -> None:
    """``--version`` works on every command, as ``--help`` does."""
    for cmd in group.commands.values():
        click.version_option(__version__, "-V", "--version", prog_name="poolsniff")(cmd)
        if isinstance(cmd, click.Group):
            _version_everywhere(cmd)


_version_everywhere(main)
