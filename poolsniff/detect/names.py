"""Name and address detectors: DNS queries, TLS SNI, HTTP Host, tunnel targets, remembered pool addresses.

DnsMessage / TlsClientHello / HttpMessage / TunnelOpen / FlowStart -> **NameDetector** -> Detection

A name matches a blocklist entry exactly or as a subdomain at a label boundary (the
matching itself, with normalisation and the allowlist, is ``Blocklist.match_name``). A new
connection to an address that a listed name resolved to (``DnsMemory``), or to a listed
``ip:port`` endpoint, raises a *fallback* signature: it is kept only when nothing more
specific fired on the flow. The target of a proxy tunnel (SOCKS, HTTP ``CONNECT``, the PROXY
protocol's destination) is matched as a name, or as an address by the name it was resolved
from and as a listed endpoint; a WebSocket's target is its HTTP Host, matched as such.
"""

from __future__ import annotations

from typing import Any

from poolsniff.detect import signatures as sigs
from poolsniff.detect.interface import AddressNames
from poolsniff.dissect.dns import rrtype_name
from poolsniff.dissect.tunnels import WEBSOCKET
from poolsniff.intel.lists import Blocklist, Match
from poolsniff.model import (
    Detection,
    DnsMessage,
    Event,
    FlowStart,
    HttpMessage,
    Role,
    Signature,
    TlsClientHello,
    TunnelOpen,
)


class NameDetector:
    """Raises the name-based signatures."""

    name = "names"
    events: tuple[type[Event], ...] = (DnsMessage, TlsClientHello, HttpMessage, FlowStart, TunnelOpen)

    def __init__(self, blocklist: Blocklist, memory: AddressNames) -> None:
        """Match against ``blocklist``; look addresses up in ``memory``."""
        self.blocklist = blocklist
        self.memory = memory

    def inspect(self, event: Event) -> list[Detection]:
        """Return detections for listed names and addresses (usually none)."""
        if isinstance(event, DnsMessage):
            return self._dns(event)
        if isinstance(event, FlowStart):
            return self._connection(event)
        if isinstance(event, TlsClientHello):
            sni = event.sni
            if sni:
                match = self.blocklist.match_name(sni)
                if match is not None:
                    tls: dict[str, Any] = {"sni": sni, "version": event.version}
                    if event.ja3_hash:
                        tls["ja3"] = {"hash": event.ja3_hash, "string": event.ja3_string}
                        tls["ja4"] = event.ja4
                    return [_name_detection(event, sni, sigs.TLS_POOL, {"tls": tls}, match)]
        elif isinstance(event, HttpMessage):
            host = event.headers.get("host", "")
            if event.is_request and host:
                return self._http(event, host)
        elif isinstance(event, TunnelOpen):
            return self._tunnel(event)
        return []

    def _tunnel(self, event: TunnelOpen) -> list[Detection]:
        """A tunnel to a listed name, to an address a listed name resolved to, or to a listed endpoint."""
        host = event.host
        if not host or event.kind == WEBSOCKET:  # a WebSocket's Host is matched as HTTP Host
            return []
        name: str | None = host
        if _is_address(host):
            name = self.memory.lookup(host, event.ts_us)
        match = self.blocklist.match_name(name) if name else None
        if match is None and _is_address(host):
            match = self.blocklist.match_endpoint(host, event.port)
        if match is None:
            return []
        det = Detection(event.ts_us, event.flow, sigs.TUNNEL_POOL, Role.CLIENT, True)
        det.evidence.update(match.evidence())
        if name:
            det.evidence["pool_host"] = name
            det.names.append(name)
        return [det]

    def _http(self, event: HttpMessage, host: str) -> list[Detection]:
        name = _strip_port(host)
        match = self.blocklist.match_name(name)
        if match is None:
            return []
        http = {"hostname": host, "url": event.uri, "http_method": event.method, "protocol": "HTTP/1.1"}
        ua = event.headers.get("user-agent")
        if ua:
            http["http_user_agent"] = ua
        return [_name_detection(event, name, sigs.HTTP_POOL, {"http": http}, match)]

    def _dns(self, msg: DnsMessage) -> list[Detection]:
        for qname, qtype in msg.questions:
            match = self.blocklist.match_name(qname)
            if match is None:
                continue
            dns: dict[str, object] = {
                "version": 3,
                "type": "response" if msg.is_response else "request",
                "id": msg.msg_id,
                "opcode": msg.opcode,
                "queries": [{"rrname": qname, "rrtype": rrtype_name(qtype)}],
            }
            if msg.is_response and msg.answers:
                dns["answers"] = [
                    {"rrname": n, "rrtype": rrtype_name(t), "rdata": d, "ttl": ttl}
                    for n, t, d, ttl in msg.answers[:16]
                ]
            return [_name_detection(msg, qname, sigs.DNS_POOL, {"dns": dns}, match)]
        return []

    def _connection(self, event: FlowStart) -> list[Detection]:
        flow = event.flow
        name = self.memory.lookup(flow.server_ip, event.ts_us)
        if name is not None:
            match = self.blocklist.match_name(name)
            if match is not None:
                det = Detection(event.ts_us, flow, sigs.RESOLVED_POOL, Role.MINER, True)
                det.evidence.update(match.evidence())
                det.evidence["pool_host"] = name
                det.evidence["resolved_from"] = name
                return [det]
        match = self.blocklist.match_endpoint(flow.server_ip, flow.server_port)
        if match is not None:
            det = Detection(event.ts_us, flow, sigs.ENDPOINT_POOL, Role.MINER, True)
            det.evidence.update(match.evidence())
            return [det]
        return []


def _name_detection(
    event: Event, name: str, sig: Signature, app: dict[str, object], match: Match
) -> Detection:
    """A client's detection for a listed ``name`` (DNS question, SNI or Host)."""
    det = Detection(event.ts_us, event.flow, sig, Role.CLIENT, True, app=dict(app))
    det.evidence.update(match.evidence())
    det.evidence["pool_host"] = name.lower().rstrip(".")
    det.names.append(name)
    return det


def _is_address(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
