"""tools/fakepool.py, the local pool the recordings and the probe tests use, answers each dialect."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .conftest import ROOT


@contextmanager
def fakepool(*args: str) -> Iterator[int]:
    """Start the pool on a kernel-chosen loopback port; yield the port."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "fakepool.py"), "--listen", "127.0.0.1:0", *args],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        match = re.search(r"listening on \('127\.0\.0\.1', (\d+)\)", first)
        assert match, first
        yield int(match.group(1))
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


def exchange(port: int, lines: list[dict[str, Any]], tls: bool = False, answers: int = 1) -> list[Any]:
    """Send JSON lines, read ``answers`` lines back."""
    sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(sock)
    with sock, sock.makefile("rwb") as f:
        for message in lines:
            f.write(json.dumps(message).encode() + b"\n")
        f.flush()
        return [json.loads(f.readline()) for _ in range(answers)]


@pytest.mark.parametrize("tls", [False, True])
def test_cryptonote_login_gets_a_job_and_submit_ok(tls: bool) -> None:
    with fakepool(*(["--tls"] if tls else [])) as port:
        login, submit = exchange(
            port,
            [
                {"id": 1, "method": "login", "params": {"login": "x", "pass": "x"}},
                {"id": 2, "method": "submit", "params": {}},
            ],
            tls=tls,
            answers=2,
        )
    job = login["result"]["job"]
    assert {"blob", "job_id", "target", "algo", "height", "seed_hash"} <= job.keys()
    assert len(bytes.fromhex(job["blob"])) == 76
    assert submit == {"id": 2, "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}}


def test_stratum1_subscribe_authorize_then_difficulty_and_notify() -> None:
    with fakepool("--proto", "stratum1") as port:
        answers = exchange(
            port,
            [
                {"id": 1, "method": "mining.subscribe", "params": []},
                {"id": 2, "method": "mining.authorize", "params": ["u", "x"]},
            ],
            answers=4,
        )
    assert answers[0]["result"][2] == 4
    assert answers[1]["result"] is True
    assert [a["method"] for a in answers[2:]] == ["mining.set_difficulty", "mining.notify"]


def test_ethproxy_login_and_work() -> None:
    with fakepool("--proto", "ethproxy") as port:
        login, work = exchange(
            port,
            [
                {"id": 1, "method": "eth_submitLogin", "params": ["0xab"]},
                {"id": 2, "method": "eth_getWork", "params": []},
            ],
            answers=2,
        )
    assert login["result"] is True
    assert len(work["result"]) == 3 and all(w.startswith("0x") for w in work["result"])


def test_daemon_block_template_over_http() -> None:
    body = json.dumps(
        {
            "id": 0,
            "jsonrpc": "2.0",
            "method": "get_block_template",
            "params": {"wallet_address": "4x", "reserve_size": 8},
        }
    ).encode()
    with (
        fakepool("--proto", "daemon") as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as s,
    ):
        s.sendall(
            b"POST /json_rpc HTTP/1.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    result = json.loads(payload)["result"]
    template = bytes.fromhex(result["blocktemplate_blob"])
    assert template[result["reserved_offset"] : result["reserved_offset"] + 8] == bytes(8)
