"""The probe's sockets: connect plain and over TLS, send each hello, read the reply (confirmation I/O).

target -> **connect (plain, then TLS) -> hello -> reply** -> hello.Classifier -> ProbeResult

One connection at a time, each with :data:`DEFAULT_TIMEOUT_S` to connect and to read the reply;
at most one connection per hello and transport (six in all), and fewer as soon as the answer is
clear: a reply that names another protocol (an SSH banner, HTTP, a TLS record) ends the plain
tries, a failed TLS handshake ends the TLS tries, and a refused or silent connect ends the probe.
TLS certificates are not verified (a pool's is often self-signed; the point is to see what
answers); the subject and issuer are recorded. A host name is resolved once and sent as SNI.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from poolsniff.confirm.hello import HELLOS, Classifier, Dialect, Reply, hello
from poolsniff.confirm.target import Target
from poolsniff.confirm.x509 import names

DEFAULT_TIMEOUT_S: Final = 5.0
"""Seconds to connect, and again to read a reply (NEMEA waits 10 s; pools answer a hello at once)."""
READ_CHUNK: Final = 4096


class Status(str, Enum):
    """The outcome for one endpoint."""

    MINING = "mining"
    NOT_MINING = "not mining"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Attempt:
    """One connection: the transport, the hello sent and what came back."""

    transport: str
    dialect: Dialect
    reply: Reply


@dataclass
class ProbeResult:
    """What a probe found at one endpoint."""

    target: Target
    status: Status
    detail: str
    """Why: the reply that confirmed it, the last reply seen, or why nothing connected."""
    attempts: list[Attempt] = field(default_factory=list)
    tls: dict[str, str] = field(default_factory=dict)
    """``subject``, ``issuer`` (and ``version``) of the TLS server, when a handshake completed."""

    @property
    def confirming(self) -> Attempt | None:
        """The attempt whose reply confirmed a pool, if any."""
        return next((a for a in self.attempts if a.reply.kind.mining), None)

    def verdict(self) -> str:
        """``mining (cryptonote-job over tls: job 1 …)``, ``not mining (SSH banner)`` (people, ledger)."""
        hit = self.confirming
        if hit is not None:
            return f"{self.status.value} ({hit.reply.kind.value} over {hit.transport}: {hit.reply.detail})"
        return f"{self.status.value} ({self.detail})"

    def line(self) -> str:
        """One line for the terminal: the endpoint, the verdict, and the TLS server's names."""
        text = f"{self.target.shown()}: {self.verdict()}"
        if self.tls.get("subject") is not None:
            text += f"; TLS certificate subject {self.tls['subject']!r}, issuer {self.tls.get('issuer')!r}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (``poolsniff probe --json``)."""
        hit = self.confirming
        return {
            "endpoint": self.target.shown().split(" ", 1)[0],
            "address": self.target.ip or None,
            "status": self.status.value,
            "mining": self.status is Status.MINING,
            "verdict": hit.reply.kind.value if hit else None,
            "transport": hit.transport if hit else None,
            "hello": hit.dialect.value if hit else None,
            "detail": self.detail,
            "tls": dict(self.tls),
            "attempts": [
                {"transport": a.transport, "hello": a.dialect.value, "reply": a.reply.kind.value,
                 "detail": a.reply.detail, "excerpt": a.reply.excerpt}
                for a in self.attempts
            ],
        }  # fmt: skip


class _Unreachable(Exception):
    """The TCP connection could not be made."""


def resolve(target: Target) -> Target:
    """``target`` with its address filled in (the first of ``getaddrinfo``); OSError if it has none."""
    if target.ip:
        return target
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    ip = str(infos[0][4][0])
    return Target(target.host, target.port, ip, target.name)


def probe(target: Target, timeout: float = DEFAULT_TIMEOUT_S) -> ProbeResult:
    """Probe ``target`` (resolved), plain first, then over TLS; never raises for network trouble."""
    result = ProbeResult(target, Status.NOT_MINING, "")
    try:
        if _plain(target, timeout, result) or _tls(target, timeout, result):
            hit = result.confirming
            assert hit is not None
            result.status, result.detail = Status.MINING, hit.reply.detail
            return result
    except _Unreachable as e:
        if not result.attempts:
            result.status, result.detail = Status.UNREACHABLE, str(e)
            return result
    last = result.attempts[-1].reply if result.attempts else None
    result.detail = result.detail or (last.detail if last else "no answer")
    return result


def _connect(target: Target, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((target.ip, target.port), timeout=timeout)
    except TimeoutError:
        raise _Unreachable(f"connect timed out after {timeout:g} s") from None
    except OSError as e:
        raise _Unreachable(f"connect failed: {e.strerror or e}") from None


def _plain(target: Target, timeout: float, result: ProbeResult) -> bool:
    for dialect in HELLOS:
        with _connect(target, timeout) as sock:
            reply = _exchange(sock, dialect, timeout)
        result.attempts.append(Attempt("plain", dialect, reply))
        if reply.kind.mining:
            return True
        if not reply.text_like:
            break
    return False


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the probe wants to see what answers, not to trust it
    return context


def _tls(target: Target, timeout: float, result: ProbeResult) -> bool:
    context = _tls_context()
    for dialect in HELLOS:
        raw = _connect(target, timeout)
        try:
            # the socket's timeout bounds the whole handshake (CPython's do_handshake keeps one
            # deadline), so a server that drips a byte at a time cannot hold the probe
            sock = context.wrap_socket(raw, server_hostname=target.name)
        except (ssl.SSLError, OSError) as e:
            raw.close()
            if not result.tls:
                result.detail = (
                    f"{result.attempts[-1].reply.detail if result.attempts else 'no answer'}; "
                    f"no TLS: {_ssl_reason(e)}"
                )
            return False
        with sock:
            if not result.tls:
                result.tls = _certificate(sock)
            reply = _exchange(sock, dialect, timeout)
        result.attempts.append(Attempt("tls", dialect, reply))
        if reply.kind.mining:
            return True
        if not reply.text_like:
            break
    result.detail = ""
    return False


def _ssl_reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return error.reason or "handshake failed"
    if isinstance(error, TimeoutError):
        return "handshake timed out"
    return str(getattr(error, "strerror", None) or error) or "handshake failed"


def _certificate(sock: ssl.SSLSocket) -> dict[str, str]:
    facts = {"version": sock.version() or ""}
    der = sock.getpeercert(binary_form=True)
    read = names(der) if der else None
    if read is not None:
        facts["subject"], facts["issuer"] = read
    return facts


def _exchange(sock: socket.socket, dialect: Dialect, timeout: float) -> Reply:
    """Send the hello, read until the classifier answers, the server closes or ``timeout`` passes."""
    classifier = Classifier(dialect)
    deadline = time.monotonic() + timeout
    try:
        sock.sendall(hello(dialect))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return classifier.finish(f"no answer within {timeout:g} s")
            sock.settimeout(left)
            chunk = sock.recv(READ_CHUNK)
            if not chunk:
                return classifier.finish("closed without an answer" if not classifier.data else "closed")
            verdict = classifier.feed(chunk)
            if verdict is not None:
                return verdict
    except TimeoutError:
        return classifier.finish(f"no answer within {timeout:g} s")
    except ssl.SSLError as e:
        return classifier.finish(f"TLS error: {e.reason or e}")
    except OSError as e:
        return classifier.finish(f"connection error: {e.strerror or e}")
