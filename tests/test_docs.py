"""The README documents every command and option, and every command has help (sqlite-utils style)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from poolsniff.cli import ExitStatus, main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def commands(group: click.Group = main, prefix: str = "poolsniff") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, path)


COMMANDS = list(commands())


def test_readme_starts_with_the_two_setup_commands() -> None:
    head = README[: README.index("## Quick start")]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_documented_and_has_help(path: str, cmd: click.Command) -> None:
    assert cmd.help or cmd.short_help, f"{path} has no help"
    assert path.split(" ", 1)[1] in README, f"{path} is not in README.md"


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_is_documented(path: str, cmd: click.Command) -> None:
    for param in cmd.params:
        if isinstance(param, click.Option):
            longs = [o for o in param.opts if o.startswith("--")]
            assert any(o in README for o in longs), f"{path} {longs} is not in README.md"
            assert param.help, f"{path} {longs} has no help text"


@pytest.mark.parametrize("status", list(ExitStatus))
def test_exit_statuses_are_documented(status: ExitStatus) -> None:
    assert f"| {int(status)} |" in README
