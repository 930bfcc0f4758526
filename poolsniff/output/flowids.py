"""What every EVE record of one flow shares: its ids and the names of its protocol and roles (output layer).

enrichment -> to_eve (alerts) / flow_record (flows) -> **flow_id, community_id** -> EVE records

An alert and the ``flow`` record of the same flow carry the same ``flow_id`` (a stable 51-bit
number from the 5-tuple) and ``community_id`` (Community ID v1), so a SIEM joins them; both
serialisers take them from here.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct
from functools import lru_cache
from typing import Final

from poolsniff.model import FlowKey, Role

PROTO_NAMES: Final = {6: "TCP", 17: "UDP"}
ROLE_NAMES: Final = {
    Role.MINER: "miner",
    Role.POOL: "pool",
    Role.INFRA: "infrastructure",
    Role.CLIENT: "client",
}


@lru_cache(maxsize=4096)  # a flow's alerts and its flow record ask for the same ids
def community_id(src_ip: str, dst_ip: str, proto: int, sport: int, dport: int, seed: int = 0) -> str:
    """Community ID v1 (github.com/corelight/community-id-spec) of a flow."""
    s = _packed(src_ip)
    d = _packed(dst_ip)
    if (s, sport) > (d, dport):
        s, d, sport, dport = d, s, dport, sport
    data = struct.pack("!H", seed) + s + d + struct.pack("!BBHH", proto, 0, sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


@lru_cache(maxsize=4096)
def _packed(ip: str) -> bytes:
    """The network-order bytes of an address (a few hosts make most of the alerts)."""
    return ipaddress.ip_address(ip).packed


@lru_cache(maxsize=4096)
def flow_id(key: FlowKey) -> int:
    """A stable 51-bit flow id (JSON-safe) derived from the flow's 5-tuple."""
    text = f"{key.client_ip}|{key.client_port}|{key.server_ip}|{key.server_port}|{key.proto}"
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") >> 13
