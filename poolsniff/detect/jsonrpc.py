"""Classify one parsed JSON-RPC message as a mining dialect (detection layer).

JsonMessage -> **jsonrpc.classify** -> Verdict -> stratum detector

The method sets are data (zeek-cryptomining's ``stratum_client_methods`` and friends),
each from PROTOCOLS.md. A method name alone is enough only where it is specific to mining
(``mining.subscribe``, ``eth_submitLogin``). The generic CryptoNote names ``login``,
``submit``, ``job`` (and ``getjob``, ``keepalived``) count only with their params shape.
Replies carry no method, so they are recognised by their result shape (a subscribe result
that lists ``mining.notify``, a login result with a job, an eth-proxy work package).
A JSON object is a ``dict``, as ``json`` parses it (``isinstance`` against ``Mapping`` would run
``ABCMeta.__instancecheck__``, interpreted, for every value tested).
"""

from __future__ import annotations

import re
from typing import Any, Final, final

from poolsniff.detect.evidence import coin_for_wallet, split_login
from poolsniff.model import Role

STRATUM_CLIENT: Final = frozenset({
    "mining.subscribe", "mining.authorize", "mining.submit", "mining.extranonce.subscribe",
    "mining.configure", "mining.suggest_difficulty", "mining.suggest_target",
    "mining.get_transactions", "mining.term", "mining.multi_version",
})  # fmt: skip
"""Stratum v1 requests a miner sends (PROTOCOLS.md §2; BIP 310; NiceHash extensions)."""
STRATUM_SERVER: Final = frozenset({
    "mining.notify", "mining.set_difficulty", "mining.set_target", "mining.set_extranonce",
    "mining.set_version_mask", "mining.ping", "client.reconnect", "client.get_version",
    "client.show_message",
})  # fmt: skip
"""Stratum v1 requests and notifications a pool sends (PROTOCOLS.md §2)."""
ETH_PROXY_CLIENT: Final = frozenset({
    "eth_submitLogin", "eth_login", "eth_getWork", "eth_submitWork", "eth_submitHashrate",
})  # fmt: skip
"""eth-proxy / Claymore / ethminer ETHPROXY requests (PROTOCOLS.md §3)."""
GETWORK_CLIENT: Final = frozenset({"getwork", "getblocktemplate", "submitblock"})
"""Legacy getwork and BIP 22/23 getblocktemplate (PROTOCOLS.md §5)."""
CN_LOGIN_KEYS: Final = frozenset({"login", "pass", "agent", "rigid", "algo", "algo-perf", "mode"})
"""Keys of a CryptoNote/XMRig ``login`` params object (XMRig Client.cpp, xmr-stak)."""
CN_MINER_FIELDS: Final = frozenset({"agent", "rigid", "algo", "algo-perf"})
"""Login keys only a miner sends."""
CN_SUBMIT_KEYS: Final = frozenset({"id", "job_id", "nonce", "result"})
CN_JOB_KEYS: Final = frozenset({"blob", "job_id", "target"})

_NAMED_ENOUGH: Final = STRATUM_CLIENT | STRATUM_SERVER | ETH_PROXY_CLIENT | {"getwork"}
"""Methods specific enough to count even when a client leaves out ``params``."""

_HEX: Final = re.compile(r"^(0x)?[0-9a-fA-F]+$")
_HEX64: Final = re.compile(r"^0x[0-9a-fA-F]{64}$")


@final
class Verdict:
    """What one message says about its sender (a value: compared by its three fields).

    A plain class rather than a frozen dataclass: this module is compiled, and a dataclass's
    generated ``__init__`` stays interpreted (a frozen one's sets each field through
    ``object.__setattr__``); a verdict is made for every JSON message a mining flow carries.
    """

    __slots__ = ("flavour", "sender", "method")

    def __init__(self, flavour: str, sender: Role, method: str) -> None:
        self.flavour: Final = flavour
        self.sender: Final = sender
        self.method: Final = method

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return (self.flavour, self.sender, self.method) == (other.flavour, other.sender, other.method)

    def __hash__(self) -> int:
        return hash((self.flavour, self.sender, self.method))

    def __repr__(self) -> str:
        return f"Verdict(flavour={self.flavour!r}, sender={self.sender!r}, method={self.method!r})"


def _is_hex(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, str) and lo <= len(v) <= hi and bool(_HEX.match(v))


def _stratum_flavour(method: str, params: Any) -> str:
    if method == "mining.set_target":
        return "stratum-v1-equihash"
    if isinstance(params, list):
        if method == "mining.subscribe":
            if any(isinstance(p, str) and p.startswith("EthereumStratum/") for p in params):
                return "ethereumstratum"
            if len(params) == 4 and params[1] is None:
                return "stratum-v1-equihash"
    return "stratum-v1"


def _cn_login(params: Any) -> bool:
    """A CryptoNote login: only CryptoNote keys, and a miner field or a coin address as login.

    ``{"login": "alice", "pass": "x"}`` is what web APIs send too, so a login with only
    ``pass`` counts when the login is a coin address (Coinhive's proxy, bare malware).
    """
    if not isinstance(params, dict) or not isinstance(params.get("login"), str):
        return False
    if not set(params) <= CN_LOGIN_KEYS:
        return False
    if CN_MINER_FIELDS & set(params):
        return True
    return coin_for_wallet(split_login(params["login"]).wallet_type) is not None


def _cn_job(params: Any) -> bool:
    return (
        isinstance(params, dict)
        and CN_JOB_KEYS <= set(params)
        and _is_hex(params.get("blob"), 64, 1 << 14)
    )


def _cn_submit(params: Any) -> bool:
    if not isinstance(params, dict) or not CN_SUBMIT_KEYS <= set(params):
        return False
    return _is_hex(params.get("nonce"), 8, 16) and _is_hex(params.get("result"), 64, 64)


def _cn_id_only(params: Any) -> bool:
    return isinstance(params, dict) and set(params) == {"id"} and isinstance(params["id"], str)


def _request(method: str, params: Any) -> Verdict | None:
    if params is None and (method in _NAMED_ENOUGH):
        params = []
    if method in STRATUM_CLIENT and isinstance(params, list):
        return Verdict(_stratum_flavour(method, params), Role.MINER, method)
    if method in STRATUM_SERVER and isinstance(params, list):
        return Verdict(_stratum_flavour(method, params), Role.POOL, method)
    if method == "mining.hello" and isinstance(params, dict):
        return Verdict("ethereumstratum", Role.MINER, method)
    if method in ETH_PROXY_CLIENT and isinstance(params, list):
        return Verdict("eth-proxy", Role.MINER, method)
    if method == "getblocktemplate" and isinstance(params, dict) and "wallet_address" in params:
        # XMRig DaemonClient solo mining against monerod's /json_rpc (PROTOCOLS.md §4)
        return Verdict("getblocktemplate", Role.MINER, method)
    if method in GETWORK_CLIENT and isinstance(params, list):
        return Verdict(method if method != "submitblock" else "getblocktemplate", Role.MINER, method)
    if method == "login" and _cn_login(params):
        return Verdict("cryptonote", Role.MINER, method)
    if method == "submit" and _cn_submit(params):
        return Verdict("cryptonote", Role.MINER, method)
    if method == "job" and _cn_job(params):
        return Verdict("cryptonote", Role.POOL, method)
    if method in ("keepalived", "getjob") and _cn_id_only(params):
        return Verdict("cryptonote", Role.MINER, method)
    return None


def _mentions_notify(v: Any, depth: int = 0) -> bool:
    """True for the subscribe result's subscription list: [["mining.notify", id], ...]."""
    if not isinstance(v, list) or depth > 3 or not v:
        return False
    if isinstance(v[0], str):
        return v[0] in ("mining.notify", "mining.set_difficulty") and len(v) >= 2
    return any(_mentions_notify(x, depth + 1) for x in v[:4])


def _reply(result: Any) -> Verdict | None:
    if isinstance(result, list) and len(result) >= 2 and _mentions_notify(result[0]):
        sub = result[0]
        flat = sub if isinstance(sub[0], str) else []
        es = any(isinstance(x, str) and x.startswith("EthereumStratum/") for x in flat)
        flavour = "ethereumstratum" if es else "stratum-v1"
        return Verdict(flavour, Role.POOL, "mining.subscribe(result)")
    if isinstance(result, dict):
        if isinstance(result.get("version-rolling"), bool) and "version-rolling.mask" in result:
            return Verdict("stratum-v1", Role.POOL, "mining.configure(result)")
        if result.get("status") == "KEEPALIVED":
            return Verdict("cryptonote", Role.POOL, "keepalived(result)")
        job = result.get("job")
        if isinstance(job, dict) and _cn_job(job):
            return Verdict("cryptonote", Role.POOL, "login(result)")
        if "midstate" in result and "data" in result and _is_hex(result.get("data"), 128, 256):
            return Verdict("getwork", Role.POOL, "getwork(result)")
    if (
        isinstance(result, list)
        and 3 <= len(result) <= 4
        and all(isinstance(x, str) for x in result)
        and _HEX64.match(result[0])
        and _HEX64.match(result[1])
    ):
        return Verdict("eth-proxy", Role.POOL, "eth_getWork(result)")
    return None


def classify(value: dict[str, Any]) -> Verdict | None:
    """Classify one JSON-RPC object; None when it is not (recognisably) mining."""
    method = value.get("method")
    if isinstance(method, str):
        return _request(method, value.get("params"))
    if "result" in value and ("id" in value or "error" in value):
        return _reply(value["result"])
    return None
