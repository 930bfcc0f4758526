"""A loopback HTTP(S) server that serves test blocklists (no test ever leaves 127.0.0.1).

Each route answers with a fixed status, body and headers; conditional requests get a 304
when their ``If-None-Match`` / ``If-Modified-Since`` matches the route's validators. Every
request's path and headers are recorded so tests can check what the client sent.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (timeouts)."""
    length: bool = True
    """Send Content-Length (else the body ends when the connection closes)."""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        """Answer from the route table."""
        self.server.requests.append((self.path, dict(self.headers.items())))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "no such list")
            return
        if route.delay:
            time.sleep(route.delay)
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        ):
            self.send_response(304)
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.length:
            self.send_header("Content-Length", str(len(route.body)))
        else:
            self.close_connection = True
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (size cap, timeout)
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]]


class ListServer:
    """The server, started on a free loopback port."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """Start serving in a thread; ``tls`` makes it an HTTPS server."""
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.requests = []
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def routes(self) -> dict[str, Route]:
        """Path -> route; change it between requests."""
        return self.httpd.routes

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """(path, headers) of every request so far."""
        return self.httpd.requests

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: cannot make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def running(tls: ssl.SSLContext | None = None) -> Iterator[ListServer]:
    """A server for the duration of a ``with`` block (fixtures wrap this)."""
    srv = ListServer(tls)
    try:
        yield srv
    finally:
        srv.stop()


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The TLS context of an HTTPS test server."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def without_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep loopback requests away from any proxy set in the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
