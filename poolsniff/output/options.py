"""The output stage's options, each declared once by the module that uses it (output layer).

enrichment -> to_eve -> output stage (suppression, syslog, Redis, metrics) -> ...

As mitmproxy's addons declare their options, :mod:`~poolsniff.output.suppress`,
:mod:`~poolsniff.output.transports.syslog`, :mod:`~poolsniff.output.transports.redis` and
:mod:`~poolsniff.output.metrics` each declare theirs as :class:`Option` values in ``OPTIONS``,
and :data:`poolsniff.output.stage.OPTIONS` lists them in order. Everything else derives from
that declaration: the click options of ``scan`` and ``sniff`` (``cli/options.py``), the keys
of the settings file and what ``config check`` accepts (``cli/settings.py``), and the table of
them in docs/operations.md (``make docs``). A new output setting is one more ``Option``.

``parse`` turns the text of the option (or of the settings file's value) into the value
:func:`~poolsniff.output.stage.open_outputs` takes, and raises ``ValueError`` saying what is
wrong; it accepts its own output again (``"600"`` for a parsed ``10m``), so that a value read
from the settings file goes through the option's conversion unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One setting of the output stage: ``--key`` on the command line, ``key:`` in poolsniff.yaml."""

    key: str
    metavar: str
    help: str
    parse: Callable[[str], Any]
    kind: str
    """What the settings file takes, in words for the docs (a ``path`` is relative to the file)."""

    @property
    def flag(self) -> str:
        """The command-line option."""
        return f"--{self.key}"

    @property
    def name(self) -> str:
        """The keyword of :func:`~poolsniff.output.stage.open_outputs`."""
        return self.key.replace("-", "_")


def nonempty(value: str) -> str:
    """A non-empty string, as it is."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def checked(parse: Callable[[str], object]) -> Callable[[str], str]:
    """A parser that checks ``value`` with ``parse`` and keeps the text (a URL stays a URL)."""

    def check(value: str) -> str:
        parse(nonempty(value))
        return nonempty(value)

    return check
