"""Developer tool outside the package: benign peers whose sessions look like mining (test input).

source -> decode -> flows/dissectors -> detectors -> enrichment -> output

``tools/record_lookalikes.py`` runs these inside its lab next to real programs (OpenSSH, mosquitto, curl,
chromium). Standard library only:

- ``electrum-server`` / ``electrum-client``: the Electrum wallet protocol (newline-delimited JSON-RPC 2.0,
  https://electrumx.readthedocs.io/en/latest/protocol-methods.html): ``server.version``, ``server.banner``,
  ``blockchain.headers.subscribe`` (the server pushes each new header), ``blockchain.scripthash.subscribe``,
  ``blockchain.estimatefee`` and a ``server.ping`` every few seconds; plain (50001) or TLS (50002).
- ``sse-server``: HTTPS server-sent events (``text/event-stream``), a JSON price tick every few seconds and a
  comment line as keepalive.
- ``ws-chat``: an HTTP server with a chat page and a WebSocket endpoint (RFC 6455) that relays the browser's
  JSON messages and pushes other users' messages.
- ``shelly-lines``: prints Shelly-style JSON-RPC requests
  (``{"id":..,"src":..,"method":"Switch.GetStatus"..}``) one per line every few seconds, for
  ``mosquitto_pub -l``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import ssl
import struct
import sys
import time
from pathlib import Path
from typing import Any

from fakepool import make_tls_context, split_hostport

CHAT_PAGE = """<!doctype html><html><body><pre id=log></pre><script>
const ws = new WebSocket("ws://" + location.host + "/chat");
let n = 0;
ws.onmessage = (e) => { document.getElementById("log").textContent += e.data + "\\n"; };
ws.onopen = () => { ws.send(JSON.stringify({type: "join", user: "alice", room: "general"})); };
setInterval(() => {
  n += 1;
  ws.send(JSON.stringify({type: "message", user: "alice", room: "general", id: n,
                          text: "status update " + n + ": all good here", ts: Date.now()}));
}, 4000 + Math.floor(Math.random() * 2000));
</script></body></html>"""


async def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """A self-signed server context when ``--tls`` is on."""
    if not args.tls:
        return None
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lookalike-") as tmp:
        return make_tls_context(args.cert_name, Path(tmp))


def line(message: dict[str, Any]) -> bytes:
    """One JSON line, compact as ElectrumX writes it."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def header(height: int) -> dict[str, Any]:
    """A Bitcoin block header notification (80 bytes as hex)."""
    return {"hex": os.urandom(80).hex(), "height": height}


async def electrum_server(args: argparse.Namespace) -> None:
    """Answer Electrum requests; push a new header every ``--interval`` seconds to subscribers."""
    height = 820_000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal height
        pusher: asyncio.Task[None] | None = None

        async def push() -> None:
            nonlocal height
            while True:
                await asyncio.sleep(args.interval * random.uniform(0.5, 1.5))
                height += 1
                writer.write(
                    line(
                        {
                            "jsonrpc": "2.0",
                            "method": "blockchain.headers.subscribe",
                            "params": [header(height)],
                        }
                    )
                )
                if random.random() < 0.3:
                    writer.write(
                        line(
                            {
                                "jsonrpc": "2.0",
                                "method": "blockchain.scripthash.subscribe",
                                "params": [os.urandom(32).hex(), os.urandom(32).hex()],
                            }
                        )
                    )
                await writer.drain()

        try:
            while raw := await reader.readline():
                req = json.loads(raw)
                method, rid = req.get("method"), req.get("id")
                result: Any = None
                if method == "server.version":
                    result = ["ElectrumX 1.16.0", "1.4"]
                elif method == "server.banner":
                    result = "Welcome to a test Electrum server"
                elif method == "blockchain.headers.subscribe":
                    result = header(height)
                    pusher = pusher or asyncio.create_task(push())
                elif method == "blockchain.scripthash.subscribe":
                    result = os.urandom(32).hex() if random.random() < 0.5 else None
                elif method == "blockchain.estimatefee":
                    result = 0.00012
                elif method == "blockchain.relayfee":
                    result = 0.00001
                writer.write(line({"jsonrpc": "2.0", "result": result, "id": rid}))
                await writer.drain()
        except (ConnectionError, ValueError, ssl.SSLError):
            pass
        finally:
            if pusher:
                pusher.cancel()
            writer.close()

    host, port = split_hostport(args.listen)
    server = await asyncio.start_server(handle, host, port, ssl=await tls_context(args))
    async with server:
        await server.serve_forever()


async def electrum_client(args: argparse.Namespace) -> None:
    """An Electrum wallet: handshake, subscriptions, then a ping every ``--interval`` seconds."""
    host, port = split_hostport(args.connect)
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    rid = 0

    async def request(method: str, params: list[Any]) -> None:
        nonlocal rid
        writer.write(line({"jsonrpc": "2.0", "method": method, "params": params, "id": rid}))
        rid += 1
        await writer.drain()

    async def drain_replies() -> None:
        while await reader.readline():
            pass

    replies = asyncio.create_task(drain_replies())
    await request("server.version", ["electrum/4.4.6", "1.4"])
    await request("server.banner", [])
    await request("blockchain.headers.subscribe", [])
    await request("blockchain.relayfee", [])
    for _ in range(8):
        await request("blockchain.scripthash.subscribe", [os.urandom(32).hex()])
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(args.interval * random.uniform(0.8, 1.2))
        await request("server.ping", [])
        if random.random() < 0.2:
            await request("blockchain.estimatefee", [2])
    replies.cancel()
    writer.close()


async def sse_server(args: argparse.Namespace) -> None:
    """Server-sent events: one JSON tick every ``--interval`` seconds, a comment every 15 s."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                b"Connection: keep-alive\r\n\r\n"
            )
            n, last_comment = 0, time.monotonic()
            while True:
                await asyncio.sleep(args.interval * random.uniform(0.6, 1.4))
                n += 1
                tick = {
                    "symbol": "ACME",
                    "price": round(random.uniform(90, 110), 2),
                    "seq": n,
                    "ts": time.time(),
                }
                writer.write(f"id: {n}\nevent: tick\ndata: {json.dumps(tick)}\n\n".encode())
                if time.monotonic() - last_comment > 15:
                    writer.write(b": keepalive\n\n")
                    last_comment = time.monotonic()
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    host, port = split_hostport(args.listen)
    server = await asyncio.start_server(handle, host, port, ssl=await tls_context(args))
    async with server:
        await server.serve_forever()


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server text frame."""
    size = len(payload)
    head = struct.pack("!BB", 0x81, size) if size < 126 else struct.pack("!BBH", 0x81, 126, size)
    return head + payload


async def ws_read(reader: asyncio.StreamReader) -> bytes | None:
    """One client frame's payload (unmasked); None on close."""
    b0, b1 = await reader.readexactly(2)
    size = b1 & 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytes(c ^ mask[i % 4] for i, c in enumerate(await reader.readexactly(size)))
    return None if b0 & 0x0F == 8 else data


async def ws_chat(args: argparse.Namespace) -> None:
    """The chat page on ``/``, the WebSocket on ``/chat``; other users talk every ``--interval`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (h.partition(":") for h in head.split("\r\n")[1:] if h)
            }
            if "sec-websocket-key" not in headers:
                body = CHAT_PAGE.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
                return
            accept = base64.b64encode(
                hashlib.sha1(
                    headers["sec-websocket-key"].encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
                ).digest()
            )
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )

            async def others() -> None:
                n = 0
                while True:
                    await asyncio.sleep(args.interval * random.uniform(0.5, 1.5))
                    n += 1
                    msg = {
                        "type": "message",
                        "user": random.choice(["bob", "carol", "dave"]),
                        "room": "general",
                        "id": 1000 + n,
                        "text": f"message {n} from the room",
                        "ts": int(time.time() * 1000),
                    }
                    writer.write(ws_frame(json.dumps(msg).encode()))
                    await writer.drain()

            talker = asyncio.create_task(others())
            try:
                while (data := await ws_read(reader)) is not None:
                    msg = json.loads(data)
                    writer.write(ws_frame(json.dumps({**msg, "ack": True}).encode()))
                    await writer.drain()
            finally:
                talker.cancel()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    host, port = split_hostport(args.listen)
    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()


async def shelly_lines(args: argparse.Namespace) -> None:
    """Shelly Gen2 JSON-RPC requests, one line every ``--interval`` seconds, for ``mosquitto_pub -l``."""
    methods = ["Switch.GetStatus", "Sys.GetStatus", "Shelly.GetStatus", "Switch.Set"]
    deadline, n = time.monotonic() + args.seconds, 0
    while time.monotonic() < deadline:
        n += 1
        method = random.choice(methods)
        params: dict[str, Any] = {"id": 0}
        if method == "Switch.Set":
            params["on"] = bool(n % 2)
        print(
            json.dumps({"id": n, "src": "homeassistant/rpc", "method": method, "params": params}), flush=True
        )
        await asyncio.sleep(args.interval * random.uniform(0.8, 1.2))


def main() -> None:
    """Run one role."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "role", choices=["electrum-server", "electrum-client", "sse-server", "ws-chat", "shelly-lines"]
    )
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--connect", default="127.0.0.1:50001")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--cert-name", default="lookalike.invalid")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between periodic messages")
    parser.add_argument("--seconds", type=float, default=100.0, help="clients: how long to run")
    args = parser.parse_args()
    role = {
        "electrum-server": electrum_server,
        "electrum-client": electrum_client,
        "sse-server": sse_server,
        "ws-chat": ws_chat,
        "shelly-lines": shelly_lines,
    }[args.role]
    try:
        asyncio.run(role(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
