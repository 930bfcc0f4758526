"""What a probe is pointed at: ``HOST:PORT`` parsed, and the key its rate limit is kept under (no I/O).

``poolsniff probe HOST:PORT`` / an alert's ``dest_ip:dest_port`` -> **Target** -> limits, probe

A host is a name (resolved by the probe, and sent as the TLS server name) or an address;
IPv6 addresses are written in brackets (``[2001:db8::1]:3333``), as in the block lists.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A server to probe: as the user or the alert named it, and its address once known."""

    host: str
    """A host name or an address, without brackets."""
    port: int
    ip: str = ""
    """The address connected to: ``host`` when it is one, else filled in by resolving it."""
    name: str | None = None
    """A host name to send as TLS SNI and to check against the allowlist (None for a bare address)."""

    @property
    def key(self) -> str:
        """``ip:port`` (``[v6]:port``): what one-probe-per-day is counted by."""
        return endpoint_text(self.ip or self.host, self.port)

    def shown(self) -> str:
        """``host:port`` as the user wrote it, plus the address when it was resolved."""
        text = endpoint_text(self.host, self.port)
        return text if not self.ip or self.ip == self.host else f"{text} ({self.ip})"


def endpoint_text(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_target(text: str) -> Target:
    """Parse ``HOST:PORT`` / ``[IPV6]:PORT``; ValueError saying what is wrong."""
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text}: write an IPv6 endpoint as [ADDRESS]:PORT")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{text}: give HOST:PORT (the port is required)")
        if ":" in host:
            raise ValueError(f"{text}: write an IPv6 endpoint as [ADDRESS]:PORT")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text}: the port must be a number from 1 to 65535")
    port = int(port_text)
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        if text.startswith("[") or not _is_hostname(host):
            raise ValueError(f"{text}: {host!r} is neither an address nor a host name") from None
        return Target(host.lower().rstrip("."), port, name=host.lower().rstrip("."))
    return Target(ip, port, ip=ip)


def _is_hostname(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() and label.isascii()
        for label in labels
    )
