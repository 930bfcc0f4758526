"""``poolsniff blocklist update``: refresh upstream copies and re-curate the lists (adapter layer).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Keeps the enrichment stage's block lists current. For each source of the sources file it fetches
the upstream list (:mod:`poolsniff.intel.update.fetch`), checks it (not empty, not an HTML page, UTF-8, some
entries in the declared format, not shrunk to less than half of the last good copy) and caches it
with its HTTP validators; a source that fails keeps its last good copy. The Public Suffix List is
refreshed the same way and only accepted if the shipped lists still load with it. Then the lists
are re-curated (:func:`recurate`) and written atomically into the data directory, where
``scan``, ``sniff`` and ``blocklist check`` pick them up (:mod:`poolsniff.intel.store`).
``offline`` re-curates from the cached copies without any network access.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from poolsniff.errors import BlocklistError, OutputError
from poolsniff.files import write_atomic
from poolsniff.intel.lists import ALLOW, SHIPPED_FILES, Blocklist, load_shipped, parse_shipped, shipped_dir
from poolsniff.intel.psl import SuffixList, suffix_rules
from poolsniff.intel.store import (
    cache_paths,
    data_dir_suffixes,
    lists_dir,
    load_active,
    psl_path,
    read_meta,
    write_meta,
)
from poolsniff.intel.update.curation import (
    BLOCK_CATEGORIES,
    FILES,
    Candidates,
    Report,
    Seed,
    add_name,
    apply_popularity,
    candidate_blocks,
    decide_endpoints,
    dedupe,
    parse_seed,
    render,
    rows_by_category,
    suffixes,
)
from poolsniff.intel.update.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, FetchFailed, Response, fetch
from poolsniff.intel.update.upstream import Parsed, SourcesDoc, SourceSpec, html_reason, parse_upstream

Status = Literal["updated", "unchanged", "offline", "failed", "skipped"]

MAX_SHRINK: Final = 0.5
"""A new copy with fewer than this fraction of the last good copy's entries is rejected."""

MIN_PSL_RULES: Final = 5000
"""A Public Suffix List with fewer rules is not the real one (it has about 10 000)."""

PSL_MARKERS: Final = ("// ===BEGIN ICANN DOMAINS===", "// ===BEGIN PRIVATE DOMAINS===")

UPDATE_HEADER: Final = """\
# poolsniff blocklist: {title}
# category: {category}
#
# Written by `poolsniff blocklist update`: the shipped lists (blocklists/SOURCES.md), with the
# entries of each refreshed source replaced by its latest copy, curated by the same rules as the
# shipped lists. Do not edit: the next update overwrites this file; put your own entries in a
# file passed with --blocklist.
#
# Format: one entry per line, "<entry> <source>[,<source>...]" separated by white space;
# '#' starts a comment (whole line or trailing). A domain matches itself and every name under
# it; an endpoint 1.2.3.4:3333 / [2001:db8::1]:3333 needs address and port to match.
#
"""


@dataclass(frozen=True)
class Options:
    """How to fetch: network policy and limits."""

    offline: bool = False
    allow_http: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    context: ssl.SSLContext | None = None
    """TLS settings; None: the system's certificate store."""


@dataclass(frozen=True)
class SourceResult:
    """What happened to one source file (or to the Public Suffix List)."""

    name: str
    url: str
    status: Status
    reason: str
    entries: int | None = None
    """Entries of the copy in use; None when there is no copy."""

    def line(self) -> str:
        """One report line."""
        count = f"{self.entries} entries" if self.entries is not None else "no copy"
        return f"{self.name:<18} {self.status:<9} {count:<14} {self.reason}  <{self.url}>"


@dataclass
class ListChange:
    """One written list: its entries and the difference to the list used before."""

    category: str
    entries: int
    added: int
    removed: int


@dataclass
class UpdateReport:
    """Everything ``blocklist update`` did."""

    sources: list[SourceResult] = field(default_factory=list)
    psl: SourceResult | None = None
    lists: list[ListChange] = field(default_factory=list)
    """The lists written; empty when no source had a usable copy (nothing was written)."""
    folder: Path | None = None
    dropped: Report = field(default_factory=Report)

    def failed(self) -> list[SourceResult]:
        """The sources (and suffix list) that failed."""
        return [r for r in [*self.sources, *([self.psl] if self.psl else [])] if r.status == "failed"]


def update(doc: SourcesDoc, data_dir: Path, options: Options) -> UpdateReport:
    """Refresh every source of ``doc`` and the suffix list, re-curate, write the lists.

    Network problems are per-source results. When no source has a usable copy (fresh or
    cached) the lists are not rewritten, unless a new suffix list must be applied to lists
    written before. A data directory that cannot be written raises :class:`OutputError`.
    """
    report = UpdateReport(folder=lists_dir(data_dir))
    try:
        report.psl = refresh_psl(doc.public_suffix_list, data_dir, options)
        fresh: list[tuple[SourceSpec, Parsed]] = []
        missing: set[str] = set()
        for spec in doc.sources:
            result, parsed = refresh_source(spec, data_dir, options)
            report.sources.append(result)
            if parsed is None:
                missing.add(spec.name)
            else:
                fresh.append((spec, parsed))
        psl_changed = report.psl is not None and report.psl.status == "updated"
        if not fresh and not (psl_changed and lists_dir(data_dir).is_dir()):
            return report  # nothing new to curate: leave the lists in use alone
        refreshed = {spec.name for spec in doc.sources} - missing
        before = _lists_before(data_dir)
        in_use = data_dir_suffixes(data_dir)  # the copy just refreshed, or the one kept
        texts = recurate(load_shipped(in_use), read_seeds(in_use), fresh, refreshed, report.dropped)
        report.lists = _write_lists(texts, lists_dir(data_dir), before)
    except OSError as e:
        raise OutputError(f"{e.filename or data_dir}: cannot write the data directory: {e.strerror}") from e
    return report


def _lists_before(data_dir: Path) -> Blocklist:
    """The lists in use before this run (to report what changed)."""
    try:
        return load_active(data_dir).lists
    except BlocklistError:  # e.g. the new suffix list makes an old entry a suffix: rewritten now
        return load_shipped(data_dir_suffixes(data_dir))


# --------------------------------------------------------------------------- one source


def refresh_source(spec: SourceSpec, data_dir: Path, options: Options) -> tuple[SourceResult, Parsed | None]:
    """Fetch, check and cache one source file; return the result and the copy to use (if any)."""
    body_path, meta_path = cache_paths(data_dir, spec.name, spec.url)
    meta = read_meta(meta_path) if body_path.is_file() else {}
    cached = _parse_cached(body_path, spec.format) if meta else None
    kept = cached.valid_entries() if cached else None

    def outcome(status: Status, reason: str, parsed: Parsed | None) -> tuple[SourceResult, Parsed | None]:
        entries = parsed.valid_entries() if parsed is not None else None
        return SourceResult(spec.name, spec.url, status, reason, entries), parsed

    def failed(reason: str) -> tuple[SourceResult, Parsed | None]:
        tail = f"; cached copy kept ({kept} entries)" if cached else "; no cached copy"
        return outcome("failed", reason + tail, cached)

    if options.offline:
        if cached is None:
            return failed("offline, and never downloaded")
        return outcome("offline", "using the cached copy", cached)
    try:
        response = _fetch(spec.url, meta if cached else {}, options)
    except FetchFailed as e:
        return failed(str(e))
    if response.status == 304 and cached is not None:
        _save_validators(meta_path, meta, response)
        return outcome("unchanged", "not modified (HTTP 304)", cached)
    if response.status != 200:
        return failed(f"unexpected HTTP {response.status}")
    try:
        parsed = check_body(response, spec.format, int(meta.get("entries", 0)) if cached else 0)
    except ValueError as e:
        return failed(str(e))
    digest = hashlib.sha256(response.body).hexdigest()
    new_meta = {
        "name": spec.name, "url": spec.url, "format": spec.format, "sha256": digest,
        "entries": parsed.valid_entries(), "etag": response.etag, "last_modified": response.last_modified,
    }  # fmt: skip
    if cached is not None and meta.get("sha256") == digest:
        write_meta(meta_path, new_meta)
        return outcome("unchanged", "same content", parsed)
    write_atomic(body_path, response.body, parents=True)
    write_meta(meta_path, new_meta)
    was = f" (was {kept})" if kept is not None else " (first copy)"
    return outcome("updated", f"new copy{was}", parsed)


def check_body(response: Response, fmt: str, previous: int) -> Parsed:
    """Parse a downloaded list, or raise ``ValueError`` saying why it is not a usable list."""
    text = _text(response)
    parsed = parse_upstream(text, fmt)
    count = parsed.valid_entries()
    if count == 0:
        raise ValueError(f"no entries found in {fmt} format (has the list's format changed?)")
    if previous and count < previous * MAX_SHRINK:
        raise ValueError(f"shrank from {previous} to {count} entries (more than half): not trusted")
    return parsed


def _text(response: Response) -> str:
    if not response.body.strip():
        raise ValueError("empty body")
    html = html_reason(response.body, response.content_type)
    if html:
        raise ValueError(html)
    try:
        return response.body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte {e.start})") from e


def _fetch(url: str, meta: dict[str, object], options: Options) -> Response:
    etag, modified = meta.get("etag"), meta.get("last_modified")
    return fetch(
        url, etag=etag if isinstance(etag, str) else None,
        last_modified=modified if isinstance(modified, str) else None,
        allow_http=options.allow_http, max_bytes=options.max_bytes, timeout=options.timeout,
        context=options.context,
    )  # fmt: skip


def _save_validators(meta_path: Path, meta: dict[str, object], response: Response) -> None:
    if response.etag and response.etag != meta.get("etag"):
        write_meta(meta_path, {**meta, "etag": response.etag})


def _parse_cached(path: Path, fmt: str) -> Parsed | None:
    try:
        parsed = parse_upstream(path.read_text(encoding="utf-8-sig"), fmt)
    except (OSError, UnicodeDecodeError):
        return None
    return parsed if parsed.valid_entries() else None


# --------------------------------------------------------------------------- public suffix list


def refresh_psl(url: str | None, data_dir: Path, options: Options) -> SourceResult | None:
    """Refresh the data directory's Public Suffix List from ``url`` (None: leave it alone)."""
    if url is None:
        return None
    target = psl_path(data_dir)
    meta_path = target.with_name(target.name + ".meta.json")
    meta = read_meta(meta_path) if target.is_file() else {}
    kept = int(meta.get("entries", 0)) if meta else None

    def result(status: Status, reason: str, entries: int | None) -> SourceResult:
        return SourceResult("public-suffix-list", url, status, reason, entries)

    tail = f"; cached copy kept ({kept} rules)" if kept else "; bundled snapshot in use"
    if options.offline:
        if kept:
            return result("offline", "using the cached copy", kept)
        return result("offline", "no cached copy: tldextract's bundled snapshot in use", None)
    try:
        response = _fetch(url, meta, options)
        if response.status == 304 and kept:
            _save_validators(meta_path, meta, response)
            return result("unchanged", "not modified (HTTP 304)", kept)
        rules = _check_psl(response, kept or 0, target)
    except (FetchFailed, ValueError) as e:
        return result("failed", f"{e}{tail}", kept)
    digest = hashlib.sha256(response.body).hexdigest()
    if kept and meta.get("sha256") == digest:
        status: Status = "unchanged"
    else:
        write_atomic(target, response.body, parents=True)
        status = "updated"
    write_meta(meta_path, {"url": url, "sha256": digest, "entries": rules,
                           "etag": response.etag, "last_modified": response.last_modified})  # fmt: skip
    return result(status, "same content" if status == "unchanged" else "new copy", rules)


def _check_psl(response: Response, previous: int, target: Path) -> int:
    """Check a downloaded suffix list; return its rule count or raise ``ValueError``."""
    if response.status != 200:
        raise ValueError(f"unexpected HTTP {response.status}")
    text = _text(response)
    rules = len(suffix_rules(text))
    if not all(marker in text for marker in PSL_MARKERS):
        raise ValueError("not a Public Suffix List (its ICANN/PRIVATE section markers are missing)")
    if rules < MIN_PSL_RULES or rules < previous * MAX_SHRINK:
        raise ValueError(f"only {rules} rules (the last good copy had {previous or 'about 10000'})")
    candidate = target.with_name(target.name + ".new")
    write_atomic(candidate, response.body, parents=True)
    try:
        parse_shipped(SuffixList(candidate))
    except BlocklistError as e:
        raise ValueError(f"rejected: with it a shipped entry is a public suffix ({e})") from e
    finally:
        candidate.unlink(missing_ok=True)
    return rules


# --------------------------------------------------------------------------- curation


def read_seeds(suffixes: SuffixList | None = None) -> list[Seed]:
    """The shipped ``seed.tsv``: hand-curated entries, categories, exclusions."""
    text = (shipped_dir() / "seed.tsv").read_text(encoding="utf-8")
    return parse_seed(text.splitlines(), "blocklists/seed.tsv", suffixes)


def recurate(
    shipped: Blocklist,
    seeds: list[Seed],
    fresh: Iterable[tuple[SourceSpec, Parsed]],
    refreshed: set[str],
    report: Report,
) -> dict[str, str]:
    """Return the text of each block list, re-curated with the ``fresh`` copies.

    Shipped entries keep their sources except the ``refreshed`` ids, whose entries are now what
    the fresh copies list; an entry left without a source goes. Everything then passes the rules
    of the shipped lists (:mod:`poolsniff.intel.update.curation`), with the shipped allowlist as
    the anchor for popular sites (``seed.tsv``'s public dynamic-DNS and resolver filters are not
    available here; the suffix list covers most dynamic-DNS providers).
    """
    cands = Candidates(suffixes=shipped.suffixes)
    allow: set[str] = set()
    for item in shipped.entries():
        if item.category == ALLOW:
            if not item.is_endpoint:
                allow.add(item.entry)
            continue
        kept = [s for s in item.sources if s not in refreshed]
        if item.is_endpoint:
            if kept:
                host, _, port = item.entry.rpartition(":")
                cands.endpoints[(host.strip("[]"), int(port))].update(kept)
            continue
        for source in kept:
            add_name(cands, report, item.entry, item.category, source)
    for spec, parsed in fresh:
        for name in parsed.names:
            add_name(cands, report, name, spec.category, spec.name)
        for endpoint in parsed.endpoints:
            cands.endpoints[endpoint].add(spec.name)
        for ip in parsed.bare_ips:
            cands.bare_ips[ip].add(spec.name)
    blocks = candidate_blocks(cands, seeds, report)
    noallow = {s.entry for s in seeds if s.category == "noallow"}
    apply_popularity(blocks, allow, {p for n in allow | noallow for p in suffixes(n)}, report)
    dedupe(blocks, report)
    per = rows_by_category(blocks)
    endpoints = decide_endpoints(cands, report)
    return {
        FILES[c]: render(UPDATE_HEADER, c, per[c], endpoints if c == "pool" else []) for c in BLOCK_CATEGORIES
    }


def _write_lists(texts: dict[str, str], folder: Path, before: Blocklist) -> list[ListChange]:
    """Check and write each list (only when changed); return what changed per list."""
    old: dict[str, set[str]] = {}
    for item in before.entries():
        old.setdefault(item.list_name, set()).add(item.entry)
    changes: list[ListChange] = []
    for filename, category in SHIPPED_FILES:
        if category == ALLOW:
            continue
        text = texts[filename]
        check = Blocklist()
        check.add_lines(text.splitlines(), str(folder / filename), category)
        new = {e.entry for e in check.entries()}
        previous = old.get(Path(filename).stem, set())
        changes.append(ListChange(category, len(new), len(new - previous), len(previous - new)))
        path = folder / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text.encode("utf-8"), parents=True)
    return changes
