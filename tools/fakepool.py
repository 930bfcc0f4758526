"""Developer tool outside the package: a small local mining pool (input for recording the *source* stage).

source -> decode -> flows/dissectors -> detectors -> enrichment -> output

It lets real miners (``tools/record_real.py``) and ``poolsniff probe`` tests talk to a pool that never leaves
the machine. Standard library only (asyncio); a TLS certificate is made at start with the ``openssl`` command.

    python tools/fakepool.py --listen HOST:PORT [--tls] [--proto cryptonote|stratum1|ethproxy|daemon|socks5]

Dialects (wire formats from ``../shared/reference/PROTOCOLS.md`` and XMRig's own clients):

- ``cryptonote``: XMRig's Stratum. ``login`` gets a job (``blob``, ``job_id``, ``target``, ``algo``,
  ``height`` and, for RandomX, ``seed_hash``); a new ``job`` is pushed every ``--job-interval`` seconds;
  ``submit`` gets ``{"status":"OK"}`` and ``keepalived`` ``{"status":"KEEPALIVED"}``. A simple vardiff keeps
  shares at about one per ``--share-interval`` seconds whatever the miner's speed.
- ``stratum1``: Stratum v1 as a GhostRider (Raptoreum) pool speaks it: ``mining.subscribe`` ->
  extranonce1 and size, ``mining.authorize`` -> true, then ``mining.set_difficulty`` and ``mining.notify``.
- ``ethproxy``: ``eth_submitLogin`` -> true, ``eth_getWork`` -> three hex strings, submits -> true.
- ``daemon``: a monerod-like HTTP JSON-RPC server for ``xmrig --daemon``: ``get_block_template`` /
  ``getblocktemplate``, ``submit_block`` / ``submitblock``, ``GET /getheight`` and ``/get_info``.
- ``socks5``: a SOCKS5 proxy (no authentication, CONNECT only) that sends every connection to ``--upstream``
  whatever name or address the client asked for, so ``xmrig -x`` reaches a local pool.

Every line received is logged to stderr (or ``--log FILE``) with a timestamp; the server runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RANDOMX_SEED = hashlib.sha256(b"poolsniff fakepool seed").hexdigest()
MAX_LINE = 64 * 1024


def split_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"fakepool: {text!r} is not HOST:PORT (IPv6: [ADDR]:PORT)")
    return host.strip("[]"), int(port)


def make_tls_context(common_name: str, workdir: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed EC certificate for ``common_name`` (made by openssl)."""
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            f"/CN={common_name}",
            "-days",
            "30",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def varint(n: int) -> bytes:
    """Monero's little-endian base-128 varint."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Chain:
    """A fake Monero chain: a height that grows by one every job interval, block headers built on it."""

    def __init__(self, start_height: int = 2_500_000) -> None:
        """Start at ``start_height`` with a random previous hash."""
        self.height = start_height
        self.prev = os.urandom(32)

    def advance(self) -> None:
        """A new block was found somewhere: next height, new previous hash."""
        self.height += 1
        self.prev = os.urandom(32)

    def header(self, major: int = 14) -> bytes:
        """Block header up to and including the (zero) nonce: 39 bytes, nonce at offset 39 - 4 = 35..39."""
        return bytes([major, major]) + varint(int(time.time())) + self.prev + b"\0\0\0\0"

    def hashing_blob(self) -> str:
        """The 76-byte blob a miner hashes: header, a merkle root, the transaction count."""
        return (self.header() + os.urandom(32) + varint(1)).hex()

    def block_template(self, reserve_size: int) -> tuple[str, int]:
        """A block template (header, miner transaction, no other transaction) and its reserved offset."""
        extra_head = b"\x01" + os.urandom(32) + b"\x02" + varint(reserve_size)
        extra = extra_head + b"\0" * reserve_size
        miner_tx = (
            varint(2)
            + varint(self.height + 60)
            + varint(1)
            + b"\xff"
            + varint(self.height)
            + varint(1)
            + varint(600_000_000_000)
            + b"\x02"
            + os.urandom(32)
            + varint(len(extra))
            + extra
            + b"\x00"
        )
        head = self.header()
        blob = head + miner_tx + varint(0)
        reserved = len(head) + len(miner_tx) - 1 - reserve_size
        return blob.hex(), reserved


class Vardiff:
    """One share per ``interval`` seconds: halve the difficulty when none came, double it when too many."""

    def __init__(self, start: int, interval: float) -> None:
        """Begin at difficulty ``start``."""
        self.diff = max(1, start)
        self.interval = interval
        self.shares = 0
        self.since = time.monotonic()

    def share(self) -> None:
        """Count one accepted share."""
        self.shares += 1

    def retarget(self) -> int:
        """The difficulty for the next job."""
        elapsed = time.monotonic() - self.since
        expected = elapsed / self.interval
        if self.shares > 2 * expected + 1:
            self.diff *= 2
        elif self.shares == 0 and elapsed > self.interval:
            self.diff = max(1, self.diff // 2)
        self.shares, self.since = 0, time.monotonic()
        return self.diff

    def target_hex(self) -> str:
        """XMRig's 32-bit compact target: little-endian ``0xffffffff // difficulty``."""
        return struct.pack("<I", max(1, 0xFFFFFFFF // self.diff)).hex()


class Server:
    """One listening socket of one dialect."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Keep the options; the log goes to ``--log`` or stderr."""
        self.args = args
        self.chain = Chain()
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr  # noqa: SIM115
        self.sessions = 0

    def log(self, peer: Any, direction: str, text: str) -> None:
        """One line per message: time, peer, direction, text."""
        print(f"{time.time():.3f} {peer} {direction} {text}", file=self.log_file, flush=True)

    async def send(self, writer: asyncio.StreamWriter, peer: Any, message: dict[str, Any]) -> None:
        """Write one JSON line."""
        text = json.dumps(message, separators=(",", ":"))
        self.log(peer, ">", text)
        writer.write(text.encode() + b"\n")
        await writer.drain()

    async def lines(self, reader: asyncio.StreamReader, peer: Any) -> Any:
        """Yield the JSON objects the peer sends, one per line; stop at EOF or a bad line."""
        while True:
            raw = await reader.readline()
            if not raw:
                return
            self.log(peer, "<", raw.decode("utf-8", "replace").rstrip())
            try:
                message = json.loads(raw)
            except ValueError:
                return
            if isinstance(message, dict):
                yield message

    # --- CryptoNote (XMRig) ---------------------------------------------------------------------

    def cn_job(self, session: str, vardiff: Vardiff) -> dict[str, Any]:
        """A job for rx/0 (or ``--algo``)."""
        job = {
            "blob": self.chain.hashing_blob(),
            "job_id": os.urandom(6).hex(),
            "target": vardiff.target_hex(),
            "algo": self.args.algo,
            "height": self.chain.height,
            "id": session,
        }
        if self.args.algo.startswith("rx/"):
            job["seed_hash"] = RANDOMX_SEED
        return job

    async def cryptonote(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        """Login, job pushes on a timer, submits and keepalives."""
        session = os.urandom(8).hex()
        vardiff = Vardiff(self.args.difficulty, self.args.share_interval)
        pusher: asyncio.Task[None] | None = None

        async def push() -> None:
            while True:
                await asyncio.sleep(self.args.job_interval * random.uniform(0.8, 1.2))
                self.chain.advance()
                vardiff.retarget()
                job = self.cn_job(session, vardiff)
                await self.send(writer, peer, {"jsonrpc": "2.0", "method": "job", "params": job})

        try:
            async for msg in self.lines(reader, peer):
                method, rid = msg.get("method"), msg.get("id")
                if method == "login":
                    result = {
                        "id": session,
                        "job": self.cn_job(session, vardiff),
                        "status": "OK",
                        "extensions": ["algo", "nicehash", "connect", "tls", "keepalive"],
                    }
                    await self.send(
                        writer, peer, {"id": rid, "jsonrpc": "2.0", "error": None, "result": result}
                    )
                    pusher = pusher or asyncio.create_task(push())
                elif method == "submit":
                    vardiff.share()
                    await self.send(
                        writer, peer, {"id": rid, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}}
                    )
                elif method == "keepalived":
                    await self.send(
                        writer,
                        peer,
                        {"id": rid, "jsonrpc": "2.0", "error": None, "result": {"status": "KEEPALIVED"}},
                    )
                elif method == "getjob":
                    await self.send(
                        writer,
                        peer,
                        {"id": rid, "jsonrpc": "2.0", "error": None, "result": self.cn_job(session, vardiff)},
                    )
                else:
                    await self.send(
                        writer,
                        peer,
                        {"id": rid, "jsonrpc": "2.0", "error": {"code": -1, "message": "Unknown method"}},
                    )
        finally:
            if pusher:
                pusher.cancel()

    # --- Stratum v1 (GhostRider) ---------------------------------------------------------------

    def notify(self) -> list[Any]:
        """``mining.notify`` params: job id, prevhash, coinb1/2, branches, version, nbits, ntime, clean."""
        height = self.chain.height.to_bytes(3, "little")
        coinb1 = (
            "03000500010000000000000000000000000000000000000000000000000000000000000000ffffffff"
            "20" + "03" + height.hex() + os.urandom(4).hex()
        )
        coinb2 = (
            "ffffffff01"
            + "00e1f50500000000"
            + "1976a914"
            + os.urandom(20).hex()
            + "88ac"
            + "00000000"
            + "00" * 40
        )
        ntime = f"{int(time.time()):08x}"
        return [
            os.urandom(4).hex(),
            self.chain.prev.hex(),
            coinb1,
            coinb2,
            [],
            "20000000",
            "1b0404cb",
            ntime,
            True,
        ]

    async def stratum1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        """Subscribe, authorize, then difficulty and notify, a new job every interval."""
        pusher: asyncio.Task[None] | None = None
        difficulty = self.args.difficulty / 65536.0

        async def push() -> None:
            await self.send(
                writer, peer, {"id": None, "method": "mining.set_difficulty", "params": [difficulty]}
            )
            await self.send(writer, peer, {"id": None, "method": "mining.notify", "params": self.notify()})
            while True:
                await asyncio.sleep(self.args.job_interval * random.uniform(0.8, 1.2))
                self.chain.advance()
                await self.send(
                    writer, peer, {"id": None, "method": "mining.notify", "params": self.notify()}
                )

        try:
            async for msg in self.lines(reader, peer):
                method, rid = msg.get("method"), msg.get("id")
                if method == "mining.subscribe":
                    subs = [
                        ["mining.set_difficulty", session_id := os.urandom(4).hex()],
                        ["mining.notify", session_id],
                    ]
                    await self.send(
                        writer, peer, {"id": rid, "result": [subs, os.urandom(4).hex(), 4], "error": None}
                    )
                elif method in ("mining.authorize", "mining.submit", "mining.extranonce.subscribe"):
                    await self.send(writer, peer, {"id": rid, "result": True, "error": None})
                    if method == "mining.authorize":
                        pusher = pusher or asyncio.create_task(push())
                else:
                    await self.send(
                        writer, peer, {"id": rid, "result": None, "error": [20, "Unknown method", None]}
                    )
        finally:
            if pusher:
                pusher.cancel()

    # --- eth-proxy -------------------------------------------------------------------------------

    async def ethproxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        """``eth_submitLogin`` / ``eth_getWork`` / ``eth_submitWork`` / ``eth_submitHashrate``."""
        async for msg in self.lines(reader, peer):
            method, rid = msg.get("method"), msg.get("id")
            if method == "eth_getWork":
                work = ["0x" + os.urandom(32).hex(), "0x" + os.urandom(32).hex(), "0x" + "0" * 8 + "f" * 56]
                await self.send(writer, peer, {"id": rid, "jsonrpc": "2.0", "result": work})
            elif method in ("eth_submitLogin", "eth_submitWork", "eth_submitHashrate", "eth_login"):
                await self.send(writer, peer, {"id": rid, "jsonrpc": "2.0", "result": True})
            else:
                await self.send(
                    writer,
                    peer,
                    {"id": rid, "jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}},
                )

    # --- monerod-like daemon RPC ----------------------------------------------------------------

    async def daemon(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        """HTTP/1.1 requests, one JSON answer each (XMRig opens a connection per request)."""
        while True:
            head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
            if not head:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            self.log(peer, "<", f"{method} {path} {body.decode('utf-8', 'replace')}")
            answer = self.daemon_answer(method, path, body)
            text = json.dumps(answer, separators=(",", ":"))
            self.log(peer, ">", text)
            data = text.encode()
            writer.write(
                b"HTTP/1.1 200 Ok\r\nServer: Epee-based\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return

    def daemon_answer(self, method: str, path: str, body: bytes) -> dict[str, Any]:
        """The JSON a monerod would send for this request."""
        if time.monotonic() - self.daemon_block_time > self.args.job_interval:
            self.chain.advance()
            self.daemon_block_time = time.monotonic()
        if path in ("/getheight", "/get_height"):
            return {"height": self.chain.height, "status": "OK", "untrusted": False}
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return {"id": 0, "jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}}
        rid, rpc = request.get("id"), request.get("method")
        if rpc in ("get_block_template", "getblocktemplate"):
            reserve = int((request.get("params") or {}).get("reserve_size", 8))
            blob, offset = self.chain.block_template(reserve)
            result = {
                "blocktemplate_blob": blob,
                "blockhashing_blob": self.chain.hashing_blob(),
                "difficulty": self.args.difficulty,
                "wide_difficulty": hex(self.args.difficulty),
                "difficulty_top64": 0,
                "expected_reward": 600_000_000_000,
                "height": self.chain.height,
                "next_seed_hash": "",
                "prev_hash": self.chain.prev.hex(),
                "reserved_offset": offset,
                "seed_hash": RANDOMX_SEED,
                "seed_height": self.chain.height - self.chain.height % 2048,
                "status": "OK",
                "untrusted": False,
            }
            return {"id": rid, "jsonrpc": "2.0", "result": result}
        if rpc in ("submit_block", "submitblock"):
            self.chain.advance()
            return {"id": rid, "jsonrpc": "2.0", "result": {"status": "OK", "untrusted": False}}
        if rpc in ("get_info", "getinfo") or path in ("/get_info", "/getinfo"):
            return {
                "id": rid,
                "jsonrpc": "2.0",
                "result": {
                    "height": self.chain.height,
                    "status": "OK",
                    "nettype": "mainnet",
                    "synchronized": True,
                },
            }
        return {"id": rid, "jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}}

    # --- SOCKS5 ----------------------------------------------------------------------------------

    async def socks5(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        """No-auth greeting, one CONNECT (any target goes to ``--upstream``), then relay both ways."""
        version, count = await reader.readexactly(2)
        await reader.readexactly(count)
        writer.write(b"\x05\x00")
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            target = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 3:
            target = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii", "replace")
        else:
            target = (await reader.readexactly(16)).hex()
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.log(peer, "<", f"SOCKS{version} command {command} to {target}:{port}")
        host, up_port = split_hostport(self.args.upstream)
        up_reader, up_writer = await asyncio.open_connection(host, up_port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\0\0")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    # --- plumbing --------------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Run one connection in the chosen dialect; log its end."""
        peer = writer.get_extra_info("peername")
        self.log(peer, "+", f"connection ({self.args.proto}{', tls' if self.args.tls else ''})")
        handler: Callable[..., Any] = getattr(self, self.args.proto)
        try:
            await handler(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError) as exc:
            self.log(peer, "!", repr(exc))
        finally:
            self.log(peer, "-", "closed")
            writer.close()

    async def serve(self) -> None:
        """Listen until cancelled."""
        self.daemon_block_time = time.monotonic()
        host, port = split_hostport(self.args.listen)
        tls = None
        if self.args.tls:
            with tempfile.TemporaryDirectory(prefix="fakepool-") as tmp:
                tls = make_tls_context(self.args.cert_name, Path(tmp))
        server = await asyncio.start_server(self.handle, host, port, ssl=tls, limit=MAX_LINE)
        names = ", ".join(str(s.getsockname()[:2]) for s in server.sockets)
        self.log("-", "*", f"listening on {names} ({self.args.proto}{', tls' if tls else ''})")
        async with server:
            await server.serve_forever()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT, IPv6 as [ADDR]:PORT")
    parser.add_argument(
        "--proto", default="cryptonote", choices=["cryptonote", "stratum1", "ethproxy", "daemon", "socks5"]
    )
    parser.add_argument("--tls", action="store_true", help="TLS with a fresh self-signed certificate")
    parser.add_argument("--cert-name", default="fakepool.invalid", help="the certificate's common name")
    parser.add_argument("--algo", default="rx/0", help="algorithm named in CryptoNote jobs (default rx/0)")
    parser.add_argument(
        "--difficulty", type=int, default=1000, help="starting share difficulty (default 1000)"
    )
    parser.add_argument("--job-interval", type=float, default=30.0, help="seconds between job pushes (30)")
    parser.add_argument(
        "--share-interval", type=float, default=10.0, help="vardiff aim: seconds per share (10)"
    )
    parser.add_argument("--upstream", default="127.0.0.1:3333", help="socks5: where every CONNECT goes")
    parser.add_argument("--log", help="append the message log here instead of stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    try:
        asyncio.run(Server(parse_args(argv)).serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise SystemExit(f"fakepool: cannot listen on {sys.argv[1:]}: {exc}") from None


if __name__ == "__main__":
    main()
