"""The id each EVE record carries, for consumers to de-duplicate on (output layer).

to_eve / flow_record / confirmed -> [suppress] -> Outputs -> **stamp** -> EVE file, Redis, syslog

Forwarding is at least once (:mod:`poolsniff.output.transports.delivery`): after an outage a
record may reach Redis or syslog twice. Each record therefore carries an id, the same in every
copy, and different for different records:

* an ``alert`` in ``alert.metadata.event_id`` (``["<32 hex digits>"]``, a Suricata-style
  metadata array like every other poolsniff field there);
* a ``flow`` or ``stats`` record in ``metadata.flowvars`` (``[{"event_id": "<32 hex digits>"}]``),
  because Suricata's schema allows no field of poolsniff's own at the top level of a record.

The id is the first 128 bits of the SHA-256 of the record itself (its JSON with sorted keys, the
id left out), not a counter: it is the same for the same input in every run, so ``scan`` output
and the golden files stay stable, and it needs no state, so a restarted ``sniff`` can never
reuse the id of an earlier run's different record. Two records get the same id only when they
are the same in every field (same flow, same capture time to the microsecond, same signature and
evidence): then they are the same alert.

The output stage stamps a record when it writes it (``ensure_id``), not where it is made: most
alerts of a busy miner are folded into a count by suppression and never written, and the id
costs a canonical serialisation and a hash. Suppression gives a changed record no id; the stage
gives it its own. :func:`stamped_text` stamps a record and returns its line in one go; for a
flow record (most of what a scan writes) both JSON texts are written from one set of escaped values
(:func:`poolsniff.output.eveflow.flow_texts`), byte for byte what ``json`` writes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from poolsniff.model import FlowSummary
from poolsniff.output.eveflow import ID_END, flow_record, flow_texts, known_texts, line_only, stamped_line
from poolsniff.output.interface import encode

Record = dict[str, Any]

KEY: Final = "event_id"
_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
"""``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, with the
encoder made once (``dumps`` with options builds a new one per call)."""


def event_id_of(record: Record) -> str:
    """The id of ``record`` (computed, whether or not the record carries one already)."""
    return _digest(_CANONICAL(record if read_event_id(record) is None else without_id(record)))


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def stamped_text(record: Record) -> str:
    """``ensure_id(record)``, then return ``encode(record)``: the line the EVE file carries."""
    texts = flow_texts(record)
    if texts is None:
        return encode(ensure_id(record))
    return _stamped(record, *texts)


def stamped_flow(summary: FlowSummary, source_name: str, live: bool = False) -> tuple[Record, str]:
    """The flow record of ``summary`` stamped with its id, and its line: ``stamped_text`` of
    ``flow_record(summary, source_name, live)``, without reading back the shape it was just made in (in C
    where that was built: ``eveflow.stamped_line``)."""
    made = stamped_line(summary, source_name, live)
    return made if made is not None else _stamped_flow_python(summary, source_name, live)


def flow_line(summary: FlowSummary, source_name: str, live: bool = False) -> str:
    """The line of ``stamped_flow(summary, source_name, live)`` alone: where the line is made in C, the
    record is not made at all (the EVE file takes the line only: ``JsonlWriter.write_line``)."""
    line = line_only(summary, source_name, live)
    return line if line is not None else _stamped_flow_python(summary, source_name, live)[1]


def _stamped_flow_python(summary: FlowSummary, source_name: str, live: bool) -> tuple[Record, str]:
    """``stamped_flow`` the Python way: where the C line is not built or does not write this record."""
    record = flow_record(summary, source_name, live)
    texts = known_texts(record, "in_iface" if live else "pcap_filename", bool(summary.app_proto))
    return record, _stamped(record, *texts)


def _stamped(record: Record, canonical: str, line_head: str) -> str:
    """Stamp a flow record whose texts are ``canonical`` and ``line_head``; return its line."""
    ident = _digest(canonical)
    record["metadata"] = {**record["metadata"], "flowvars": [{KEY: ident}]}
    return line_head + ident + ID_END


def ensure_id(record: Record) -> Record:
    """``record`` stamped if it carries no id yet; unchanged (the same id) if it does."""
    return stamp(record) if read_event_id(record) is None else record


def stamp(record: Record) -> Record:
    """``record`` with its id in place (any id it carried is replaced); the record is changed in place."""
    ident = event_id_of(record)
    alert = record.get("alert")
    if record.get("event_type") == "alert" and isinstance(alert, dict):
        metadata = dict(alert.get("metadata") or {})
        metadata[KEY] = [ident]
        alert["metadata"] = metadata
        return record
    metadata = dict(record.get("metadata") or {})
    flowvars = [v for v in metadata.get("flowvars", []) if KEY not in v]
    metadata["flowvars"] = [*flowvars, {KEY: ident}]
    record["metadata"] = metadata
    return record


def read_event_id(record: Record) -> str | None:
    """The id a record carries, or None."""
    alert = record.get("alert")
    if isinstance(alert, dict):
        value = (alert.get("metadata") or {}).get(KEY)
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
    for var in (record.get("metadata") or {}).get("flowvars", []):
        if isinstance(var, dict) and isinstance(var.get(KEY), str):
            return str(var[KEY])
    return None


def without_id(record: Record) -> Record:
    """A copy of ``record`` without its id (what the id is computed from)."""
    out = dict(record)
    alert = out.get("alert")
    if isinstance(alert, dict) and KEY in (alert.get("metadata") or {}):
        metadata = {k: v for k, v in alert["metadata"].items() if k != KEY}
        out["alert"] = {**alert, "metadata": metadata}
    top = out.get("metadata")
    if isinstance(top, dict) and "flowvars" in top:
        flowvars = [v for v in top["flowvars"] if not (isinstance(v, dict) and KEY in v)]
        rest = {k: v for k, v in top.items() if k != "flowvars"}
        if flowvars:
            rest["flowvars"] = flowvars
        if rest:
            out["metadata"] = rest
        else:
            del out["metadata"]
    return out
