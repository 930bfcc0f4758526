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

A collector that is down does not stop the sensor: see :mod:`poolsniff.output.transports.connection`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from poolsniff.errors import OutputError
from poolsniff.output.evefields import format_ts, parse_ts
from poolsniff.output.options import Option, checked
from poolsniff.output.transports.connection import Connection, Warn

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
    """Writes alert records as RFC 5424 messages to a UDP or TCP syslog receiver."""

    def __init__(
        self, target: SyslogTarget, *, warn: Warn | None = None, hostname: str | None = None
    ) -> None:
        """Prepare the sink (HOSTNAME is this host's name); nothing is sent until ``open``."""
        self.target = target
        self.name = f"syslog {target.url}"
        self.hostname = hostname or socket.gethostname()
        self.procid = os.getpid()
        self._warn = warn or (lambda _message: None)
        self._udp: socket.socket | None = None
        self._tcp: Connection | None = None
        self._udp_warned: float | None = None
        self.sent = 0
        self.dropped = 0

    @classmethod
    def open_url(cls, url: str, *, warn: Warn | None = None) -> SyslogSink:
        """Parse ``url``, then open the sink; ValueError for a bad URL, OutputError if unreachable."""
        sink = cls(parse_syslog_url(url), warn=warn)
        sink.open()
        return sink

    def open(self) -> None:
        """Resolve the receiver and, over TCP, connect to it; OutputError if that fails."""
        t = self.target
        if t.transport == "tcp":
            self._tcp = Connection(self.name, t.host, t.port, warn=self._warn)
            self._tcp.open()
            return
        try:
            family, kind, proto, _, address = socket.getaddrinfo(t.host, t.port, type=socket.SOCK_DGRAM)[0]
            self._udp = socket.socket(family, kind, proto)
            self._udp.connect(address)
        except OSError as e:
            raise OutputError(f"{self.name}: cannot reach it: {e.strerror or e}") from e

    def write(self, record: dict[str, Any], text: str | None = None) -> None:
        """Send one alert record (a collector that is away costs the alert, never the sensor).

        ``text`` is not used: the message carries the record's ASCII-only JSON (``format_message``).
        """
        message = format_message(
            record, facility=self.target.facility, hostname=self.hostname, procid=self.procid
        )
        if self._tcp is not None:
            delivered = self._tcp.send(octet_frame(message))
        else:
            delivered = self._send_udp(message)
        if delivered:
            self.sent += 1
        else:
            self.dropped += 1

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
                    f"while this lasts (said at most every {UDP_WARN_EVERY_S:g} s)"
                )
                self._udp_warned = now
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()
