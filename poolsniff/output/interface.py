"""The output stage's protocols: what every output takes, and the one JSON form of a record.

enrichment -> Alert -> to_eve -> record -> **RecordWriter.write** (the stage, a transport)

:class:`RecordWriter` is what every output is to the stage and to the run modes (the JSON-lines
file, the stage wrapped around it, a forwarder); :class:`Forwarder` is an output to a collector.
:func:`encode` is the compact JSON of a record; the stage encodes each record once and hands the
text to every writer (the EVE file and the Redis stream write the same text; syslog writes its own
ASCII-only form, which RFC 5424's MSG needs without a BOM).
"""

from __future__ import annotations

import json
from typing import Any, Final, Protocol

Record = dict[str, Any]
"""An EVE record, as ``output.eve.to_eve`` builds it."""


_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode
"""The encoder, made once (``json.dumps`` with options builds a new one per call)."""


def encode(record: Record) -> str:
    """A record as compact JSON (UTF-8 text, no newline): the form the EVE file and Redis carry."""
    return _COMPACT(record)


class RecordWriter(Protocol):
    """Where EVE records go: the JSON-lines writer, the output stage, or a forwarder."""

    def write(self, record: Record, text: str | None = None) -> None:
        """Write one record; ``text`` is ``encode(record)`` when the caller has made it already."""


class Forwarder(RecordWriter, Protocol):
    """An output to a collector (syslog, Redis), through a spool where the transport allows it."""

    name: str

    @property
    def dropped(self) -> int:
        """Alerts it lost for good (its spool was full, or a UDP send failed)."""

    @property
    def pending(self) -> int:
        """Alerts waiting in its spool for the collector."""

    def close(self) -> None:
        """Close the connection."""
