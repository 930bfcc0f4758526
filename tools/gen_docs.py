"""Write docs/cli.md, the command-line reference, from the click commands themselves (`make docs`).

The reference is every command's and subcommand's ``--help`` text, rendered at a fixed width so
that the file does not depend on the terminal. tests/test_docs.py regenerates it in memory and
fails when the committed file differs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli.md"
WIDTH = 100

HEAD = """# Command-line reference

Generated from the code by `make docs` (`tools/gen_docs.py`); do not edit by hand. The guides
([scanning](scanning.md), [live sensor](sniff.md), [blocklists](blocklists.md), [report](report.md),
[operations](operations.md)) explain each command with examples.
"""


def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> Iterator[tuple[str, str]]:
    """Yield (command path, help text) for ``cmd`` and every subcommand below it, in name order."""
    settings = {**cmd.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(cmd, info_name=path[-1], parent=parent, **settings)
    yield " ".join(path), cmd.get_help(ctx)
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from walk(cmd.commands[name], [*path, name], ctx)


def render() -> str:
    """The whole reference, as Markdown."""
    sys.path.insert(0, str(ROOT))
    from poolsniff.cli import main

    parts = [HEAD]
    for path, text in walk(main, ["poolsniff"], None):
        parts.append(f"## `{path}`\n\n```\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def cli() -> int:
    """Write the reference, or with --check say whether the committed one is current."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is out of date")
    args = ap.parse_args()
    text = render()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print("docs/cli.md is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
