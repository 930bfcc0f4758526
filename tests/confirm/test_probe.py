"""Tests for poolsniff.confirm.probe against servers the tests start on loopback (never off the machine).

Pools of every dialect, plain and TLS, must come back "mining"; a real HTTPS server, a real SSH
server and a real MQTT broker (plain and TLS) "not mining"; a closed port "unreachable".
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.confirm.hello import Dialect, Kind, hello
from poolsniff.confirm.probe import Status, probe, resolve
from poolsniff.confirm.target import Target
from tests import listserver
from tests.confirm import pools, services
from tests.ports import closed_port

TIMEOUT = 5.0


def local(port: int) -> Target:
    return Target("127.0.0.1", port, "127.0.0.1")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return listserver.self_signed(tmp_path_factory.mktemp("probe-cert"))


KINDS = {"cryptonote": Kind.CRYPTONOTE_JOB, "stratum-v1": Kind.STRATUM_SUBSCRIBE, "eth-proxy": Kind.ETH_PROXY}


@pytest.mark.parametrize("dialect", sorted(KINDS))
def test_a_plain_pool_is_mining(dialect: str) -> None:
    with pools.fakepool(dialect) as pool:
        result = probe(local(pool.port), TIMEOUT)
        sent = pool.requests(at_least=len(result.attempts))
    hit = result.confirming
    assert result.status is Status.MINING and hit is not None
    assert hit.transport == "plain" and hit.reply.kind is KINDS[dialect] and hit.dialect is Dialect(dialect)
    assert result.tls == {}
    assert [m["method"] for m in sent] == [json.loads(hello(a.dialect))["method"] for a in result.attempts]


@pytest.mark.parametrize("dialect", sorted(KINDS))
def test_a_tls_pool_is_mining_and_its_certificate_is_named(dialect: str) -> None:
    with pools.fakepool(dialect, tls=True) as pool:
        result = probe(local(pool.port), TIMEOUT)
    hit = result.confirming
    assert result.status is Status.MINING and hit is not None and hit.transport == "tls"
    assert hit.reply.kind is KINDS[dialect]
    assert result.tls["subject"] == result.tls["issuer"] == "CN=127.0.0.1"
    assert len(result.attempts) <= 6


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_one_connection_at_a_time(tls: bool, certificate: tuple[Path, Path]) -> None:
    """The minimal in-process pool counts what the fake pool cannot: connections open at once."""
    with pools.running("eth-proxy", listserver.server_context(*certificate) if tls else None) as pool:
        result = probe(local(pool.port), TIMEOUT)
    assert result.status is Status.MINING
    assert pool.most_open == 1 and pool.connections == len(result.attempts)


def test_the_hellos_name_the_probe() -> None:
    with pools.fakepool("cryptonote") as pool:
        probe(local(pool.port), TIMEOUT)
        sent = pool.requests(at_least=1)
    assert sent[0]["params"]["agent"].startswith("poolsniff-probe/")


def test_https_is_not_mining(certificate: tuple[Path, Path]) -> None:
    with listserver.running(listserver.server_context(*certificate)) as server:
        result = probe(local(server.port), TIMEOUT)
    assert result.status is Status.NOT_MINING, result.verdict()
    assert result.tls.get("subject") == "CN=127.0.0.1"
    # http.server answers a request line it cannot read with an error page (no status line)
    tls = [a.reply.detail for a in result.attempts if a.transport == "tls"]
    assert tls in (["HTTP response"], ["HTML or XML reply"])


def test_openssl_s_server_is_not_mining(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    with services.openssl_www(tmp_path, *certificate) as port:
        result = probe(local(port), 1.0)  # it waits for a whole HTTP request: every hello times out
    assert result.status is Status.NOT_MINING, result.verdict()
    assert result.tls.get("subject") == "CN=127.0.0.1"


def test_ssh_is_not_mining(tmp_path: Path) -> None:
    with services.sshd(tmp_path) as port:
        result = probe(local(port), TIMEOUT)
    assert result.status is Status.NOT_MINING, result.verdict()
    assert result.attempts[0].reply.detail == "SSH banner"
    assert "no TLS" in result.detail
    assert len(result.attempts) == 1  # the banner ends the plain tries, the handshake the TLS ones


def test_mqtt_is_not_mining(tmp_path: Path) -> None:
    with services.mosquitto(tmp_path) as port:
        result = probe(local(port), TIMEOUT)
    assert result.status is Status.NOT_MINING, result.verdict()
    assert not result.tls


def test_mqtt_over_tls_is_not_mining(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    with services.mosquitto(tmp_path, certificate) as port:
        result = probe(local(port), TIMEOUT)
    assert result.status is Status.NOT_MINING, result.verdict()
    assert result.tls.get("subject") == "CN=127.0.0.1"


def test_a_closed_port_is_unreachable() -> None:
    with closed_port() as port:
        result = probe(local(port), TIMEOUT)
    assert result.status is Status.UNREACHABLE and "connect failed" in result.detail
    assert result.attempts == []


@pytest.fixture
def silent() -> Iterator[int]:
    """A server that accepts and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                held.append(server.accept()[0])
        except OSError:  # the listening socket was closed
            return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()
        for conn in held:
            conn.close()


def test_a_silent_server_is_not_mining_after_the_timeout(silent: int) -> None:
    result = probe(local(silent), 0.2)
    assert result.status is Status.NOT_MINING
    assert all("no answer within 0.2 s" in a.reply.detail for a in result.attempts)


@pytest.fixture
def dripping() -> Iterator[int]:
    """A server that answers every connection with a TLS record header, then one byte at a time."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"\x16\x03\x03\x40\x00\x02\x00\x3f\xfc")  # a 16 KiB ServerHello...
                while not stop.wait(0.05):
                    conn.sendall(b"\x00")  # ...that never ends
            except OSError:
                return

    def accept() -> None:
        try:
            while True:
                threading.Thread(target=drip, args=(server.accept()[0],), daemon=True).start()
        except OSError:
            return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()


def test_a_server_that_drips_cannot_hold_the_probe(dripping: int) -> None:
    result = probe(local(dripping), 0.5)
    assert result.status is Status.NOT_MINING
    assert result.attempts[0].reply.detail == "TLS record (the port speaks TLS)"
    assert result.detail.endswith("no TLS: handshake timed out"), result.detail


def test_resolve_fills_in_the_address() -> None:
    target = resolve(Target("localhost", 3333, name="localhost"))
    assert target.ip in ("127.0.0.1", "::1") and target.name == "localhost"
    with pytest.raises(OSError):
        resolve(Target("no-such-host.invalid", 1, name="no-such-host.invalid"))
