"""``poolsniff config check``: validate the settings file scan and sniff read (entry layer).

The file itself (its keys, their kinds, where it is looked for) is :mod:`poolsniff.cli.settings`.
"""

from __future__ import annotations

import os

import click

from poolsniff.errors import ConfigError


@click.group("config")
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
        raise ConfigError(f"no settings file: none at {places}; name one: poolsniff config check FILE")
    config = load_config(path)
    for key, value in config.settings().items():
        click.echo(f"{key}: {', '.join(value) if isinstance(value, tuple) else value}")
    click.echo(f"poolsniff: {path}: ok, {len(config.given)} settings", err=True)
