"""Serialise an alert as a Suricata EVE ``alert`` record (sink layer).

enrichment -> Alert -> **to_eve** -> dict -> jsonl writer

Field names and formats follow Suricata's EVE output (``etc/schema.json``): the
timestamp in Suricata's format, ``flow_id``, ``community_id`` (Community ID v1), the
standard ``alert`` object, and the app-layer objects ``dns``/``tls``/``http``.
poolsniff's own evidence goes into ``alert.metadata`` as Suricata-style arrays of strings, with
``event_id``, the record's id for de-duplication, which the output stage adds when it writes the
record (:mod:`poolsniff.output.eventid`).
``src`` is always the miner (or the DNS/TLS client) and ``dest`` the pool (or resolver).
"""

from __future__ import annotations

from typing import Any

from poolsniff.detect.signatures import CATEGORY
from poolsniff.model import Alert, Detection, FlowSummary
from poolsniff.output.evefields import clamp_ts, endpoint, format_ts
from poolsniff.output.eveflow import flow_record
from poolsniff.output.flowids import PROTO_NAMES, ROLE_NAMES, community_id, flow_id


def _oriented(det: Detection) -> tuple[str, int, str, int]:
    f = det.flow
    if det.miner_is_client:
        return f.client_ip, f.client_port, f.server_ip, f.server_port
    return f.server_ip, f.server_port, f.client_ip, f.client_port


def _metadata(det: Detection) -> dict[str, list[str]]:
    """``alert.metadata`` of ``det``'s record, before the output stage adds its id."""
    metadata: dict[str, list[str]] = {"role": [ROLE_NAMES[det.role]]}
    for key, value in sorted(det.evidence.items()):
        metadata[key] = [value]
    if len(det.hits) > 1:  # every list hit on the flow, in parallel arrays
        for key in det.hits[0]:
            metadata[key] = [hit.get(key, "") for hit in det.hits]
    return metadata


def _first(det: Detection, key: str) -> str | None:
    """The first value of ``metadata[key]`` in ``det``'s record (as ``evefields.meta`` reads it back)."""
    value = det.hits[0][key] if len(det.hits) > 1 and key in det.hits[0] else det.evidence.get(key)
    return None if value is None or value == "" else str(value)


SuppressionFacts = tuple[tuple[str, str, int], int, tuple[int, str]]
"""``((host, pool, signature_id), capture time in µs, (signature_id, signature))``."""


def suppression_facts(det: Detection) -> SuppressionFacts:
    """What suppression and the alert counters read from the alert record of ``det``, without making it.

    The same values as ``evefields.host_of``, ``pool_of``, ``record_ts`` and ``signature_of`` give
    for the record (a test holds the two to each other). The output stage folds most alerts of a
    busy miner into a count with these alone, and makes the record only of those it writes
    (``Outputs.take``).
    """
    sig = det.signature
    src_ip, _, dst_ip, dport = _oriented(det)
    pool = _first(det, "pool_host") or _first(det, "pool") or endpoint(dst_ip, dport)
    return (src_ip, pool, sig.sid), clamp_ts(det.ts_us), (sig.sid, sig.msg)


def to_eve(alert: Alert) -> dict[str, Any]:
    """Return the EVE record for ``alert`` (keys in Suricata's order): an ``alert``, or the ``flow``
    record of an alerted flow that ended (:func:`poolsniff.output.eveflow.flow_record`)."""
    det = alert.detection
    if isinstance(det, FlowSummary):
        return flow_record(det, alert.source_name, alert.live)
    sig = det.signature
    src_ip, sport, dst_ip, dport = _oriented(det)
    proto = det.flow.proto
    metadata = _metadata(det)
    record: dict[str, Any] = {
        "timestamp": format_ts(det.ts_us),
        "flow_id": flow_id(det.flow),
        ("in_iface" if alert.live else "pcap_filename"): alert.source_name,
        "event_type": "alert",
        "src_ip": src_ip,
        "src_port": sport,
        "dest_ip": dst_ip,
        "dest_port": dport,
        "proto": PROTO_NAMES.get(proto, str(proto)),
        "community_id": community_id(src_ip, dst_ip, proto, sport, dport),
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": sig.sid,
            "rev": 1,
            "signature": sig.msg,
            "category": CATEGORY,
            "severity": sig.severity,
            "metadata": metadata,
        },
    }
    app_proto = sig.app_proto or next(iter(det.app), "")
    if app_proto:
        record["app_proto"] = app_proto
    for key in ("dns", "tls", "http"):
        if key in det.app:
            record[key] = det.app[key]
    return record
