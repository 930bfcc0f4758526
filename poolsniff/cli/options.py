"""Options and helpers shared by several commands (entry layer).

The settings file (``--config``), the output stage's options (``--suppress``, ``--syslog``,
``--redis``, ``--metrics``…), the list options (``--blocklist``, ``--data-dir``), and the opening
of the EVE writer and the outputs around it. Machinery is imported when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from poolsniff.errors import BlocklistError, ConfigError, OutputError, PoolsniffError
from poolsniff.output.options import Option
from poolsniff.output.stage import OPTIONS as OUTPUT_OPTIONS

if TYPE_CHECKING:
    from poolsniff.confirm.worker import AlertConfirmer
    from poolsniff.intel.lists import Blocklist
    from poolsniff.intel.store import Active
    from poolsniff.output.stage import Outputs
    from poolsniff.output.transports.jsonl import JsonlWriter


def warn(line: str) -> None:
    """Print one line on stderr."""
    click.echo(line, err=True)


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
        raise ConfigError(f"{e} (fix the file, or give another with --config)") from e
    names = {opt: p.name for p in ctx.command.params for opt in p.opts}
    ctx.default_map = {names[f"--{k}"]: v for k, v in settings.items() if f"--{k}" in names}


config_option = click.option(
    "--config", metavar="FILE", is_eager=True, expose_value=False, callback=_apply_config,
    help="Settings file (default: /etc/poolsniff/poolsniff.yaml, else ~/.config/poolsniff/poolsniff.yaml).",
)  # fmt: skip
if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]  # generic from click 8.2 on
else:
    _ParamType = click.ParamType


class _Parsed(_ParamType):
    """The value of an output stage option, converted by the parser that option declares."""

    def __init__(self, option: Option) -> None:
        self.option, self.name = option, option.metavar.lower()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Convert the text (or a settings-file value, already converted: the parsers take it again)."""
        try:
            return self.option.parse(str(value))
        except ValueError as e:
            raise ConfigError(f"{self.option.flag}: {e}") from e


def sink_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the output stage's options, as the stage declares them, and ``--config`` to ``command``."""
    for option in reversed(OUTPUT_OPTIONS):
        declared = click.option(option.flag, metavar=option.metavar, type=_Parsed(option), help=option.help)
        command = declared(command)
    return config_option(command)


@contextmanager
def writer(output: str | None) -> Iterator[JsonlWriter]:
    """The EVE JSON lines writer of ``scan``: appending to ``output``, or stdout."""
    from poolsniff.output.transports.jsonl import JsonlWriter

    # a file of a scan: the lines between two alerts go out together (``hold_others``)
    jsonl = JsonlWriter.open_path(output, hold_others=True) if output else JsonlWriter(sys.stdout, "stdout")
    with _closing(jsonl.close):
        yield jsonl


@contextmanager
def outputs(primary: JsonlWriter, sinks: dict[str, Any], active: Active) -> Iterator[Outputs]:
    """The output stage (suppression, syslog, Redis, metrics) around ``primary``."""
    from poolsniff.intel.store import lists_updated
    from poolsniff.output.stage import open_outputs

    opened = open_outputs(
        primary, warn=warn, blocklist_updated=lists_updated(active.files), data_dir=data_dir(None), **sinks
    )
    with _closing(opened.close):
        yield opened


@contextmanager
def _closing(close: Callable[[], None]) -> Iterator[None]:
    """Call ``close`` after the block; if the block failed, its error is the one that counts."""
    try:
        yield
    except BaseException:
        try:
            close()
        except (OSError, OutputError):
            pass
        raise
    close()


# --------------------------------------------------------------------------- lists

DATA_DIR_HELP = (
    "Data directory of updated lists (default: $POOLSNIFF_DATA_DIR, else "
    "$XDG_DATA_HOME/poolsniff or ~/.local/share/poolsniff)."
)
BLOCKLIST_HELP = "Also load this list of pool names / ip:port entries (repeatable)."

def output_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output FILE``; ``-`` means standard output, as in tcpdump's and tshark's ``-w -`` (it
    used to create a file named ``-``)."""
    return click.option(
        "-o", "--output", metavar="FILE", callback=_dash_is_stdout, help=f"{help_text} (- is stdout)."
    )


def _dash_is_stdout(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    return None if value == "-" else value


blocklist_option = click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE", help=BLOCKLIST_HELP
)
list_files_option = click.option(
    "--blocklist", "blocklists", multiple=True, metavar="FILE", help="Also load this list (repeatable)."
)
data_dir_option = click.option("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
redact_option = click.option("--redact", is_flag=True, help="Hide wallets, logins and e-mails in alerts.")
pool_side_option = click.option(
    "--pool-side-alerts", is_flag=True,
    help="Also alert on the pool side of a session whose miner side alerted (default: it goes into the "
    "miner's alert as pool_signature_id).",
)  # fmt: skip


def data_dir(option: str | None) -> Path:
    """The data directory: ``--data-dir``, else the environment's."""
    from poolsniff.intel.store import resolve_data_dir

    return resolve_data_dir(option, os.environ)


def active(extra: tuple[str, ...], data_dir_option: str | None = None) -> Active:
    """The lists in use: the data directory's or the shipped ones, and ``--blocklist`` files."""
    from poolsniff.intel.store import load_active

    folder = data_dir(data_dir_option)
    try:
        return load_active(folder, list(extra))
    except BlocklistError as e:
        if e.source.startswith(str(folder)):
            hint = f"run `poolsniff blocklist update` again, or delete {folder / 'lists'}"
            raise ConfigError(f"{e} ({hint})") from e
        raise ConfigError(f"{e} (fix the line or drop the file from --blocklist)") from e
    except PoolsniffError as e:  # the file itself: missing, unreadable, not text
        raise ConfigError(f"{e} (check the path, or drop the file from --blocklist)") from e


confirm_option = click.option(
    "--confirm", is_flag=True,
    help="ACTIVE traffic: probe the server of each possible-pool alert with a Stratum hello and add a "
    "confirmed alert (9300301) when it answers with work; rate-limited (see `poolsniff probe`).",
)  # fmt: skip


def confirmer(enabled: bool, lists: Blocklist) -> AlertConfirmer | None:
    """The probe worker of ``--confirm`` (None without it); its log lines go to stderr."""
    if not enabled:
        return None
    from poolsniff.confirm.ledger import Ledger
    from poolsniff.confirm.worker import AlertConfirmer, Confirmer

    return AlertConfirmer(Confirmer(lists, Ledger(data_dir(None))), log=warn)
