"""Serialise an alerted flow, at its end, as a Suricata EVE ``flow`` record (output layer).

pipeline -> FlowSummary -> **flow_record** -> dict -> EVE writer

When a flow that raised an alert ends (closed, idle, evicted, or the input ends) the pipeline
releases a :class:`~poolsniff.model.FlowSummary`, and this builds Suricata's ``flow`` event from it:
``src`` is the flow's client and ``dest`` its server, as Suricata writes them, so ``toserver`` is
client to server; ``flow_id`` and ``community_id`` are those of the flow's alerts, so the two join.
``flow.start``/``flow.end`` are the times of its first and last packet, ``flow.age`` the whole
seconds between them, ``pkts``/``bytes`` the frames each way (captured bytes, link header
included, as Suricata counts them), ``alerted`` is always true, ``state`` is ``closed`` after FIN
from both sides or a RST and ``established`` otherwise, and ``reason`` is Suricata's: ``timeout``
(closed or idle), ``forced`` (evicted from a full flow table) or ``shutdown`` (end of input).

Suricata's schema has no place for poolsniff's own fields in a flow record, so what the alerts said
about the flow travels as Suricata ``flowbits`` in ``metadata.flowbits`` (beside the record's id in
``metadata.flowvars``, see :mod:`poolsniff.output.eventid`): ``poolsniff.<role>`` for each role its
alerts gave (``miner``, ``pool``, ``infrastructure``, ``client``) and ``poolsniff.miner_is_server``
when the miner is the flow's server (a capture that joined a session in the middle may take the pool
for the client). ``report`` reads them back.
"""

from __future__ import annotations

from typing import Any, Final

from poolsniff.model import FlowSummary
from poolsniff.output.evefields import format_ts
from poolsniff.output.flowids import PROTO_NAMES, ROLE_NAMES, community_id, flow_id

FLOWBIT_PREFIX: Final = "poolsniff."
MINER_IS_SERVER: Final = FLOWBIT_PREFIX + "miner_is_server"
"""The flowbit saying the miner is ``dest``, not ``src``."""


def flowbits(summary: FlowSummary) -> list[str]:
    """The ``metadata.flowbits`` of a flow record: the roles of its alerts, and the miner's side."""
    bits = sorted(FLOWBIT_PREFIX + ROLE_NAMES[role] for role in set(summary.roles))
    if not summary.miner_is_client:
        bits.append(MINER_IS_SERVER)
    return bits


def flow_record(summary: FlowSummary, source_name: str, live: bool = False) -> dict[str, Any]:
    """The EVE ``flow`` record of an alerted flow that ended (keys in Suricata's order)."""
    end = summary.end
    key = end.flow
    proto = key.proto
    pkts_c, pkts_s, bytes_c, bytes_s = end.counts
    record: dict[str, Any] = {
        "timestamp": format_ts(end.ts_us),
        "flow_id": flow_id(key),
        ("in_iface" if live else "pcap_filename"): source_name,
        "event_type": "flow",
        "src_ip": key.client_ip,
        "src_port": key.client_port,
        "dest_ip": key.server_ip,
        "dest_port": key.server_port,
        "proto": PROTO_NAMES.get(proto, str(proto)),
        "community_id": community_id(key.client_ip, key.server_ip, proto, key.client_port, key.server_port),
    }
    if summary.app_proto:
        record["app_proto"] = summary.app_proto
    record["flow"] = {
        "pkts_toserver": pkts_c,
        "pkts_toclient": pkts_s,
        "bytes_toserver": bytes_c,
        "bytes_toclient": bytes_s,
        "start": format_ts(end.start_us),
        "end": format_ts(end.ts_us),
        "age": max(0, end.ts_us - end.start_us) // 1_000_000,
        "state": "closed" if end.closed else "established",
        "reason": end.reason,
        "alerted": True,
    }
    record["metadata"] = {"flowbits": flowbits(summary)}
    return record  # its id comes when the output stage writes it (output/eventid)
