"""The signatures poolsniff raises, with their ids, messages and severities (detection layer).

detectors -> Detection(signature=...) -> enrichment -> sinks

Ids live in 9,300,000-9,300,999, clear of ET Open (2,000,000-2,999,999) and of Suricata's
local range conventions. Severity follows Suricata: 1 high, 2 medium, 3 low. Each mining
dialect has a *miner* signature (the host speaking the client side) and a *pool server*
signature (the host speaking the server side), as zeek-cryptomining's Miner and
Mining_Pool_Server notices do; one flow raises each at most once.

A signature marked ``probe=True`` is a "possible" pool whose server is worth an active probe:
``scan --confirm`` / ``sniff --confirm`` probe the ``dest_ip:dest_port`` of its alerts and raise
:data:`CONFIRMED` when the server answers a Stratum hello with work. A new low-confidence
signature (a behaviour detector's, say) joins the probes by setting the marker.
"""

from __future__ import annotations

from typing import Final

from poolsniff.model import Role, Signature

CATEGORY: Final = "Crypto Currency Mining Activity Detected"
"""The classtype ``coin-mining`` description from ET's classification.config."""

_P: Final = "POOLSNIFF COINMINER"

FLAVOUR_FAMILY: Final = {
    "stratum-v1": "stratum",
    "stratum-v1-equihash": "stratum",
    "ethereumstratum": "ethstratum",
    "eth-proxy": "ethproxy",
    "cryptonote": "cryptonote",
    "getwork": "getwork",
    "getblocktemplate": "getwork",
}
"""Flavours that share a signature."""

_FAMILIES: Final = {
    "stratum": (9300101, "Stratum v1"),
    "ethstratum": (9300103, "EthereumStratum"),
    "ethproxy": (9300105, "eth-proxy (Ethereum getWork)"),
    "cryptonote": (9300107, "CryptoNote/XMRig stratum"),
    "getwork": (9300109, "getwork/getblocktemplate"),
}

MINER: Final = {
    fam: Signature(sid, f"{_P} {name} miner session", 1, "stratum") for fam, (sid, name) in _FAMILIES.items()
}
"""Signatures for the miner side of each dialect family."""
POOL: Final = {
    fam: Signature(sid + 1, f"{_P} {name} pool server session", 1, "stratum")
    for fam, (sid, name) in _FAMILIES.items()
}
"""Signatures for the pool side of each dialect family."""

COIN_DAEMON_RPC: Final = Signature(
    9300120, f"{_P} Mining infrastructure: pool to coin daemon RPC (getblocktemplate/submitblock)", 3, "http"
)
SV2_NOISE: Final = Signature(9300130, f"{_P} Possible Stratum V2 encrypted (Noise) handshake", 3)
SV2_SETUP: Final = Signature(9300131, f"{_P} Stratum V2 SetupConnection (plaintext)", 1)
BEHAVIOUR: Final = Signature(9300140, f"{_P} Possible encrypted Stratum session", 2, "tls", probe=True)
"""Raised by ``detect/behaviour`` from the sizes and times of a TLS session's records alone."""
BEHAVIOUR_OPAQUE: Final = Signature(9300141, f"{_P} Possible encrypted Stratum session in opaque TCP", 2)
"""Raised by ``detect/behaviour`` from the sizes and times of an opaque TCP session's messages (an
encrypting relay, an obfuscating proxy). Not probed: the server is the relay, which answers only
its own clients, so a Stratum hello to it tells nothing."""

DNS_POOL: Final = Signature(9300201, f"{_P} DNS query for a mining pool domain", 2, "dns")
TLS_POOL: Final = Signature(9300202, f"{_P} TLS SNI of a mining pool", 2, "tls", probe=True)
HTTP_POOL: Final = Signature(9300203, f"{_P} HTTP Host of a mining pool", 2, "http")
RESOLVED_POOL: Final = Signature(
    9300204, f"{_P} Connection to an address a mining pool name resolved to", 2, probe=True
)
ENDPOINT_POOL: Final = Signature(9300205, f"{_P} Connection to a listed mining pool endpoint", 2, probe=True)
TUNNEL_POOL: Final = Signature(9300206, f"{_P} Proxy tunnel to a mining pool", 2)

CONFIRMED: Final = Signature(9300301, f"{_P} Mining pool confirmed by an active probe", 1)
"""Raised by ``scan/sniff --confirm`` when the server of a probe-worthy alert answered a Stratum
hello with work (``poolsniff.confirm``); its metadata says what the probe saw."""

FALLBACK: Final = frozenset({RESOLVED_POOL.sid, ENDPOINT_POOL.sid})
"""Signatures kept only when nothing more specific fired on the same flow."""


def for_verdict(flavour: str, role: Role) -> Signature:
    """Return the signature for a dialect flavour and the role of the host that spoke it."""
    if role == Role.INFRA:
        return COIN_DAEMON_RPC
    family = FLAVOUR_FAMILY.get(flavour, "stratum")
    return POOL[family] if role == Role.POOL else MINER[family]


ALL: Final = (
    [*MINER.values(), *POOL.values()]
    + [COIN_DAEMON_RPC, SV2_NOISE, SV2_SETUP, BEHAVIOUR, BEHAVIOUR_OPAQUE]
    + [DNS_POOL, TLS_POOL, HTTP_POOL, RESOLVED_POOL, ENDPOINT_POOL, TUNNEL_POOL]
    + [CONFIRMED]
)
"""Every signature, in the order of the signature table in docs/alerts.md."""


def probe_worthy() -> frozenset[int]:
    """The sids whose alerts ``--confirm`` probes: every signature marked ``probe=True``."""
    return frozenset(s.sid for s in ALL if s.probe)


BY_SID: Final = {s.sid: s for s in ALL}
"""Every signature by its id."""


def by_sid(sid: object) -> Signature | None:
    """The signature with id ``sid``, if poolsniff has one."""
    return BY_SID.get(sid) if isinstance(sid, int) else None
