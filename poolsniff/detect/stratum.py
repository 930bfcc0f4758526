"""The Stratum / JSON-RPC mining detector (detection layer).

JsonMessage -> jsonrpc.classify -> **StratumDetector** -> Detection -> enrichment

Every JSON value from a TCP line stream or an HTTP body is classified. A request sent by
the miner raises the dialect's miner signature, one sent by the pool (or a pool-shaped
reply) the pool-server signature; the alert is always oriented miner -> pool. Evidence
(agent, login, wallet, worker, algorithm, coin, pool host named in the params) is taken
from each message. getblocktemplate/submitblock over HTTP with no miner marker (no
``X-Mining-*`` header, no miner User-Agent, no ``capabilities``) is a pool or solo node
talking to its coin daemon: mining infrastructure, not a miner.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from poolsniff.detect import evidence as ev
from poolsniff.detect import signatures as sigs
from poolsniff.detect.jsonrpc import Verdict, classify
from poolsniff.intel.psl import normalise
from poolsniff.model import Detection, Event, FlowKey, HttpMessage, JsonMessage, Role

GBT_MINER_CAPS: Final = frozenset({"coinbasetxn", "workid", "coinbase/append", "longpoll"})
"""getblocktemplate capabilities a pool-mining client announces (BIP 22/23; cgminer, bfgminer)."""
DAEMON_RPC_PORTS: Final = frozenset({
    8332, 18332, 18443, 38332,  # bitcoind (and Bitcoin Cash, eCash): main, testnet, regtest, signet
    9332, 19332,  # litecoind: main, testnet
    22555, 44555,  # dogecoind
    9998, 19998,  # dashd
    8232, 18232,  # zcashd
})  # fmt: skip
"""The JSON-RPC ports of the coin daemons pool software asks for templates (each coin's defaults)."""
VARIANTS: Final = frozenset({"ethereumstratum", "stratum-v1-equihash"})
"""Stratum v1 variants a flow announces once."""
MAX_FLOWS: Final = 50_000
"""Flows whose Stratum variant is remembered."""
MAX_CACHED_AUTHS: Final = 4_096
"""HTTP Basic credentials whose user is remembered (``_basic_user``)."""
MASQUERADE_PORTS: Final = {
    25: "SMTP", 53: "DNS", 80: "HTTP", 110: "POP3", 143: "IMAP", 443: "HTTPS", 465: "SMTPS",
    587: "SMTP", 993: "IMAPS", 995: "POP3S", 5222: "XMPP", 8080: "HTTP", 8443: "HTTPS",
}  # fmt: skip
"""Well-known service ports miners use to pass firewalls (PROTOCOLS.md §8: 25/80/443/5222)."""
FLAVOUR_COIN: Final = {
    "ethereumstratum": "Ethereum",
    "eth-proxy": "Ethereum",
    "stratum-v1-equihash": "Zcash",
    "cryptonote": "Monero",
}
"""The coin a dialect implies when nothing more specific is known."""


class StratumDetector:
    """Raises mining-dialect signatures from JSON-RPC messages."""

    name = "stratum"
    events: tuple[type[Event], ...] = (JsonMessage,)

    def __init__(self, settled: Callable[[FlowKey, int], bool] | None = None) -> None:
        """Start with no flow known to speak a Stratum variant.

        ``settled(flow, sid)`` says the pipeline has already alerted that signature on that
        flow and will drop a new detection of it: such a detection is yielded bare, without
        the evidence nobody will read (a mining session repeats its submits for hours).
        """
        self._variant: OrderedDict[FlowKey, str] = OrderedDict()
        self.settled = settled

    def inspect(self, event: Event) -> list[Detection]:
        """A detection for a JSON message that speaks a mining dialect (a list: none or one)."""
        if not isinstance(event, JsonMessage) or not isinstance(event.value, dict):
            return []
        verdict = classify(event.value)
        if verdict is None:
            return []
        verdict = self._flow_variant(event.flow, verdict)
        role = verdict.sender
        if verdict.flavour in ("getblocktemplate",) and event.via_http and not _miner_marked(event):
            role = Role.INFRA
        miner_is_client = event.from_client if role != Role.POOL else not event.from_client
        sig = sigs.for_verdict(verdict.flavour, role)
        det = Detection(event.ts_us, event.flow, sig, role, miner_is_client)
        if self.settled is None or not self.settled(event.flow, sig.sid):
            _fill(det, verdict, event)
        return [det]

    def _flow_variant(self, flow: FlowKey, verdict: Verdict) -> Verdict:
        """A flow that showed a Stratum variant keeps it for its plain ``mining.*`` messages.

        EthereumStratum and the Equihash variant announce themselves once (in the subscribe
        or its result, or with ``mining.set_target``); the authorize, notify and submit that
        follow look like plain Stratum v1.
        """
        if verdict.flavour in VARIANTS:
            self._variant[flow] = verdict.flavour
            if len(self._variant) > MAX_FLOWS:
                self._variant.popitem(last=False)
            return verdict
        if verdict.flavour == "stratum-v1":
            known = self._variant.get(flow)
            if known is not None:
                return Verdict(known, verdict.sender, verdict.method)
        return verdict


def _miner_marked(event: JsonMessage) -> bool:
    """A getblocktemplate/submitblock over HTTP that a miner sent, not a pool asking its daemon."""
    http = event.http
    headers = http.headers if http is not None else {}
    if any(h in headers for h in ev.MINER_REQUEST_HEADERS):
        return True
    if ev.is_miner_agent(headers.get("user-agent", "")):
        return True
    params = event.value.get("params")
    if isinstance(params, dict) and "wallet_address" in params:  # XMRig --daemon, solo mining
        return True
    if isinstance(params, list) and params and isinstance(params[0], dict):
        caps = params[0].get("capabilities")
        if isinstance(caps, list) and GBT_MINER_CAPS & {c for c in caps if isinstance(c, str)}:
            return not _daemon_rpc_shaped(event, headers)
    return False


def _daemon_rpc_shaped(event: JsonMessage, headers: Mapping[str, str]) -> bool:
    """Sent to a coin daemon's RPC port, or with Basic auth and no User-Agent (pool software's RPC)."""
    port = event.flow.server_port if event.from_client else event.flow.client_port
    if port in DAEMON_RPC_PORTS:
        return True
    basic = headers.get("authorization", "").lower().startswith("basic ")
    return basic and "user-agent" not in headers


def _put(det: Detection, key: str, value: Any) -> None:
    if isinstance(value, str) and value and key not in det.evidence:
        det.evidence[key] = value[:200]


def _fill(det: Detection, verdict: Verdict, event: JsonMessage) -> None:
    """Copy what the message says about the miner into the detection's evidence."""
    value = event.value
    _put(det, "flavour", verdict.flavour)
    _put(det, "method", verdict.method)
    params = value.get("params")
    method = verdict.method
    if isinstance(params, list):
        _from_list_params(det, method, params)
        if method == "mining.subscribe" and len(params) >= 2 and isinstance(params[1], str):
            if params[1].startswith("EthereumStratum/"):
                _put(det, "protocol", params[1])
    elif isinstance(params, dict):
        _from_dict_params(det, params)
    result = value.get("result")
    if isinstance(result, dict):
        job = result.get("job")
        if isinstance(job, dict):
            _put(det, "algorithm", job.get("algo"))
        if isinstance(result.get("extensions"), list):
            _put(det, "extensions", ",".join(str(x) for x in result["extensions"][:8]))
    if event.http is not None:
        _from_http(det, event.http)
    _derive(det)
    # eth-proxy's message-level "worker" names the rig when the login carries no worker
    if isinstance(value.get("worker"), str):
        _put(det, "worker", value["worker"])
    port = det.flow.server_port if det.miner_is_client else det.flow.client_port
    if port in MASQUERADE_PORTS and not event.via_http:
        _put(det, "port_masquerade", f"{MASQUERADE_PORTS[port]} port {port} without {MASQUERADE_PORTS[port]}")


def _from_list_params(det: Detection, method: str, params: list[Any]) -> None:
    if method == "mining.subscribe" and params:
        _put(det, "agent", params[0])
        # EWBF sends [agent, session, host, port]; NiceHash's third param is an HMAC, not a host
        if len(params) >= 3 and isinstance(params[2], str) and normalise(params[2]) is not None:
            det.names.append(params[2])
            _put(det, "pool_host", params[2])
    elif method in ("mining.authorize", "eth_submitLogin", "eth_login") and params:
        _put(det, "login", params[0])
    elif method == "mining.submit" and params:
        _put(det, "login", params[0])


def _from_dict_params(det: Detection, params: Mapping[str, Any]) -> None:
    _put(det, "login", params.get("login"))
    _put(det, "agent", params.get("agent"))
    _put(det, "rigid", params.get("rigid"))
    algo = params.get("algo")
    if isinstance(algo, list):
        _put(det, "algorithm", ",".join(str(a) for a in algo[:6]))
    else:
        _put(det, "algorithm", algo)
    _put(det, "protocol", params.get("proto"))
    host = params.get("host")
    if isinstance(host, str) and host:
        det.names.append(host)
        _put(det, "pool_host", host)


def _from_http(det: Detection, http: HttpMessage) -> None:
    _put(det, "agent", http.headers.get("user-agent"))
    host = http.headers.get("host", "").rsplit(":", 1)[0] if http.headers.get("host") else ""
    if host:
        det.names.append(host)
    if "?" in http.uri:  # no query otherwise: most getwork requests POST to "/"
        query = parse_qs(urlsplit(http.uri).query)
        if "miner" in query:
            _put(det, "login", query["miner"][0])
    auth = http.headers.get("authorization", "")
    if auth and det.role != Role.INFRA:
        user = _basic_user(auth)
        if user is not None:
            _put(det, "login", user)


@lru_cache(maxsize=MAX_CACHED_AUTHS)
def _basic_user(auth: str) -> str | None:
    """The user of an HTTP ``Authorization: Basic`` value (None: another scheme, or not base64). A miner
    sends the same one with every getwork request; decoding it took ~4,000 instructions a time."""
    if not auth.lower().startswith("basic "):
        return None
    try:
        user = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    return user.split(":", 1)[0]


def _derive(det: Detection) -> None:
    """Split the login, parse the agent, and name the algorithm and coin."""
    e = det.evidence
    agent = e.get("agent")
    if agent and "software" not in e:
        parsed = ev.parse_agent(agent)
        if parsed is not None:
            e["software"], e["software_version"] = parsed
    login = e.get("login")
    if login and "wallet_type" not in e:
        parts = ev.split_login(login)
        for key, val in (
            ("wallet", parts.wallet), ("wallet_type", parts.wallet_type), ("worker", parts.worker),
            ("payment_id", parts.payment_id), ("email", parts.email),
        ):  # fmt: skip
            if val:
                e.setdefault(key, val)
    if "coin" not in e:
        coin = None
        if e.get("algorithm"):
            coin = ev.coin_for_algo(e["algorithm"].split(",")[0])
        if coin is None:
            coin = FLAVOUR_COIN.get(e.get("flavour", ""))
        if coin is None and e.get("wallet_type"):
            coin = ev.coin_for_wallet(e["wallet_type"])
        if coin is not None:
            e["coin"] = coin
