"""Plain data records that flow through the pipeline (layer 0: imports nothing from poolsniff).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

* a *source* yields ``Frame`` tuples ``(ts_us, linktype, data)``;
* ``decode`` turns a frame into a ``Packet`` (or ``None``: counted, never raised);
* dissectors turn packets into ``Event`` records (DNS messages, JSON-RPC messages,
  HTTP requests, TLS ClientHellos and ServerHellos, tunnel prefixes, flow starts, Stratum
  V2 handshakes);
* detectors turn events into ``Detection`` records;
* enrichment adds blocklist and DNS-memory context and yields ``Alert`` records,
  which sinks serialise (EVE JSON).

This module is compiled (mypyc). Its records are ``@dataclass`` classes, which mypyc makes native:
compiled code reads a field as a load from the object, not a dictionary lookup. The value records
(events, signatures, summaries, alerts) are frozen to mypy, which refuses any assignment to their
fields (``VALUE_RECORDS``). Each writes its ``__init__`` out (``init=False``): the one ``dataclasses``
writes runs interpreted, and a frozen one sets every field through ``object.__setattr__`` (at a7683cd,
3.6 us to make a DnsMessage against 0.8); the compiled one sets the fields of the object being made,
hence its ``type: ignore[misc]`` (mypy's "read-only"). It takes what the generated one took: the
fields in order, with their defaults (``tests/test_model.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

Frame = tuple[int, int, bytes]
"""One captured frame: timestamp in microseconds since the epoch, pcap link type, bytes."""

PROTO_TCP = 6
PROTO_UDP = 17


class Packet(NamedTuple):
    """A decoded IPv4/IPv6 TCP or UDP packet; addresses stay packed bytes until needed."""

    ts_us: int
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int
    flags: int
    """TCP flags (0 for UDP)."""
    seq: int
    """TCP sequence number (0 for UDP)."""
    payload: bytes


class FlowKey(NamedTuple):
    """A flow as seen from its client (the side that sent the SYN or the first packet)."""

    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    proto: int


class Role(IntEnum):
    """Who the evidence says a host is (zeek-cryptomining's Miner / Mining_Pool_Server)."""

    MINER = 1
    POOL = 2
    INFRA = 3
    """A pool talking RPC to its coin daemon (getblocktemplate/submitblock to a node)."""
    CLIENT = 4
    """A DNS or TLS client asking for a listed name."""


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, init=False)
class Event:
    """Something a dissector saw in a flow at a point in time."""

    ts_us: int
    flow: FlowKey
    from_client: bool
    """True when the client of the flow sent the message."""

    def __init__(self, ts_us: int, flow: FlowKey, from_client: bool) -> None:
        self.ts_us = ts_us  # type: ignore[misc]
        self.flow = flow  # type: ignore[misc]
        self.from_client = from_client  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class FlowStart(Event):
    """The first packet of a TCP flow (its SYN, or the first packet seen of a flow joined mid-session)."""


@dataclass(frozen=True, init=False)
class FlowEnd(Event):
    """A flow closed (FIN from both sides or RST), was evicted, or the input ended."""

    start_us: int = 0
    """Time of the flow's first packet (``ts_us`` is the time of its last)."""
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Packets from the client, packets from the server, bytes from the client, bytes from the server
    (captured frame sizes)."""
    reason: str = "shutdown"
    """Why it ended, in Suricata's words: ``timeout`` (closed or idle), ``forced`` (evicted), ``shutdown``."""
    closed: bool = False
    """Both sides sent a FIN, or one sent a RST."""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, start_us: int = 0,
        counts: tuple[int, int, int, int] = (0, 0, 0, 0), reason: str = "shutdown", closed: bool = False,
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.start_us = start_us  # type: ignore[misc]
        self.counts = counts  # type: ignore[misc]
        self.reason = reason  # type: ignore[misc]
        self.closed = closed  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class DnsMessage(Event):
    """A DNS query or response (over UDP or TCP)."""

    msg_id: int
    is_response: bool
    opcode: int
    rcode: int
    flags: int
    questions: tuple[tuple[str, int], ...]
    """(name, qtype) pairs; names normalised to lower case without a trailing dot."""
    answers: tuple[tuple[str, int, str, int], ...] = ()
    """(rrname, rrtype, rdata, ttl) for A/AAAA/CNAME answers."""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, msg_id: int, is_response: bool, opcode: int,
        rcode: int, flags: int, questions: tuple[tuple[str, int], ...],
        answers: tuple[tuple[str, int, str, int], ...] = (),
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.msg_id = msg_id  # type: ignore[misc]
        self.is_response = is_response  # type: ignore[misc]
        self.opcode = opcode  # type: ignore[misc]
        self.rcode = rcode  # type: ignore[misc]
        self.flags = flags  # type: ignore[misc]
        self.questions = questions  # type: ignore[misc]
        self.answers = answers  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class JsonMessage(Event):
    """One JSON value parsed from a newline-delimited TCP stream or an HTTP body."""

    value: Any
    via_http: bool = False
    http: HttpMessage | None = None

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, value: Any, via_http: bool = False,
        http: HttpMessage | None = None,
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.value = value  # type: ignore[misc]
        self.via_http = via_http  # type: ignore[misc]
        self.http = http  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class HttpMessage(Event):
    """An HTTP/1.x request or response head (and a short body, when present)."""

    is_request: bool
    method: str
    uri: str
    status: int
    headers: Mapping[str, str]
    """Header names in lower case; repeated headers keep the last value."""
    body: bytes = b""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, is_request: bool, method: str, uri: str,
        status: int, headers: Mapping[str, str], body: bytes = b"",
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.is_request = is_request  # type: ignore[misc]
        self.method = method  # type: ignore[misc]
        self.uri = uri  # type: ignore[misc]
        self.status = status  # type: ignore[misc]
        self.headers = headers  # type: ignore[misc]
        self.body = body  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class TlsClientHello(Event):
    """A TLS ClientHello; ``sni`` is the server_name extension, if any."""

    sni: str | None
    version: str
    alpns: tuple[str, ...] = ()
    ja3_string: str = ""
    """JA3 (``tlsfp``); empty when the hello could not be fingerprinted."""
    ja3_hash: str = ""
    ja4: str = ""
    known: str = ""
    """The miner build whose recorded ClientHello has this JA4 (``tlsfp.KNOWN_MINERS``), if any."""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, sni: str | None, version: str,
        alpns: tuple[str, ...] = (), ja3_string: str = "", ja3_hash: str = "", ja4: str = "", known: str = "",
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.sni = sni  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.alpns = alpns  # type: ignore[misc]
        self.ja3_string = ja3_string  # type: ignore[misc]
        self.ja3_hash = ja3_hash  # type: ignore[misc]
        self.ja4 = ja4  # type: ignore[misc]
        self.known = known  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class TlsServerHello(Event):
    """A TLS ServerHello, with its JA3S fingerprint (``tlsfp``)."""

    version: str
    ja3s_string: str = ""
    ja3s_hash: str = ""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, version: str, ja3s_string: str = "",
        ja3s_hash: str = "",
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.version = version  # type: ignore[misc]
        self.ja3s_string = ja3s_string  # type: ignore[misc]
        self.ja3s_hash = ja3s_hash  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class TunnelOpen(Event):
    """A tunnel prefix at the start of a TCP direction: SOCKS, HTTP CONNECT, PROXY protocol, WebSocket."""

    kind: str
    """``socks4``, ``socks4a``, ``socks5``, ``http-connect``, ``proxy-v1``, ``proxy-v2``, ``websocket``."""
    host: str
    """The target the client asked for: a name or an address ("" when the prefix names none)."""
    port: int
    target: str
    """``host:port`` as the alert gives it (IPv6 addresses in brackets)."""
    source: str = ""
    """PROXY protocol: the original client, ``ip:port``."""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, kind: str, host: str, port: int, target: str,
        source: str = "",
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.kind = kind  # type: ignore[misc]
        self.host = host  # type: ignore[misc]
        self.port = port  # type: ignore[misc]
        self.target = target  # type: ignore[misc]
        self.source = source  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class TlsRecords(Event):
    """The record headers of a TLS session so far (``dissect/shape``): sizes and times, no payload."""

    records: bytes
    """Eight bytes per record: ms since the ClientHello, direction << 7 | content type, length."""
    hello_us: int
    """When the ClientHello was seen."""
    sni: str = ""
    alpns: tuple[str, ...] = ()
    """Protocols the ClientHello offered (ALPN)."""
    ja3_hash: str = ""
    ja4: str = ""

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, records: bytes, hello_us: int, sni: str = "",
        alpns: tuple[str, ...] = (), ja3_hash: str = "", ja4: str = "",
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.records = records  # type: ignore[misc]
        self.hello_us = hello_us  # type: ignore[misc]
        self.sni = sni  # type: ignore[misc]
        self.alpns = alpns  # type: ignore[misc]
        self.ja3_hash = ja3_hash  # type: ignore[misc]
        self.ja4 = ja4  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class TcpMessages(Event):
    """The messages of an opaque TCP session so far (``dissect/opaque``): sizes and times, no payload."""

    records: bytes
    """Eight bytes per message, packed as ``TlsRecords.records`` (content type 23): ms since the
    client's first byte, direction << 7 | 23, length."""
    start_us: int
    """When the client's first byte was seen."""

    def __init__(self, ts_us: int, flow: FlowKey, from_client: bool, records: bytes, start_us: int) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.records = records  # type: ignore[misc]
        self.start_us = start_us  # type: ignore[misc]


@dataclass(frozen=True, init=False)
class Sv2Handshake(Event):
    """A Stratum V2 connection: the Noise handshake by its sizes, or a plaintext SetupConnection."""

    encrypted: bool
    setup: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self, ts_us: int, flow: FlowKey, from_client: bool, encrypted: bool,
        setup: Mapping[str, Any] | None = None,
    ) -> None:
        Event.__init__(self, ts_us, flow, from_client)
        self.encrypted = encrypted  # type: ignore[misc]
        self.setup = {} if setup is None else setup  # type: ignore[misc]


# --------------------------------------------------------------------------- detections


@dataclass(frozen=True, init=False)
class Signature:
    """A detection rule: Suricata-style id, message, severity (1 = high)."""

    sid: int
    msg: str
    severity: int
    app_proto: str = ""
    probe: bool = False
    """True when the alert's server is worth an active probe (``scan/sniff --confirm``): a
    "possible" pool whose endpoint is the server itself (not a DNS resolver)."""

    def __init__(self, sid: int, msg: str, severity: int, app_proto: str = "", probe: bool = False) -> None:
        self.sid = sid  # type: ignore[misc]
        self.msg = msg  # type: ignore[misc]
        self.severity = severity  # type: ignore[misc]
        self.app_proto = app_proto  # type: ignore[misc]
        self.probe = probe  # type: ignore[misc]


@dataclass(init=False)
class Detection:
    """A detector's verdict on one flow; enrichment may add to ``evidence`` and names.

    Its ``__init__`` is written out (``init=False``): this module is compiled, and the one
    ``dataclasses`` writes runs interpreted, 4,600 instructions a detection (3.4 % of a split scan's
    back on mining traffic); written here it is compiled. It takes what the generated one took."""

    ts_us: int
    flow: FlowKey
    signature: Signature
    role: Role
    miner_is_client: bool
    """True when the flow's client is the miner (or DNS/TLS client); orients src/dest."""
    evidence: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    """Host names seen in the flow (SNI, Host, pool host in Stratum params) to check against lists."""
    app: dict[str, Any] = field(default_factory=dict)
    """EVE app-layer objects: ``dns``, ``tls``, ``http``; and ``app_proto``."""
    hits: list[dict[str, str]] = field(default_factory=list)
    """Every list entry the flow matched (a name seen in it, the pool's ``ip:port``), each as the
    ``blocklist*`` evidence of :meth:`poolsniff.intel.lists.ListEntry.evidence`; the first is also
    in ``evidence``."""

    def __init__(
        self,
        ts_us: int,
        flow: FlowKey,
        signature: Signature,
        role: Role,
        miner_is_client: bool,
        evidence: dict[str, str] | None = None,
        names: list[str] | None = None,
        app: dict[str, Any] | None = None,
        hits: list[dict[str, str]] | None = None,
    ) -> None:
        """The fields in order, as the generated ``__init__`` takes them; a default is a new empty one."""
        self.ts_us = ts_us
        self.flow = flow
        self.signature = signature
        self.role = role
        self.miner_is_client = miner_is_client
        self.evidence = {} if evidence is None else evidence
        self.names = [] if names is None else names
        self.app = {} if app is None else app
        self.hits = [] if hits is None else hits


@dataclass(frozen=True, init=False)
class FlowSummary:
    """A flow that raised an alert, at its end: what its EVE ``flow`` record says."""

    end: FlowEnd
    roles: tuple[Role, ...]
    """The roles of the alerts it raised, in the order they were released."""
    miner_is_client: bool
    """As its first alert says (the orientation of ``src``/``dest`` in alerts)."""
    app_proto: str = ""

    def __init__(
        self, end: FlowEnd, roles: tuple[Role, ...], miner_is_client: bool, app_proto: str = "",
    ) -> None:
        self.end = end  # type: ignore[misc]
        self.roles = roles  # type: ignore[misc]
        self.miner_is_client = miner_is_client  # type: ignore[misc]
        self.app_proto = app_proto  # type: ignore[misc]


Released = Detection | FlowSummary
"""What the pipeline releases: an alert's detection, or an alerted flow that ended."""


@dataclass(frozen=True, init=False)
class Alert:
    """A detection (or an alerted flow that ended) ready for a sink, with its capture context."""

    detection: Released
    source_name: str
    """The capture file name or the interface name."""
    live: bool = False

    def __init__(self, detection: Released, source_name: str, live: bool = False) -> None:
        self.detection = detection  # type: ignore[misc]
        self.source_name = source_name  # type: ignore[misc]
        self.live = live  # type: ignore[misc]


VALUE_RECORDS: tuple[type, ...] = (
    Event, FlowStart, FlowEnd, DnsMessage, JsonMessage, HttpMessage, TlsClientHello, TlsServerHello,
    TunnelOpen, TlsRecords, TcpMessages, Sv2Handshake, Signature, FlowSummary, Alert,
)  # fmt: skip
"""The frozen records. Frozen to mypy, which refuses an assignment to a field; not at run time, where
``frozen`` would have every assignment raise, the written-out ``__init__``'s too where this module runs
as Python (compiled, it sets the object's fields directly): each drops what ``frozen`` added."""


def _unfreeze(records: tuple[type, ...]) -> None:
    """Drop the ``__setattr__`` and ``__delattr__`` that ``frozen`` gave each of ``records``."""
    for record in records:
        del record.__setattr__, record.__delattr__


_unfreeze(VALUE_RECORDS)
