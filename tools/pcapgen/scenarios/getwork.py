"""Scenario captures: HTTP getwork/getblocktemplate from a miner, and a pool asking its coin daemon.

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import json
import struct
import time
from typing import Any

from ..data import BTC_BITAXE, ETH_GETWORK, LTC_ADDR, T0_NS, compact, hexs, lines, spaced
from ..formats import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, link_ethernet, link_sll2, write_pcap
from ..payloads import NTIME, basic_auth, btc_notify_params, http_message
from ..wire import Capture, Host, TcpFlow

GBT_CAPABILITIES = [
    "coinbasetxn",
    "workid",
    "longpoll",
    "coinbase/append",
    "time/increment",
    "version/force",
    "version/reduce",
    "submit/coinbase",
    "submit/truncate",
]


def cap_getwork_http() -> bytes:
    """7. bfgminer getblocktemplate over HTTP on 8332; Ethereum getwork POST /?miner=... (Linux SLL2)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.70", 50300), Host("198.51.100.70", 8332, ttl=55), 0.0)
    f.handshake()
    body = spaced(
        {
            "id": 0,
            "method": "getblocktemplate",
            "params": [{"capabilities": GBT_CAPABILITIES, "maxversion": 4}],
        }
    ).encode()
    request = http_message(
        "POST / HTTP/1.1",
        [
            ("Host", "198.51.100.70:8332"),
            ("Authorization", basic_auth(BTC_BITAXE + ".gbt", "x")),
            ("Content-type", "application/json"),
            ("X-Mining-Extensions", "longpoll midstate rollntime submitold"),
            ("User-Agent", "bfgminer/5.2.0"),
        ],
        body,
    )
    template = {
        "coinbasetxn": {"data": btc_notify_params("gbt", NTIME, 0, True)[2] + hexs("gbt/tail", 40)},
        "previousblockhash": "00000000" + hexs("gbt/prev", 28),
        "transactions": [],
        "version": 536870912,
        "bits": "17034219",
        "curtime": NTIME,
        "height": 842406,
        "mutable": ["coinbase/append", "time/increment"],
        "noncerange": "00000000ffffffff",
        "longpollid": hexs("gbt/lp", 8),
        "workid": "1",
    }
    reply_body = spaced({"result": template, "error": None, "id": 0}).encode()
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json"), ("X-Long-Polling", "/LP"), ("X-Roll-NTime", "expire=120")],
        reply_body,
    )
    f.exchange(request, reply, think_ms=3.0)
    f.close()
    g = TcpFlow(cap, Host("192.0.2.70", 50301), Host("203.0.113.70", 80, ttl=49), 4.0, rtt_ms=48.0)
    g.handshake()
    getwork = compact({"id": 1, "jsonrpc": "2.0", "method": "eth_getWork"}).encode()
    request = http_message(
        f"POST /?miner=30@{ETH_GETWORK}@rig7 HTTP/1.1",
        [("Host", "pool.eth.pp.ua"), ("Content-Type", "application/json")],
        getwork,
    )
    work = [
        "0x" + hexs("ethgw/header", 32),
        "0x" + hexs("ethgw/seed", 32),
        "0x0000000112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba",
    ]
    reply = http_message(
        "HTTP/1.1 200 OK",
        [("Content-Type", "application/json")],
        compact({"id": 1, "jsonrpc": "2.0", "result": work}).encode(),
    )
    g.exchange(request, reply, think_ms=2.0)
    g.close()
    return write_pcap(cap.ordered(), link_sll2, LINKTYPE_LINUX_SLL2)


def cap_coin_daemon_rpc() -> bytes:
    """13. Pool -> litecoind getblocktemplate/submitblock over HTTP, and the pool's stratum on 3333."""
    cap = Capture()
    pool, node = "10.0.0.13", Host("10.0.0.40", 9332)
    auth = basic_auth("litecoinrpc", "0d3f6a9c5e1b")

    def rpc(start_s: float, port: int, body: str, result_json: str) -> None:
        json.loads(body)
        request = http_message(
            "POST / HTTP/1.1",
            [("Host", "10.0.0.40:9332"), ("Authorization", auth), ("Content-Type", "application/json")],
            body.encode(),
        )
        t = T0_NS + round(start_s * 1e9)
        headers = [
            ("Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t // 10**9))),
            ("Connection", "close"),
            ("Content-Length", str(len(result_json) + 1)),
            ("Content-Type", "application/json"),
            ("Server", "litecoin-json-rpc/v0.8.6.2-beta"),
        ]
        reply = http_message("HTTP/1.1 200 OK", headers) + lines(result_json)
        f = TcpFlow(cap, Host(pool, port), node, start_s, rtt_ms=0.3)
        f.handshake()
        f.exchange(request, reply, think_ms=2.0)
        f.close(from_client=False)

    prev_block = hexs("ltc/prev", 28) + "00000000"
    gbt: dict[str, Any] = {
        "version": 2,
        "previousblockhash": prev_block,
        "transactions": [],
        "coinbaseaux": {"flags": "062f503253482f"},
        "coinbasevalue": 2500000000,
        "target": "00000000000" + "1d0f0" + "0" * 48,
        "mintime": NTIME - 1200,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 20000,
        "sizelimit": 1000000,
        "curtime": NTIME,
        "bits": "1a01d0f0",
        "height": 2683112,
    }
    rpc(
        0.0,
        45000,
        '{"method":"getblocktemplate","params":[],"id":1}',
        compact({"result": gbt, "error": None, "id": 1}),
    )

    s = TcpFlow(cap, Host("203.0.113.25", 50800), Host(pool, 3333), 1.0, rtt_ms=42.0)
    s.handshake()
    user = LTC_ADDR + ".l3"
    s.exchange(
        lines(spaced({"id": 0, "method": "mining.subscribe", "params": ["cgminer/3.7.2"]})),
        lines(
            compact(
                {
                    "id": 0,
                    "result": [["mining.notify", "deadbeefcafebabe0100000000000000"], hexs("ltc/en1", 4), 4],
                    "error": None,
                }
            )
        ),
    )
    notify = btc_notify_params("ltc", NTIME + 1, 3, True)
    notify[5], notify[6] = "00000002", "1a01d0f0"
    s.exchange(
        lines(spaced({"id": 1, "method": "mining.authorize", "params": [user, "x"]})),
        lines(
            compact({"id": 1, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [512]}),
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    s.wait(21_000)
    submit = [user, notify[0], hexs("ltc/en2", 4), notify[7], hexs("ltc/nonce", 4)]
    s.exchange(
        lines(spaced({"params": submit, "id": 2, "method": "mining.submit"})),
        lines(compact({"id": 2, "result": True, "error": None})),
    )
    s.close()
    block = (
        "02000000"
        + prev_block
        + hexs("ltc/mroot", 32)
        + struct.pack("<I", NTIME + 1).hex()
        + "f0d0011a"
        + hexs("ltc/nonce", 4)
        + "01"
        + notify[2]
        + hexs("ltc/en1", 4)
        + hexs("ltc/en2", 4)
        + notify[3]
    )
    rpc(
        22.5,
        45001,
        compact({"method": "submitblock", "params": [block], "id": 2}),
        compact({"result": None, "error": None, "id": 2}),
    )
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
