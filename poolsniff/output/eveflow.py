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

:func:`flow_texts` writes a record of exactly this shape as JSON by hand, twice from one set of
escaped values: the canonical form its id is the hash of and the line the EVE file carries. That
is half the cost of two ``json`` encodings of the same dict, and a flow record is most of what a
scan writes. The result is byte for byte what ``json`` makes; any other shape gets ``None`` and
goes the general way (:mod:`poolsniff.output.eventid`).
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, Final, TypeVar

from poolsniff.model import FlowSummary, Role
from poolsniff.output.evefields import format_ts
from poolsniff.output.flowids import PROTO_NAMES, ROLE_NAMES, community_id, flow_id

_line: Callable[..., tuple[int, str, str, str, str, str] | None] | None
_line_text: Callable[..., str | None] | None
try:  # the line and id in C, when the extension was built at install time (and POOLSNIFF_PURE is not set)
    from poolsniff.output._flowline import line as _c_line
    from poolsniff.output._flowline import line_text as _c_line_text
except ImportError:  # pragma: no cover - depends on the build
    _line = _line_text = None
else:
    _line, _line_text = _c_line, _c_line_text

_M = TypeVar("_M")
FLOWBIT_PREFIX: Final = "poolsniff."
MINER_IS_SERVER: Final = FLOWBIT_PREFIX + "miner_is_server"
"""The flowbit saying the miner is ``dest``, not ``src``."""
MAX_BITS: Final = 256
"""Ways of a flow's roles whose flowbits ``_bits`` remembers."""
_BITS: dict[tuple[tuple[Role, ...], bool], tuple[str, ...]] = {}


def flowbits(summary: FlowSummary) -> list[str]:
    """The ``metadata.flowbits`` of a flow record: the roles of its alerts, and the miner's side."""
    return list(_bits(summary))


def _bits(summary: FlowSummary) -> tuple[str, ...]:
    """``flowbits`` as a tuple, remembered for each of the few ways a flow's roles come (a set, a sort
    and a string per role at every alerted flow's end otherwise)."""
    key = (summary.roles, summary.miner_is_client)
    bits = _BITS.get(key)
    if bits is None:
        made = sorted(FLOWBIT_PREFIX + ROLE_NAMES[role] for role in set(summary.roles))
        if not summary.miner_is_client:
            made.append(MINER_IS_SERVER)
        bits = tuple(made)
        if len(_BITS) >= MAX_BITS:
            _BITS.clear()
        _BITS[key] = bits
    return bits


def flow_record(summary: FlowSummary, source_name: str, live: bool = False) -> dict[str, Any]:
    """The EVE ``flow`` record of an alerted flow that ended (keys in Suricata's order)."""
    end = summary.end
    key = end.flow
    cid = community_id(key.client_ip, key.server_ip, key.proto, key.client_port, key.server_port)
    made = (flow_id(key), cid, format_ts(end.start_us), format_ts(end.ts_us))
    return _record(summary, source_name, live, made, flowbits(summary))  # its id comes when written


def stamped_line(
    summary: FlowSummary, source_name: str, live: bool = False
) -> tuple[dict[str, Any], str] | None:
    """The flow record of ``summary`` stamped with its id, and its line, made in C (``_flowline.c``);
    None where that module is not built or the record is not one it writes (the Python way then:
    :func:`flow_record`, then :func:`known_texts`, the reference it is tested against)."""
    bits = _bits(summary)
    made = _made(_line, summary, source_name, live, bits)
    if made is None:
        return None
    fid, cid, started, ended, ident, line = made
    record = _record(summary, source_name, live, (fid, cid, started, ended), list(bits))
    record["metadata"]["flowvars"] = [{"event_id": ident}]
    return record, line


def line_only(summary: FlowSummary, source_name: str, live: bool = False) -> str | None:
    """The line of :func:`stamped_line`, without its record (what the EVE file takes); None where
    ``stamped_line`` gives None."""
    return _made(_line_text, summary, source_name, live, _bits(summary))


def _made(
    make: Callable[..., _M | None] | None,
    summary: FlowSummary,
    source_name: str,
    live: bool,
    bits: tuple[str, ...],
) -> _M | None:
    """What ``make`` (``_flowline.line``: flow_id, community_id, start, end, id and line; ``line_text``:
    the line) makes of ``summary``."""
    if make is None:
        return None
    end = summary.end
    key = end.flow
    proto = key.proto
    pkts_c, pkts_s, bytes_c, bytes_s = end.counts
    return make(
        key.client_ip, key.client_port, key.server_ip, key.server_port, proto,
        PROTO_NAMES.get(proto, str(proto)), end.start_us, end.ts_us, pkts_c, pkts_s, bytes_c, bytes_s,
        end.closed, end.reason, summary.app_proto, bits, source_name, live,
    )  # fmt: skip


def _record(
    summary: FlowSummary, source_name: str, live: bool, made: tuple[int, str, str, str], bits: list[str]
) -> dict[str, Any]:
    """The record of ``summary`` from its ids and times (``made``: flow_id, community_id, start, end)."""
    end = summary.end
    key = end.flow
    proto = key.proto
    pkts_c, pkts_s, bytes_c, bytes_s = end.counts
    fid, cid, started, ended = made
    record: dict[str, Any] = {
        "timestamp": ended,
        "flow_id": fid,
        ("in_iface" if live else "pcap_filename"): source_name,
        "event_type": "flow",
        "src_ip": key.client_ip,
        "src_port": key.client_port,
        "dest_ip": key.server_ip,
        "dest_port": key.server_port,
        "proto": PROTO_NAMES.get(proto, str(proto)),
        "community_id": cid,
    }
    if summary.app_proto:
        record["app_proto"] = summary.app_proto
    record["flow"] = {
        "pkts_toserver": pkts_c,
        "pkts_toclient": pkts_s,
        "bytes_toserver": bytes_c,
        "bytes_toclient": bytes_s,
        "start": started,
        "end": ended,
        "age": max(0, end.ts_us - end.start_us) // 1_000_000,
        "state": "closed" if end.closed else "established",
        "reason": end.reason,
        "alerted": True,
    }
    record["metadata"] = {"flowbits": bits}
    return record


_FLOW_KEYS: Final = (
    "pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient",
    "start", "end", "age", "state", "reason", "alerted",
)  # fmt: skip
_HEAD: Final = ("timestamp", "flow_id")
_TAIL: Final = ("event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "community_id")
_SHAPES: Final = {
    (*_HEAD, source, *_TAIL, *app, "flow", "metadata"): (source, bool(app))
    for source in ("pcap_filename", "in_iface")
    for app in ((), ("app_proto",))
}
"""The top-level keys of a record :func:`flow_record` makes, in order -> (its source key, has app_proto)."""
_ID_HEAD: Final = ',"flowvars":[{"event_id":"'
ID_END: Final = '"}]}}'
"""What follows the id in a flow record's line (see :func:`flow_texts`)."""


def flow_texts(record: dict[str, Any]) -> tuple[str, str] | None:
    """``(canonical, line_head)`` of a flow record as :func:`flow_record` makes it, None for any other.

    ``canonical`` is ``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
    ``line_head + ident + ID_END`` is the compact JSON of the record once ``{"event_id": ident}``
    is its ``metadata.flowvars`` (what :func:`poolsniff.output.eventid.stamp` adds).
    """
    shape = _SHAPES.get(tuple(record))
    flow = record["flow"] if shape is not None else None
    metadata = record["metadata"] if shape is not None else None
    if (
        shape is None or type(flow) is not dict or type(metadata) is not dict
        or tuple(flow) != _FLOW_KEYS or flow["alerted"] is not True or tuple(metadata) != ("flowbits",)
        or type(metadata["flowbits"]) is not list
    ):  # fmt: skip
        return None
    flow_id, sport, dport = record["flow_id"], record["src_port"], record["dest_port"]
    pkts_c, pkts_s = flow["pkts_toserver"], flow["pkts_toclient"]
    bytes_c, bytes_s, age = flow["bytes_toserver"], flow["bytes_toclient"], flow["age"]
    for number in (flow_id, sport, dport, pkts_c, pkts_s, bytes_c, bytes_s, age):
        if type(number) is not int:  # a bool or a float is written otherwise
            return None
    try:
        return known_texts(record, *shape)
    except TypeError:  # encode_basestring: a TypeError for anything but a str
        return None


def known_texts(record: dict[str, Any], source_key: str, has_app: bool) -> tuple[str, str]:
    """:func:`flow_texts` of a record known to have the shape :func:`flow_record` makes (``source_key``
    its source's key, ``has_app`` whether it has an ``app_proto``), without looking first."""
    flow, metadata = record["flow"], record["metadata"]
    flow_id, sport, dport = record["flow_id"], record["src_port"], record["dest_port"]
    pkts_c, pkts_s = flow["pkts_toserver"], flow["pkts_toclient"]
    bytes_c, bytes_s, age = flow["bytes_toserver"], flow["bytes_toclient"], flow["age"]
    ts, kind = encode_basestring(record["timestamp"]), encode_basestring(record["event_type"])
    source = encode_basestring(record[source_key])
    src, dest = encode_basestring(record["src_ip"]), encode_basestring(record["dest_ip"])
    proto, cid = encode_basestring(record["proto"]), encode_basestring(record["community_id"])
    app = f'"app_proto":{encode_basestring(record["app_proto"])},' if has_app else ""
    start, end = encode_basestring(flow["start"]), encode_basestring(flow["end"])
    state, reason = encode_basestring(flow["state"]), encode_basestring(flow["reason"])
    bits = ",".join([encode_basestring(bit) for bit in metadata["flowbits"]])
    iface = f'"in_iface":{source},' if source_key == "in_iface" else ""
    pcap = f'"pcap_filename":{source},' if source_key == "pcap_filename" else ""
    canonical = (
        f'{{{app}"community_id":{cid},"dest_ip":{dest},"dest_port":{dport},"event_type":{kind},'
        f'"flow":{{"age":{age},"alerted":true,"bytes_toclient":{bytes_s},"bytes_toserver":{bytes_c},'
        f'"end":{end},"pkts_toclient":{pkts_s},"pkts_toserver":{pkts_c},"reason":{reason},"start":{start},'
        f'"state":{state}}},"flow_id":{flow_id},{iface}"metadata":{{"flowbits":[{bits}]}},{pcap}"proto":{proto},'
        f'"src_ip":{src},"src_port":{sport},"timestamp":{ts}}}'
    )
    line_head = (
        f'{{"timestamp":{ts},"flow_id":{flow_id},"{source_key}":{source},"event_type":{kind},"src_ip":{src},'
        f'"src_port":{sport},"dest_ip":{dest},"dest_port":{dport},"proto":{proto},"community_id":{cid},{app}'
        f'"flow":{{"pkts_toserver":{pkts_c},"pkts_toclient":{pkts_s},"bytes_toserver":{bytes_c},'
        f'"bytes_toclient":{bytes_s},"start":{start},"end":{end},"age":{age},"state":{state},"reason":{reason},'
        f'"alerted":true}},"metadata":{{"flowbits":[{bits}]{_ID_HEAD}'
    )
    return canonical, line_head
