"""Loopback mining pools for the probe tests (plain or TLS); nothing leaves 127.0.0.1.

:func:`fakepool` runs the project's local pool, ``tools/fakepool.py`` (the one the real-miner
recordings use), as a process on a port the kernel picks, and reads its message log: the
probe tests use it for every dialect. :class:`Pool` is a minimal in-process pool kept for
what the fake pool cannot tell: how many connections a client holds at once.

:class:`Pool` answers the first line of a connection as a pool of its dialect does (PROTOCOLS.md):
a CryptoNote pool sends a job for ``login``, a Stratum v1 pool the subscribe result and a
``mining.notify``, an eth-proxy pool ``"result": true``; anything else gets a JSON-RPC error
and the connection is closed. The server counts connections, and the most it had open at once:
a new connection waits (up to :data:`OVERLAP_WAIT_S`) for the previous ones to be closed by the
client first, so a client that closes each before opening the next is counted at one, and one
that holds two at once is counted at two whatever the scheduling.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parents[2] / "tools"
FAKEPOOL_PROTO = {"cryptonote": "cryptonote", "stratum-v1": "stratum1", "eth-proxy": "ethproxy"}
"""The probe's dialect names and tools/fakepool.py's ``--proto`` values."""

OVERLAP_WAIT_S = 5.0

JOB = {"blob": "0707" + "00" * 74, "job_id": "4711", "target": "b88d0600", "algo": "rx/0", "height": 3000000}


def answer(dialect: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines a pool of ``dialect`` sends back to ``request``."""
    method, rid = request.get("method"), request.get("id")
    if dialect == "cryptonote" and method == "login":
        return [
            {"id": rid, "jsonrpc": "2.0", "error": None, "result": {"id": "7", "job": JOB, "status": "OK"}}
        ]
    if dialect == "stratum-v1" and method == "mining.subscribe":
        subs = [["mining.set_difficulty", "deadbeef"], ["mining.notify", "deadbeef"]]
        notify = ["1a", "00" * 32, "01", "02", [], "20000000", "1d00ffff", "5f5e1000", True]
        return [
            {"id": rid, "result": [subs, "08000002", 4], "error": None},
            {"id": None, "method": "mining.notify", "params": notify},
        ]
    if dialect == "eth-proxy" and method == "eth_submitLogin":
        return [{"id": rid, "jsonrpc": "2.0", "result": True}]
    return [{"id": rid, "jsonrpc": "2.0", "error": {"code": -1, "message": "Unknown method"}}]


class Pool:
    """A pool of one dialect on a free loopback port, each connection on its own thread."""

    def __init__(self, dialect: str, tls: ssl.SSLContext | None = None) -> None:
        """Listen on 127.0.0.1 (port chosen by the kernel); ``tls`` wraps every connection."""
        self.dialect = dialect
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Condition()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.lock.wait_for(lambda: self.open == 0, OVERLAP_WAIT_S)
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            line = conn.makefile("rb").readline(4096)
            request = json.loads(line)
            with self.lock:
                self.requests.append(request)
            for reply in answer(self.dialect, request):
                conn.sendall(json.dumps(reply).encode() + b"\n")
            while conn.recv(4096):  # until the client closes
                pass
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
            with self.lock:
                self.open -= 1
                self.lock.notify_all()

    def stop(self) -> None:
        """Stop listening."""
        self.sock.close()


@contextmanager
def running(dialect: str, tls: ssl.SSLContext | None = None) -> Iterator[Pool]:
    """A pool for the duration of a ``with`` block."""
    pool = Pool(dialect, tls)
    try:
        yield pool
    finally:
        pool.stop()


class FakePool:
    """A running ``tools/fakepool.py``: its port and the lines of its message log so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        """Read the port from the first log line, then keep reading the log on a thread."""
        assert proc.stderr is not None
        first = proc.stderr.readline()
        match = re.search(r"listening on \('127\.0\.0\.1', (\d+)\)", first)
        assert match, f"fakepool did not start: {first!r}"
        self.port = int(match.group(1))
        self.log: list[str] = []
        self.proc = proc
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def close(self) -> None:
        """Stop the pool, let the reader see the log's end, then close the pipe.

        Closing the pipe while the reader thread is still in it raised "I/O operation on closed
        file" on that thread, which pytest then blamed on whatever test ran next.
        """
        self.proc.kill()
        self.proc.wait()
        self.reader.join(30)  # the killed process's pipe reaches its end at once
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def requests(self, at_least: int = 0) -> list[dict[str, Any]]:
        """The JSON lines clients sent (``<time> <peer> < <line>`` in the log), in order.

        With ``at_least``, wait (up to 10 s) until the log shows that many: it is read on a thread.
        """
        import time

        until = time.monotonic() + 10
        while True:
            found = self._requests()
            if len(found) >= at_least or time.monotonic() > until:
                return found
            time.sleep(0.02)

    def _requests(self) -> list[dict[str, Any]]:
        out = []
        for line in list(self.log):
            parts = line.split(" < ", 1)
            if len(parts) == 2:
                try:
                    out.append(json.loads(parts[1]))
                except ValueError:
                    continue
        return out


@contextmanager
def fakepool(dialect: str, tls: bool = False) -> Iterator[FakePool]:
    """``tools/fakepool.py`` of ``dialect`` (a probe dialect name) on 127.0.0.1, for a ``with`` block."""
    argv = [sys.executable, str(TOOLS / "fakepool.py"), "--listen", "127.0.0.1:0"]
    argv += ["--proto", FAKEPOOL_PROTO[dialect], "--cert-name", "127.0.0.1", *(["--tls"] if tls else [])]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        pool = FakePool(proc)
    except BaseException:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        raise
    try:
        yield pool
    finally:
        pool.close()

