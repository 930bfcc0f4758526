"""What a flow said about itself, kept for every alert of the flow (enrichment layer).

dissectors -> TunnelOpen / TlsClientHello / TlsServerHello -> **FlowFacts** -> Enricher -> alert

An alert raised on a flow names more than the message that raised it: the tunnel the flow
went through (``tunnel``, outermost first, and ``tunnel_target``: the pool behind a proxy),
and the TLS fingerprints of its handshake (``tls.ja3``, ``tls.ja4``, ``tls.ja3s``), with a
known miner build's name when the JA4 is one recorded from a real binary
(``tls_fingerprint``: evidence, never an alert by itself). ``FlowFacts`` remembers these
per flow, at most ``MAX_FLOWS`` flows (the least recently told forgotten first), and
forgets a flow once its alerts have been released at its end.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from poolsniff.model import Detection, Event, FlowKey, TlsClientHello, TlsServerHello, TunnelOpen

MAX_FLOWS: Final = 65_536
"""Flows whose facts are remembered at once (an alert that comes later lacks them)."""


@dataclass(slots=True)
class Facts:
    """The facts of one flow."""

    tunnels: list[str] = field(default_factory=list)
    host: str = ""
    """The innermost tunnel's target name or address."""
    port: int = 0
    target: str = ""
    source: str = ""
    hello: TlsClientHello | None = None
    server_hello: TlsServerHello | None = None


class FlowFacts:
    """Tunnels and TLS fingerprints per flow, for the alerts of the flow."""

    observes: ClassVar[tuple[type[Event], ...]] = (TunnelOpen, TlsClientHello, TlsServerHello)
    """The event types ``observe`` takes."""

    def __init__(self, max_flows: int = MAX_FLOWS) -> None:
        """Remember at most ``max_flows`` flows."""
        self.max_flows = max_flows
        self.flows: OrderedDict[FlowKey, Facts] = OrderedDict()

    def observe(self, event: Event) -> None:
        """Remember what ``event`` says about its flow."""
        facts = self._facts(event.flow)
        if isinstance(event, TunnelOpen):
            facts.tunnels.append(event.kind)
            if event.target:
                facts.host, facts.port, facts.target = event.host, event.port, event.target
            if event.source:
                facts.source = event.source
        elif isinstance(event, TlsClientHello):
            if facts.hello is None:
                facts.hello = event
        elif isinstance(event, TlsServerHello) and facts.server_hello is None:
            facts.server_hello = event

    def has_server_hello(self, flow: FlowKey) -> bool:
        """Whether the flow's ServerHello has been seen (so its JA3S is known)."""
        facts = self.flows.get(flow)
        return facts is not None and facts.server_hello is not None

    def tunnel_target(self, flow: FlowKey) -> tuple[str, int]:
        """The name or address and port the flow's tunnel leads to (("", 0) for a flow without one)."""
        facts = self.flows.get(flow)
        return ("", 0) if facts is None else (facts.host, facts.port)

    def forget(self, flow: FlowKey) -> None:
        """The flow ended and its alerts are out."""
        self.flows.pop(flow, None)

    def annotate(self, det: Detection) -> None:
        """Add the flow's tunnel and TLS fingerprints to ``det``."""
        facts = self.flows.get(det.flow)
        if facts is None:
            return
        e = det.evidence
        if facts.tunnels:
            # the flow's port is the proxy's, which spoke its own protocol first: no masquerade
            e.pop("port_masquerade", None)
            e.setdefault("tunnel", ">".join(facts.tunnels))
            if facts.target:
                e.setdefault("tunnel_target", facts.target)
            if facts.source:
                e.setdefault("tunnel_source", facts.source)
        if facts.hello is not None or facts.server_hello is not None:
            tls = det.app.get("tls")
            det.app["tls"] = self._tls(facts, dict(tls) if isinstance(tls, dict) else {})
            if facts.hello is not None and facts.hello.known:
                e.setdefault("tls_fingerprint", facts.hello.known)

    @staticmethod
    def _tls(facts: Facts, tls: dict[str, Any]) -> dict[str, Any]:
        """The EVE ``tls`` object with the fingerprints (field names of Suricata's schema)."""
        hello, server = facts.hello, facts.server_hello
        if hello is not None:
            if hello.sni:
                tls.setdefault("sni", hello.sni)
            tls.setdefault("version", hello.version)
            if hello.ja3_hash:
                tls.setdefault("ja3", {"hash": hello.ja3_hash, "string": hello.ja3_string})
                tls.setdefault("ja4", hello.ja4)
        elif server is not None:
            tls.setdefault("version", server.version)
        if server is not None and server.ja3s_hash:
            tls.setdefault("ja3s", {"hash": server.ja3s_hash, "string": server.ja3s_string})
        return tls

    def _facts(self, flow: FlowKey) -> Facts:
        facts = self.flows.get(flow)
        if facts is None:
            if len(self.flows) >= self.max_flows:
                self.flows.popitem(last=False)
            facts = self.flows[flow] = Facts()
        else:
            self.flows.move_to_end(flow)
        return facts
