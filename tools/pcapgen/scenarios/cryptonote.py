"""Scenario capture: XMRig logging in to a CryptoNote pool (login, job, submit).

Part of tools/pcapgen, the generator of the demo captures in pcaps/ (see tools/make_pcaps.py).
"""

from __future__ import annotations

from typing import Any

from ..data import B58, XMR_WALLET, compact, hexs, lines, stream
from ..formats import LINKTYPE_ETHERNET, link_ethernet, write_pcapng
from ..wire import Capture, Host, TcpFlow

XMRIG_ALGOS = (
    "rx/0 cn/2 cn/r cn/fast cn/half cn/xao cn/rto cn/rwz cn/zls cn/double cn/ccx cn-lite/1 cn-heavy/0 "
    "cn-heavy/tube cn-heavy/xhv cn-pico cn-pico/tlo cn/upx2 rx/wow rx/arq rx/graft rx/sfx rx/yada "
    "argon2/chukwa argon2/chukwav2 argon2/ninja ghostrider"
).split()


def cryptonote_job(label: str, target: str) -> dict[str, Any]:
    """A RandomX job object: 76-byte hashing blob, job id, target, algo, height, seed hash, rpc id."""
    blob = "1010" + "c0dfc9b106" + hexs(label + "/prev", 32) + "00000000" + hexs(label + "/root", 32) + "2b"
    job_id = "".join(B58[b % 58] for b in stream(label + "/jobid", 28))
    return {
        "blob": blob,
        "job_id": job_id,
        "target": target,
        "algo": "rx/0",
        "height": 3152876,
        "seed_hash": hexs("xmr/seed", 32),
        "id": RPC_ID,
    }


def uuid_like(label: str) -> str:
    """A UUID-shaped session id."""
    h = hexs(label, 16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


RPC_ID = uuid_like("xmr/rpcid")


def cap_xmrig_login() -> bytes:
    """2. XMRig login to plain-TCP 443, job, pushed job, submit, keepalived (pcapng)."""
    cap = Capture()
    f = TcpFlow(cap, Host("192.0.2.20", 49822), Host("203.0.113.50", 443, ttl=50), 0.0, rtt_ms=35.0)
    f.handshake()
    agent = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"
    login = {"login": XMR_WALLET, "pass": "x", "agent": agent, "rigid": "rig01", "algo": XMRIG_ALGOS}
    job1 = cryptonote_job("xmr/job1", "b88d0600")
    f.exchange(
        lines(compact({"id": 1, "jsonrpc": "2.0", "method": "login", "params": login})),
        lines(
            compact(
                {
                    "id": 1,
                    "jsonrpc": "2.0",
                    "error": None,
                    "result": {
                        "id": RPC_ID,
                        "job": job1,
                        "extensions": ["algo", "nicehash", "connect", "tls", "keepalive"],
                        "status": "OK",
                    },
                }
            )
        ),
    )
    f.wait(28_000)
    job2 = cryptonote_job("xmr/job2", "91fd0600")
    f.send(False, lines(compact({"jsonrpc": "2.0", "method": "job", "params": job2})))
    f.wait(17_000)
    share = {
        "id": RPC_ID,
        "job_id": job2["job_id"],
        "nonce": hexs("xmr/nonce", 4),
        "result": hexs("xmr/result", 28) + "2a070000",
        "algo": "rx/0",
    }
    f.exchange(
        lines(compact({"id": 2, "jsonrpc": "2.0", "method": "submit", "params": share})),
        lines(compact({"id": 2, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})),
    )
    f.wait(60_000)
    f.exchange(
        lines(compact({"id": 3, "jsonrpc": "2.0", "method": "keepalived", "params": {"id": RPC_ID}})),
        lines(compact({"id": 3, "jsonrpc": "2.0", "error": None, "result": {"status": "KEEPALIVED"}})),
    )
    f.close()
    return write_pcapng(cap.ordered(), link_ethernet, LINKTYPE_ETHERNET)
