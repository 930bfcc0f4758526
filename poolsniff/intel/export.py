"""``poolsniff blocklist export``: the block lists in resolver and IDS formats (layer 1, no I/O).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The lists the enrichment stage alerts on can also be enforced or watched elsewhere: a resolver
can refuse pool names (hosts, dnsmasq, Unbound, RPZ, Adblock-style lists for Pi-hole and AdGuard
Home) and an IDS can watch for them (Zeek intel, Suricata dataset). :func:`export` renders the
loaded lists in the syntax of BLOCKLISTS.md §4. Entries the allowlist hides are left out; an
allowlist entry under an exported domain becomes an exception where the format has one (dnsmasq,
Unbound, RPZ, Adblock). Formats that match exact names only (hosts, Zeek ``Intel::DOMAIN``) say
so in their header. The output is sorted and carries no date, except the RPZ serial, which the
caller passes in.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from poolsniff.intel.lists import ALLOW, CATEGORIES, Blocklist, ListEntry

FORMATS: Final = ("hosts", "dnsmasq", "unbound", "rpz", "zeek-intel", "suricata-dataset", "adblock")
"""Export formats."""

DATASET_NAME: Final = "poolsniff-pools"
"""The Suricata dataset's name; its file is ``poolsniff-pools.lst`` unless told otherwise."""

_DESCRIPTIONS: Final = {
    "pool": "mining pool",
    "proxy": "public Stratum proxy",
    "browser": "in-browser miner script host",
    "donation": "miner dev-fee (donation) pool",
}


@dataclass(frozen=True)
class Selection:
    """What is exported: block domains, endpoints, and allow exceptions under the domains."""

    domains: list[ListEntry]
    endpoints: list[ListEntry]
    exceptions: list[str]
    categories: tuple[str, ...]


def select(lists: Blocklist, categories: Iterable[str] = CATEGORIES) -> Selection:
    """Pick the entries of ``categories`` that can match (the allowlist does not hide them)."""
    wanted = tuple(c for c in CATEGORIES if c in set(categories))
    domains: list[ListEntry] = []
    endpoints: list[ListEntry] = []
    allow: list[str] = []
    for item in lists.entries():
        if item.category == ALLOW:
            if not item.is_endpoint:
                allow.append(item.entry)
        elif item.category in wanted:
            if item.is_endpoint:
                host, _, port = item.entry.rpartition(":")
                if lists.match_endpoint(host.strip("[]"), int(port)) is not None:
                    endpoints.append(item)
            elif lists.match_name(item.entry) is not None:
                domains.append(item)
    names = {d.entry for d in domains}
    exceptions = sorted(a for a in allow if _under_any(a, names))
    return Selection(sorted(domains, key=lambda e: e.entry), endpoints, exceptions, wanted)


def _under_any(name: str, parents: set[str]) -> bool:
    """True when a strict parent of ``name`` is in ``parents``."""
    suffix = name.partition(".")[2]
    while suffix:
        if suffix in parents:
            return True
        suffix = suffix.partition(".")[2]
    return False


def export(lists: Blocklist, fmt: str, *, categories: Iterable[str] = CATEGORIES, serial: int = 1) -> str:
    """Render the lists in format ``fmt`` (one of :data:`FORMATS`).

    ``serial`` is the RPZ zone's SOA serial (1..4294967295); other formats ignore it.
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    if not 1 <= serial <= 0xFFFFFFFF:
        raise ValueError(f"RPZ serial {serial} out of range 1-4294967295")
    return renderer(select(lists, categories), serial)


def _summary(sel: Selection, comment: str, fmt: str, exact: bool = False) -> list[str]:
    lines = [
        f"{comment} poolsniff blocklist export ({fmt}): {len(sel.domains)} domains from the "
        f"{', '.join(sel.categories)} lists",
    ]
    if exact:
        lines.append(f"{comment} Exact names only: the names under these entries are not covered.")
    else:
        lines.append(f"{comment} Each domain covers itself and every name under it.")
    if sel.endpoints:
        lines.append(f"{comment} {len(sel.endpoints)} ip:port endpoints cannot be expressed here: left out.")
    return lines


def _hosts(sel: Selection, _serial: int) -> str:
    lines = ["# Title: poolsniff mining pools", *_summary(sel, "#", "hosts", exact=True)]
    for item in sel.domains:
        lines += [f"0.0.0.0 {item.entry}", f":: {item.entry}"]
    return _join(lines)


def _dnsmasq(sel: Selection, _serial: int) -> str:
    lines = _summary(sel, "#", "dnsmasq")
    lines.append("# address=/d/ answers NXDOMAIN for d and the names under it; server=/d/# resolves d.")
    lines += [f"address=/{item.entry}/" for item in sel.domains]
    lines += [f"server=/{name}/#" for name in sel.exceptions]
    return _join(lines)


def _unbound(sel: Selection, _serial: int) -> str:
    lines = [*_summary(sel, "#", "unbound"), "server:"]
    lines += [f'    local-zone: "{item.entry}." always_nxdomain' for item in sel.domains]
    lines += [f'    local-zone: "{name}." transparent' for name in sel.exceptions]
    return _join(lines)


def _rpz(sel: Selection, serial: int) -> str:
    lines = [
        *_summary(sel, ";", "rpz"),
        "; Owner names are relative to the zone (for example rpz.poolsniff); CNAME . means NXDOMAIN.",
        "$TTL 300",
        f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 300 )",
        "  IN NS localhost.",
    ]
    for item in sel.domains:
        lines += [f"{item.entry} CNAME .", f"*.{item.entry} CNAME ."]
    for name in sel.exceptions:
        lines += [f"{name} CNAME rpz-passthru.", f"*.{name} CNAME rpz-passthru."]
    return _join(lines)


def _zeek(sel: Selection, _serial: int) -> str:
    lines = ["\t".join(("#fields", "indicator", "indicator_type", "meta.source", "meta.desc", "meta.url"))]
    for item in sel.domains:
        desc = f"{_DESCRIPTIONS[item.category]} (poolsniff {item.list_name} list; {item.provenance()})"
        lines.append("\t".join((item.entry, "Intel::DOMAIN", "poolsniff", desc, "-")))
    ports: dict[str, list[ListEntry]] = {}
    for item in sel.endpoints:
        ports.setdefault(item.entry.rpartition(":")[0].strip("[]"), []).append(item)
    for address, items in sorted(ports.items()):
        numbers = ",".join(sorted({i.entry.rpartition(":")[2] for i in items}, key=int))
        what = _DESCRIPTIONS[items[0].category]
        desc = f"{what} on port {numbers} (poolsniff; Intel::ADDR matches any port)"
        lines.append("\t".join((address, "Intel::ADDR", "poolsniff", desc, "-")))
    return _join(lines)


def suricata_rules(dataset_file: str = f"{DATASET_NAME}.lst") -> str:
    """The rules that use the exported dataset (Suricata >= 8.0.7 for ``match subdomain``)."""
    options = f"dataset:isset,{DATASET_NAME},type string,match subdomain,load {dataset_file};"
    rules = [
        ("dns", "$HOME_NET any -> any any", "dns.query", "DNS query", 9100011),
        ("tls", "$HOME_NET any -> $EXTERNAL_NET any", "tls.sni", "TLS SNI", 9100012),
        ("http", "$HOME_NET any -> $EXTERNAL_NET any", "http.host", "HTTP Host", 9100013),
    ]
    return _join(
        f'alert {proto} {hosts} (msg:"POOLSNIFF {what} of a mining pool (dataset)"; {buffer}; dotprefix; '
        f"{options} classtype:coin-mining; sid:{sid}; rev:1;)"
        for proto, hosts, buffer, what, sid in rules
    )


def _suricata_dataset(sel: Selection, _serial: int) -> str:
    # Only values: Suricata's string-dataset loader has no comment syntax (a '#' line is a
    # bad base64 value), so the rules that load the file go beside it (suricata_rules).
    return _join(base64.b64encode(f".{item.entry}".encode()).decode() for item in sel.domains)


def _adblock(sel: Selection, _serial: int) -> str:
    lines = ["! Title: poolsniff mining pools", *_summary(sel, "!", "adblock")]
    lines += [f"||{item.entry}^" for item in sel.domains]
    lines += [f"@@||{name}^" for name in sel.exceptions]
    return _join(lines)


def _join(lines: Iterable[str]) -> str:
    text = "\n".join(lines)
    return text + "\n" if text else ""


_RENDERERS: Final[dict[str, Callable[[Selection, int], str]]] = {
    "hosts": _hosts,
    "dnsmasq": _dnsmasq,
    "unbound": _unbound,
    "rpz": _rpz,
    "zeek-intel": _zeek,
    "suricata-dataset": _suricata_dataset,
    "adblock": _adblock,
}
