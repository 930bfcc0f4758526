"""From a "possible" alert to a probe target, and from a probe's answer to a confirmed alert (no I/O).

EVE alert (signature marked probe-worthy) -> **target_of** -> probe -> **confirmed** -> EVE alert (9300301)

A probe-worthy alert (``Signature.probe``, see ``detect.signatures``) is oriented so that ``dest``
is the server, so its target is ``dest_ip:dest_port``, named by its pool host when the alert has
one (sent as TLS SNI and checked against the allowlist). The confirmed alert is a copy of the
alert it confirms (same flow, same time) with the :data:`~poolsniff.detect.signatures.CONFIRMED`
signature and what the probe saw in ``alert.metadata``:

``confirms`` (the sid of the alert it confirms), ``probe_verdict`` (``cryptonote-job``,
``stratum-subscribe``, ``eth-proxy``), ``probe_transport`` (``plain`` / ``tls``), ``probe_hello``
(the dialect of the hello that was answered), ``probe_reply`` (what the reply carried),
``probe_time`` and, over TLS, ``probe_tls_subject`` / ``probe_tls_issuer``.
"""

from __future__ import annotations

import copy
from typing import Any

from poolsniff.confirm.probe import ProbeResult
from poolsniff.confirm.target import Target
from poolsniff.detect.signatures import CONFIRMED, probe_worthy
from poolsniff.output.evefields import meta
from poolsniff.output.eventid import KEY, stamp

Record = dict[str, Any]

PROBE_WORTHY = probe_worthy()


def target_of(record: Record) -> Target | None:
    """The server a probe-worthy TCP alert names, or None for any other record."""
    alert = record.get("alert")
    if not isinstance(alert, dict) or alert.get("signature_id") not in PROBE_WORTHY:
        return None
    ip, port = record.get("dest_ip"), record.get("dest_port")
    if record.get("proto") != "TCP" or not isinstance(ip, str) or not isinstance(port, int):
        return None
    if not 0 < port < 65536:
        return None
    tls = record.get("tls")
    sni = tls.get("sni") if isinstance(tls, dict) else None
    name = sni if isinstance(sni, str) and sni else meta(record, "pool_host")
    return Target(ip, port, ip=ip, name=name or None)


def confirmed(record: Record, result: ProbeResult, probe_time: str) -> Record:
    """The confirmed alert for ``record`` after ``result`` (a probe that found a pool)."""
    hit = result.confirming
    if hit is None:
        raise ValueError("the probe confirmed nothing")
    out = copy.deepcopy(record)
    alert = out["alert"]
    metadata: dict[str, list[str]] = dict(alert.get("metadata") or {})
    metadata.pop("suppressed_count", None)
    metadata.pop("suppressed_since", None)
    metadata.pop(KEY, None)  # a record of its own: stamp gives it an id of its own
    metadata.update(
        confirms=[str(alert.get("signature_id"))],
        probe_verdict=[hit.reply.kind.value],
        probe_transport=[hit.transport],
        probe_hello=[hit.dialect.value],
        probe_reply=[hit.reply.detail],
        probe_time=[probe_time],
    )
    if hit.transport == "tls":
        for key in ("subject", "issuer"):
            if result.tls.get(key):
                metadata[f"probe_tls_{key}"] = [result.tls[key]]
    alert.update(
        signature_id=CONFIRMED.sid,
        signature=CONFIRMED.msg,
        severity=CONFIRMED.severity,
        metadata=dict(sorted(metadata.items())),
    )
    return stamp(out)
