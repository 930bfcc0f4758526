"""Scenario captures: Stratum v1 (cgminer, a session joined mid-way and split, Equihash/Zcash).

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

import gzip
import struct

from ..data import BTC_BITAXE, BTC_P2PKH, ZEC_T1, compact, hexs, lines, spaced
from ..formats import (
    LINKTYPE_ETHERNET,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    link_ethernet,
    link_null,
    link_raw,
    write_pcap,
)
from ..payloads import NTIME, btc_notify_params
from ..wire import ACK, PSH, Capture, Host, TcpFlow


def cap_stratum_v1_cgminer() -> bytes:
    """1. cgminer <-> pool on 3333: configure, subscribe, authorize, notify, submit (Ethernet, LE pcap)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.10", 50312), Host("198.51.100.10", 3333, ttl=52), 0.0)
    f.handshake()
    sid, en1 = hexs("c1/sid", 4), hexs("c1/en1", 4)
    f.exchange(
        lines(
            spaced(
                {
                    "id": 1,
                    "method": "mining.configure",
                    "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}],
                }
            )
        ),
        lines(
            '{"id": 1, "result": { "version-rolling": true, "version-rolling.mask": "1fffe000" }, '
            '"error": null}'
        ),
    )
    f.exchange(
        lines(spaced({"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]})),
        lines(
            compact(
                {
                    "id": 2,
                    "result": [[["mining.set_difficulty", sid], ["mining.notify", sid]], en1, 8],
                    "error": None,
                }
            )
        ),
    )
    notify = btc_notify_params("c1", NTIME, 6, True)
    f.exchange(
        lines(spaced({"id": 3, "method": "mining.authorize", "params": [BTC_P2PKH, "x"]})),
        lines(
            compact({"id": 3, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [65536]}),
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    f.wait(41_000)
    submit = [BTC_P2PKH, notify[0], hexs("c1/en2", 8), f"{NTIME + 41:08x}", hexs("c1/nonce", 4), "04d46000"]
    f.exchange(
        lines(spaced({"params": submit, "id": 5, "method": "mining.submit"})),
        lines(compact({"id": 5, "result": True, "error": None})),
    )
    f.close()
    return write_pcap(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)


def cap_stratum_split_midsession() -> bytes:
    """8. Two lines in one segment; a reordered, retransmitted 3-segment notify; a mid-session flow."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.80", 50400), Host("198.51.100.80", 3333, ttl=52), 0.0)
    f.handshake()
    user = BTC_BITAXE + ".bitaxe01"
    f.exchange(
        lines(
            spaced({"id": 1, "method": "mining.subscribe", "params": ["bitaxe/BM1370/v2.4.1"]}),
            spaced({"id": 2, "method": "mining.authorize", "params": [user, "x"]}),
        ),
        lines(
            compact(
                {
                    "id": 1,
                    "result": [["mining.notify", "deadbeefcafebabe0300000000000000"], hexs("c8/en1", 4), 4],
                    "error": None,
                }
            ),
            compact({"id": 2, "result": True, "error": None}),
            compact({"id": None, "method": "mining.set_difficulty", "params": [512]}),
        ),
    )
    notify = btc_notify_params("c8", NTIME, 12, True)
    long_line = lines(compact({"id": None, "method": "mining.notify", "params": notify}))
    cut1, cut2 = len(long_line) // 3, 2 * len(long_line) // 3
    parts = [long_line[:cut1], long_line[cut1:cut2], long_line[cut2:]]
    base = f.next_seq[False]
    starts = [base, base + cut1, base + cut2]
    f.wait(150.0)
    f.segment(False, ACK, parts[0], seq=starts[0])  # part 1
    f.next_seq[False] = starts[1]
    f.wait(0.04)
    f.segment(True, ACK)  # ACK part 1
    f.wait(0.3)
    f.segment(False, ACK | PSH, parts[2], seq=starts[2])  # part 3 overtakes part 2
    f.wait(0.04)
    f.segment(True, ACK)  # duplicate ACK, still waiting for part 2
    f.wait(0.6)
    f.segment(False, ACK, parts[1], seq=starts[1])  # part 2, late
    f.next_seq[False] = base + len(long_line)
    f.wait(0.04)
    f.segment(True, ACK)  # everything acknowledged
    f.wait(200.0)
    f.segment(False, ACK, parts[1], seq=starts[1])  # spurious retransmission of part 2
    f.wait(0.04)
    f.segment(True, ACK)  # duplicate ACK
    f.wait(25_000)
    submit = [user, notify[0], hexs("c8/en2", 4), f"{NTIME + 25:08x}", hexs("c8/nonce", 4)]
    f.exchange(
        lines(spaced({"id": 3, "method": "mining.submit", "params": submit})),
        lines(compact({"id": 3, "result": True, "error": None})),
    )
    f.close()

    g = TcpFlow(cap, Host("192.0.2.81", 50401), Host("203.0.113.81", 3333, ttl=50), 3.0)
    old = compact(
        {"params": btc_notify_params("c8b/old", NTIME - 30, 4, False), "id": None, "method": "mining.notify"}
    )
    new = btc_notify_params("c8b/new", NTIME + 3, 4, False)
    g.send(
        False,
        (old[len(old) * 3 // 5 :] + "\n").encode()
        + lines(compact({"params": new, "id": None, "method": "mining.notify"})),
    )
    g.wait(14_000)
    worker = "kvetak.worker1"
    g.send(
        True,
        lines(
            spaced(
                {
                    "params": [worker, new[0], hexs("c8b/en2a", 4), f"{NTIME + 17:08x}", hexs("c8b/n1", 4)],
                    "id": 41,
                    "method": "mining.submit",
                }
            )
        ),
    )
    g.wait(11_000)
    newer = btc_notify_params("c8b/newer", NTIME + 28, 4, True)
    g.send(False, lines(compact({"params": newer, "id": None, "method": "mining.notify"})))
    g.wait(6_000)
    g.send(
        True,
        lines(
            spaced(
                {
                    "params": [worker, newer[0], hexs("c8b/en2b", 4), f"{NTIME + 34:08x}", hexs("c8b/n2", 4)],
                    "id": 42,
                    "method": "mining.submit",
                }
            )
        ),
    )
    g.close()
    return write_pcap(cap.ordered(), link_raw, LINKTYPE_RAW)


def cap_equihash_zcash() -> bytes:
    """9. EWBF Equihash stratum (pool host in params); gzip-compressed pcap, BSD loopback link type."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.90", 49201), Host("198.51.100.90", 3333, ttl=51), 0.0, rtt_ms=28.0)
    f.handshake()
    nonce1 = hexs("zec/nonce1", 4)
    worker = ZEC_T1 + ".rig4"
    f.exchange(
        lines(
            compact(
                {
                    "id": 1,
                    "method": "mining.subscribe",
                    "params": ["EWBF 0.3.4b", None, "eu1-zcash.flypool.org", "3333"],
                }
            )
        ),
        lines(compact({"id": 1, "result": [None, nonce1], "error": None})),
    )
    job = hexs("zec/job", 3)
    notify = [
        job,
        "04000000",
        hexs("zec/prev", 28) + "00000000",
        hexs("zec/merkle", 32),
        "0" * 64,
        struct.pack("<I", NTIME).hex(),
        "1d9a011c",
        True,
    ]
    f.exchange(
        lines(compact({"id": 2, "method": "mining.authorize", "params": [worker, "x"]})),
        lines(
            compact({"id": 2, "result": True, "error": None}),
            '{"id":null,"method":"mining.set_target","params":["0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a"]}',
            compact({"id": None, "method": "mining.notify", "params": notify}),
        ),
    )
    f.wait(33_000)
    solution = "fd4005" + hexs("zec/solution", 1344)
    submit = [worker, job, notify[5], hexs("zec/nonce2", 28), solution]
    f.exchange(
        lines(compact({"id": 4, "method": "mining.submit", "params": submit})),
        lines(compact({"id": 4, "result": True, "error": None})),
    )
    f.close()
    return gzip.compress(write_pcap(cap.ordered(), link_null, LINKTYPE_NULL), compresslevel=9, mtime=0)
