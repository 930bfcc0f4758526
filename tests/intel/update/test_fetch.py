"""Tests for poolsniff.intel.update.fetch against loopback HTTP and HTTPS servers (never the network)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.intel.update.fetch import USER_AGENT, FetchFailed, fetch

from ...listserver import ListServer, Route, running, self_signed, server_context, without_proxies
from ...ports import closed_port


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)


@pytest.fixture
def server() -> Iterator[ListServer]:
    with running() as srv:
        yield srv


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[ListServer]:
    with running(server_context(*certificate)) as srv:
        yield srv


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test certificate (and nothing else)."""
    return ssl.create_default_context(cafile=str(certificate[0]))

LIST = b"pool.example.com\nother.example.net\n"


def test_plain_get_returns_body_and_validators(server: ListServer) -> None:
    server.routes["/l.txt"] = Route(LIST, etag='"v1"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    reply = fetch(server.url("/l.txt"), allow_http=True)
    assert (reply.status, reply.body) == (200, LIST)
    assert reply.etag == '"v1"'
    assert reply.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert reply.content_type == "text/plain; charset=utf-8"
    _path, headers = server.requests[-1]
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Accept-Encoding"] == "identity"
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


@pytest.mark.parametrize(
    ("etag", "modified", "sent_header"),
    [
        ('"v1"', None, "If-None-Match"),
        (None, "Wed, 21 Oct 2015 07:28:00 GMT", "If-Modified-Since"),
    ],
)
def test_conditional_request_gets_304(
    server: ListServer, etag: str | None, modified: str | None, sent_header: str
) -> None:
    server.routes["/l.txt"] = Route(LIST, etag='"v1"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    reply = fetch(server.url("/l.txt"), etag=etag, last_modified=modified, allow_http=True)
    assert reply.status == 304
    assert reply.body == b""
    assert sent_header in server.requests[-1][1]


def test_changed_list_is_fetched_despite_old_validators(server: ListServer) -> None:
    server.routes["/l.txt"] = Route(LIST + b"new.example.org\n", etag='"v2"')
    reply = fetch(server.url("/l.txt"), etag='"v1"', allow_http=True)
    assert (reply.status, reply.etag) == (200, '"v2"')
    assert reply.body.endswith(b"new.example.org\n")


@pytest.mark.parametrize(
    ("route", "max_bytes", "reason"),
    [
        (Route(b"oops", status=500), 1000, "HTTP 500 Internal Server Error"),
        (Route(b"gone", status=404), 1000, "HTTP 404 Not Found"),
        (Route(b"x" * 2000), 1000, "too large: Content-Length 2000 bytes exceeds the 1000-byte cap"),
        (Route(b"x" * 200_000, length=False), 100_000, "too large: more than the 100000-byte cap"),
        (Route(LIST, headers={"Content-Encoding": "gzip"}), 1000, "compressed body (Content-Encoding gzip)"),
    ],
)
def test_failures_name_the_reason(server: ListServer, route: Route, max_bytes: int, reason: str) -> None:
    server.routes["/l.txt"] = route
    with pytest.raises(FetchFailed) as caught:
        fetch(server.url("/l.txt"), allow_http=True, max_bytes=max_bytes)
    assert str(caught.value).startswith(reason)


def test_plain_http_is_refused_without_allow_http(server: ListServer) -> None:
    server.routes["/l.txt"] = Route(LIST)
    with pytest.raises(FetchFailed, match="plain http refused: use an https:// URL, or pass --allow-http"):
        fetch(server.url("/l.txt"))
    assert server.requests == []  # refused before connecting


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/l.txt", "file:///etc/hosts"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchFailed, match="unsupported URL scheme"):
        fetch(url, allow_http=True)


def test_server_gone() -> None:
    with closed_port() as port, pytest.raises(FetchFailed, match="^cannot connect: "):
        fetch(f"http://127.0.0.1:{port}/l.txt", allow_http=True, timeout=5)


def test_slow_server_times_out(server: ListServer) -> None:
    server.routes["/l.txt"] = Route(LIST, delay=2.0)
    with pytest.raises(FetchFailed, match="timed out after 0.5 s"):
        fetch(server.url("/l.txt"), allow_http=True, timeout=0.5)


def test_https_with_a_trusted_certificate(tls_server: ListServer, client_tls: ssl.SSLContext) -> None:
    tls_server.routes["/l.txt"] = Route(LIST, etag='"t"')
    reply = fetch(tls_server.url("/l.txt"), context=client_tls)
    assert (reply.status, reply.body, reply.etag) == (200, LIST, '"t"')


def test_https_with_an_untrusted_certificate_fails(tls_server: ListServer) -> None:
    tls_server.routes["/l.txt"] = Route(LIST)
    with pytest.raises(FetchFailed, match="certificate verification failed"):
        fetch(tls_server.url("/l.txt"), context=ssl.create_default_context())


@pytest.mark.parametrize(("allow_http", "ok"), [(False, False), (True, True)])
def test_redirect_from_https_to_http(
    tls_server: ListServer, server: ListServer, client_tls: ssl.SSLContext, allow_http: bool, ok: bool
) -> None:
    server.routes["/l.txt"] = Route(LIST)
    tls_server.routes["/moved"] = Route(b"", status=302, headers={"Location": server.url("/l.txt")})
    if ok:
        assert fetch(tls_server.url("/moved"), context=client_tls, allow_http=allow_http).body == LIST
    else:
        with pytest.raises(FetchFailed, match="redirected to http://.*: refused"):
            fetch(tls_server.url("/moved"), context=client_tls, allow_http=allow_http)
        assert server.requests == []
