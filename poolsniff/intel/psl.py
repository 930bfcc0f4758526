"""Host-name normalisation and Public Suffix List look-ups (layer 1: reference data).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The blocklists, the DNS and TLS dissectors' names and the enrichment stage all compare host names
in one canonical form, produced by :func:`normalise`. :meth:`SuffixList.registrable` and
:meth:`SuffixList.is_public_suffix` answer Public Suffix List questions from the PSL snapshot bundled with
tldextract, through a :class:`SuffixList` object that the block lists carry; this is the only
module that imports tldextract (its public API only), and its extractor is built with no cache
directory and no remote URL, so it never touches the network. ``poolsniff blocklist update``
downloads a fresh copy of the list into the data directory; the lists loaded from there get a
``SuffixList`` with that copy's rules added to the bundled snapshot's. A copy that cannot be read
leaves the snapshot alone. The PSL *private* section
is included, so ``duckdns.org``, ``herokuapp.com`` or ``pp.ua`` count as suffixes and names
under them stay tenant-scoped.

tldextract is imported by the first look-up, not with this module (it costs ~0.1 s with the
``requests`` it imports); :meth:`SuffixList.identity` lets a cache of look-up results (the
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
"""What :attr:`SuffixList.in_use` says when no downloaded copy is used."""


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


class SuffixList:
    """The answers of one Public Suffix List: tldextract's bundled snapshot, plus the rules of a
    downloaded copy when one is given (new suffixes take effect; a rule the PSL has since dropped
    stays, which only makes matching more cautious).

    The state that used to sit in module globals (the local copy, the extractor, the table of
    registrable domains already worked out) belongs to the object, which the block lists carry
    (``Blocklist.suffixes``) and the enricher asks through them. Never downloads anything.
    """

    def __init__(self, local_copy: Path | None = None) -> None:
        """Answer from the snapshot, with the rules of ``local_copy`` added when it is given."""
        self.local_copy = local_copy.resolve() if local_copy is not None else None
        self._extract: tldextract.TLDExtract | None = None
        self._known: dict[str, str] = {}
        """Registrable domains already worked out for names with no suffix rule below them
        (:meth:`remember_registrable`); :meth:`registrable` answers names under them from here."""

    @property
    def in_use(self) -> str:
        """The file the extra rules are read from, or :data:`BUNDLED_SNAPSHOT`."""
        return str(self.local_copy) if self.local_copy is not None else BUNDLED_SNAPSHOT

    def identity(self) -> tuple[object, ...]:
        """What the answers depend on, from file metadata alone (for caches of look-up results).

        tldextract's installed version (its distribution metadata, found without importing it)
        and the path, size, times and inode of the local copy. Equal identities mean equal
        answers from :meth:`is_public_suffix` and :meth:`registrable`.
        """
        local = [str(self.local_copy)] if self.local_copy is not None else []
        return (_tldextract_version(), *((path, _stat_identity(path)) for path in local))

    def _extractor(self) -> tldextract.TLDExtract:
        """The offline extractor, built on first use.

        tldextract is imported here, not at the top: importing it (it pulls in ``requests``) and
        loading the PSL snapshot take ~0.1 s, which a scan that never needs the PSL does not pay.
        """
        if self._extract is None:
            import tldextract

            self._extract = tldextract.TLDExtract(
                suffix_list_urls=(),
                cache_dir=None,
                include_psl_private_domains=True,
                extra_suffixes=self._local_rules(),
            )
        return self._extract

    def _local_rules(self) -> list[str]:
        """The rules of the local copy; none if unset or unreadable (the snapshot still works)."""
        if self.local_copy is None:
            return []
        try:
            return suffix_rules(self.local_copy.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return []

    def registrable(self, name: str) -> str:
        """Return the registrable domain (eTLD+1, PSL private section included) of a normalised name.

        Returns "" when the name is itself a public suffix, an IP address, or has no known suffix.

        >>> SuffixList().registrable("xmr.pool.gntl.co.uk")
        'gntl.co.uk'
        >>> SuffixList().registrable("pool.eth.pp.ua")
        'eth.pp.ua'
        """
        known = self._known
        if known:
            node = name
            while True:
                top = known.get(node)
                if top is not None:
                    return top
                dot = node.find(".")
                if dot < 0:
                    break
                node = node[dot + 1 :]
        return _top_domain(self._extractor()(name))

    def is_public_suffix(self, name: str) -> bool:
        """True when a normalised name is exactly a public suffix (``com``, ``co.uk``, ``pp.ua``).

        >>> s = SuffixList()
        >>> s.is_public_suffix("duckdns.org"), s.is_public_suffix("example.duckdns.org")
        (True, False)
        """
        result = self._extractor()(name)
        return bool(result.suffix) and not result.domain and not result.subdomain

    def registrable_table(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: registrable(name)}`` for the ``names`` under which every name has that answer.

        That holds for a name that is not a public suffix when no suffix rule (wildcard and
        exception rules included) lies below it: the longest rule matching a name under it is then
        the one matching the name itself, so both have the same registrable domain. The table is
        plain data, kept in the parsed-lists cache, so that a start that finds it there need not
        import tldextract for the pool names of its alerts (:meth:`remember_registrable`).
        """
        below = self._rule_ancestors()
        table: dict[str, str] = {}
        for name in names:
            if name in below or self.is_public_suffix(name):
                continue
            top = self.registrable(name)
            if top:
                table[name] = top
        return table

    def _rule_ancestors(self) -> set[str]:
        """Every name that a suffix rule in use lies strictly below (in Unicode and IDNA form)."""
        out: set[str] = set()
        for rule in self._extractor().tlds:
            text = rule.lower().lstrip("!").removeprefix("*.")
            for form in {text, _idna_encode(text) or text}:
                labels = form.split(".")
                out.update(".".join(labels[i:]) for i in range(1, len(labels)))
            if rule.startswith(("!", "*.")):  # the rule's own name has a rule at or below it
                out.add(text)
        return out

    def remember_registrable(self, table: dict[str, str]) -> None:
        """Answer :meth:`registrable` for the names of ``table`` and the names under them from it."""
        self._known.update(table)


@cache
def bundled() -> SuffixList:
    """The answers of tldextract's bundled snapshot alone (one per process: they never change)."""
    return SuffixList()


def _tldextract_version() -> str | None:
    """tldextract's version from its ``*.dist-info`` folder, without importing it (or None)."""
    from importlib.machinery import PathFinder  # importlib.metadata would cost ~10 ms more

    try:
        spec = PathFinder.find_spec("tldextract")
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        return None
    site = Path(folders[0]).parent
    try:
        found = sorted(p.name for p in site.glob("tldextract-*.dist-info"))
    except OSError:
        return None
    code = os.path.join(folders[0], "tldextract.py")
    return f"{found[-1] if found else 'unknown'}|{_stat_identity(code)}"


def _stat_identity(path: str) -> tuple[int, int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def _top_domain(result: tldextract.ExtractResult) -> str:
    """The registrable domain of an extraction, without tldextract's deprecated property."""
    top = getattr(result, "top_domain_under_public_suffix", None)
    if isinstance(top, str):
        return top
    if result.domain and result.suffix:  # tldextract < 5.3 (no top_domain_under_public_suffix)
        return f"{result.domain}.{result.suffix}"
    return ""


def is_ip(text: str) -> bool:
    """True when ``text`` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
