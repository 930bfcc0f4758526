"""Tests for poolsniff.detect.stratum: JsonMessage events -> oriented detections with evidence.

The dialect rows come from ``test_jsonrpc.DIALECTS`` (PROTOCOLS.md lines); here each is sent
from both ends of a flow and must raise its family's miner or pool signature, oriented so
that ``miner_is_client`` names the miner. Evidence, per-flow variant memory and the HTTP
markers that separate a miner from a pool talking to its coin daemon follow.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.detect import stratum
from poolsniff.detect.stratum import StratumDetector
from poolsniff.model import Detection, FlowKey, HttpMessage, JsonMessage, Role
from tests.detect.test_jsonrpc import BTC, DIALECTS, ETH, GBT_BFGMINER, GBT_SOLO, GETWORK_PLAIN, XMR, fill

TS = 1_700_000_000_000_000
FLOW = FlowKey("10.0.0.1", 40000, "192.168.1.2", 3333, 6)
OTHER_FLOW = FlowKey("10.0.0.1", 40001, "192.168.1.2", 3333, 6)
HTTP_FLOW = FlowKey("10.0.0.1", 40002, "192.0.2.10", 8332, 6)
MINER, POOL, INFRA = Role.MINER, Role.POOL, Role.INFRA

FAMILY_SIDS = {
    "stratum-v1": (9300101, 9300102),
    "stratum-v1-equihash": (9300101, 9300102),
    "ethereumstratum": (9300103, 9300104),
    "eth-proxy": (9300105, 9300106),
    "cryptonote": (9300107, 9300108),
    "getwork": (9300109, 9300110),
    "getblocktemplate": (9300109, 9300110),
}
"""(miner sid, pool sid) each flavour must raise (README signature table)."""
COIN_DAEMON_SID = 9300120



def message(
    line: str | Mapping[str, Any],
    *,
    from_client: bool = True,
    flow: FlowKey = FLOW,
    http: HttpMessage | None = None,
) -> JsonMessage:
    """A JsonMessage from a PROTOCOLS.md line (placeholders filled) or a parsed value."""
    value = fill(line) if isinstance(line, str) else line
    return JsonMessage(TS, flow, from_client, value, via_http=http is not None, http=http)


def http_request(uri: str = "/", **headers: str) -> HttpMessage:
    """A POST head; header names given with underscores (``user_agent``) become ``user-agent``."""
    heads = {k.replace("_", "-"): v for k, v in headers.items()}
    return HttpMessage(TS, HTTP_FLOW, True, True, "POST", uri, 0, heads)


def detect_one(event: JsonMessage, detector: StratumDetector | None = None) -> Detection:
    """The one detection ``event`` raises on ``detector`` (a fresh one by default)."""
    found = list((detector or StratumDetector()).inspect(event))
    assert len(found) == 1, found
    return found[0]


def basic(user: str, password: str = "x") -> str:
    """An Authorization: Basic value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------- every dialect, both ends


@pytest.mark.parametrize("from_client", [True, False], ids=["sent-by-client", "sent-by-server"])
@pytest.mark.parametrize(("line", "flavour", "sender", "method"), DIALECTS)
def test_dialect_raises_family_signature(
    line: str, flavour: str, sender: Role, method: str, from_client: bool
) -> None:
    """The sender's role picks miner or pool signature; the alert is oriented to the miner."""
    det = detect_one(message(line, from_client=from_client))
    miner_sid, pool_sid = FAMILY_SIDS[flavour]
    assert det.signature.sid == (miner_sid if sender == MINER else pool_sid)
    assert det.role == sender
    assert det.miner_is_client == (from_client if sender == MINER else not from_client)
    assert (det.evidence["flavour"], det.evidence["method"]) == (flavour, method)
    assert (det.flow, det.ts_us) == (FLOW, TS)


NOT_JSON_OBJECTS = [
    pytest.param([{"id": 1, "method": "mining.subscribe", "params": []}], id="batch-list"),
    pytest.param("mining.subscribe", id="string"),
    pytest.param(None, id="null"),
    pytest.param(42, id="number"),
]


@pytest.mark.parametrize("value", NOT_JSON_OBJECTS)
def test_json_value_that_is_not_an_object_is_ignored(value: Any) -> None:
    """Only JSON objects are JSON-RPC messages."""
    event = JsonMessage(TS, FLOW, True, value)
    assert list(StratumDetector().inspect(event)) == []


# --------------------------------------------------------------------------- evidence

XMRIG_LOGIN = (
    '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"<XMR>.rig1","pass":"x",'
    '"agent":"XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1","rigid":"rig-7",'
    '"algo":["rx/0","cn/2","cn/r","cn/fast"]}}'
)
EVIDENCE_ROWS = [
    pytest.param(XMRIG_LOGIN, {
        "software": "XMRig", "software_version": "6.22.2", "login": XMR + ".rig1", "wallet": XMR,
        "wallet_type": "monero-standard", "worker": "rig1", "rigid": "rig-7",
        "algorithm": "rx/0,cn/2,cn/r,cn/fast", "coin": "Monero",
    }, [], id="xmrig-login"),
    pytest.param('{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"<XMR>","pass":"x",'
                 '"agent":"XMRig/6.22.2","algo":["rx/wow"]}}',
                 {"algorithm": "rx/wow", "coin": "Wownero", "wallet_type": "monero-standard"}, [],
                 id="xmrig-login-algo-names-coin"),
    pytest.param('{"method":"login","params":{"login":"<XMR>","pass":"x","agent":"xmr-stak-cpu/1.0.0"},"id":1}',
                 {"software": "xmr-stak-cpu", "software_version": "1.0.0", "wallet": XMR}, [],
                 id="xmr-stak-cpu-login"),
    pytest.param('{"method":"login","params":{"login":"<XMR>","pass":"x","agent":"cpuminer-multi/1.3.7"},"id":1}',
                 {"software": "cpuminer-multi", "software_version": "1.3.7"}, [], id="cpuminer-multi-login"),
    pytest.param('{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"1be0b7b6","job_id":"q7PL",'
                 '"nonce":"<NONCE8>","result":"<RESULT64>","algo":"rx/0"}}',
                 {"algorithm": "rx/0", "coin": "Monero"}, [], id="xmrig-submit-algo"),
    pytest.param('{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"1be0b7b6","job":{"blob":"<BLOB>",'
                 '"job_id":"q7PL","target":"b88d0600","id":"1be0b7b6","algo":"rx/0"},"status":"OK",'
                 '"extensions":["algo","nicehash","connect","tls","keepalive"]}}',
                 {"algorithm": "rx/0", "extensions": "algo,nicehash,connect,tls,keepalive", "coin": "Monero"},
                 [], id="pool-login-result"),
    pytest.param('{"worker": "eth1.0", "jsonrpc": "2.0", "params": '
                 '["<ETH>/tester.worker1/vvesely@mailinator", "x"], "id": 2, "method": "eth_submitLogin"}',
                 {"wallet": ETH, "wallet_type": "ethereum", "email": "vvesely@mailinator",
                  "coin": "Ethereum"},
                 [], id="claymore-submitLogin"),
    pytest.param('{"id":1,"method":"eth_submitLogin","params":["<ETH>.rig1","x"],"worker":"rig1"}',
                 {"login": ETH + ".rig1", "wallet": ETH, "worker": "rig1"}, [], id="ethminer-submitLogin"),
    pytest.param('{"id": 3, "method": "mining.authorize", "params": ["<BTC>.rig4", "x"]}',
                 {"wallet": BTC, "worker": "rig4", "wallet_type": "bitcoin-base58", "coin": "Bitcoin"}, [],
                 id="authorize-address-worker"),
    pytest.param('{"id": 3, "method": "mining.authorize", "params": ["kvetak.worker1", "x"]}',
                 {"wallet": "kvetak", "worker": "worker1", "wallet_type": "account"}, [],
                 id="authorize-suprnova-account"),
    pytest.param('{"params": ["<BTC>.rig4", "4f", "00000000", "5d5a0c1b", "a1b2c3d4"], "id": 5, '
                 '"method": "mining.submit"}', {"wallet": BTC, "worker": "rig4"}, [], id="submit-user"),
    pytest.param('{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}',
                 {"software": "cgminer", "software_version": "4.11.1"}, [], id="cgminer-subscribe"),
    pytest.param('{"id": 1, "method": "mining.subscribe", "params": ["bitaxe/BM1366/v2.1.0"]}',
                 {"software": "bitaxe", "software_version": "v2.1.0"}, [], id="bitaxe-subscribe"),
    pytest.param('{"id":1,"method":"mining.subscribe","params":["EWBF 0.3.4b",null,"eu1-zcash.flypool.org",'
                 '"3333"]}', {"software": "EWBF", "software_version": "0.3.4b",
                              "pool_host": "eu1-zcash.flypool.org", "coin": "Zcash"},
                 ["eu1-zcash.flypool.org"], id="ewbf-subscribe-pool-host"),
    pytest.param('{"id":1,"method":"mining.hello","params":{"agent":"ethminer-0.19.0","host":"eu1.ethermine.org",'
                 '"port":"d05","proto":"EthereumStratum/2.0.0"}}',
                 {"software": "ethminer", "software_version": "0.19.0", "pool_host": "eu1.ethermine.org",
                  "protocol": "EthereumStratum/2.0.0", "coin": "Ethereum"}, ["eu1.ethermine.org"],
                 id="es2-hello-pool-host"),
    pytest.param('{"id":1,"method":"mining.subscribe","params":["ethminer-0.19.0","EthereumStratum/1.0.0"]}',
                 {"software": "ethminer", "protocol": "EthereumStratum/1.0.0", "coin": "Ethereum"}, [],
                 id="es1-subscribe-protocol"),
    pytest.param('{"id":1,"method":"mining.subscribe","params":["NiceHash/1.0.0","1662637786319",'
                 '"3e747837e632920e8cd11453c2558233e3822489a20d828fdf205a149b064afc"]}',
                 {"software": "NiceHash", "software_version": "1.0.0", "pool_host": None}, [],
                 id="nicehash-hmac-is-not-a-host"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected", "names"), EVIDENCE_ROWS)
def test_evidence_from_message(line: str, expected: dict[str, str | None], names: list[str]) -> None:
    """Agent -> software and version; login -> wallet, type, worker; algo/flavour -> coin; hosts."""
    det = detect_one(message(line))
    assert {key: det.evidence.get(key) for key in expected} == expected
    assert det.names == names


def test_evidence_values_are_capped() -> None:
    """An oversized agent is kept only up to 200 characters."""
    det = detect_one(message({"id": 1, "method": "mining.subscribe", "params": ["A" * 5000]}))
    assert det.evidence["agent"] == "A" * 200


# --------------------------------------------------------------------------- per-flow variant memory

ES1_SUBSCRIBE = (
    '{"id": 1, "method": "mining.subscribe", "params": ["MinerName/1.0.0", "EthereumStratum/1.0.0"]}'
)
ES1_RESULT = (
    '{"id": 1, "result": [["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f", "EthereumStratum/1.0.0"], '
    '"080c"], "error": null}'
)
ES2_HELLO = (
    '{"id":1,"method":"mining.hello","params":{"agent":"ethminer-0.19.0","host":"eu1.ethermine.org",'
    '"port":"d05","proto":"EthereumStratum/2.0.0"}}'
)
EWBF_SUBSCRIBE = (
    '{"id":1,"method":"mining.subscribe","params":["EWBF 0.3.4b",null,"eu1-zcash.flypool.org","3333"]}'
)
SET_TARGET = '{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7"]}'
AUTHORIZE = '{"id": 2, "method": "mining.authorize", "params": ["<ETH>.rig1", "x"]}'
ES_SUBMIT = '{"id": 244, "method": "mining.submit", "params": ["username", "bf0488aa", "6a909d9bbc0f"]}'
NOTIFY = '{"id": null, "method": "mining.notify", "params": ["bf0488aa", "<SEED>", "<H64>", true]}'

VARIANT_ROWS = [
    pytest.param((ES1_SUBSCRIBE, True), (AUTHORIZE, True), "ethereumstratum", 9300103,
                 id="es1-then-authorize"),
    pytest.param((ES1_SUBSCRIBE, True), (ES_SUBMIT, True), "ethereumstratum", 9300103, id="es1-then-submit"),
    pytest.param((ES1_SUBSCRIBE, True), (NOTIFY, False), "ethereumstratum", 9300104, id="es1-then-notify"),
    pytest.param((ES1_RESULT, False), (AUTHORIZE, True), "ethereumstratum", 9300103,
                 id="es1-result-then-authorize"),
    pytest.param((ES2_HELLO, True), (AUTHORIZE, True), "ethereumstratum", 9300103,
                 id="es2-hello-then-authorize"),
    pytest.param((EWBF_SUBSCRIBE, True), (ES_SUBMIT, True), "stratum-v1-equihash", 9300101,
                 id="ewbf-then-submit"),
    pytest.param((SET_TARGET, False), (NOTIFY, False), "stratum-v1-equihash", 9300102,
                 id="set_target-then-notify"),
]  # fmt: skip


@pytest.mark.parametrize(("first", "second", "flavour", "sid"), VARIANT_ROWS)
def test_flow_keeps_its_announced_variant(
    first: tuple[str, bool], second: tuple[str, bool], flavour: str, sid: int
) -> None:
    """A plain mining.* message counts as the variant its flow announced earlier."""
    detector = StratumDetector()
    detect_one(message(first[0], from_client=first[1]), detector)
    det = detect_one(message(second[0], from_client=second[1]), detector)
    assert (det.evidence["flavour"], det.signature.sid) == (flavour, sid)


@pytest.mark.parametrize(("first", "second", "flavour", "sid"), VARIANT_ROWS)
def test_variant_stays_on_its_flow(
    first: tuple[str, bool], second: tuple[str, bool], flavour: str, sid: int
) -> None:
    """Another flow's plain message stays plain Stratum v1."""
    detector = StratumDetector()
    detect_one(message(first[0], from_client=first[1]), detector)
    det = detect_one(message(second[0], from_client=second[1], flow=OTHER_FLOW), detector)
    assert det.evidence["flavour"] == "stratum-v1"
    assert det.signature.sid in FAMILY_SIDS["stratum-v1"]


def test_variant_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_FLOWS flows the oldest flow's variant is forgotten."""
    monkeypatch.setattr(stratum, "MAX_FLOWS", 1)
    detector = StratumDetector()
    detect_one(message(ES1_SUBSCRIBE, flow=FLOW), detector)
    detect_one(message(ES1_SUBSCRIBE, flow=OTHER_FLOW), detector)
    assert detect_one(message(AUTHORIZE, flow=FLOW), detector).evidence["flavour"] == "stratum-v1"
    assert detect_one(message(AUTHORIZE, flow=OTHER_FLOW), detector).evidence["flavour"] == "ethereumstratum"


# --------------------------------------------------------------------------- HTTP: miner or coin daemon

BFGMINER_HEADERS = {
    "authorization": basic(BTC + ".rig1"),
    "content-type": "application/json",
    "x-mining-extensions": "longpoll midstate rollntime submitold",
    "user-agent": "bfgminer/5.2.0",
}
SUBMITBLOCK = '{"id": 1, "method": "submitblock", "params": ["<H64>"]}'
POOL_HTTP_PORT, DAEMON_PORT, CUSTOM_DAEMON_PORT = 3333, 8332, 9333
"""A pool's getwork port; bitcoind's RPC port; a daemon on a port of its own (CoiniumServ's capture)."""
RPC_AUTH = {"authorization": basic("user", "password")}
COINIUMSERV_HEADERS = {**RPC_AUTH, "host": "10.0.0.40:9333", "connection": "keep-alive"}
"""What CoiniumServ sends its coin daemon (the coiniumserv__* corpus captures): no User-Agent."""
XMRIG_DAEMON = json.dumps(
    {"id": 1, "method": "getblocktemplate", "params": {"wallet_address": XMR, "reserve_size": 60}}
)
HTTP_ROWS = [
    pytest.param(GBT_BFGMINER, BFGMINER_HEADERS, DAEMON_PORT, 9300109, MINER, id="bfgminer-all-markers"),
    pytest.param(GBT_SOLO, {"x-mining-extensions": "longpoll midstate rollntime submitold"}, DAEMON_PORT,
                 9300109, MINER, id="x-mining-extensions"),
    pytest.param(GBT_SOLO, {"x-mining-hashrate": "12345"}, DAEMON_PORT, 9300109, MINER,
                 id="x-mining-hashrate"),
    pytest.param(GBT_SOLO, {"user-agent": "cgminer/4.11.1"}, DAEMON_PORT, 9300109, MINER,
                 id="miner-user-agent"),
    pytest.param(GBT_BFGMINER, {"content-type": "application/json"}, POOL_HTTP_PORT, 9300109, MINER,
                 id="capabilities-only"),
    pytest.param(GBT_BFGMINER, {"user-agent": "cgminer/3.7.2", **RPC_AUTH}, CUSTOM_DAEMON_PORT, 9300109,
                 MINER, id="capabilities-basic-auth-miner-agent"),
    pytest.param(XMRIG_DAEMON, {"user-agent": "curl/8.0"}, 18081, 9300109, MINER, id="xmrig-daemon-wallet"),
    pytest.param(GETWORK_PLAIN, {}, DAEMON_PORT, 9300109, MINER, id="getwork-no-marker"),
    pytest.param(GBT_SOLO, {}, DAEMON_PORT, COIN_DAEMON_SID, INFRA, id="solo-gbt-no-marker"),
    pytest.param(GBT_SOLO, {"user-agent": "python-requests/2.31.0"}, DAEMON_PORT, COIN_DAEMON_SID, INFRA,
                 id="gbt-library-user-agent"),
    pytest.param(GBT_SOLO, RPC_AUTH, DAEMON_PORT, COIN_DAEMON_SID, INFRA, id="gbt-rpc-auth-only"),
    pytest.param(GBT_BFGMINER, COINIUMSERV_HEADERS, CUSTOM_DAEMON_PORT, COIN_DAEMON_SID, INFRA,
                 id="capabilities-with-rpc-auth-no-agent"),
    pytest.param(GBT_BFGMINER, {"content-type": "application/json"}, DAEMON_PORT, COIN_DAEMON_SID, INFRA,
                 id="capabilities-to-a-daemon-port"),
    pytest.param(SUBMITBLOCK, {}, DAEMON_PORT, COIN_DAEMON_SID, INFRA, id="submitblock-no-marker"),
    pytest.param(SUBMITBLOCK, COINIUMSERV_HEADERS, CUSTOM_DAEMON_PORT, COIN_DAEMON_SID, INFRA,
                 id="submitblock-rpc-auth"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "headers", "port", "sid", "role"), HTTP_ROWS)
def test_getblocktemplate_over_http(
    line: str, headers: dict[str, str], port: int, sid: int, role: Role
) -> None:
    """A miner marker (header, User-Agent, capabilities not shaped like daemon RPC) makes a miner."""
    flow = HTTP_FLOW._replace(server_port=port)
    http = HttpMessage(TS, flow, True, True, "POST", "/", 0, headers)
    det = detect_one(message(line, flow=flow, http=http))
    assert (det.signature.sid, det.role, det.miner_is_client) == (sid, role, True)


def test_getblocktemplate_over_plain_tcp_is_a_miner() -> None:
    """Without HTTP there is no coin-daemon RPC to confuse it with."""
    det = detect_one(message(GBT_SOLO))
    assert (det.signature.sid, det.role) == (9300109, MINER)


AUTH_ROWS = [
    pytest.param(GBT_BFGMINER, BFGMINER_HEADERS, {"login": BTC + ".rig1", "wallet": BTC, "worker": "rig1",
                                                  "software": "bfgminer", "software_version": "5.2.0"},
                 id="miner-basic-auth-user"),
    pytest.param(GETWORK_PLAIN, {"authorization": basic("kvetak.worker1")},
                 {"login": "kvetak.worker1", "wallet": "kvetak", "worker": "worker1"},
                 id="getwork-basic-auth"),
    pytest.param(GBT_SOLO, {"authorization": basic("rpcuser", "rpcpass")}, {"login": None, "wallet": None},
                 id="coin-daemon-rpc-user-is-not-a-login"),
    pytest.param(GBT_BFGMINER, COINIUMSERV_HEADERS, {"login": None, "wallet": None},
                 id="coiniumserv-rpc-user-is-not-a-wallet"),
    pytest.param(GETWORK_PLAIN, {"authorization": "Basic %%%not-base64"}, {"login": None},
                 id="broken-basic-auth"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "headers", "expected"), AUTH_ROWS)
def test_basic_authorization_user(
    line: str, headers: dict[str, str], expected: dict[str, str | None]
) -> None:
    """A miner's HTTP Basic user is its login; a coin-daemon RPC user is not."""
    http = HttpMessage(TS, HTTP_FLOW, True, True, "POST", "/", 0, headers)
    det = detect_one(message(line, flow=HTTP_FLOW, http=http))
    assert {key: det.evidence.get(key) for key in expected} == expected


ETH_HTTP_WALLET = "0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745"
MINER_URI_ROWS = [
    pytest.param(f"/?miner=30@{ETH_HTTP_WALLET}@OptionalRigName",
                 {"login": f"30@{ETH_HTTP_WALLET}@OptionalRigName", "wallet": ETH_HTTP_WALLET,
                  "wallet_type": "ethereum", "worker": "OptionalRigName", "coin": "Ethereum"},
                 id="mh-addr-rig"),
    pytest.param(f"/?miner=30@{ETH_HTTP_WALLET}", {"wallet": ETH_HTTP_WALLET, "worker": None}, id="mh-addr"),
    pytest.param("/", {"login": None, "wallet": None}, id="no-miner-parameter"),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "expected"), MINER_URI_ROWS)
def test_http_getwork_miner_parameter(uri: str, expected: dict[str, str | None]) -> None:
    """``POST /?miner=<MH>@<addr>@<rig>`` (pool.eth.pp.ua) gives the wallet and the rig."""
    http = http_request(uri, host="pool.eth.pp.ua", content_type="application/json")
    det = detect_one(message('{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}', flow=HTTP_FLOW, http=http))
    assert det.signature.sid == 9300105
    assert {key: det.evidence.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("host", "name"),
    [("pool.eth.pp.ua", "pool.eth.pp.ua"), ("pool.eth.pp.ua:8080", "pool.eth.pp.ua")],
)
def test_http_host_becomes_a_name(host: str, name: str) -> None:
    """The Host header, without its port, is a name to check against the lists."""
    http = http_request("/", host=host)
    det = detect_one(message('{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}', flow=HTTP_FLOW, http=http))
    assert det.names == [name]


# --------------------------------------------------------------------------- robustness

HEADER_VALUES = st.text(max_size=40) | st.sampled_from(["Basic", "Basic ", "Basic \u00e9\u00e9", "cgminer/1"])


@given(
    st.sampled_from([fill(p.values[0]) for p in DIALECTS if not p.marks]),
    st.dictionaries(
        st.sampled_from(["authorization", "user-agent", "host", "x-mining-hashrate"]), HEADER_VALUES
    ),
    st.text(max_size=40),
    st.booleans(),
)
def test_inspect_never_raises_on_odd_http(
    value: dict[str, Any], headers: dict[str, str], uri: str, from_client: bool
) -> None:
    """Odd headers and URIs around a mining body still give exactly one detection."""
    http = HttpMessage(TS, HTTP_FLOW, from_client, True, "POST", "/" + uri, 0, headers)
    event = JsonMessage(TS, HTTP_FLOW, from_client, json.loads(json.dumps(value)), via_http=True, http=http)
    assert len(list(StratumDetector().inspect(event))) == 1


# --------------------------------------------------------------------------- settled signatures


@pytest.mark.parametrize(
    ("settled", "filled"),
    [
        pytest.param(set(), True, id="nothing-settled"),
        pytest.param({(FLOW, 9300107)}, False, id="this-signature-settled"),
        pytest.param({(FLOW, 9300108)}, True, id="the-other-side-settled"),
        pytest.param({(OTHER_FLOW, 9300107)}, True, id="another-flow-settled"),
    ],
)
def test_settled_signature_yields_a_bare_detection(settled: set[tuple[FlowKey, int]], filled: bool) -> None:
    """A detection the pipeline will drop is yielded without evidence; any other is filled."""
    asked: list[tuple[FlowKey, int]] = []

    def is_settled(flow: FlowKey, sid: int) -> bool:
        asked.append((flow, sid))
        return (flow, sid) in settled

    event = message(XMRIG_LOGIN)
    det = detect_one(event, StratumDetector(is_settled))
    full = detect_one(event)
    assert asked == [(FLOW, 9300107)]
    assert (det.signature, det.role, det.miner_is_client) == (full.signature, full.role, full.miner_is_client)
    assert det.evidence == (full.evidence if filled else {})
    assert bool(full.evidence)
