"""Scenario captures: eth-proxy (Claymore) and EthereumStratum/1.0.0 (NiceHash).

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

from ..data import BTC_P2SH, ETH_CLAYMORE, compact, hexs, lines, spaced
from ..formats import LINKTYPE_ETHERNET, link_ethernet, write_pcap
from ..wire import Capture, Host, TcpFlow


def cap_eth_proxy_claymore() -> bytes:
    """5. Claymore eth-proxy on 9999 over IPv6 with a hop-by-hop header, nanosecond pcap."""
    cap = Capture()
    f = TcpFlow(
        cap,
        Host("2001:db8:10::20", 50123),
        Host("2001:db8:99::9", 9999, ttl=56),
        0.000000417,
        rtt_ms=31.4159,
        hbh=True,
    )
    f.handshake()
    work = [
        "0x" + hexs("eth/header", 32),
        "0x" + hexs("eth/seed", 32),
        "0x00000000dbe6fecebdedd5beb573440e5a884d1b2fbf06fcce912adcb8d8422e",
    ]
    login_user = f"{ETH_CLAYMORE}/rig1/ops@example.org"
    f.exchange(
        lines(
            spaced(
                {
                    "worker": "eth1.0",
                    "jsonrpc": "2.0",
                    "params": [login_user, "x"],
                    "id": 2,
                    "method": "eth_submitLogin",
                }
            )
        ),
        lines(compact({"jsonrpc": "2.0", "id": 2, "result": True})),
    )
    f.exchange(
        lines(spaced({"worker": "", "jsonrpc": "2.0", "params": [], "id": 3, "method": "eth_getWork"})),
        lines(compact({"jsonrpc": "2.0", "id": 3, "result": work})),
    )
    f.wait(12_345.678)
    work2 = ["0x" + hexs("eth/header2", 32), work[1], work[2]]
    f.send(False, lines(compact({"jsonrpc": "2.0", "id": 0, "result": work2})))
    f.wait(7_000.001)
    f.exchange(
        lines(
            '{"id":6,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x1d08a61", "0x'
            + hexs("eth/hrid", 32)
            + '"]}'
        ),
        lines(compact({"jsonrpc": "2.0", "id": 6, "result": True})),
    )
    f.wait(3_000.5)
    sol = ["0x" + hexs("eth/nonce", 8), work2[0], "0x" + hexs("eth/mix", 32)]
    f.exchange(
        lines(spaced({"worker": "", "jsonrpc": "2.0", "params": sol, "id": 4, "method": "eth_submitWork"})),
        lines(compact({"jsonrpc": "2.0", "id": 4, "result": True})),
    )
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET, nanos=True)


def cap_ethereumstratum_nicehash() -> bytes:
    """6. EthereumStratum/1.0.0 on 3353 in 802.1Q frames; EthereumStratum/2.0.0 mining.hello in QinQ."""
    cap = Capture()
    f = TcpFlow(
        cap, Host("192.0.2.60", 50200), Host("198.51.100.60", 3353, ttl=53), 0.0, vlans=((0x8100, 100),)
    )
    f.handshake()
    user = BTC_P2SH + ".rig60"
    f.exchange(
        lines(
            compact(
                {
                    "id": 1,
                    "method": "mining.subscribe",
                    "params": ["ethminer-0.19.0", "EthereumStratum/1.0.0"],
                }
            )
        ),
        lines(
            spaced(
                {
                    "id": 1,
                    "result": [["mining.notify", hexs("es1/sub", 16), "EthereumStratum/1.0.0"], "080c"],
                    "error": None,
                }
            )
        ),
    )
    f.exchange(
        lines(compact({"id": 2, "method": "mining.authorize", "params": [user, "x"]})),
        lines(
            spaced({"id": 2, "result": True, "error": None}),
            spaced({"id": None, "method": "mining.set_difficulty", "params": [0.5]}),
            spaced(
                {
                    "id": None,
                    "method": "mining.notify",
                    "params": ["bf0488aa", hexs("es1/seed", 32), hexs("es1/header", 32), True],
                }
            ),
        ),
    )
    f.wait(9_000)
    f.exchange(
        lines(compact({"id": 3, "method": "mining.submit", "params": [user, "bf0488aa", "6a909d9bbc0f"]})),
        lines(spaced({"id": 3, "result": True, "error": None})),
    )
    f.close()
    g = TcpFlow(
        cap,
        Host("192.0.2.61", 50201),
        Host("198.51.100.61", 3353, ttl=53),
        20.0,
        vlans=((0x88A8, 200), (0x8100, 100)),
    )
    g.handshake()
    hello = {
        "agent": "ethminer-0.19.0",
        "host": "es2.pool.example",
        "port": f"{3353:x}",
        "proto": "EthereumStratum/2.0.0",
    }
    reply = {
        "proto": "EthereumStratum/2.0.0",
        "encoding": "plain",
        "resume": "1",
        "timeout": "b4",
        "maxerrors": "5",
        "node": "Geth/v1.8.18-unstable-f08f596a/linux-amd64/go1.10.4",
    }
    g.exchange(
        lines(compact({"id": 1, "method": "mining.hello", "params": hello})),
        lines(compact({"id": 1, "result": reply})),
    )
    g.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
