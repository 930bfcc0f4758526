"""Curation rules for the block lists (layer 1: reference data, no I/O).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The enrichment stage only alerts on what the lists hold, so what goes into them is decided here,
by one set of rules shared by the maintainer tool ``tools/curate_blocklists.py`` (which builds the
shipped ``blocklists/``) and by ``poolsniff blocklist update`` (which re-curates them with fresh
upstream copies). The rules are described in ``blocklists/SOURCES.md``: names are normalised and
validated, public suffixes dropped, ``seed.tsv`` excludes and categories applied, popular sites
kept out, entries under a listed parent de-duplicated, and ``ip:port`` endpoints kept only on a
Stratum port or when several sources agree. Every drop is counted in a :class:`Report`.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from poolsniff.errors import BlocklistError
from poolsniff.intel.psl import SuffixList, bundled, is_ip, normalise

BLOCK_CATEGORIES: Final = ("donation", "proxy", "pool", "browser")
"""Block categories, strongest first: an entry listed under several keeps the first."""

SEED_CATEGORIES: Final = (*BLOCK_CATEGORIES, "allow", "exclude", "noallow")
"""The categories a ``seed.tsv`` row may have."""

VETTING_SOURCES: Final = frozenset({"maltrail", "et-open", "hestat"})
"""Pool sources trusted to list a popular apex (``2miners.com``) as a pool."""

STRATUM_PORTS: Final = frozenset(
    # Hestat portlist.txt
    {3333, 4444, 5555, 6666, 7777, 8888, 9999, 8848, 14433, 14444, 45560}
    # PROTOCOLS.md §8: 2miners XMR, NiceHash, suprnova XMR, nanopool SSL, MinerGate
    | {2222, 3380, 5222, 9433, 10343, 45700}
    # Falco miner_ports, without its generic web ports and the bitcoind P2P/RPC ports
    | {3334, 3335, 3336, 3357, 5556, 5588, 5730, 6099, 7778, 8899}
    # the "1 + repeated digit" family: nanopool ports probed in the nesfit captures
    | {13333, 15555, 16666, 17777, 18888, 19999}
)
"""Ports an ``ip:port`` indicator must use to ship on its own (see SOURCES.md, "IP endpoints")."""

CDN_NETWORKS: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        # Cloudflare (cloudflare.com/ips-v4)
        "173.245.48.0/20",
        "103.21.244.0/22",
        "103.22.200.0/22",
        "103.31.4.0/22",
        "141.101.64.0/18",
        "108.162.192.0/18",
        "190.93.240.0/20",
        "188.114.96.0/20",
        "197.234.240.0/22",
        "198.41.128.0/17",
        "162.158.0.0/15",
        "104.16.0.0/13",
        "104.24.0.0/14",
        "172.64.0.0/13",
        "131.0.72.0/22",
        "151.101.0.0/16",  # Fastly
        "185.199.108.0/22",  # GitHub Pages
        "216.239.32.0/19",  # Google front ends
        "13.32.0.0/15",
        "13.224.0.0/14",
        "52.84.0.0/15",
        "54.230.0.0/16",
        "99.84.0.0/16",  # CloudFront
    )
)
"""CDN anycast ranges: an address in them is shared by thousands of sites (BLOCKLISTS.md §2.7)."""

TITLES: Final = {
    "pool": "Stratum / mining-pool endpoints",
    "proxy": "public Stratum and WebSocket-to-Stratum proxies",
    "browser": "hosts serving in-browser (coinhive-style) miner scripts",
    "donation": "pools that miners' built-in dev fees (donations) go to",
    "allow": "allowlist: names that never match, whatever the other lists say",
}
"""The title line of each list file."""

FILES: Final = {
    "pool": "pool.txt",
    "proxy": "proxy.txt",
    "browser": "browser.txt",
    "donation": "donation.txt",
    "allow": "allowlist.txt",
}
"""The file name of each category's list."""


@dataclass
class Report:
    """Counts and samples of every decision that dropped something."""

    dropped: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, what: str) -> None:
        """Record one dropped item."""
        self.dropped[reason] += 1
        if len(self.samples[reason]) < 8:
            self.samples[reason].append(what)


@dataclass(frozen=True)
class Seed:
    """One row of ``seed.tsv``: a hand-curated entry or decision."""

    entry: str
    category: str
    sources: tuple[str, ...]
    reason: str


@dataclass
class Candidates:
    """Everything read from the sources, before any decision."""

    names: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """name -> category -> sources."""
    endpoints: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    """(ip, port) -> sources."""
    bare_ips: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """ip -> sources (no port: corroboration only)."""
    dyn_dns: set[str] = field(default_factory=set)
    """Apexes of dynamic-DNS providers: never entries."""
    public_dns: set[str] = field(default_factory=set)
    """Public resolver addresses: never endpoints."""
    suffixes: SuffixList = field(default_factory=bundled)
    """The Public Suffix List names are checked against."""


Row = tuple[str, tuple[str, ...], str | None]
"""An output line: entry, sources, reason (hand-curated entries only)."""

Blocks = dict[str, tuple[str, set[str], str | None]]
"""Listed names: name -> (category, sources, reason for hand-curated entries)."""


def parse_seed(lines: Iterable[str], origin: str, suffixes: SuffixList | None = None) -> list[Seed]:
    """Parse ``seed.tsv`` lines; a malformed or invalid row raises ``BlocklistError`` origin:line.

    Names are checked against ``suffixes`` (by default the bundled Public Suffix List).
    """
    checker = suffixes if suffixes is not None else bundled()
    rows: list[Seed] = []
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        name = normalise(cols[0])
        if len(cols) != 4 or name is None or checker.is_public_suffix(name) or "#" in cols[3]:
            raise BlocklistError(origin, lineno, f"bad seed row {raw!r}")
        if cols[1] not in SEED_CATEGORIES:
            raise BlocklistError(origin, lineno, f"unknown category {cols[1]!r}")
        sources = () if cols[2] == "-" else tuple(cols[2].split(","))
        rows.append(Seed(name, cols[1], sources, cols[3]))
    return rows


def add_name(cands: Candidates, report: Report, raw: str, category: str, source: str) -> None:
    """Normalise and record a candidate name (invalid and public-suffix names are reported)."""
    name = normalise(raw.removeprefix("*.").removeprefix("."))
    if name is None:
        report.drop("invalid name", f"{raw} ({source})")
    elif cands.suffixes.is_public_suffix(name):
        report.drop("public suffix", f"{name} ({source})")
    elif not cands.suffixes.registrable(name):
        report.drop("no known public suffix (not a domain)", f"{name} ({source})")
    else:
        cands.names.setdefault(name, {}).setdefault(category, set()).add(source)


def suffixes(name: str) -> Iterator[str]:
    """``name`` and each parent domain of it, longest first."""
    while name:
        yield name
        name = name.partition(".")[2]


def first_listed(name: str, table: Iterable[str] | dict[str, object]) -> str | None:
    """The longest of ``name`` and its parents that ``table`` holds."""
    return next((s for s in suffixes(name) if s in table), None)


def category_of(cats: dict[str, set[str]], name: str) -> str:
    """The strongest category a name is listed under; a '*proxy*' label makes it a proxy."""
    category = next(c for c in BLOCK_CATEGORIES if c in cats)
    if category in ("pool", "browser") and any("proxy" in label for label in name.split(".")):
        return "proxy"
    return category


def candidate_blocks(cands: Candidates, seeds: list[Seed], report: Report) -> Blocks:
    """Apply the seed (excludes, categories, reasons) and the dynamic-DNS rule to the names.

    Raises ``ValueError`` when a seed entry is both listed and excluded.
    """
    excludes = {s.entry for s in seeds if s.category == "exclude"}
    blocks: Blocks = {}
    for name, cats in sorted(cands.names.items()):
        sources = set().union(*cats.values())
        if first_listed(name, excludes):
            report.drop("seed.tsv exclude", name)
        elif name in cands.dyn_dns:
            report.drop("apex of a dynamic-DNS provider (MISP dynamic-dns)", name)
        else:
            blocks[name] = (category_of(cats, name), sources, None)
    for seed in seeds:
        if seed.category not in BLOCK_CATEGORIES:
            continue
        if first_listed(seed.entry, excludes):
            raise ValueError(f"seed.tsv: {seed.entry} is both listed and excluded")
        known = cands.names.get(seed.entry, {})
        sources = set(seed.sources).union(*known.values())
        blocks[seed.entry] = (seed.category, sources, seed.reason)
    return blocks


def apply_popularity(blocks: Blocks, allow: set[str], popular: set[str], report: Report) -> None:
    """Drop entries an ``allow`` entry covers, and unvetted entries that cover ``popular`` sites.

    ``popular`` holds popular names and all their parents. A hand-curated entry under an allow
    entry raises ``ValueError``.
    """
    for name, (category, sources, reason) in list(blocks.items()):
        if first_listed(name, allow):
            if reason is not None:
                raise ValueError(f"seed.tsv: {name} is listed and allowlisted")
            report.drop("under a curated allowlist entry", name)
            del blocks[name]
        elif name in popular and reason is None:
            vetted = category == "pool" and sources & VETTING_SOURCES
            if not vetted:
                report.drop("apex of a Tranco top-10k site, not vetted as a pool", name)
                del blocks[name]


def dedupe(blocks: Blocks, report: Report) -> None:
    """Drop entries a listed parent already covers (a donation/proxy host under a pool stays)."""
    for name, (category, _, _) in sorted(blocks.items()):
        parent = first_listed(name.partition(".")[2], blocks)
        if parent is None:
            continue
        special = category in ("donation", "proxy") and blocks[parent][0] != category
        if not special:
            report.drop("covered by a listed parent", f"{name} < {parent}")
            del blocks[name]


def rows_by_category(blocks: Blocks) -> dict[str, list[Row]]:
    """The listed names as sorted output rows, per block category."""
    per: dict[str, list[Row]] = {c: [] for c in BLOCK_CATEGORIES}
    for name in sorted(blocks):
        category, sources, reason = blocks[name]
        per[category].append((name, tuple(sorted(sources)), reason))
    return per


def decide_endpoints(cands: Candidates, report: Report) -> list[Row]:
    """Keep ip:port indicators on Stratum ports, or on any port when several sources list the IP."""
    public_dns = {ipaddress.ip_address(ip) for ip in cands.public_dns if is_ip(ip)}
    rows: list[Row] = []
    for (ip, port), sources in sorted(cands.endpoints.items()):
        address = ipaddress.ip_address(ip)
        agreeing = sources | cands.bare_ips.get(ip, set())
        if not address.is_global or address.is_multicast:
            report.drop("endpoint: bogon / private / reserved address", f"{ip}:{port}")
        elif address in public_dns:
            report.drop("endpoint: public DNS resolver (MISP public-dns-v4)", f"{ip}:{port}")
        elif any(address in net for net in CDN_NETWORKS):
            report.drop("endpoint: CDN anycast address", f"{ip}:{port}")
        elif port not in STRATUM_PORTS and len(agreeing) < 2:
            report.drop("endpoint: non-Stratum port, one source only", f"{ip}:{port}")
        else:
            rows.append((f"{_shown(address)}:{port}", tuple(sorted(agreeing)), None))
    for ip, sources in sorted(cands.bare_ips.items()):
        report.drop(f"bare IP without port ({len(sources)} source(s)): not shippable", ip)
    rows.sort(key=_endpoint_order)
    return rows


def _shown(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as a list entry writes it (IPv6 in brackets)."""
    return f"[{address}]" if address.version == 6 else str(address)


def _endpoint_order(row: Row) -> tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    host, _, port = row[0].rpartition(":")
    address = ipaddress.ip_address(host.strip("[]"))
    return address.version, address, int(port)


def render(header: str, category: str, domains: list[Row], endpoints: list[Row]) -> str:
    """The text of one list file: ``header`` (formatted with title and category), then entries."""
    out = [header.format(title=TITLES[category], category=category)]
    out.extend(_line(entry, sources, reason) for entry, sources, reason in domains)
    if endpoints:
        out.append("#\n# Endpoints (IPv4:port / [IPv6]:port)\n")
        out.extend(_line(entry, sources, reason) for entry, sources, reason in endpoints)
    return "".join(out)


def _line(entry: str, sources: tuple[str, ...], reason: str | None) -> str:
    text = f"{entry:<40} {','.join(sources)}"
    if reason:
        text = f"{text:<64}  # {reason}"
    return text.rstrip() + "\n"
