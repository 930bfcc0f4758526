"""Host-name normalisation and Public Suffix List look-ups (layer 1: reference data).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The blocklists, the DNS and TLS dissectors' names and the enrichment stage all compare host names
in one canonical form, produced by :func:`normalise`. :func:`registrable` and
:func:`is_public_suffix` answer Public Suffix List questions from the PSL snapshot bundled with
tldextract; this is the only module that imports tldextract, and its extractor is built with
no cache directory and no remote URL, so it never touches the network. ``poolsniff blocklist
update`` downloads a fresh copy of the list into the data directory; the command line then calls
:func:`use_suffix_list`, and the rules of that local copy are added to the bundled snapshot's
(new suffixes take effect; a rule the PSL has since dropped stays, which only makes matching
more cautious). A copy that cannot be read leaves the snapshot alone. The PSL *private* section
is included, so ``duckdns.org``, ``herokuapp.com`` or ``pp.ua`` count as suffixes and names
under them stay tenant-scoped.

tldextract is imported by the first look-up, not with this module (it costs ~0.1 s with the
``requests`` it imports); :func:`suffix_list_identity` lets a cache of look-up results (the
parsed blocklists) tell whether the answers may have changed, without importing it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import tldextract

MAX_NAME_LENGTH: Final = 253
"""Longest host name in presentation form without the trailing dot (RFC 1035 §2.3.4)."""

_LABEL: Final = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_NAME_RE: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
"""At least two labels of 1-63 characters from ``[a-z0-9_-]``, none starting or ending with '-'."""


def normalise(name: str) -> str | None:
    """Return ``name`` in canonical form, or None when it is not a valid host name.

    Lower-cases, strips one trailing dot and IDNA-encodes non-ASCII labels (IDNA 2003 as
    implemented by the stdlib codec, so ``bücher.de`` becomes ``xn--bcher-kva.de`` and ``ß``
    maps to ``ss``). The result has at least two labels of 1-63 characters from
    ``[a-z0-9_-]`` with no leading or trailing '-', is at most 253 characters long, and its
    last label is not all digits (so an IPv4 literal is not a name).

    >>> normalise("Pool.SupportXMR.com.")
    'pool.supportxmr.com'
    >>> normalise("bücher.de")
    'xn--bcher-kva.de'
    >>> normalise("localhost") is None
    True
    """
    text = name.lower().removesuffix(".")
    if not text.isascii():
        encoded = _idna_encode(text)
        if encoded is None:
            return None
        text = encoded
    if len(text) > MAX_NAME_LENGTH or _NAME_RE.fullmatch(text) is None:
        return None
    if text.rpartition(".")[2].isdigit():
        return None
    return text


def _idna_encode(text: str) -> str | None:
    """IDNA-encode a non-ASCII name with the stdlib codec; None when the codec rejects a label."""
    try:
        return text.encode("idna").decode("ascii").lower()
    except UnicodeError:  # empty, over-long or prohibited label: the name is invalid
        return None


BUNDLED_SNAPSHOT: Final = "tldextract's bundled snapshot"
"""What :func:`suffix_list_in_use` says when no downloaded copy is used."""

_local_copy: list[Path] = []
"""The downloaded suffix list to read, set by :func:`use_suffix_list` (empty: the snapshot)."""


def use_suffix_list(path: Path | None) -> None:
    """Add the rules of the local Public Suffix List file ``path`` to the bundled snapshot's.

    None means the snapshot alone. Takes effect for the look-ups that follow; a file that
    cannot be read leaves the snapshot alone. Never downloads anything.
    """
    _local_copy[:] = [path.resolve()] if path is not None else []
    _extractor.cache_clear()
    _known.clear()


def suffix_list_in_use() -> str:
    """The file the suffix list is read from, or :data:`BUNDLED_SNAPSHOT`."""
    return str(_local_copy[0]) if _local_copy else BUNDLED_SNAPSHOT


def suffix_list_identity() -> tuple[object, ...]:
    """What the Public Suffix List answers depend on, from file metadata alone (for caches).

    The path, size, modification and change times (ns) and inode of tldextract's bundled snapshot
    and code, and of the local copy set by :func:`use_suffix_list`; a file that cannot be looked at
    is None. Equal identities mean equal answers from :func:`is_public_suffix` and
    :func:`registrable`. tldextract is located without being imported.
    """
    from importlib.machinery import PathFinder  # importlib.util would cost a few ms more

    try:
        spec = PathFinder.find_spec("tldextract")
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    files = [os.path.join(f, name) for f in folders[:1] for name in (".tld_set_snapshot", "tldextract.py")]
    return tuple((path, _stat_identity(path)) for path in [*files, *map(str, _local_copy)])


def _stat_identity(path: str) -> tuple[int, int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def suffix_rules(text: str) -> list[str]:
    """The rules of a Public Suffix List file (``*.ck``, ``!www.ck``, ``duckdns.org``...).

    A rule is the first word of a line that is not blank and not a ``//`` comment.
    """
    rules: list[str] = []
    for line in text.splitlines():
        word = line.strip().split(" ", 1)[0].split("\t", 1)[0]
        if word and not word.startswith("//"):
            rules.append(word.lower())
    return rules


def _local_rules() -> list[str]:
    """The rules of the file set by :func:`use_suffix_list`; none if unset or unreadable."""
    if not _local_copy:
        return []
    try:
        return suffix_rules(_local_copy[0].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):  # a damaged copy: the snapshot alone still works
        return []


@cache
def _extractor() -> tldextract.TLDExtract:
    """The one offline extractor, built on first use.

    tldextract is imported here, not at the top: importing it (it pulls in ``requests``) and
    loading the PSL snapshot take ~0.1 s, which a scan that never needs the PSL does not pay.
    """
    import tldextract

    return tldextract.TLDExtract(
        suffix_list_urls=(),
        cache_dir=None,
        include_psl_private_domains=True,
        extra_suffixes=_local_rules(),
    )


def _top_domain(result: tldextract.ExtractResult) -> str:
    """The registrable domain of an extraction, without tldextract's deprecated property."""
    top = getattr(result, "top_domain_under_public_suffix", None)
    if isinstance(top, str):
        return top
    if result.domain and result.suffix:  # tldextract < 5.3 (no top_domain_under_public_suffix)
        return f"{result.domain}.{result.suffix}"
    return ""


_known: dict[str, str] = {}
"""Registrable domains already worked out for names with no suffix rule below them
(:func:`remember_registrable`); :func:`registrable` answers names under them from here."""


def registrable_table(names: Iterable[str]) -> dict[str, str]:
    """``{name: registrable(name)}`` for the ``names`` under which every name has that answer.

    That holds for a name that is not a public suffix when no suffix rule (wildcard and exception
    rules included) lies below it: the longest rule matching a name under it is then the one
    matching the name itself, so both have the same registrable domain. The table is plain data,
    kept in the parsed-lists cache, so that a start that finds it there need not import tldextract
    for the pool names of its alerts (:func:`remember_registrable`).
    """
    below = _rule_ancestors()
    table: dict[str, str] = {}
    for name in names:
        if name in below or is_public_suffix(name):
            continue
        top = registrable(name)
        if top:
            table[name] = top
    return table


def _rule_ancestors() -> set[str]:
    """Every name that a suffix rule in use lies strictly below (in Unicode and IDNA form)."""
    out: set[str] = set()
    for rule in _extractor().tlds:
        text = rule.lower().lstrip("!").removeprefix("*.")
        for form in {text, _idna_encode(text) or text}:
            labels = form.split(".")
            out.update(".".join(labels[i:]) for i in range(1, len(labels)))
        if rule.startswith(("!", "*.")):  # the rule's own name has a rule at or below it
            out.add(text)
    return out


def remember_registrable(table: dict[str, str]) -> None:
    """Answer :func:`registrable` for the names of ``table`` and the names under them from it."""
    _known.update(table)


def registrable(name: str) -> str:
    """Return the registrable domain (eTLD+1, PSL private section included) of a normalised name.

    Returns "" when the name is itself a public suffix, an IP address, or has no known suffix.

    >>> registrable("xmr.pool.gntl.co.uk")
    'gntl.co.uk'
    >>> registrable("pool.eth.pp.ua")
    'eth.pp.ua'
    """
    if _known:
        node = name
        while True:
            top = _known.get(node)
            if top is not None:
                return top
            dot = node.find(".")
            if dot < 0:
                break
            node = node[dot + 1 :]
    return _top_domain(_extractor()(name))


def is_public_suffix(name: str) -> bool:
    """Return True when a normalised name is exactly a public suffix (``com``, ``co.uk``, ``pp.ua``).

    >>> is_public_suffix("duckdns.org"), is_public_suffix("example.duckdns.org")
    (True, False)
    """
    result = _extractor()(name)
    return bool(result.suffix) and not result.domain and not result.subdomain


def is_ip(text: str) -> bool:
    """True when ``text`` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
