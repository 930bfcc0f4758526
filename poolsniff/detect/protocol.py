"""Protocol detectors that need no JSON: Stratum V2 and getwork HTTP headers (detection layer).

Sv2Handshake / HttpMessage -> **ProtocolDetector** -> Detection

* Stratum V2: the encrypted Noise handshake (64-byte act 1, 234-byte act 2) is flagged as
  *possible* mining at low severity; a plaintext ``SetupConnection`` is mining.
* getwork over HTTP: the ``X-Mining-Extensions`` / ``X-Mining-Hashrate`` request headers and
  miner User-Agents (ET sids 2016758, 2016067) mark a miner; the ``X-Stratum`` response
  header (ET sid 2017960) marks a pool redirecting a getwork miner to Stratum.
"""

from __future__ import annotations

from poolsniff.detect import signatures as sigs
from poolsniff.detect.evidence import MINER_REQUEST_HEADERS, is_miner_agent, parse_agent
from poolsniff.model import Detection, Event, HttpMessage, Role, Sv2Handshake


class ProtocolDetector:
    """Raises Stratum V2 and getwork-HTTP-header signatures."""

    name = "protocol"
    events: tuple[type[Event], ...] = (Sv2Handshake, HttpMessage)

    def inspect(self, event: Event) -> list[Detection]:
        """Detections for SV2 handshakes and miner HTTP headers."""
        if isinstance(event, Sv2Handshake):
            return [self._sv2(event)]
        if isinstance(event, HttpMessage):
            return self._http(event)
        return []

    def _sv2(self, event: Sv2Handshake) -> Detection:
        sig = sigs.SV2_NOISE if event.encrypted else sigs.SV2_SETUP
        det = Detection(event.ts_us, event.flow, sig, Role.MINER, event.from_client)
        det.evidence["flavour"] = "stratum-v2"
        det.evidence["encrypted"] = "yes" if event.encrypted else "no"
        for key, value in event.setup.items():
            det.evidence[key] = str(value)
        host = event.setup.get("endpoint_host")
        if isinstance(host, str) and host:
            det.names.append(host)
            det.evidence["pool_host"] = host
        vendor = event.setup.get("vendor")
        if isinstance(vendor, str) and vendor:
            det.evidence["software"] = vendor
        return det

    def _http(self, event: HttpMessage) -> list[Detection]:
        h = event.headers
        if event.is_request:
            ua = h.get("user-agent", "")
            marked = [name for name in MINER_REQUEST_HEADERS if name in h]
            if not marked and not is_miner_agent(ua):
                return []
            det = Detection(event.ts_us, event.flow, sigs.MINER["getwork"], Role.MINER, event.from_client)
            det.evidence["flavour"] = "getwork"
            if marked:
                det.evidence["headers"] = ",".join(marked)
            if ua:
                det.evidence["agent"] = ua[:200]
                parsed = parse_agent(ua)
                if parsed is not None:
                    det.evidence["software"], det.evidence["software_version"] = parsed
            det.app["http"] = _http_obj(event)
            return [det]
        if "x-stratum" in h:
            det = Detection(event.ts_us, event.flow, sigs.POOL["getwork"], Role.POOL, not event.from_client)
            det.evidence["flavour"] = "getwork"
            det.evidence["x_stratum"] = h["x-stratum"][:200]
            return [det]
        return []


def _http_obj(event: HttpMessage) -> dict[str, object]:
    obj: dict[str, object] = {"url": event.uri, "http_method": event.method, "protocol": "HTTP/1.1"}
    if "host" in event.headers:
        obj["hostname"] = event.headers["host"]
    if "user-agent" in event.headers:
        obj["http_user_agent"] = event.headers["user-agent"]
    return obj
