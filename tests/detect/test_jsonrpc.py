"""Tests for poolsniff.detect.jsonrpc: one JSON-RPC object -> dialect, sender role, method.

Every row is a line of PROTOCOLS.md (the section is named beside it) with its placeholders
filled by ``fill``; lines the notes only name by method are written in the form of the
implementation the row names. ``DIALECTS`` is shared with ``test_stratum``, which checks the
signature each row raises.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.detect.jsonrpc import Verdict, classify
from poolsniff.model import Role

MINER, POOL = Role.MINER, Role.POOL

# Monero Project general fund (a published standard address).
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
ETH = "0x9c99d212f7e5daa18ab50810e0fd255d1f04303b"  # Claymore trace login (§3)
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"  # Bitcoin genesis coinbase address
PLACEHOLDERS = {
    "<XMR>": XMR,
    "<ETH>": ETH,
    "<BTC>": BTC,
    "<H64>": "ab" * 32,
    "<SEED>": "cd" * 32,
    "<TARGET64>": "00000000" + "ff" * 28,
    "<BLOB>": "0707" + "a1" * 74,
    "<RESULT64>": "5e" * 32,
    "<NONCE8>": "a1b2c3d4",
}



def fill(line: str) -> dict[str, Any]:
    """Parse a PROTOCOLS.md line after replacing its placeholders."""
    for token, value in PLACEHOLDERS.items():
        line = line.replace(token, value)
    value = json.loads(line)
    assert isinstance(value, dict)
    return value


def row(line: str, flavour: str, sender: Role, method: str, rid: str, *marks: Any) -> Any:
    """One dialect row: the line and the verdict it must get."""
    return pytest.param(line, flavour, sender, method, id=rid, marks=marks)


# --------------------------------------------------------------------------- Stratum v1, client side

CLIENT_PARAMS = {
    "mining.subscribe": '["cgminer/4.11.1"]',
    "mining.authorize": '["<BTC>.rig1", "x"]',
    "mining.submit": '["<BTC>.rig1", "4f", "00000000", "5d5a0c1b", "a1b2c3d4"]',
    "mining.extranonce.subscribe": "[]",
    "mining.configure": '[["version-rolling"], {"version-rolling.mask": "ffffffff"}]',
    "mining.suggest_difficulty": "[1024]",
    "mining.get_transactions": '["4f"]',
}
"""The client methods of §2 with params in the shape their implementations send."""
CLIENT_FORMS = {
    "cgminer-spaced": '{{"id": 3, "method": "{m}", "params": {p}}}',
    "compact": '{{"id":3,"method":"{m}","params":{p}}}',
    "params-first": '{{"params":{p},"id":3,"method":"{m}"}}',
    "jsonrpc2": '{{"id":3,"jsonrpc":"2.0","method":"{m}","params":{p}}}',
}
"""cgminer spaced id-first, XMRig/NOMP compact, ckpool/cgminer-submit params first, jsonrpc 2.0 (§1, §2)."""
STRATUM_CLIENT_ROWS = [
    row(form.format(m=method, p=params), "stratum-v1", MINER, method, f"{method}-{name}")
    for method, params in CLIENT_PARAMS.items()
    for name, form in CLIENT_FORMS.items()
]

# --------------------------------------------------------------------------- Stratum v1, pool side

NOTIFY_PARAMS = '["4f","<H64>","01000000","ffffffff",[],"20000000","1d00ffff","5d5a0c1b",true]'
STRATUM_POOL_ROWS = [
    row('{"id":null,"method":"mining.notify","params":' + NOTIFY_PARAMS + "}", "stratum-v1", POOL,
        "mining.notify", "notify-null-id"),
    row('{"params":' + NOTIFY_PARAMS + ',"id":1,"method":"mining.notify"}', "stratum-v1", POOL,
        "mining.notify", "notify-numeric-id"),
    row('{"id":null,"method":"mining.set_difficulty","params":[512]}', "stratum-v1", POOL,
        "mining.set_difficulty", "set_difficulty-nomp"),
    row('{"params":[1024],"id":null,"method":"mining.set_difficulty"}', "stratum-v1", POOL,
        "mining.set_difficulty", "set_difficulty-ckpool"),
    row('{"method":"mining.set_difficulty","params":[4096],"id":1}', "stratum-v1", POOL,
        "mining.set_difficulty", "set_difficulty-bitminter"),
    row('{"id":null,"method":"mining.set_extranonce","params":["f8002c90",4]}', "stratum-v1", POOL,
        "mining.set_extranonce", "set_extranonce"),
    row('{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}', "stratum-v1", POOL,
        "mining.set_version_mask", "set_version_mask"),
    row('{"id":null,"method":"client.reconnect","params":["us1.bitminter.com",3333,0]}', "stratum-v1",
        POOL, "client.reconnect", "client.reconnect"),
    row('{"id":0,"result":[[["mining.set_difficulty","865dd8ac"],["mining.notify","865dd8ac"]],"865dd8ac",8],'
        '"error":null}', "stratum-v1", POOL, "mining.subscribe(result)", "subscribe-result-cgminer-nesfit"),
    row('{"result":[[["mining.notify","1"],["mining.set_difficulty","2"]],"00b61738",4],"error":null,"id":0}',
        "stratum-v1", POOL, "mining.subscribe(result)", "subscribe-result-bitminter"),
    row('{"id":1,"result":[[["mining.notify","ab12cd34"]],"f8002c90",8],"error":null}', "stratum-v1", POOL,
        "mining.subscribe(result)", "subscribe-result-ckpool"),
    row('{"id":1,"result":[["mining.notify","deadbeefcafebabe0100000000000000"],"f8002c90",4],"error":null}',
        "stratum-v1", POOL, "mining.subscribe(result)", "subscribe-result-nomp"),
    row('{"id": 1, "result": { "version-rolling": true, "version-rolling.mask": "00003000" }, "error": null}',
        "stratum-v1", POOL, "mining.configure(result)", "bip310-reply"),
]  # fmt: skip

# --------------------------------------------------------------------------- other Stratum v1 clients

STRATUM_MISC_ROWS = [
    row('{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1", "<H64>"]}', "stratum-v1", MINER,
        "mining.subscribe", "cgminer-resume"),
    row('{"id": 2, "method": "mining.subscribe", "params": []}', "stratum-v1", MINER, "mining.subscribe",
        "cgminer-resend"),
    row('{"id": 0, "method": "mining.subscribe", "params": ["bfgminer/5.2.0"]}', "stratum-v1", MINER,
        "mining.subscribe", "bfgminer"),
    row('{"jsonrpc": "2.0", "id": 1, "method": "mining.subscribe", "params": []}', "stratum-v1", MINER,
        "mining.subscribe", "flightsim"),
    row('{"id": 1, "method": "mining.subscribe", "params": ["bitaxe/BM1366/v2.1.0"]}', "stratum-v1", MINER,
        "mining.subscribe", "bitaxe"),
    row('{"id":1,"method":"mining.subscribe","params":["NiceHash/1.0.0","1662637786319",'
        '"3e747837e632920e8cd11453c2558233e3822489a20d828fdf205a149b064afc"]}', "stratum-v1", MINER,
        "mining.subscribe", "nicehash-hmac"),
    row('{"id":7,"jsonrpc":"2.0","method":"mining.subscribe","params":["XMRig/6.22.2"]}', "stratum-v1", MINER,
        "mining.subscribe", "xmrig-ethstratumclient"),
]  # fmt: skip

# --------------------------------------------------------------------------- Equihash

EQUIHASH_ROWS = [
    row('{"id":1,"method":"mining.subscribe","params":["EWBF 0.3.4b",null,"eu1-zcash.flypool.org","3333"]}',
        "stratum-v1-equihash", MINER, "mining.subscribe", "ewbf-subscribe"),
    row('{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e'
        '5604189374bc6a"]}', "stratum-v1-equihash", POOL, "mining.set_target", "set_target"),
]  # fmt: skip

# --------------------------------------------------------------------------- EthereumStratum and eth-proxy

ETH_ROWS = [
    row('{"id": 1, "method": "mining.subscribe", "params": ["MinerName/1.0.0", "EthereumStratum/1.0.0"]}',
        "ethereumstratum", MINER, "mining.subscribe", "es1-subscribe"),
    row('{"id": 1, "result": [["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f", '
        '"EthereumStratum/1.0.0"], "080c"], "error": null}', "ethereumstratum", POOL,
        "mining.subscribe(result)", "es1-subscribe-result"),
    row('{"id":1,"method":"mining.subscribe","params":["ethminer-0.19.0","EthereumStratum/1.0.0"]}',
        "ethereumstratum", MINER, "mining.subscribe", "ethminer-es1-subscribe"),
    row('{"id":1,"method":"mining.hello","params":{"agent":"ethminer-0.19.0","host":"eu1.ethermine.org",'
        '"port":"d05","proto":"EthereumStratum/2.0.0"}}', "ethereumstratum", MINER, "mining.hello",
        "es2-hello"),
    row('{"id":1,"jsonrpc":"2.0","method":"mining.subscribe","params":[]}', "stratum-v1", MINER,
        "mining.subscribe", "ethminer-stratum-alphabetical"),
    row('{"id":1,"method":"eth_submitLogin","params":["<ETH>.rig1","x"],"worker":"rig1"}', "eth-proxy", MINER,
        "eth_submitLogin", "ethminer-submitLogin"),
    row('{"id":5,"method":"eth_getWork","params":[]}', "eth-proxy", MINER, "eth_getWork", "ethminer-getWork"),
    row('{"id":9,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x1d08a61","0x<H64>"],'
        '"worker":"rig1"}', "eth-proxy", MINER, "eth_submitHashrate", "ethminer-submitHashrate"),
    row('{"id":40,"method":"eth_submitWork","params":["0x1f2e3d4c5b6a7988","0x<H64>","0x<SEED>"],'
        '"worker":"rig1"}', "eth-proxy", MINER, "eth_submitWork", "ethminer-submitWork"),
    row('{"worker": "eth1.0", "jsonrpc": "2.0", "params": ["<ETH>/tester.worker1/vvesely@mailinator", '
        '"x"], "id": 2, "method": "eth_submitLogin"}', "eth-proxy", MINER, "eth_submitLogin",
        "claymore-submitLogin"),
    row('{"worker": "", "jsonrpc": "2.0", "params": [], "id": 3, "method": "eth_getWork"}', "eth-proxy",
        MINER, "eth_getWork", "claymore-getWork"),
    row('{"id":6,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x1d08a61", "0x<H64>"]}',
        "eth-proxy", MINER, "eth_submitHashrate", "claymore-submitHashrate"),
    row('{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}', "eth-proxy", MINER, "eth_getWork",
        "http-getWork-no-params"),
    row('{"jsonrpc":"2.0","id":0,"result":["0x<H64>","0x<SEED>","0x<TARGET64>"]}', "eth-proxy", POOL,
        "eth_getWork(result)", "job-push-id0"),
]  # fmt: skip

# --------------------------------------------------------------------------- CryptoNote

XMRIG_AGENT = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"
CRYPTONOTE_ROWS = [
    row('{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"<XMR>.rig1","pass":"x","agent":"'
        + XMRIG_AGENT + '","rigid":"rig-7","algo":["rx/0","cn/2","cn/r","cn/fast"]}}', "cryptonote", MINER,
        "login", "xmrig-login"),
    row('{"method":"login","params":{"login":"<XMR>","pass":"x","agent":"xmr-stak-cpu/1.0.0"},"id":1}',
        "cryptonote", MINER, "login", "xmr-stak-cpu-login"),
    row('{"method":"login","params":{"login":"<XMR>","pass":"x","rigid":"","agent":"xmr-stak/2.10.8"},"id":1}',
        "cryptonote", MINER, "login", "gpu-fork-login-rigid"),
    row('{"method":"login","params":{"login":"<XMR>","pass":"x","agent":"cpuminer-multi/1.3.7"},"id":1}',
        "cryptonote", MINER, "login", "cpuminer-multi-login"),
    row('{"method": "login", "params": {"login": "<XMR>", "pass": "x", "agent": "xmr/1.0"}, "id": 1}',
        "cryptonote", MINER, "login", "python-spaced-login"),
    row('{"id":1,"method":"login","params":{"login":"<XMR>","pass":"donations"}}', "cryptonote", MINER,
        "login", "coinhive-login"),
    row('{"method":"login","params":{"login":"<XMR>"}}', "cryptonote", MINER, "login", "bare-malware-login"),
    row('{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"1be0b7b6","job_id":"q7PLUPL25UV0z5Ij",'
        '"nonce":"<NONCE8>","result":"<RESULT64>","algo":"rx/0"}}', "cryptonote", MINER, "submit",
        "xmrig-submit"),
    row('{"id":3,"jsonrpc":"2.0","method":"keepalived","params":{"id":"1be0b7b6"}}', "cryptonote", MINER,
        "keepalived", "xmrig-keepalived"),
    row('{"id":4,"jsonrpc":"2.0","method":"getjob","params":{"id":"1be0b7b6"}}', "cryptonote", MINER,
        "getjob", "getjob"),
    row('{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"1be0b7b6","job":{"blob":"<BLOB>",'
        '"job_id":"q7PLUPL25UV0z5Ij14IyMk8htXbj","target":"b88d0600","id":"1be0b7b6"},"status":"OK"}}',
        "cryptonote", POOL, "login(result)", "pool-login-result"),
    row('{"jsonrpc":"2.0","method":"job","params":{"blob":"<BLOB>","job_id":"q7PLUPL25UV0z5Ij",'
        '"target":"91fd0600","id":"1be0b7b6"}}', "cryptonote", POOL, "job", "pool-job-push"),
    row('{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"KEEPALIVED"}}', "cryptonote", POOL,
        "keepalived(result)", "keepalive-reply"),
]  # fmt: skip

# --------------------------------------------------------------------------- getwork / getblocktemplate

GBT_BFGMINER = (
    '{"id": 0, "method": "getblocktemplate", "params": [{"capabilities": ["coinbasetxn", "workid", '
    '"longpoll", "coinbase/append", "time/increment", "version/force", "version/reduce", "submit/coinbase", '
    '"submit/truncate"], "maxversion": 4}]}'
)
GBT_SOLO = '{"id": 0, "method": "getblocktemplate", "params": [{"rules" : ["segwit"]}]}'
GETWORK_PLAIN = '{"method": "getwork", "params": [], "id":0}'
GETWORK_ROWS = [
    row(GBT_BFGMINER, "getblocktemplate", MINER, "getblocktemplate", "bfgminer-gbt-capabilities"),
    row(GETWORK_PLAIN, "getwork", MINER, "getwork", "plain-getwork"),
    row(GBT_SOLO, "getblocktemplate", MINER, "getblocktemplate", "solo-gbt-segwit"),
    row('{"id": 1, "method": "submitblock", "params": ["<H64>"]}', "getblocktemplate", MINER, "submitblock",
        "submitblock"),
    row('{"method":"getblocktemplate","params":{"wallet_address":"<XMR>","reserve_size":60}}',
        "getblocktemplate", MINER, "getblocktemplate", "xmrig-daemon-gbt"),
]  # fmt: skip

DIALECTS = (
    STRATUM_CLIENT_ROWS
    + STRATUM_POOL_ROWS
    + STRATUM_MISC_ROWS
    + EQUIHASH_ROWS
    + ETH_ROWS
    + CRYPTONOTE_ROWS
    + GETWORK_ROWS
)
"""Every dialect row: (line, flavour, sender, method)."""


@pytest.mark.parametrize(("line", "flavour", "sender", "method"), DIALECTS)
def test_dialect_is_classified(line: str, flavour: str, sender: Role, method: str) -> None:
    """Each mining line gets its dialect, the role of the host that sent it, and its method."""
    assert classify(fill(line)) == Verdict(flavour, sender, method)


# --------------------------------------------------------------------------- near misses

NEAR_MISSES = [
    pytest.param('{"method":"login","params":{"login":"alice","password":"x"}}', id="login-password"),
    pytest.param('{"method":"login","params":{"login":"alice","pass":"x"}}', id="login-account-pass"),
    pytest.param('{"method":"login","params":{"login":"alice"}}', id="login-account-only"),
    pytest.param('{"jsonrpc":"2.0","method":"submit","params":{"form":"contact","email":"a@example.com"},"id":1}',
                 id="web-submit"),
    pytest.param('{"method":"submit","params":{"id":"f-1","job_id":"print-7"},"id":1}', id="submit-no-nonce"),
    pytest.param('{"method":"submit","params":{"id":"f-1","job_id":"p","nonce":"zz","result":"ok"},"id":1}',
                 id="submit-non-hex"),
    pytest.param('{"method":"job","params":{"id":1}}', id="job-id-only"),
    pytest.param('{"method":"job","params":{"blob":"hello","job_id":"1","target":"2"}}',
                 id="job-non-hex-blob"),
    pytest.param('{"id":1,"result":"call mining.authorize first","error":null}', id="string-mentions-method"),
    pytest.param('{"id":1,"result":["mining.authorize","mining.notify"],"error":null}', id="list-of-names"),
    pytest.param('{"jsonrpc":"2.0","method":"user.login","params":{"username":"Admin","password":"zabbix"},'
                 '"id":1}', id="zabbix-user.login"),
    pytest.param('{"jsonrpc":"2.0","method":"web3_clientVersion","params":[],"id":67}', id="eth-node-web3"),
    pytest.param('{"jsonrpc":"1.0","id":"curltest","method":"getblockchaininfo","params":[]}',
                 id="bitcoind-getblockchaininfo"),
    pytest.param('{"result":true,"id":1,"error":null}', id="bare-true-result"),
    pytest.param('{"jsonrpc":"2.0","id":2,"result":true}', id="claymore-login-ok-alone"),
    pytest.param('{"id":1,"result":null,"error":[29,"Invalid username",null]}', id="stratum-error-alone"),
    pytest.param('{"jsonrpc":"2.0","id":0,"result":["0xabcd","0xef01","0x00ff"]}', id="short-hex-list"),
    pytest.param('{"id":1,"method":"mining.subscribe","params":"cgminer"}', id="subscribe-string-params"),
    pytest.param('{"id":1,"method":"mining.hello","params":["ethminer"]}', id="hello-list-params"),
    pytest.param('{"method":5,"params":[]}', id="numeric-method"),
    pytest.param('{"params":["mining.subscribe"]}', id="no-method-no-result"),
]  # fmt: skip


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_miss_is_not_mining(line: str) -> None:
    """JSON that shares names or shapes with mining, but is not, gets no verdict."""
    assert classify(fill(line)) is None


# --------------------------------------------------------------------------- robustness

KEYS = st.sampled_from(
    ["id", "method", "params", "result", "error", "jsonrpc", "job", "blob", "job_id", "target", "login",
     "pass", "agent", "nonce", "midstate", "data", "capabilities", "worker"]
)  # fmt: skip
METHODS = st.sampled_from(
    ["mining.subscribe", "mining.set_target", "mining.hello", "login", "submit", "job", "getjob",
     "keepalived", "eth_getWork", "getblocktemplate", "submitblock", "mining.notify"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80),
    st.sampled_from(["mining.notify", "EthereumStratum/1.0.0", "0x" + "ab" * 32, "ab" * 40, "a1b2c3d4"]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=25,
)


@given(st.dictionaries(KEYS, JSON, max_size=6), METHODS | JSON)
def test_classify_never_raises(value: dict[str, Any], method: Any) -> None:
    """Any JSON object, with or without a mining method name, gives a Verdict or None."""
    for candidate in (value, {**value, "method": method}, {"id": 1, "result": method}):
        verdict = classify(candidate)
        assert verdict is None or isinstance(verdict, Verdict)
