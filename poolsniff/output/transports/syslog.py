"""Send EVE alert records to syslog: RFC 5424 over UDP (RFC 5426) or TCP (RFC 6587) (sink layer).

enrichment -> to_eve -> [suppress] -> **SyslogSink** -> rsyslog / syslog-ng / a SIEM's syslog input

``--syslog udp://host:514`` or ``tcp://host:601`` (``?facility=local5`` chooses the facility).
Each alert becomes one RFC 5424 message::

    <PRI>1 TIMESTAMP HOSTNAME poolsniff PROCID alert - {"timestamp":...,"event_type":"alert",...}

* PRI is ``facility * 8 + level``; the level comes from the alert's severity: 1 (high) -> 3
  ``err``, 2 (medium) -> 4 ``warning``, 3 (low) -> 5 ``notice``, anything else 6 ``info``. The
  levels above ``err`` are left to failures of the host itself, which setups often send to
  consoles and pagers. The default facility is ``local5``, Suricata's default for EVE to syslog.
* TIMESTAMP is the alert's capture time in UTC (``...Z``, microseconds), so a collector
  files the alert under the time it happened, as the EVE ``timestamp`` says.
* MSG is the EVE record as compact JSON with non-ASCII characters escaped: the message is
  plain ASCII (no BOM needed) and any syslog relay passes it unchanged.
* Over UDP one datagram is one message; over TCP messages are framed by octet counting
  (``LEN SP MSG``, RFC 6587 section 3.4.1), so a newline inside can never split one.

Over TCP each message goes through the sink's spool (:mod:`poolsniff.output.transports.delivery`):
a receiver that is away, at start or later, delays alerts but loses none (up to the spool size),
in order, at least once; a message counts as delivered once the receiving host's TCP has
acknowledged it (RFC 6587 has no reply). Over UDP delivery is best effort: a datagram the
network or a receiver that is down loses is lost, and send errors are only counted and warned about.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from poolsniff.errors import OutputError
from poolsniff.output.evefields import format_ts, parse_ts
from poolsniff.output.options import Option, checked
from poolsniff.output.transports.connection import Connection
from poolsniff.output.transports.delivery import Delivery, Warn, tcp_acknowledged
from poolsniff.output.transports.spool import DEFAULT_LIMIT, Spool, spool_dir

APP_NAME: Final = "poolsniff"
MSGID: Final = "alert"
DEFAULT_PORTS: Final = {"udp": 514, "tcp": 601}
"""IANA ports: syslog over UDP, and syslog-conn (RFC 3195/6587) over TCP."""
DEFAULT_FACILITY: Final = "local5"
FACILITIES: Final = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
    "solaris-cron": 15, **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip
"""RFC 5424 section 6.2.1 facility codes by their usual names."""
LEVELS: Final = {1: 3, 2: 4, 3: 5}
"""Alert severity -> syslog level (err, warning, notice)."""
DEFAULT_LEVEL: Final = 6
NIL: Final = "-"
UDP_WARN_EVERY_S: Final = 60.0
"""UDP send errors (ICMP port unreachable comes back on every other datagram) warn at most this often."""


@dataclass(frozen=True)
class SyslogTarget:
    """Where syslog messages go."""

    transport: str
    host: str
    port: int
    facility: int

    @property
    def url(self) -> str:
        """The target as a URL, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}"


def parse_syslog_url(text: str) -> SyslogTarget:
    """Parse ``udp://host[:port]`` or ``tcp://host[:port]`` (``?facility=NAME``); ValueError if bad."""
    parts = urlsplit(text.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"bad syslog target {text!r} (use udp://host:514 or tcp://host:601)")
    if parts.path not in ("", "/") or parts.username or parts.fragment:
        raise ValueError(f"bad syslog target {text!r}: only a host, a port and ?facility= are allowed")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as e:
        raise ValueError(f"bad syslog target {text!r}: {e}") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"facility"}
    if unknown:
        raise ValueError(f"bad syslog target {text!r}: unknown parameter {sorted(unknown)[0]!r}")
    name = query.get("facility", [DEFAULT_FACILITY])[-1]
    if name not in FACILITIES:
        raise ValueError(f"bad syslog facility {name!r} (valid: {', '.join(FACILITIES)})")
    return SyslogTarget(parts.scheme, parts.hostname, port, FACILITIES[name])


OPTIONS: Final = (
    Option(
        "syslog", "URL", "Also send alerts to syslog (RFC 5424): udp://host:514 or tcp://host:601.",
        checked(parse_syslog_url), "`udp://host[:port]` or `tcp://host[:port]` (`?facility=NAME`)",
    ),
)  # fmt: skip
"""The output stage's options this module takes (see :mod:`poolsniff.output.options`)."""


def level(record: dict[str, Any]) -> int:
    """The syslog level of an alert record, from ``alert.severity``."""
    alert = record.get("alert")
    severity = alert.get("severity") if isinstance(alert, dict) else None
    return LEVELS.get(severity, DEFAULT_LEVEL) if isinstance(severity, int) else DEFAULT_LEVEL


def rfc3339(record: dict[str, Any]) -> str:
    """The record's capture time as an RFC 5424 TIMESTAMP (UTC, microseconds), or ``-``."""
    try:
        ts_us = parse_ts(str(record.get("timestamp", "")))
    except ValueError:
        return NIL
    return format_ts(ts_us).removesuffix("+0000") + "Z"


def header_field(text: str, limit: int) -> str:
    """A header field: printable ASCII without spaces (RFC 5424 PRINTUSASCII), at most ``limit`` long."""
    cleaned = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return cleaned or NIL


def format_message(record: dict[str, Any], *, facility: int, hostname: str, procid: int) -> bytes:
    """The RFC 5424 message for ``record`` (no framing, no trailing newline)."""
    pri = facility * 8 + level(record)
    msg = json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    head = f"<{pri}>1 {rfc3339(record)} {header_field(hostname, 255)} {APP_NAME} {procid} {MSGID} {NIL}"
    return f"{head} {msg}".encode("ascii")


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: ``LEN SP MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


class SyslogSink:
    """Writes alert records as RFC 5424 messages to a UDP or TCP (spooled) syslog receiver."""

    def __init__(
        self, target: SyslogTarget, *, data_dir: Path | None = None, spool_size: int = DEFAULT_LIMIT,
        warn: Warn | None = None, hostname: str | None = None,
    ) -> None:  # fmt: skip
        """Prepare the sink (HOSTNAME is this host's name; over TCP its spool goes under ``data_dir``)."""
        if target.transport == "tcp" and data_dir is None:
            raise ValueError("syslog over TCP needs a data directory for its spool")
        self.target = target
        self.name = f"syslog {target.url}"
        self.hostname = hostname or socket.gethostname()
        self.procid = os.getpid()
        self.data_dir, self.spool_size = data_dir, spool_size
        self._warn = warn or (lambda _message: None)
        self._udp: socket.socket | None = None
        self._tcp: Delivery | None = None
        self._udp_warned: float | None = None
        self._udp_sent = 0
        self._udp_dropped = 0

    @classmethod
    def open_url(
        cls, url: str, *, data_dir: Path | None = None, spool_size: int = DEFAULT_LIMIT,
        warn: Warn | None = None,
    ) -> SyslogSink:  # fmt: skip
        """Parse ``url``, then open the sink; ValueError for a bad URL, OutputError if unusable."""
        sink = cls(parse_syslog_url(url), data_dir=data_dir, spool_size=spool_size, warn=warn)
        sink.open()
        return sink

    def open(self) -> None:
        """Over TCP open the spool and connect (a receiver that is away only warns); over UDP resolve
        the receiver. OutputError if the spool cannot be used or the name does not resolve (UDP)."""
        t = self.target
        if t.transport == "tcp":
            assert self.data_dir is not None
            spool = Spool(spool_dir(self.data_dir, self.name), self.spool_size, warn=self._warn)
            conn = Connection(self.name, t.host, t.port)
            self._tcp = Delivery(conn, spool, tcp_acknowledged, warn=self._warn)
            try:
                self._tcp.start()
            except BaseException:
                spool.close()
                raise
            return
        try:
            family, kind, proto, _, address = socket.getaddrinfo(t.host, t.port, type=socket.SOCK_DGRAM)[0]
            self._udp = socket.socket(family, kind, proto)
            self._udp.connect(address)
        except OSError as e:
            raise OutputError(f"{self.name}: cannot reach it: {e.strerror or e}") from e

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Send one alert record (queued behind undelivered ones over TCP; best effort over UDP).

        ``text`` is not used: the message carries the record's ASCII-only JSON (``format_message``).
        """
        message = format_message(
            record, facility=self.target.facility, hostname=self.hostname, procid=self.procid
        )
        if self._tcp is not None:
            self._tcp.put(octet_frame(message))
        elif self._send_udp(message):
            self._udp_sent += 1
        else:
            self._udp_dropped += 1

    @property
    def sent(self) -> int:
        """Messages delivered (over UDP: handed to the network)."""
        return self._tcp.delivered if self._tcp is not None else self._udp_sent

    @property
    def pending(self) -> int:
        """Messages in the spool, not delivered yet (always 0 over UDP)."""
        return self._tcp.pending if self._tcp is not None else 0

    @property
    def dropped(self) -> int:
        """Messages lost: the spool was full (TCP), or a send failed (UDP)."""
        return self._tcp.dropped if self._tcp is not None else self._udp_dropped

    def _send_udp(self, message: bytes) -> bool:
        if self._udp is None:
            raise OutputError(f"{self.name}: not open")
        try:
            self._udp.send(message)
        except OSError as e:
            now = time.monotonic()
            if self._udp_warned is None or now - self._udp_warned >= UDP_WARN_EVERY_S:
                self._warn(
                    f"poolsniff: warning: {self.name}: {e.strerror or e}; alerts are not forwarded "
                    f"while this lasts (UDP is best effort; said at most every {UDP_WARN_EVERY_S:g} s)"
                )
                self._udp_warned = now
            return False
        return True

    def close(self) -> None:
        """Over TCP deliver what can be within a few seconds, then close (the rest stays spooled)."""
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()
