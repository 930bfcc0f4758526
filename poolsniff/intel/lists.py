"""Blocklists of mining pools, proxies, web-miner hosts and dev-fee pools (layer 1: reference data).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Detectors and enrichment ask a :class:`Blocklist` whether a host name (DNS query, TLS SNI, HTTP
Host, a pool host named in Stratum parameters) or a server ``ip:port`` is listed. The lists are
plain text, one entry per line::

    # category: pool
    supportxmr.com      maltrail,curated    # a domain: itself and every name under it
    94.23.251.22:3333   maltrail            # an IPv4 endpoint
    [2001:db8::1]:3333  curated             # an IPv6 endpoint

``<entry> [<source>[,<source>...]]`` separated by white space; ``#`` starts a comment. A domain
matches itself and its subdomains at a label boundary (``x.supportxmr.com`` matches,
``notsupportxmr.com`` does not); a leading ``*.`` or ``.`` is accepted and means the same. An
entry that is a public suffix (``co.uk``, ``duckdns.org``) is an error, as is any malformed line:
:class:`~poolsniff.errors.BlocklistError` names the file and line. The allowlist always wins.

Parsing takes lines (no I/O); :func:`load_shipped` and :func:`load_files` are the thin wrappers that
read the package's lists and ``--blocklist FILE`` files.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from poolsniff.errors import BlocklistError, ConfigError
from poolsniff.intel.psl import SuffixList, bundled, normalise
from poolsniff.intel.textfile import read_text

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CATEGORIES: Final = ("pool", "proxy", "browser", "donation")
"""Block categories: Stratum/pool endpoints, public Stratum proxies, in-browser miner script
hosts, and the pools that miners' dev fees go to."""

ALLOW: Final = "allow"
"""The category of allowlist entries: a name or endpoint they cover never matches."""

SHIPPED_FILES: Final = (
    ("pool.txt", "pool"),
    ("proxy.txt", "proxy"),
    ("browser.txt", "browser"),
    ("donation.txt", "donation"),
    ("allowlist.txt", ALLOW),
)
"""The lists in the package's ``blocklists/`` folder and their categories."""

DEFAULT_USER_CATEGORY: Final = "pool"
"""The category of a ``--blocklist FILE`` without a ``# category: <name>`` header."""

PUBLIC_SUFFIX_REASON: Final = "{} is a public suffix; list a registrable domain or a host under it"

_CATEGORY_RE: Final = re.compile(r"#\s*category\s*:\s*(\S+)\s*$", re.IGNORECASE)
_SOURCE_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")

MAX_REMEMBERED_NAMES: Final = 16_384
"""Names whose :meth:`Blocklist.match_name` answer is kept (every DNS query, SNI and Host is matched)."""
MAX_REMEMBERED_ENDPOINTS: Final = 16_384
"""Servers whose :meth:`Blocklist.match_endpoint` answer is kept (every TCP flow's server is matched)."""

Endpoint = tuple[str, int]
"""A canonical IP address string and a port."""

Row = tuple[str, str, str, tuple[str, ...], str, int]
"""How a :class:`Blocklist` keeps an entry: ``ListEntry`` fields with the origin as file and line.
Tuples are much cheaper to build than frozen dataclasses (≈10,000 allowlist entries are loaded
on every start and most are never looked at); :meth:`Blocklist.match_name` and friends turn the
row they return into a :class:`ListEntry`."""

State = tuple[dict[str, Row], dict[Endpoint, Row], dict[str, Row], dict[Endpoint, Row], dict[str, int]]
"""Everything a :class:`Blocklist` holds, as plain data (:meth:`Blocklist.state`)."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One list entry, as loaded; a match returns the entry that matched."""

    entry: str
    """The normalised domain, ``1.2.3.4:3333`` or ``[2001:db8::1]:3333``."""
    list_name: str
    """The list's file stem (``pool``, ``allowlist``, or a user file's stem)."""
    category: str
    """One of :data:`CATEGORIES`, or :data:`ALLOW`."""
    sources: tuple[str, ...]
    """Where the entry came from (ids defined in ``blocklists/SOURCES.md``); may be empty."""
    origin: str
    """``file:line`` of the entry."""

    @property
    def is_endpoint(self) -> bool:
        """True for an ``address:port`` entry, False for a domain."""
        return self.entry.startswith("[") or ":" in self.entry

    def provenance(self) -> str:
        """``sources a,b`` (or ``no source recorded``), as ``blocklist check`` and exports say it."""
        return f"sources {','.join(self.sources)}" if self.sources else "no source recorded"

    def evidence(self) -> dict[str, str]:
        """The alert evidence that says which entry matched (``alert.metadata`` keys)."""
        return {
            "blocklist": self.list_name,
            "blocklist_entry": self.entry,
            "blocklist_category": self.category,
            "blocklist_source": ",".join(self.sources),
        }


Match = ListEntry
"""What :meth:`Blocklist.match_name` and :meth:`Blocklist.match_endpoint` return."""


def _entry(row: Row) -> ListEntry:
    """The :class:`ListEntry` of a stored row."""
    shown, list_name, category, sources, origin, lineno = row
    return ListEntry(shown, list_name, category, sources, f"{origin}:{lineno}")


class Blocklist:
    """Domain and endpoint entries by category, with an allowlist that always wins."""

    def __init__(self, suffixes: SuffixList | None = None) -> None:
        """Start empty; fill with :meth:`add_lines` and :meth:`add_allow_lines`.

        ``suffixes`` is the Public Suffix List the entries are checked against (a listed public
        suffix is refused) and that the enricher asks for registrable domains; by default the
        bundled snapshot.
        """
        self.suffixes = suffixes if suffixes is not None else bundled()
        self._names: dict[str, Row] = {}
        self._endpoints: dict[Endpoint, Row] = {}
        self._allow_names: dict[str, Row] = {}
        self._allow_endpoints: dict[Endpoint, Row] = {}
        self._counts: dict[str, int] = {}
        self._matched: dict[str, Match | None] = {}
        """:meth:`match_name`'s answers for the last names asked about (emptied by every change)."""
        self._endpoint_matched: dict[Endpoint, Match | None] = {}
        """:meth:`match_endpoint`'s answers for the last servers asked about (emptied by every change)."""
        self._wire: set[bytes] = set()
        """The listed names that are ASCII, as bytes (:meth:`wire_names`), kept as names are added."""

    def copy(self) -> Blocklist:
        """Return an independent copy (entries are immutable and shared)."""
        other = Blocklist(self.suffixes)
        other._names = dict(self._names)
        other._endpoints = dict(self._endpoints)
        other._allow_names = dict(self._allow_names)
        other._allow_endpoints = dict(self._allow_endpoints)
        other._counts = dict(self._counts)
        other._wire = set(self._wire)
        return other

    def wire_names(self) -> AbstractSet[bytes]:
        """Every listed name that is ASCII, as bytes: a DNS query none of whose label suffixes is one
        matches nothing (``match_name``), so the prefilter may count it itself (``engine.fast.udp``).
        The set is this list's own and grows as names are added (a non-ASCII key never matches the
        ASCII name of a query)."""
        return self._wire

    def state(self) -> State:
        """Everything this list holds as plain data (dicts, tuples, strings, ints), for a cache.

        :meth:`from_state` rebuilds an equal list; the dicts are shared, not copied.
        """
        return self._names, self._endpoints, self._allow_names, self._allow_endpoints, self._counts

    @classmethod
    def from_state(cls, state: State, suffixes: SuffixList | None = None) -> Blocklist:
        """A list holding ``state``, as :meth:`state` returned it (the dicts are used as they are)."""
        lists = cls(suffixes)
        lists._names, lists._endpoints, lists._allow_names, lists._allow_endpoints, lists._counts = state
        lists._wire = {key.encode() for key in lists._names if key.isascii()}
        return lists

    def add_lines(
        self, lines: Iterable[str], origin: str, category: str, *, list_name: str | None = None
    ) -> None:
        """Add the entries of ``lines`` (a list file's text) read from ``origin``.

        ``category`` is one of :data:`CATEGORIES` or :data:`ALLOW`; ``list_name`` defaults to the
        stem of ``origin``. The first entry added for a name or endpoint is kept. Raises
        :class:`BlocklistError` ``origin:line: reason`` for the first bad line; entries before
        it stay added.
        """
        if category != ALLOW and category not in CATEGORIES:
            raise ValueError(f"unknown blocklist category {category!r}")
        self._matched.clear()
        self._endpoint_matched.clear()
        name = list_name if list_name is not None else Path(origin).stem
        names = self._allow_names if category == ALLOW else self._names
        endpoints = self._allow_endpoints if category == ALLOW else self._endpoints
        self._counts.setdefault(name, 0)
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct source list
        for lineno, text in enumerate(lines, 1):
            try:
                parsed = _parse_line(text, self.suffixes)
            except ValueError as e:
                raise BlocklistError(origin, lineno, str(e)) from e
            if parsed is None:
                continue
            key, shown, sources = parsed
            row = (shown, name, category, shared.setdefault(sources, sources), origin, lineno)
            if isinstance(key, str):
                names.setdefault(key, row)
                if names is self._names and key.isascii():
                    self._wire.add(key.encode())
            else:
                endpoints.setdefault(key, row)
            self._counts[name] += 1

    def add_allow_lines(self, lines: Iterable[str], origin: str, *, list_name: str | None = None) -> None:
        """Add allowlist entries: names and endpoints they cover never match."""
        self.add_lines(lines, origin, ALLOW, list_name=list_name)

    def match_name(self, name: str) -> Match | None:
        """Return the most specific entry listing ``name`` or a parent of it, unless allowed.

        The name is normalised like the entries (case, one trailing dot, IDNA). This runs for
        every DNS query, SNI and Host, so an ASCII name is only lower-cased and stripped of one
        trailing dot, then looked up once per label suffix; it is not validated, since only a
        valid listed suffix can match. A non-ASCII name that does not normalise matches nothing.
        The same few names come back again and again (a query and its response, each new
        connection to a site), so the answers for the last ``MAX_REMEMBERED_NAMES`` names are kept.
        """
        matched = self._matched
        if name in matched:
            return matched[name]
        if len(matched) >= MAX_REMEMBERED_NAMES:
            matched.clear()
        found = matched[name] = self._match_name(name)
        return found

    def _match_name(self, name: str) -> Match | None:
        if name.isascii():
            key = name.lower()
            if key.endswith("."):
                key = key[:-1]
        else:
            normal = normalise(name)
            if normal is None:
                return None
            key = normal
        allow = self._allow_names
        block = self._names
        found: Row | None = None
        suffix = key
        while suffix:
            if suffix in allow:
                return None
            if found is None:
                found = block.get(suffix)
            suffix = suffix.partition(".")[2]
        return None if found is None else _entry(found)

    def match_endpoint(self, ip: str, port: int) -> Match | None:
        """Return the entry listing server ``ip:port``, unless the allowlist has it. Every TCP flow's
        server is asked about twice (name detector, enricher) and a miner comes back to its pool with
        each connection: the answers for the last ``MAX_REMEMBERED_ENDPOINTS`` servers are kept."""
        matched, asked = self._endpoint_matched, (ip, port)
        if asked in matched:
            return matched[asked]
        if len(matched) >= MAX_REMEMBERED_ENDPOINTS:
            matched.clear()
        found = matched[asked] = self._match_endpoint(ip, port)
        return found

    def _match_endpoint(self, ip: str, port: int) -> Match | None:
        key = (ip, port)
        if key not in self._endpoints and key not in self._allow_endpoints and ":" in ip:
            canonical = _canonical_ip(ip)
            if canonical is None:
                return None
            key = (canonical, port)
        if key in self._allow_endpoints:
            return None
        found = self._endpoints.get(key)
        return None if found is None else _entry(found)

    def shadowed(self) -> list[ListEntry]:
        """Return the block entries that the allowlist hides (worth a warning for user lists)."""
        hidden = [_entry(r) for r in self._endpoints.values() if _endpoint_key(r[0]) in self._allow_endpoints]
        for key, row in self._names.items():
            suffix = key
            while suffix:
                if suffix in self._allow_names:
                    hidden.append(_entry(row))
                    break
                suffix = suffix.partition(".")[2]
        return hidden

    def entries(self) -> list[ListEntry]:
        """Every entry kept, block lists first, then the allowlist (for exports and checks)."""
        return [
            _entry(row)
            for table in (self._names, self._endpoints, self._allow_names, self._allow_endpoints)
            for row in table.values()
        ]

    def __len__(self) -> int:
        """The number of distinct block entries (domains and endpoints, allowlist excluded)."""
        return len(self._names) + len(self._endpoints)

    def counts(self) -> dict[str, int]:
        """Valid entry lines read per list name, allowlists included."""
        return dict(self._counts)


def _parse_line(text: str, suffixes: SuffixList) -> tuple[str | Endpoint, str, tuple[str, ...]] | None:
    """Parse one line into (look-up key, entry as shown, sources); None for blank/comment."""
    body = text.split("#", 1)[0].strip()
    if not body:
        return None
    fields = body.split()
    if len(fields) > 2:
        raise ValueError(f"expected '<entry> [<source>,...]', found {len(fields)} fields")
    key, shown = _parse_entry(fields[0], suffixes)
    sources = _parse_sources(fields[1]) if len(fields) == 2 else ()
    return key, shown, sources


def _parse_sources(text: str) -> tuple[str, ...]:
    """Split a comma-separated source list; each id is lower-case letters, digits, '-', '_'."""
    sources = tuple(text.split(","))
    for source in sources:
        if _SOURCE_RE.fullmatch(source) is None:
            raise ValueError(f"bad source id {source!r} (use a-z, 0-9, '-', '_'; commas, no spaces)")
    return sources


def _parse_entry(text: str, suffixes: SuffixList) -> tuple[str | Endpoint, str]:
    """Parse a domain or an ``ip:port`` entry into (look-up key, entry as shown)."""
    if text.startswith("[") or text.count(":") > 1:
        return _parse_ipv6_endpoint(text)
    host, colon, port = text.partition(":")
    if _is_ipv4(host):
        if not colon:
            raise ValueError(f"an IP address needs a port: write {host}:<port>")
        address = str(ipaddress.IPv4Address(host))
        number = _parse_port(port)
        return (address, number), f"{address}:{number}"
    if colon:
        raise ValueError(f"a domain entry takes no port: write {host} alone")
    name = normalise(_strip_wildcard(text))
    if name is None:
        raise ValueError(f"{text!r} is not a valid domain name")
    if suffixes.is_public_suffix(name):
        raise ValueError(PUBLIC_SUFFIX_REASON.format(name))
    return name, name


def _parse_ipv6_endpoint(text: str) -> tuple[Endpoint, str]:
    """Parse ``[addr]:port``."""
    inner, bracket, port = text[1:].partition("]:") if text.startswith("[") else ("", "", "")
    if not bracket:
        raise ValueError(f"write an IPv6 endpoint as [address]:port, not {text!r}")
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError as e:
        raise ValueError(f"{inner!r} is not a valid IPv6 address") from e
    number = _parse_port(port)
    if address.ipv4_mapped is not None:
        return (str(address.ipv4_mapped), number), f"{address.ipv4_mapped}:{number}"
    return (str(address), number), f"[{address}]:{number}"


def _canonical_ip(text: str) -> str | None:
    """The compressed form of an IP address (IPv4-mapped IPv6 as IPv4); None if invalid."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _is_ipv4(host: str) -> bool:
    """True for a dotted-quad IPv4 address; raise for an all-digits-and-dots non-address."""
    if not host or host.strip("0123456789.") != "":
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError as e:
        raise ValueError(f"{host!r} is not a valid IPv4 address") from e
    return True


def _parse_port(text: str) -> int:
    """A TCP/UDP port 1-65535."""
    if not text.isdigit():
        raise ValueError(f"bad port {text!r}")
    number = int(text)
    if not 1 <= number <= 65535:
        raise ValueError(f"port {number} out of range 1-65535")
    return number


def _strip_wildcard(text: str) -> str:
    """Drop a leading ``*.`` or ``.``: a domain entry already covers its subdomains."""
    if text.startswith("*."):
        return text[2:]
    return text[1:] if text.startswith(".") else text


def _endpoint_key(shown: str) -> Endpoint:
    """The look-up key of an endpoint entry as shown (``1.2.3.4:3333`` / ``[::1]:3333``)."""
    host, _, port = shown.rpartition(":")
    return host.strip("[]"), int(port)


def header_category(lines: Iterable[str], origin: str) -> str | None:
    """Return the ``# category: <name>`` of a list's leading comment block, if any.

    Raises :class:`BlocklistError` when the header names an unknown category.
    """
    for lineno, text in enumerate(lines, 1):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            return None
        found = _CATEGORY_RE.match(stripped)
        if found is None:
            continue
        category = found.group(1).lower()
        if category != ALLOW and category not in CATEGORIES:
            known = ", ".join((*CATEGORIES, ALLOW))
            raise BlocklistError(origin, lineno, f"unknown category {category!r} (known: {known})")
        return category
    return None


def shipped_dir() -> Traversable:
    """The package's ``blocklists`` folder (wheel), else the source checkout's ``blocklists/``.

    A package installed as files is looked at directly; ``importlib.resources`` (a few ms to
    import) is only asked for a package that is not (a zipped one).
    """
    here = Path(__file__).resolve().parents[1]  # the poolsniff package
    if here.is_dir():
        packaged: Traversable = here / "blocklists"
    else:
        from importlib.resources import files

        packaged = files("poolsniff") / "blocklists"
    if packaged.is_dir():
        return packaged
    return here.parent / "blocklists"


@cache
def _shipped() -> Blocklist:
    """Parse the shipped lists against the bundled suffix list once per process; callers get copies."""
    return parse_shipped(bundled())


def parse_shipped(suffixes: SuffixList) -> Blocklist:
    """Parse the package's lists and allowlist now, checked against ``suffixes`` (no cache)."""
    folder = shipped_dir()
    lists = Blocklist(suffixes)
    for filename, category in SHIPPED_FILES:
        resource = folder / filename
        if not resource.is_file():
            raise ConfigError(f"shipped blocklist {filename} is missing from {folder}")
        lines = resource.read_text(encoding="utf-8").splitlines()
        lists.add_lines(lines, f"blocklists/{filename}", category)
    return lists


def load_shipped(suffixes: SuffixList | None = None) -> Blocklist:
    """Return a new :class:`Blocklist` holding the package's lists and allowlist.

    With the bundled suffix list (the default) the lists are parsed once per process.
    """
    if suffixes is None or suffixes is bundled():
        return _shipped().copy()
    return parse_shipped(suffixes)


def load_files(target: Blocklist, paths: Iterable[str | os.PathLike[str]]) -> Blocklist:
    """Add ``--blocklist FILE`` lists to ``target`` and return it.

    A file's category is its ``# category: <name>`` header (``allow`` makes it an allowlist),
    else :data:`DEFAULT_USER_CATEGORY`; its list name is the file stem.
    """
    for path in paths:
        origin = os.fspath(path)
        text = read_text(origin, "blocklist")
        lines = text.splitlines()
        category = header_category(lines, origin) or DEFAULT_USER_CATEGORY
        target.add_lines(lines, origin, category)
    return target
