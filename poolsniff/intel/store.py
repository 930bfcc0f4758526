"""The data directory: updated lists, cached upstream copies, and what is loaded (adapter layer).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

The enrichment stage matches against the lists :func:`load_active` returns: the block lists that
``poolsniff blocklist update`` wrote into the data directory when present, else the shipped ones,
plus the shipped allowlist in every case (it always wins). The same directory holds the cached
upstream copies with their HTTP validators and a downloaded Public Suffix List, which
:func:`load_active` hands to :class:`poolsniff.intel.psl.SuffixList`. Layout::

    <data dir>/lists/{pool,proxy,browser,donation}.txt     curated lists (as in blocklists/)
    <data dir>/cache/<name>-<hash>.txt + .meta.json         last good upstream copy per source
    <data dir>/public_suffix_list.dat + .meta.json          last good Public Suffix List
    <data dir>/cache/parsed-lists.marshal                   the lists last loaded, parsed

Files are replaced atomically (:func:`poolsniff.files.write_atomic`). Parsing the lists takes ~0.1 s (every
domain entry is checked against the Public Suffix List, which needs tldextract), so
:func:`load_active` keeps what it parsed in ``parsed-lists.marshal`` (plain data in ``marshal``
format, never pickle) under a key made of the identity (path, size, times, inode) of every list
file and of the suffix list, and of the parser and poolsniff's version; a later start with the
same key reads it back in a few ms. A file that is stale, damaged or unreadable is ignored and
rewritten; failing to write it is never an error. The cache also holds the registrable domain
of each listed name that has no suffix rule below it (``SuffixList.registrable_table``), so that the
pool names of alerts are answered without importing tldextract. The data directory comes from
``--data-dir``, else ``$POOLSNIFF_DATA_DIR``, else ``$XDG_DATA_HOME/poolsniff``, else
``~/.local/share/poolsniff`` (:func:`resolve_data_dir`, which takes the environment as a mapping).
"""

from __future__ import annotations

import gc
import hashlib
import json
import marshal
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from poolsniff import __version__
from poolsniff.errors import ConfigError
from poolsniff.files import write_atomic
from poolsniff.intel import lists, psl
from poolsniff.intel.lists import (
    DEFAULT_USER_CATEGORY,
    SHIPPED_FILES,
    Blocklist,
    State,
    header_category,
    load_files,
    load_shipped,
    shipped_dir,
)
from poolsniff.intel.psl import BUNDLED_SNAPSHOT, SuffixList

DATA_DIR_ENV: Final = "POOLSNIFF_DATA_DIR"
"""Environment variable naming the data directory."""

LISTS: Final = "lists"
CACHE: Final = "cache"
PSL_FILE: Final = "public_suffix_list.dat"
PARSED_CACHE: Final = "parsed-lists.marshal"
"""The parsed lists last loaded, under ``cache/`` (see the module docstring)."""
_CACHE_MAGIC: Final = b"poolsniff parsed lists 2\n"


def resolve_data_dir(option: str | None, environ: Mapping[str, str]) -> Path:
    """``--data-dir``, else ``$POOLSNIFF_DATA_DIR``, else the XDG data directory + ``poolsniff``."""
    if option:
        return Path(option).expanduser()
    if environ.get(DATA_DIR_ENV):
        return Path(environ[DATA_DIR_ENV]).expanduser()
    xdg = environ.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg) / "poolsniff"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "poolsniff"


def lists_dir(data_dir: Path) -> Path:
    """Where the curated lists go."""
    return data_dir / LISTS


def psl_path(data_dir: Path) -> Path:
    """Where the downloaded Public Suffix List goes."""
    return data_dir / PSL_FILE


def cache_paths(data_dir: Path, name: str, url: str) -> tuple[Path, Path]:
    """The cached body and its ``.meta.json`` for one source file (name plus a hash of the URL)."""
    stem = f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    folder = data_dir / CACHE
    return folder / f"{stem}.txt", folder / f"{stem}.meta.json"


def read_meta(path: Path) -> dict[str, Any]:
    """A ``.meta.json`` file's content; {} when missing or unreadable (treated as no cache)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_meta(path: Path, meta: Mapping[str, Any]) -> None:
    """Write a ``.meta.json`` file atomically (sorted keys, so equal content gives equal bytes)."""
    write_atomic(path, (json.dumps(dict(meta), indent=1, sort_keys=True) + "\n").encode(), parents=True)


@dataclass(frozen=True)
class LoadedList:
    """One list file that is loaded, and where it came from."""

    name: str
    category: str
    location: str
    """``shipped``, or the file's path."""
    mtime: float | None
    """Modification time of a data-dir or user file (None for shipped lists)."""


@dataclass
class Active:
    """The lists in use: the matcher and the description of each file."""

    lists: Blocklist
    files: list[LoadedList] = field(default_factory=list)
    suffix_list: str = BUNDLED_SNAPSHOT


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False too when a parent cannot be searched (a sensor that dropped to
    another user may no longer see the invoking user's home)."""
    try:
        return path.is_file()
    except OSError:
        return False


def data_dir_suffixes(data_dir: Path | None) -> SuffixList:
    """The Public Suffix List of ``data_dir``: its downloaded copy when there is one, else the
    bundled snapshot."""
    path = psl_path(data_dir) if data_dir is not None else None
    return SuffixList(path) if path is not None and _is_file(path) else psl.bundled()


def load_active(data_dir: Path | None, extra: Iterable[str | os.PathLike[str]] = ()) -> Active:
    """Load the updated lists of ``data_dir`` where present, else the shipped ones, then ``extra``.

    The shipped allowlist is always loaded. Bad lines raise ``BlocklistError`` (file:line). What
    was parsed is kept in the data directory's ``cache/parsed-lists.marshal`` and read back while
    no list file and no suffix list has changed.
    """
    suffixes = data_dir_suffixes(data_dir)
    updated = lists_dir(data_dir) if data_dir is not None else None
    present = {f for f, _ in SHIPPED_FILES if updated is not None and _is_file(updated / f)}
    extras = [Path(name) for name in extra]
    cache = data_dir / CACHE / PARSED_CACHE if data_dir is not None else None
    key = _cache_key(present, updated, extras, suffixes) if cache is not None else None
    found = _read_cache(cache, key, suffixes) if cache is not None and key is not None else None
    if found is None:
        lists = _parse_lists(present, updated, extras, suffixes)
        table: dict[str, str] = {}
        if cache is not None and key is not None:  # worked out once, for the starts that follow
            table = suffixes.registrable_table(lists.state()[0])
            _write_cache(cache, key, lists.state(), table)
    else:
        lists, table = found
    suffixes.remember_registrable(table)
    files: list[LoadedList] = []
    for filename, category in SHIPPED_FILES:
        stem = Path(filename).stem
        if filename in present:
            assert updated is not None
            path = updated / filename
            files.append(LoadedList(stem, category, str(path), _mtime(path)))
        else:
            files.append(LoadedList(stem, category, "shipped", None))
    for user in extras:
        lines = user.read_text(encoding="utf-8").splitlines()
        category = header_category(lines, str(user)) or DEFAULT_USER_CATEGORY
        files.append(LoadedList(user.stem, category, str(user), _mtime(user)))
    return Active(lists, files, suffixes.in_use)


def _parse_lists(
    present: set[str], updated: Path | None, extras: list[Path], suffixes: SuffixList
) -> Blocklist:
    """Parse the lists :func:`load_active` uses (no cache)."""
    if present:
        lists = Blocklist(suffixes)
        for filename, category in SHIPPED_FILES:
            if filename in present:
                assert updated is not None
                _add_file(lists, updated / filename, category)
            else:
                text = (shipped_dir() / filename).read_text(encoding="utf-8")
                lists.add_lines(text.splitlines(), f"blocklists/{filename}", category)
    else:
        lists = load_shipped(suffixes)
    for user in extras:
        load_files(lists, [user])
    return lists


def _add_file(lists: Blocklist, path: Path, category: str) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read updated list: {e}") from e
    lists.add_lines(text.splitlines(), str(path), category)


def _identity(path: Path) -> tuple[str, int, int, int, int, int] | None:
    """A file's path as given, device, inode, size, modification and change times (ns); None when
    it cannot be looked at (nothing is cached then: the parser reports what is wrong)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _cache_key(
    present: set[str], updated: Path | None, extras: list[Path], suffixes: SuffixList
) -> tuple[Any, ...] | None:
    """What the parsed lists depend on: every file read, the suffix list, the parser's code.

    None when a file cannot be looked at, or the shipped lists are inside a zipped package.
    """
    shipped = shipped_dir()
    if not isinstance(shipped, Path):
        return None
    sources = [updated / f if updated is not None and f in present else shipped / f for f, _ in SHIPPED_FILES]
    idents = [_identity(p) for p in [*sources, *extras]]
    if any(i is None for i in idents):
        return None
    code = (__version__, sys.version, _identity(Path(lists.__file__)), _identity(Path(psl.__file__)))
    return (code, suffixes.identity(), tuple(idents))


def _read_cache(
    path: Path, key: tuple[Any, ...], suffixes: SuffixList
) -> tuple[Blocklist, dict[str, str]] | None:
    """The lists and registrable-domain table kept in ``path`` under ``key``; None when missing,
    stale or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_CACHE_MAGIC)
    payload = data[head + 32 :]
    if data[:head] != _CACHE_MAGIC or hashlib.sha256(payload).digest() != data[head : head + 32]:
        return None
    collecting = gc.isenabled()
    gc.disable()  # ≈30,000 new tuples and strings, none of them garbage: spare the collector
    try:
        stored = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    finally:
        if collecting:
            gc.enable()
    if not isinstance(stored, tuple) or len(stored) != 3 or stored[0] != key:
        return None
    state, table = stored[1], stored[2]
    if not (isinstance(state, tuple) and len(state) == 5 and all(isinstance(d, dict) for d in state)):
        return None
    if not isinstance(table, dict):
        return None
    return Blocklist.from_state(state, suffixes), table


def _write_cache(path: Path, key: tuple[Any, ...], state: State, table: dict[str, str]) -> None:
    """Keep ``state`` and ``table`` in ``path`` under ``key``; a data directory that cannot be
    written is fine."""
    payload = marshal.dumps((key, state, table))
    try:
        write_atomic(path, _CACHE_MAGIC + hashlib.sha256(payload).digest() + payload, parents=True)
    except OSError:
        pass


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def counts_by_source(lists: Blocklist) -> dict[str, Counter[str]]:
    """Per list name: how many kept entries each source contributed (``-`` for none)."""
    per: dict[str, Counter[str]] = {}
    for item in lists.entries():
        counter = per.setdefault(item.list_name, Counter())
        for source in item.sources or ("-",):
            counter[source] += 1
    return per


@dataclass(frozen=True)
class CachedCopy:
    """A cached upstream copy, as ``blocklist list`` shows it."""

    name: str
    url: str
    entries: int
    mtime: float | None


def cached_copies(data_dir: Path) -> list[CachedCopy]:
    """The upstream copies cached in ``data_dir`` (sorted by name and URL)."""
    copies: list[CachedCopy] = []
    for meta_path in sorted((data_dir / CACHE).glob("*.meta.json")):
        meta = read_meta(meta_path)
        body = meta_path.with_name(meta_path.name.removesuffix(".meta.json") + ".txt")
        if meta and _is_file(body):
            copies.append(
                CachedCopy(str(meta.get("name", "?")), str(meta.get("url", "?")),
                           int(meta.get("entries", 0)), _mtime(body))
            )  # fmt: skip
    return sorted(copies, key=lambda c: (c.name, c.url))


def lists_updated(files: Iterable[LoadedList]) -> float | None:
    """Unix time of the oldest list in use (a shipped list: its file in the package), or None."""
    times: list[float] = []
    for item in files:
        if item.mtime is not None:
            times.append(item.mtime)
            continue
        try:
            times.append(os.stat(str(shipped_dir() / f"{item.name}.txt")).st_mtime)
        except OSError:
            continue
    return min(times, default=None)
