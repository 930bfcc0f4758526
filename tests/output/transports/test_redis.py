"""Redis sink: RESP encoding and parsing, URLs, and XADD into a real redis-server on loopback."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poolsniff.errors import OutputError
from poolsniff.output.transports.redis import (
    DEFAULT_MAXLEN,
    RedisError,
    RedisSink,
    RedisTarget,
    encode_command,
    parse_redis_url,
    read_reply,
)

from ...factories_eve import eve
from ...ports import PortTaken, closed_port, listens, started_on_free_port


@pytest.mark.parametrize(
    "args, wire",
    [
        (("PING",), b"*1\r\n$4\r\nPING\r\n"),
        (("XADD", "s", "MAXLEN", "~", 10, "*", "eve", "{}"),
         b"*8\r\n$4\r\nXADD\r\n$1\r\ns\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$2\r\n10\r\n$1\r\n*\r\n$3\r\neve\r\n$2\r\n{}\r\n"),
        (("SET", "k", "é\r\n"), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\xc3\xa9\r\n\r\n"),
        ((b"\x00",), b"*1\r\n$1\r\n\x00\r\n"),
    ],
)  # fmt: skip
def test_encode_command(args: tuple[Any, ...], wire: bytes) -> None:
    assert encode_command(*args) == wire


@pytest.mark.parametrize(
    "wire, value",
    [
        (b"+OK\r\n", "OK"),
        (b":42\r\n", 42),
        (b"$5\r\nhe\r\no\r\n", b"he\r\no"),
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"*2\r\n$1\r\na\r\n:1\r\n", [b"a", 1]),
        (b"*1\r\n*1\r\n+x\r\n", [["x"]]),
    ],
)
def test_read_reply(wire: bytes, value: object) -> None:
    assert read_reply(io.BytesIO(wire)) == value


@pytest.mark.parametrize(
    "wire, error, message",
    [
        (b"-WRONGTYPE Operation against a key\r\n", RedisError, "WRONGTYPE"),
        (b"", ConnectionError, "closed"),
        (b"+OK", ConnectionError, "closed"),
        (b"$10\r\nshort\r\n", ConnectionError, "closed"),
        (b"$999999999\r\n", RedisError, "too large"),
        (b"?what\r\n", RedisError, "not a RESP reply"),
        (b"*1\r\n" * 10 + b"+x\r\n", RedisError, "not a RESP reply"),
        (b":x\r\n", ValueError, "invalid literal"),
    ],
)
def test_read_reply_rejects(wire: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        read_reply(io.BytesIO(wire))


@pytest.mark.parametrize(
    "url, target",
    [
        ("redis://127.0.0.1", RedisTarget("127.0.0.1")),
        ("redis://h:6380/2", RedisTarget("h", 6380, 2)),
        ("redis://:s%40cret@h/1", RedisTarget("h", 6379, 1, None, "s@cret")),
        (
            "redis://bob:pw@[2001:db8::1]:7000/0?maxlen=500",
            RedisTarget("2001:db8::1", 7000, 0, "bob", "pw", 500),
        ),
    ],
)
def test_parse_url(url: str, target: RedisTarget) -> None:
    assert parse_redis_url(url) == target
    assert "pw" not in target.url and "cret" not in target.url


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://h", "bad Redis URL"),
        ("rediss://h", "TLS is not supported"),
        ("redis://h/x", "invalid literal"),
        ("redis://h?maxlen=0", "must be positive"),
        ("redis://h?count=1", "unknown parameter 'count'"),
        ("redis://:topsecret@h?count=1", r"redis://:\*\*\*@h"),
    ],
)
def test_parse_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_redis_url(url)
    assert "topsecret" not in str(info.value)


# --------------------------------------------------------------------------- a real server


def open_sink(url: str, stream: str = "poolsniff", **kwargs: Any) -> RedisSink:
    """The sink, its spool in the test's data directory (conftest's ``isolated_data_dir``)."""
    return RedisSink.open_url(url, stream, data_dir=Path(os.environ["POOLSNIFF_DATA_DIR"]), **kwargs)


class Server:
    """A redis-server on loopback, and a tiny client to look at what the sink wrote."""

    def __init__(self, tmp: Path, *extra: str, port: int = 0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = port
        self.argv = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(tmp), "--daemonize", "no", *extra]  # fmt: skip
        try:
            if port:  # a restart on the port the sink knows
                self._start(port)
            else:  # a free port another program may take first: then again on a new one
                started_on_free_port(self._start)
        except PortTaken as e:
            pytest.fail(f"redis-server did not start on port {self.port}: {e}")

    def _start(self, port: int) -> None:
        """Start redis-server on ``port``; PortTaken unless it listens there itself within 10 s."""
        self.port = port
        self.proc = subprocess.Popen(
            [*self.argv, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not listens(self.proc.pid, port):  # its own socket, not another program's
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PortTaken(f"exit status {self.proc.poll()}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def call(self, *args: str | int, password: str | None = None) -> Any:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s, s.makefile("rb") as f:
            if password:
                s.sendall(encode_command("AUTH", password))
                read_reply(f)
            s.sendall(encode_command(*args))
            return read_reply(f)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(*extra: str, port: int = 0) -> Server:
        servers.append(Server(tmp_path, *extra, port=port))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def entries(server: Server, stream: str = "poolsniff", db: int = 0) -> list[dict[str, str]]:
    if db:
        script = f"redis.call('SELECT', {db}); return redis.call('XRANGE', KEYS[1], '-', '+')"
        raw = server.call("EVAL", script, 1, stream)
    else:
        raw = server.call("XRANGE", stream, "-", "+")
    out = []
    for _id, fields in raw:
        pairs = [x.decode() for x in fields]
        out.append(dict(zip(pairs[::2], pairs[1::2], strict=True)))
    return out


def test_alerts_become_stream_entries(redis_server: Callable[..., Server]) -> None:
    server = redis_server()
    records = [eve(i, sport=1000 + i, agent="XMRig «6»") for i in range(3)]
    sink = open_sink(server.url, "alerts")
    for record in records:
        sink.write(record)
    sink.close()
    got = entries(server, "alerts")
    assert [json.loads(e["eve"]) for e in got] == records
    assert {e["sensor"] for e in got} == {socket.gethostname()}
    assert sink.sent == 3 and sink.dropped == 0
    assert server.call("EXISTS", "poolsniff") == 0


def test_stream_is_capped(redis_server: Callable[..., Server]) -> None:
    server = redis_server()
    sink = open_sink(server.url + "?maxlen=10")
    for i in range(600):
        sink.write(eve(i))
    sink.close()
    length = server.call("XLEN", "poolsniff")
    assert 10 <= length < 300  # MAXLEN ~ trims whole stream nodes (100 entries each by default)
    assert DEFAULT_MAXLEN > 600


def test_database_is_selected(redis_server: Callable[..., Server]) -> None:
    server = redis_server()
    sink = open_sink(server.url + "/3")
    sink.write(eve(0))
    sink.close()
    assert server.call("EXISTS", "poolsniff") == 0
    assert len(entries(server, db=3)) == 1


def test_password(redis_server: Callable[..., Server]) -> None:
    server = redis_server("--requirepass", "s3cret")
    with pytest.raises(OutputError, match="WRONGPASS|invalid password"):
        open_sink(f"redis://:wrong@127.0.0.1:{server.port}")
    with pytest.raises(OutputError, match="NOAUTH"):
        open_sink(server.url)
    sink = open_sink(f"redis://:s3cret@127.0.0.1:{server.port}")
    sink.write(eve(0))
    sink.close()
    assert server.call("XLEN", "poolsniff", password="s3cret") == 1


def test_key_of_another_type_is_refused_at_open(redis_server: Callable[..., Server]) -> None:
    server = redis_server()
    server.call("SET", "poolsniff", "x")
    with pytest.raises(OutputError, match="key 'poolsniff' holds a string, not a stream"):
        open_sink(server.url)


def test_no_server_at_open_only_warns_and_the_spool_waits_for_it(
    redis_server: Callable[..., Server],
) -> None:
    warnings: list[str] = []
    with closed_port() as port:
        sink = open_sink(f"redis://127.0.0.1:{port}", warn=warnings.append)
        records = [eve(i, sport=1000 + i) for i in range(5)]
        for record in records:
            sink.write(record)
        assert sink.pending == 5 and sink.sent == 0
        sink.close()
    assert "Connection refused; alerts wait in the spool" in warnings[0]
    assert "5 alerts stay in the spool" in warnings[-1]
    server = redis_server(port=port)
    sink = open_sink(server.url)  # the next run on the same sink delivers them first
    sink.write(eve(9))
    sink.close()
    assert [json.loads(e["eve"]) for e in entries(server)] == [*records, eve(9)]
    assert (sink.sent, sink.pending, sink.dropped) == (6, 0, 0)


def test_server_going_away_delays_alerts_and_loses_none(redis_server: Callable[..., Server]) -> None:
    server = redis_server()
    warnings: list[str] = []
    sink = open_sink(server.url, warn=warnings.append)
    sink.write(eve(0))
    wait_for(lambda: sink.sent == 1)
    server.stop()
    sink.write(eve(1))
    sink.write(eve(2))
    wait_for(lambda: len(warnings) == 1)
    assert "alerts wait in the spool" in warnings[0] and sink.pending == 2
    again = redis_server(port=server.port)  # a fresh, empty server where the old one was
    wait_for(lambda: sink.sent == 3)
    sink.close()
    assert [json.loads(e["eve"]) for e in entries(again)] == [eve(1), eve(2)]
    assert warnings[1].endswith("reconnected; delivering 2 spooled alerts") and sink.dropped == 0


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll until ``condition`` holds (generous deadline: no test depends on timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
