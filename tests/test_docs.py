"""The docs document every command and option, every command has help (sqlite-utils style), the
README is a front page whose links all resolve, and the generated CLI reference is current."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from poolsniff.cli import main
from poolsniff.cli.exits import ExitStatus

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
GUIDES = sorted((ROOT / "docs").glob("*.md"))
DOCS = README + "".join(p.read_text() for p in GUIDES)
"""The README and the user guide in docs/, read as one text."""


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
    assert path.split(" ", 1)[1] in DOCS, f"{path} is not in README.md or docs/"


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_is_documented(path: str, cmd: click.Command) -> None:
    for param in cmd.params:
        if isinstance(param, click.Option):
            longs = [o for o in param.opts if o.startswith("--")]
            assert any(o in DOCS for o in longs), f"{path} {longs} is not in README.md or docs/"
            assert param.help, f"{path} {longs} has no help text"


@pytest.mark.parametrize("status", list(ExitStatus))
def test_exit_statuses_are_documented(status: ExitStatus) -> None:
    assert f"| {int(status)} |" in README


def test_readme_is_a_front_page() -> None:
    """The details live in docs/; the README stays short enough to read in one go."""
    assert len(README.splitlines()) <= 200


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "SECURITY.md", *GUIDES], ids=lambda p: p.name)
def test_every_cited_document_exists(page: Path) -> None:
    """Every relative Markdown link, from the README and every guide, names a file of this repository."""
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_cli_reference_is_current() -> None:
    """docs/cli.md is what `make docs` writes from the code; a changed option means `make docs`."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_metadata_key_written_is_explained() -> None:
    """docs/alert-fields.md lists what the code writes; each metadata key must be explained in the guide."""
    generated = (ROOT / "docs" / "alert-fields.md").read_text()
    keys = sorted(set(re.findall(r"^\| `alert\.metadata\.([a-z_0-9]+)`", generated, re.M)))
    assert keys, "no metadata key in docs/alert-fields.md"
    guide = (ROOT / "docs" / "alerts.md").read_text()
    missing = [key for key in keys if f"`{key}`" not in guide]
    assert not missing, f"alert.metadata keys written but not explained in docs/alerts.md: {missing}"


def test_every_signature_is_in_the_guide() -> None:
    from poolsniff.detect.signatures import ALL

    guide = (ROOT / "docs" / "alerts.md").read_text()
    assert [s.sid for s in ALL if str(s.sid) not in guide] == []
