"""Answers about the loaded lists for ``blocklist check`` and ``blocklist list`` (layer 1, no I/O).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The enrichment stage asks :class:`~poolsniff.intel.lists.Blocklist` yes/no questions; people ask
why. :func:`explain` gives the verdict the enrichment stage would reach for a name or an
``ip:port`` (the same ``match_name`` / ``match_endpoint`` calls) together with the entry, list,
category, sources and ``file:line`` behind it, and, when the allowlist wins, the allow entry and
the block entry it overrides. :func:`describe` renders what is loaded, with counts per list and
per source, where each list came from and how old it is; the caller passes the current time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from poolsniff import __version__
from poolsniff.intel.lists import ALLOW, Blocklist, ListEntry
from poolsniff.intel.psl import BUNDLED_SNAPSHOT, normalise
from poolsniff.intel.store import Active, CachedCopy, counts_by_source

INVALID: Final = "not a valid host name or ip:port"


@dataclass(frozen=True)
class Verdict:
    """The answer for one name or endpoint."""

    query: str
    listed: ListEntry | None
    """The entry that lists it (what an alert would report), or None."""
    allowed_by: ListEntry | None = None
    """The allowlist entry that wins, when there is one."""
    overridden: ListEntry | None = None
    """The block entry the allowlist overrides."""
    invalid: bool = False

    def line(self) -> str:
        """One line of ``blocklist check`` output."""
        if self.listed is not None:
            return f"{self.query}: listed by {_describe(self.listed)}"
        if self.invalid:
            return f"{self.query}: not listed ({INVALID})"
        if self.allowed_by is not None:
            allow = self.allowed_by
            why = f"{allow.provenance()}; {allow.origin}"
            text = f"{self.query}: not listed: allowed by {allow.entry} ({why})"
            if self.overridden is not None:
                text += f", which overrides {_describe(self.overridden)}"
            return text
        return f"{self.query}: not listed"


def _describe(item: ListEntry) -> str:
    where = f"list {item.list_name}, category {item.category}"
    return f"{item.entry} ({where}, {item.provenance()}; {item.origin})"


class Explainer:
    """Explains verdicts against one :class:`Blocklist` (indexes its entries once)."""

    def __init__(self, lists: Blocklist) -> None:
        """Index the entries of ``lists``."""
        self.lists = lists
        self._allow: dict[str, ListEntry] = {}
        self._block: dict[str, ListEntry] = {}
        for item in lists.entries():
            table = self._allow if item.category == ALLOW else self._block
            table.setdefault(item.entry, item)

    def explain(self, query: str) -> Verdict:
        """The verdict for a host name or an ``ip:port`` / ``[ipv6]:port``."""
        endpoint = _endpoint(query)
        if endpoint is not None:
            ip, port, shown = endpoint
            found = self.lists.match_endpoint(ip, port)
            if found is not None:
                return Verdict(query, found)
            return Verdict(query, None, self._allow.get(shown), self._block.get(shown))
        name = normalise(query)
        if name is None:
            return Verdict(query, None, invalid=True)
        found = self.lists.match_name(name)
        if found is not None:
            return Verdict(query, found)
        return Verdict(query, None, _first(name, self._allow), _first(name, self._block))


def _first(name: str, table: dict[str, ListEntry]) -> ListEntry | None:
    suffix = name
    while suffix:
        if suffix in table:
            return table[suffix]
        suffix = suffix.partition(".")[2]
    return None


def _endpoint(text: str) -> tuple[str, int, str] | None:
    """(canonical ip, port, entry as lists show it) for ``ip:port``; None for anything else."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    shown = f"[{address}]" if address.version == 6 else str(address)
    return str(address), int(port), f"{shown}:{port}"


def age(seconds: float) -> str:
    """A rough age: ``42 s``, ``5 min``, ``3 h``, ``12 d``."""
    if seconds < 90:
        return f"{max(0, int(seconds))} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def describe(active: Active, copies: list[CachedCopy], data_dir: str, now: float) -> list[str]:
    """The lines of ``blocklist list``."""
    counts = active.lists.counts()
    by_source = counts_by_source(active.lists)
    out = [f"data directory: {data_dir}", "", f"{'list':<12} {'category':<9} {'entries':>7}  from"]
    for item in active.files:
        where = f"shipped with poolsniff {__version__}" if item.location == "shipped" else item.location
        if item.mtime is not None:
            where += f" (written {age(now - item.mtime)} ago)"
        out.append(f"{item.name:<12} {item.category:<9} {counts.get(item.name, 0):>7}  {where}")
    out += ["", "entries per source:"]
    for item in active.files:
        sources = by_source.get(item.name)
        listed = ", ".join(f"{s} {n}" for s, n in sorted(sources.items())) if sources else ""
        out.append(f"  {item.name:<10} {listed or '-'}")
    out += ["", "upstream copies (blocklist update):"]
    if not copies:
        out.append("  none: the shipped lists are in use (run `poolsniff blocklist update`)")
    for copy in copies:
        fetched = f"fetched {age(now - copy.mtime)} ago" if copy.mtime is not None else "?"
        out.append(f"  {copy.name:<10} {copy.entries:>6} entries  {fetched}  <{copy.url}>")
    psl = active.suffix_list
    out += ["", f"public suffix list: {psl}" + ("" if psl == BUNDLED_SNAPSHOT else " (downloaded copy)")]
    return out
