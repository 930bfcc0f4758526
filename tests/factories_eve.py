"""Builders for EVE alert records, made by the real serialiser (``to_eve``) from a Detection."""

from __future__ import annotations

import json
from typing import Any

from poolsniff.detect.signatures import DNS_POOL, MINER, POOL, TLS_POOL
from poolsniff.model import PROTO_TCP, PROTO_UDP, Alert, Detection, FlowKey, Role, Signature
from poolsniff.output.eve import to_eve

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z
"""A fixed capture time, in seconds."""

SIGS: dict[str, tuple[Signature, Role]] = {
    "miner": (MINER["stratum"], Role.MINER),
    "pool": (POOL["stratum"], Role.POOL),
    "xmr": (MINER["cryptonote"], Role.MINER),
    "dns": (DNS_POOL, Role.CLIENT),
    "tls": (TLS_POOL, Role.CLIENT),
}
"""Short names for the signatures the tests use, with their roles."""


def eve(
    at: float,
    kind: str = "miner",
    *,
    host: str = "192.0.2.10",
    dest: str = "198.51.100.10",
    sport: int = 50000,
    dport: int = 3333,
    source: str = "capture.pcap",
    **evidence: str,
) -> dict[str, Any]:
    """An EVE alert record ``at`` seconds after T0, of ``kind`` (a key of SIGS), with ``evidence``."""
    signature, role = SIGS[kind]
    proto = PROTO_UDP if kind == "dns" else PROTO_TCP
    if kind == "dns":
        dport = 53
    flow = FlowKey(host, sport, dest, dport, proto)
    ts_us = int(round((T0 + at) * 1_000_000))
    det = Detection(ts_us, flow, signature, role, True, dict(evidence))
    return to_eve(Alert(det, source))


def alert_lines(text: str) -> list[dict[str, Any]]:
    """The ``alert`` records of EVE JSON lines (``flow`` and ``stats`` records left out)."""
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in records if r.get("event_type") == "alert"]
