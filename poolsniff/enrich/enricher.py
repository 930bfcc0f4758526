"""Enrichment: blocklist, DNS memory and redaction applied to a detection (enrichment layer).

detectors -> Detection -> **Enricher** -> Detection with pool names -> sinks

The enricher sees every DNS message first (``observe``; ``observes`` names the event types
it takes), so DNS answers are remembered before any later connection is judged. When a
detection is released it adds, where it can:

* the flow's tunnel and TLS fingerprints (``FlowFacts``); behind a tunnel, the pool is its
  target, not the proxy;
* every list entry the flow matches: a name from the flow (SNI, Host, a tunnel's target, a
  pool host named inside Stratum params, or the name the pool's address was resolved from)
  and the pool's ``ip:port`` (a user's ``--blocklist`` of endpoints); the first also fills
  ``blocklist*``;
* ``pool_host`` and ``pool`` (the registrable domain, from tldextract running offline);
* redaction of wallets and logins when asked for.
"""

from __future__ import annotations

from typing import ClassVar, Final

from poolsniff.detect.evidence import redact
from poolsniff.enrich.dnsmemory import DnsMemory
from poolsniff.enrich.flowfacts import FlowFacts
from poolsniff.intel.lists import Blocklist
from poolsniff.model import PROTO_TCP, Detection, DnsMessage, Event, FlowKey

REDACTED_KEYS: Final = ("login", "wallet", "payment_id", "email")
"""Evidence that identifies a person or an account; ``--redact`` hides it."""


class Enricher:
    """Adds blocklist and DNS-memory context to detections."""

    observes: ClassVar[tuple[type[Event], ...]] = (DnsMessage, *FlowFacts.observes)
    """The event types ``observe`` looks at; the pipeline hands it no others."""

    def __init__(self, blocklist: Blocklist, memory: DnsMemory, *, redact_ids: bool = False) -> None:
        """Use ``blocklist`` and ``memory``; ``redact_ids`` hides wallets and logins."""
        self.blocklist = blocklist
        self.memory = memory
        self.redact_ids = redact_ids
        self.facts = FlowFacts()

    def observe(self, event: Event) -> None:
        """Remember what later detections may need (DNS answers, tunnels, TLS fingerprints)."""
        if isinstance(event, DnsMessage):
            if event.is_response:
                self.memory.observe(event)
        else:
            self.facts.observe(event)

    def forget(self, flow: FlowKey) -> None:
        """The flow ended and its detections are released: drop what was kept for it."""
        self.facts.forget(flow)

    def enrich(self, det: Detection) -> Detection:
        """Add pool names, blocklist matches and redaction to ``det``; return it."""
        e = det.evidence
        flow = det.flow
        self.facts.annotate(det)
        pool_ip = flow.server_ip if det.miner_is_client else flow.client_ip
        pool_port = flow.server_port if det.miner_is_client else flow.client_port
        behind, port = self.facts.tunnel_target(flow)
        if behind:  # the proxy is not the pool: what the tunnel leads to is
            if _is_address(behind):
                pool_ip, pool_port = behind, port
            elif behind not in det.names:
                det.names.insert(0, behind)
        if "pool_host" not in e and (not behind or _is_address(behind)):
            name = self.memory.lookup(pool_ip, det.ts_us)
            if name is not None:
                e["pool_host"] = name
                e["resolved_from"] = name
                det.names.append(name)
        if "pool_host" not in e:
            for name in det.names:
                if not _is_address(name):
                    e["pool_host"] = name.lower().rstrip(".")
                    break
        self._hits(det, pool_ip, pool_port)
        host = e.get("pool_host")
        if host and not _is_address(host):
            pool = self.blocklist.suffixes.registrable(host)
            if pool:
                e["pool"] = pool
        if self.redact_ids:
            self._redact(det)
        return det

    def _hits(self, det: Detection, pool_ip: str, pool_port: int) -> None:
        """Every list entry the flow matches, in order: the detection's own, the names', the endpoint's."""
        e = det.evidence
        hits = det.hits
        if "blocklist" in e:
            hits.append({k: v for k, v in e.items() if k.startswith("blocklist")})
        found = [self.blocklist.match_name(name) for name in det.names]
        flow = det.flow
        if flow.proto == PROTO_TCP:
            found.append(self.blocklist.match_endpoint(pool_ip, pool_port))
        for match in found:
            if match is not None and all(h.get("blocklist_entry") != match.entry for h in hits):
                hits.append(match.evidence())
        if hits and "blocklist" not in e:
            e.update(hits[0])

    @staticmethod
    def _redact(det: Detection) -> None:
        e = det.evidence
        for key in REDACTED_KEYS:
            if key in e:
                e[key] = redact(e[key])
        http = det.app.get("http")
        if isinstance(http, dict) and isinstance(http.get("url"), str) and "miner=" in http["url"]:
            head, _, tail = http["url"].partition("miner=")
            value, amp, rest = tail.partition("&")
            det.app["http"] = {**http, "url": f"{head}miner={redact(value)}{amp}{rest}"}


def _is_address(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()
