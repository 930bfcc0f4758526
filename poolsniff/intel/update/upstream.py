"""Upstream list formats and source descriptions (layer 1: reference data, no I/O).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The enrichment stage's lists are re-curated by ``poolsniff blocklist update`` from public lists
published in a handful of formats. This module describes a source (:class:`SourceSpec`, read from
the sources YAML by :mod:`poolsniff.config`) and turns the text of one upstream copy into
candidate names, ``ip:port`` endpoints and bare IPs (:func:`parse_upstream`), following the
parsing rules of BLOCKLISTS.md §2.2, so that :mod:`poolsniff.intel.update.curation` can decide what is kept.
The maintainer tool ``tools/curate_blocklists.py`` reads the vendored copies with the same readers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from poolsniff.intel.psl import is_ip, normalise

FORMATS: Final = ("domains", "hosts", "adblock", "maltrail")
"""Upstream formats: one name per line; hosts file; Adblock Plus; maltrail trails."""

SOURCE_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""A source name, which is also the source id the lists record (as in ``blocklists/SOURCES.md``)."""

_ABP_HOST_RE: Final = re.compile(r"\|\|([a-z0-9.-]+)\^?(\$[^/^*]*)?")
_IPV4_PORT_RE: Final = re.compile(r"[0-9.]+:[0-9]+")
_IPV4ISH_RE: Final = re.compile(r"[0-9.]+")
_HTML_RE: Final = re.compile(rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|title[\s>])", re.IGNORECASE)


@dataclass(frozen=True)
class SourceSpec:
    """One upstream list: where it is, how to read it, and what its entries are."""

    name: str
    """Source id recorded with each entry; several files of one project may share it."""
    url: str
    """``https://`` (or, with ``--allow-http``, ``http://``) URL of the list."""
    format: str
    """One of :data:`FORMATS`."""
    category: str
    """The block category its names go to (``pool``, ``proxy``, ``browser``, ``donation``)."""
    origin: str = ""
    """``file:line`` of the source in the sources file."""


@dataclass(frozen=True)
class SourcesDoc:
    """A validated sources file."""

    sources: tuple[SourceSpec, ...]
    public_suffix_list: str | None
    """URL of the Public Suffix List refreshed by the same run, or None to leave it alone."""
    origin: str
    """The file the document was read from."""


@dataclass
class Parsed:
    """What one upstream copy holds, before curation."""

    names: list[str] = field(default_factory=list)
    endpoints: list[tuple[str, int]] = field(default_factory=list)
    bare_ips: list[str] = field(default_factory=list)
    skipped: int = 0
    """Content lines that are no entry in this format (counted, never fatal)."""

    def valid_entries(self) -> int:
        """Entries that can make it into a list: valid names, endpoints and IPs.

        This is what the sanity checks compare between two copies of a source.
        """
        good = sum(1 for n in self.names if normalise(n.removeprefix("*.").removeprefix(".")))
        return good + len(self.endpoints) + len(self.bare_ips)


def content_lines(lines: Iterable[str]) -> Iterator[str]:
    """Non-empty lines with ``#`` comments removed."""
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line:
            yield line


def read_maltrail(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """maltrail trails: ("name"|"endpoint"|"ip", value) for domains, ``ip:port`` and IPs.

    URLs are reduced to their host.
    """
    for line in content_lines(lines):
        value = line.lower()
        if value.startswith(("http://", "https://")):
            value = urlsplit(value).hostname or ""
        if _IPV4_PORT_RE.fullmatch(value):
            yield "endpoint", value
        elif _IPV4ISH_RE.fullmatch(value):
            yield "ip", value
        else:
            yield "name", value


def read_hosts(lines: Iterable[str]) -> Iterator[str | None]:
    """Names of a hosts file (``0.0.0.0 name [name...]``), or of a one-name-per-line list.

    Yields None for a line that is neither (several fields, the first not an address).
    """
    for line in content_lines(lines):
        fields = line.split()
        if len(fields) == 1:
            yield fields[0]
        elif is_ip(fields[0]):
            yield from fields[1:]
        else:
            yield None


def read_abp_hosts(lines: Iterable[str]) -> Iterator[str]:
    """Hosts of whole-host Adblock rules ``||host^[$options]``; URL patterns are never flattened."""
    for line in lines:
        found = _ABP_HOST_RE.fullmatch(line.strip())
        if found:
            yield found.group(1)


def parse_upstream(text: str, fmt: str) -> Parsed:
    """Parse one upstream copy in format ``fmt`` (one of :data:`FORMATS`)."""
    lines = text.splitlines()
    parsed = Parsed()
    if fmt == "maltrail":
        for kind, value in read_maltrail(lines):
            if kind == "endpoint":
                ip, _, port = value.partition(":")
                if is_ip(ip) and 1 <= int(port) <= 65535:
                    parsed.endpoints.append((str(ipaddress.ip_address(ip)), int(port)))
                else:
                    parsed.skipped += 1
            elif kind == "ip":
                _add_ip(parsed, value)
            else:
                parsed.names.append(value)
    elif fmt == "adblock":
        for host in read_abp_hosts(lines):
            if _IPV4ISH_RE.fullmatch(host):
                _add_ip(parsed, host)
            else:
                parsed.names.append(host)
    elif fmt == "hosts":
        for name in read_hosts(lines):
            if name is None:
                parsed.skipped += 1
            else:
                parsed.names.append(name)
    elif fmt == "domains":
        parsed.names.extend(line.split()[0] for line in content_lines(lines))
    else:
        raise ValueError(f"unknown list format {fmt!r} (known: {', '.join(FORMATS)})")
    return parsed


def _add_ip(parsed: Parsed, value: str) -> None:
    if is_ip(value):
        parsed.bare_ips.append(str(ipaddress.ip_address(value)))
    else:
        parsed.skipped += 1


def html_reason(body: bytes, content_type: str | None) -> str | None:
    """Why ``body`` looks like an HTML page rather than a list, or None.

    Catches the error and captive-portal pages that list hosts serve with status 200.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return f"an HTML page, not a list (Content-Type {media})"
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") and _HTML_RE.search(head):
        return "an HTML page, not a list (it starts with an HTML tag)"
    return None
