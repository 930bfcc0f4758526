"""HTTP(S) downloads for ``poolsniff blocklist update`` (adapter layer; the only network code).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The enrichment stage's lists are refreshed from upstream copies fetched here, with the standard
library only. Nothing else in poolsniff opens a connection, and this module runs only under
``blocklist update``. The rules: HTTPS unless plain HTTP is explicitly allowed (a redirect
from HTTPS to HTTP is refused too), conditional requests (``If-None-Match`` and
``If-Modified-Since`` from the last good copy), an identity-only transfer (no compression, hence
no decompression bombs), a size cap checked against ``Content-Length`` and while reading, and a
timeout for each socket operation plus an overall deadline. Every failure is a
:class:`FetchFailed` with a one-line reason; the caller keeps its cached copy.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import IO, Final
from urllib.parse import urlsplit

from poolsniff import __version__

USER_AGENT: Final = f"poolsniff/{__version__} (+blocklist update)"
"""The User-Agent sent with every request."""

DEFAULT_MAX_BYTES: Final = 16 << 20
"""Largest body accepted (16 MiB: the biggest list considered, UT1, is about 250 KiB)."""

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds allowed for each connect/read, and for the whole download."""

_CHUNK: Final = 64 << 10


class FetchFailed(Exception):
    """A download that did not produce a usable body; the message is the reason."""


@dataclass(frozen=True)
class Response:
    """The outcome of a successful request."""

    status: int
    """200 (``body`` holds the new copy) or 304 (not modified: use the cached copy)."""
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None


class _RedirectGuard(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to https (or http when allowed)."""

    def __init__(self, allow_http: bool) -> None:
        super().__init__()
        self.allow_http = allow_http

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urlsplit(newurl).scheme
        if scheme != "https" and not (scheme == "http" and self.allow_http):
            raise FetchFailed(f"redirected to {newurl}: refused (only https, or http with --allow-http)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_scheme(url: str, allow_http: bool) -> None:
    """Raise :class:`FetchFailed` unless ``url`` is https, or http with ``allow_http``."""
    scheme = urlsplit(url).scheme
    if scheme == "http" and not allow_http:
        raise FetchFailed("plain http refused: use an https:// URL, or pass --allow-http")
    if scheme not in ("http", "https"):
        raise FetchFailed(f"unsupported URL scheme {scheme!r}: use https://")


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_http: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    context: ssl.SSLContext | None = None,
) -> Response:
    """GET ``url``, conditionally when ``etag`` or ``last_modified`` of a cached copy is given.

    ``context`` defaults to the system's certificate store with verification on.
    """
    check_scheme(url, allow_http)
    request = urllib.request.Request(url, headers=_headers(etag, last_modified))
    opener = urllib.request.build_opener(
        _RedirectGuard(allow_http),
        urllib.request.HTTPSHandler(context=context or ssl.create_default_context()),
    )
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as reply:
            headers = reply.headers
            _check_headers(headers, max_bytes)
            body = _read_capped(reply, max_bytes, deadline, timeout)
            return Response(
                reply.status, body, headers.get("ETag"), headers.get("Last-Modified"),
                headers.get("Content-Type"),
            )  # fmt: skip
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 304:
            return Response(304, b"", e.headers.get("ETag") or etag, last_modified, None)
        raise FetchFailed(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise FetchFailed(f"cannot connect: {_reason(e.reason)}") from e
    except TimeoutError as e:
        raise FetchFailed(f"timed out after {timeout:g} s") from e
    except ssl.SSLError as e:
        raise FetchFailed(f"TLS error: {e.reason or e}") from e
    except http.client.HTTPException as e:
        raise FetchFailed(f"bad HTTP response: {type(e).__name__} {e}".strip()) from e
    except OSError as e:
        raise FetchFailed(f"connection failed: {e.strerror or e}") from e


def _headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "text/plain, */*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _check_headers(headers: Message, max_bytes: int) -> None:
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise FetchFailed(f"compressed body (Content-Encoding {encoding}) refused: identity was asked for")
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchFailed(f"too large: Content-Length {int(length)} bytes exceeds the {max_bytes}-byte cap")


def _read_capped(reply: IO[bytes], max_bytes: int, deadline: float, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = reply.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchFailed(f"too large: more than the {max_bytes}-byte cap")
        if time.monotonic() > deadline:
            raise FetchFailed(f"timed out after {timeout:g} s (download too slow)")
        chunks.append(chunk)


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {reason.verify_message}"
    if isinstance(reason, OSError):
        return reason.strerror or str(reason)
    return str(reason)
