"""Append EVE alert records to a Redis stream with XADD, speaking RESP over a socket (sink layer).

enrichment -> to_eve -> [suppress] -> **RedisSink** -> Redis stream <- one consumer for many sensors

``--redis redis://[[user]:password@]host[:port][/db][?maxlen=N] --redis-stream poolsniff``.
Every alert is one stream entry with two fields: ``eve`` (the EVE record as compact JSON)
and ``sensor`` (this host's name), added with ``XADD <stream> MAXLEN ~ <maxlen> * ...`` so the
stream stays near ``maxlen`` entries (default ``DEFAULT_MAXLEN``) however long the sensors run.
Many gateways can write to one stream; a consumer reads it with ``XREAD`` or a consumer group.

The client is the few lines of RESP2 that this needs (requests are arrays of bulk strings;
replies are parsed with bounds), so there is no dependency. On connecting, ``AUTH`` and
``SELECT`` are sent when the URL asks for them, and the key is checked to be a stream (or
absent): a key of another type is an ``OutputError`` at start rather than an error per alert.

Each ``XADD`` goes through the sink's spool (:mod:`poolsniff.output.transports.delivery`): a server
that is away, at start or later, delays alerts but loses none (up to the spool size), and they
arrive in order, at least once. The reply of each ``XADD`` is what confirms it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import parse_qs, unquote, urlsplit

from poolsniff.output.interface import encode
from poolsniff.output.options import Option, checked, nonempty
from poolsniff.output.transports.connection import Connection
from poolsniff.output.transports.delivery import Delivery, Warn, read_replies
from poolsniff.output.transports.spool import DEFAULT_LIMIT, Spool, spool_dir

DEFAULT_PORT: Final = 6379
DEFAULT_STREAM: Final = "poolsniff"
DEFAULT_MAXLEN: Final = 100_000
"""Entries the stream is trimmed to (approximately: ``MAXLEN ~``)."""
MAX_LINE: Final = 64 * 1024
MAX_BULK: Final = 16 * 1024 * 1024
MAX_DEPTH: Final = 4


class RedisError(ValueError):
    """An error reply from the server, or a reply that is not RESP."""


@dataclass(frozen=True)
class RedisTarget:
    """A Redis server, database and the stream trim length."""

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = None
    maxlen: int = DEFAULT_MAXLEN

    @property
    def url(self) -> str:
        """The target as a URL without its credentials, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}/{self.db}"


def parse_redis_url(text: str) -> RedisTarget:
    """Parse ``redis://[[user]:password@]host[:port][/db][?maxlen=N]``; ValueError if bad."""
    parts = urlsplit(text.strip())
    if parts.scheme != "redis" or not parts.hostname:
        hint = " (TLS is not supported: use a local TLS tunnel)" if parts.scheme == "rediss" else ""
        raise ValueError(f"bad Redis URL {_safe(text)!r} (use redis://host:6379/0){hint}")
    try:
        port = parts.port or DEFAULT_PORT
        db = int(parts.path.strip("/") or 0)
        query = parse_qs(parts.query, keep_blank_values=True)
        if set(query) - {"maxlen"}:
            raise ValueError(f"unknown parameter {sorted(set(query) - {'maxlen'})[0]!r}")
        maxlen = int(query.get("maxlen", [DEFAULT_MAXLEN])[-1])
    except ValueError as e:
        raise ValueError(f"bad Redis URL {_safe(text)!r}: {e}") from None
    if db < 0 or maxlen < 1:
        raise ValueError(f"bad Redis URL {_safe(text)!r}: the database and maxlen must be positive")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return RedisTarget(parts.hostname, port, db, username, password, maxlen)


OPTIONS: Final = (
    Option(
        "redis", "URL", "Also XADD alerts to a Redis stream: redis://[:password@]host:6379/0.",
        checked(parse_redis_url), "`redis://[[user]:password@]host[:port][/db][?maxlen=N]`",
    ),
    Option(
        "redis-stream", "NAME", "The Redis stream to add to (default: poolsniff).",
        nonempty, "stream name (default `poolsniff`)",
    ),
)  # fmt: skip
"""The output stage's options this module takes (see :mod:`poolsniff.output.options`)."""


def _safe(text: str) -> str:
    """A URL with its password hidden."""
    parts = urlsplit(text.strip())
    if parts.password is None:
        return text
    return text.replace(f":{parts.password}@", ":***@", 1)


def encode_command(*args: str | bytes | int) -> bytes:
    """A RESP request: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream: BinaryIO, depth: int = 0) -> Any:
    """Read one RESP2 reply: str, int, bytes, None or a list; RedisError for an error reply."""
    line = stream.readline(MAX_LINE)
    if not line.endswith(b"\r\n"):
        raise ConnectionError("reply line too long" if len(line) >= MAX_LINE else "connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode("utf-8", "replace")
    if kind == b"-":
        raise RedisError(body.decode("utf-8", "replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        return _read_bulk(stream, int(body))
    if kind == b"*" and depth < MAX_DEPTH:
        count = int(body)
        return None if count < 0 else [read_reply(stream, depth + 1) for _ in range(min(count, MAX_LINE))]
    raise RedisError(f"not a RESP reply: {line[:40]!r}")


def _read_bulk(stream: BinaryIO, size: int) -> bytes | None:
    if size < 0:
        return None
    if size > MAX_BULK:
        raise RedisError(f"reply of {size} bytes is too large")
    data = stream.read(size + 2)
    if len(data) != size + 2:
        raise ConnectionError("connection closed")
    return data[:-2]


class RedisSink:
    """Writes alert records as entries of a Redis stream, through a spool."""

    def __init__(
        self, target: RedisTarget, stream: str = DEFAULT_STREAM, *, data_dir: Path | None,
        spool_size: int = DEFAULT_LIMIT, warn: Warn | None = None, hostname: str | None = None,
    ) -> None:  # fmt: skip
        """Prepare the sink (its spool goes under ``data_dir``); nothing is opened until ``open``."""
        if not stream:
            raise ValueError("the Redis stream name cannot be empty")
        if data_dir is None:
            raise ValueError("the Redis sink needs a data directory for its spool")
        self.target, self.stream = target, stream
        self.sensor = hostname or socket.gethostname()
        self.name = f"redis {target.url} stream {stream}"
        self.spool_dir, self.spool_size = spool_dir(data_dir, self.name), spool_size
        self.warn = warn
        self.conn = Connection(self.name, target.host, target.port, handshake=self._handshake)
        self._delivery: Delivery | None = None

    @classmethod
    def open_url(
        cls, url: str, stream: str = DEFAULT_STREAM, *, data_dir: Path | None,
        spool_size: int = DEFAULT_LIMIT, warn: Warn | None = None,
    ) -> RedisSink:  # fmt: skip
        """Parse ``url``, then open the sink; ValueError for a bad URL, OutputError if unusable."""
        sink = cls(parse_redis_url(url), stream, data_dir=data_dir, spool_size=spool_size, warn=warn)
        sink.open()
        return sink

    def open(self) -> None:
        """Open the spool and connect (authenticate, select, check the key); OutputError if the spool
        cannot be used or the server refuses; a server that is away only warns."""
        spool = Spool(self.spool_dir, self.spool_size, warn=self.warn)
        self._delivery = Delivery(self.conn, spool, read_replies(read_reply), warn=self.warn)
        try:
            self._delivery.start()
        except BaseException:
            spool.close()
            raise

    def _handshake(self, conn: Connection) -> None:
        t = self.target
        if t.password is not None:
            auth = ("AUTH", t.username, t.password) if t.username else ("AUTH", t.password)
            conn.request(encode_command(*auth), read_reply)
        if t.db:
            conn.request(encode_command("SELECT", t.db), read_reply)
        kind = conn.request(encode_command("TYPE", self.stream), read_reply)
        if kind not in ("stream", "none"):
            raise RedisError(f"key {self.stream!r} holds a {kind}, not a stream; use another --redis-stream")

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Queue one alert record for the stream (behind those the server has not taken yet)."""
        eve = text if text is not None else encode(record)
        command = encode_command(
            "XADD", self.stream, "MAXLEN", "~", self.target.maxlen, "*", "eve", eve, "sensor", self.sensor
        )
        self._opened().put(command)

    def _opened(self) -> Delivery:
        if self._delivery is None:
            raise RuntimeError(f"{self.name}: not open")
        return self._delivery

    @property
    def sent(self) -> int:
        """Entries the server added."""
        return self._delivery.delivered if self._delivery is not None else 0

    @property
    def pending(self) -> int:
        """Alerts in the spool, not added yet."""
        return self._delivery.pending if self._delivery is not None else 0

    @property
    def dropped(self) -> int:
        """Alerts lost because the spool was full (the oldest first)."""
        return self._delivery.dropped if self._delivery is not None else 0

    def close(self) -> None:
        """Deliver what can be within a few seconds, then close; the rest stays spooled."""
        if self._delivery is not None:
            self._delivery.close()
