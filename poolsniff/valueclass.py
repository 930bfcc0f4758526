"""The decorator of the pipeline's value records (layer 0, beside ``model``: imports nothing from poolsniff).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks: every record ``model`` defines

``model`` is compiled (mypyc), and so is every function it defines; ``typing.dataclass_transform``
marks the function it decorates with an attribute, which a compiled function cannot take. So the
decorator lives here, in a module that stays Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def readonly(cls: type[_T]) -> type[_T]:
    """A value class made in bulk: a dataclass, read-only to the type checker but not frozen at run time.

    Events are made for every message a dissector reads (a DNS answer, a Stratum line, an HTTP
    head), and a split scan's front makes an ``Alert`` (and a ``FlowSummary``) of every detection the
    back sends. A frozen dataclass sets each field through ``object.__setattr__`` on the way in,
    compiled or not (interpreted, at a7683cd: 3.6 us to make a DnsMessage against 0.8 us). mypy still
    refuses any assignment to a field (``frozen_default``); the hash is still that of the fields
    (``unsafe_hash``), as a frozen one's.
    """
    return dataclass(unsafe_hash=True)(cls)
