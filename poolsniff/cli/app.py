"""The root of the command line: ``poolsniff`` and its commands (entry layer).

One module per command group (:mod:`~poolsniff.cli.scan`, :mod:`~poolsniff.cli.sniff`,
:mod:`~poolsniff.cli.report`, :mod:`~poolsniff.cli.blocklist`, :mod:`~poolsniff.cli.config`,
:mod:`~poolsniff.cli.probe`)
hangs its commands here; options they share are in :mod:`~poolsniff.cli.options`, the exit
statuses in :mod:`~poolsniff.cli.exits`, whose :func:`~poolsniff.cli.exits.run` turns every
error of every command into one line and a status.

Each command imports the machinery it uses when it runs, not when this module is imported:
``poolsniff scan`` does not pay for the updater, the reports, live capture or the process
pool, and ``--help`` and ``--version`` need none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from poolsniff import __version__, native
from poolsniff.cli.blocklist import blocklist_group
from poolsniff.cli.config import config_group
from poolsniff.cli.exits import EXIT_HELP, carry, run
from poolsniff.cli.probe import probe
from poolsniff.cli.report import report
from poolsniff.cli.scan import scan
from poolsniff.cli.sniff import sniff

VERSION = f"%(prog)s, version %(version)s, {native.describe()}"
"""What ``--version`` says: the version, and whether the hot modules run compiled (``poolsniff.native``)."""


class Poolsniff(click.Group):
    """The root group: parses and invokes as click does, and ends through :func:`exits.run`."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Parse ``args`` (``--help`` and ``--version`` write and exit from here)."""
        with carry():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the command (and any subcommand below it)."""
        with carry():
            return super().invoke(ctx)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run a command line; exit with its status (``standalone_mode=False``: return it)."""
        standalone = extra.pop("standalone_mode", True)
        status = run(lambda: super(Poolsniff, self).main(args, prog_name, standalone_mode=False, **extra))
        if standalone:
            sys.exit(status)
        return status


@click.group(cls=Poolsniff, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_HELP)
@click.version_option(__version__, "-V", "--version", prog_name="poolsniff", message=VERSION)
def main() -> None:
    """Find cryptocurrency miners in network traffic and write Suricata EVE alerts."""


for _command in (scan, sniff, blocklist_group, report, config_group, probe):
    main.add_command(_command)


def _version_everywhere(group: click.Group) -> None:
    """``--version`` works on every command, as ``--help`` does."""
    for cmd in group.commands.values():
        click.version_option(__version__, "-V", "--version", prog_name="poolsniff", message=VERSION)(cmd)
        if isinstance(cmd, click.Group):
            _version_everywhere(cmd)


_version_everywhere(main)
