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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

from poolsniff.valueclass import readonly

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


@readonly
class Event:
    """Something a dissector saw in a flow at a point in time."""

    ts_us: int
    flow: FlowKey
    from_client: bool
    """True when the client of the flow sent the message."""


@readonly
class FlowStart(Event):
    """The first packet of a TCP flow (its SYN, or the first packet seen of a flow joined mid-session)."""


@readonly
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


@readonly
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


@readonly
class JsonMessage(Event):
    """One JSON value parsed from a newline-delimited TCP stream or an HTTP body."""

    value: Any
    via_http: bool = False
    http: HttpMessage | None = None


@readonly
class HttpMessage(Event):
    """An HTTP/1.x request or response head (and a short body, when present)."""

    is_request: bool
    method: str
    uri: str
    status: int
    headers: Mapping[str, str]
    """Header names in lower case; repeated headers keep the last value."""
    body: bytes = b""


@readonly
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


@readonly
class TlsServerHello(Event):
    """A TLS ServerHello, with its JA3S fingerprint (``tlsfp``)."""

    version: str
    ja3s_string: str = ""
    ja3s_hash: str = ""


@readonly
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


@readonly
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


@readonly
class TcpMessages(Event):
    """The messages of an opaque TCP session so far (``dissect/opaque``): sizes and times, no payload."""

    records: bytes
    """Eight bytes per message, packed as ``TlsRecords.records`` (content type 23): ms since the
    client's first byte, direction << 7 | 23, length."""
    start_us: int
    """When the client's first byte was seen."""


@readonly
class Sv2Handshake(Event):
    """A Stratum V2 connection: the Noise handshake by its sizes, or a plaintext SetupConnection."""

    encrypted: bool
    setup: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- detections


@readonly
class Signature:
    """A detection rule: Suricata-style id, message, severity (1 = high)."""

    sid: int
    msg: str
    severity: int
    app_proto: str = ""
    probe: bool = False
    """True when the alert's server is worth an active probe (``scan/sniff --confirm``): a
    "possible" pool whose endpoint is the server itself (not a DNS resolver)."""


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


@readonly
class FlowSummary:
    """A flow that raised an alert, at its end: what its EVE ``flow`` record says."""

    end: FlowEnd
    roles: tuple[Role, ...]
    """The roles of the alerts it raised, in the order they were released."""
    miner_is_client: bool
    """As its first alert says (the orientation of ``src``/``dest`` in alerts)."""
    app_proto: str = ""


Released = Detection | FlowSummary
"""What the pipeline releases: an alert's detection, or an alerted flow that ended."""


@readonly
class Alert:
    """A detection (or an alerted flow that ended) ready for a sink, with its capture context."""

    detection: Released
    source_name: str
    """The capture file name or the interface name."""
    live: bool = False
