"""Tests for poolsniff.intel.store: the data directory, atomic writes, the lists in use."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from poolsniff.errors import BlocklistError
from poolsniff.files import write_atomic
from poolsniff.intel import psl, store
from poolsniff.intel.lists import shipped_dir
from poolsniff.intel.store import (
    LoadedList,
    cache_paths,
    cached_copies,
    counts_by_source,
    lists_updated,
    load_active,
    psl_path,
    resolve_data_dir,
    write_meta,
)


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        ("/opt/x", {"POOLSNIFF_DATA_DIR": "/env"}, "/opt/x"),
        (None, {"POOLSNIFF_DATA_DIR": "/env", "XDG_DATA_HOME": "/xdg"}, "/env"),
        (None, {"POOLSNIFF_DATA_DIR": "", "XDG_DATA_HOME": "/xdg", "HOME": "/h"}, "/xdg/poolsniff"),
        (None, {"XDG_DATA_HOME": "relative", "HOME": "/h"}, "/h/.local/share/poolsniff"),
        (None, {"HOME": "/h"}, "/h/.local/share/poolsniff"),
    ],
)
def test_resolve_data_dir(option: str | None, environ: dict[str, str], expected: str) -> None:
    assert resolve_data_dir(option, environ) == Path(expected)


def test_cache_paths_are_per_name_and_url(tmp_path: Path) -> None:
    a = cache_paths(tmp_path, "nocoin", "https://e.org/hosts.txt")
    b = cache_paths(tmp_path, "nocoin", "https://e.org/nocoin.txt")
    assert a != b
    assert a[0].parent == tmp_path / "cache"
    assert a[0].name.startswith("nocoin-") and a[0].suffix == ".txt"
    assert a[1].name.endswith(".meta.json")


def test_load_active_without_a_data_dir_is_the_shipped_lists(tmp_path: Path) -> None:
    active = load_active(tmp_path / "missing")
    assert [f.location for f in active.files] == ["shipped"] * 5
    assert active.lists.match_name("pool.supportxmr.com") is not None
    assert active.suffix_list == psl.BUNDLED_SNAPSHOT


def _data_dir(tmp_path: Path, pool: str) -> Path:
    lists = tmp_path / "data" / "lists"
    lists.mkdir(parents=True)
    (lists / "pool.txt").write_text(pool)
    return tmp_path / "data"


def test_load_active_prefers_data_dir_lists_and_keeps_the_shipped_allowlist(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, "# category: pool\nonly-updated.example.net maltrail\nbinance.com maltrail\n")
    active = load_active(data)
    by_name = {f.name: f for f in active.files}
    assert by_name["pool"].location == str(data / "lists" / "pool.txt")
    assert by_name["pool"].mtime is not None
    assert by_name["browser"].location == "shipped"
    assert by_name["allowlist"].location == "shipped"
    lists = active.lists
    found = lists.match_name("x.only-updated.example.net")
    assert found is not None and found.origin == f"{data}/lists/pool.txt:2"
    assert lists.match_name("pool.supportxmr.com") is None  # the data dir's pool list replaced it
    assert lists.match_name("coinhive.com") is not None  # shipped browser list still loaded
    assert lists.match_name("binance.com") is None  # the shipped allowlist wins
    assert counts_by_source(lists)["pool"] == {"maltrail": 2}


def test_load_active_bad_data_dir_line(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, "ok.example.net\nco.uk\n")
    with pytest.raises(BlocklistError, match=f"{data}/lists/pool.txt:2: co.uk is a public suffix"):
        load_active(data)


def test_load_active_extra_files(tmp_path: Path) -> None:
    extra = tmp_path / "mine.txt"
    extra.write_text("# category: proxy\nstratum-proxy.mining-test-zz.net\n")
    active = load_active(None, [str(extra)])
    assert active.files[-1].name == "mine" and active.files[-1].category == "proxy"
    found = active.lists.match_name("stratum-proxy.mining-test-zz.net")
    assert found is not None and found.category == "proxy"


def _psl_text(extra_private: str) -> bytes:
    snapshot = pkgutil.get_data("tldextract", ".tld_set_snapshot")
    assert snapshot is not None
    return snapshot + f"\n{extra_private}\n".encode()


def test_load_active_uses_the_data_dir_suffix_list(tmp_path: Path) -> None:
    assert not psl.bundled().is_public_suffix("pools.example")
    data = tmp_path / "data"
    write_atomic(psl_path(data), _psl_text("pools.example"), parents=True)
    active = load_active(data)
    assert active.suffix_list == str(psl_path(data).resolve())
    assert active.lists.suffixes.is_public_suffix("pools.example")
    assert active.lists.suffixes.registrable("a.b.pools.example") == "b.pools.example"
    elsewhere = load_active(tmp_path / "elsewhere")
    assert not elsewhere.lists.suffixes.is_public_suffix("pools.example")
    assert not psl.bundled().is_public_suffix("pools.example"), "no state leaks between list sets"


def test_cached_copies(tmp_path: Path) -> None:
    body, meta = cache_paths(tmp_path, "maltrail", "https://e.org/m.txt")
    write_atomic(body, b"pool.example.com\n", parents=True)
    write_meta(meta, {"name": "maltrail", "url": "https://e.org/m.txt", "entries": 1})
    orphan = tmp_path / "cache" / "lost-0.meta.json"
    orphan.write_text(json.dumps({"name": "lost"}))  # no body: not a copy
    (tmp_path / "cache" / "junk-0.meta.json").write_text("{not json")
    copies = cached_copies(tmp_path)
    assert [(c.name, c.url, c.entries) for c in copies] == [("maltrail", "https://e.org/m.txt", 1)]
    assert store.read_meta(orphan) == {"name": "lost"}
    assert store.read_meta(tmp_path / "cache" / "junk-0.meta.json") == {}


def test_load_active_when_the_data_dir_cannot_be_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sensor that dropped to another user may not see the invoking user's home: shipped lists."""
    data = _data_dir(tmp_path, "only-updated.example.net maltrail\n")
    write_atomic(psl_path(data), _psl_text("pools.example"), parents=True)
    is_file = Path.is_file

    def denied(self: Path) -> bool:
        if str(self).startswith(str(data)):
            raise PermissionError(13, "Permission denied", str(self))
        return is_file(self)

    monkeypatch.setattr(Path, "is_file", denied)
    active = load_active(data)
    assert [f.location for f in active.files] == ["shipped"] * 5
    assert active.suffix_list == psl.BUNDLED_SNAPSHOT
    assert active.lists.match_name("only-updated.example.net") is None


# --------------------------------------------------------------------------- the parsed-lists cache


def _cache_file(data: Path) -> Path:
    return data / "cache" / store.PARSED_CACHE


def _refuse_to_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("parsed although the cache is current")

    monkeypatch.setattr(store, "_parse_lists", refuse)


def test_load_active_reads_back_what_it_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path, "# category: pool\nonly-updated.example.net maltrail\n")
    first = load_active(data)
    assert _cache_file(data).read_bytes().startswith(b"poolsniff parsed lists")
    _refuse_to_parse(monkeypatch)
    again = load_active(data)
    assert again.lists.state() == first.lists.state()
    assert again.files == first.files
    found = again.lists.match_name("x.only-updated.example.net")
    assert found is not None and found.origin == f"{data}/lists/pool.txt:2"


def _edit_in_place_same_size_and_mtime(data: Path, extra: Path) -> None:
    pool = data / "lists" / "pool.txt"
    before = pool.stat()
    with pool.open("r+b") as f:
        f.write(b"b")  # a.example.net -> b.example.net, same inode and size
    os.utime(pool, ns=(before.st_atime_ns, before.st_mtime_ns))


def _new_data_dir_list(data: Path, extra: Path) -> None:
    write_atomic(data / "lists" / "pool.txt", b"c.example.net\n", parents=True)


def _edit_extra(data: Path, extra: Path) -> None:
    extra.write_text("# category: proxy\nd.example.net\n")


def _suffix_list_makes_an_entry_a_public_suffix(data: Path, extra: Path) -> None:
    write_atomic(psl_path(data), _psl_text("a.example.net"), parents=True)


@pytest.mark.parametrize(
    ("change", "listed", "unlisted", "error"),
    [
        (_edit_in_place_same_size_and_mtime, "x.b.example.net", "x.a.example.net", None),
        (_new_data_dir_list, "x.c.example.net", "x.a.example.net", None),
        (_edit_extra, "d.example.net", "e.example.net", None),
        (_suffix_list_makes_an_entry_a_public_suffix, None, None, "a.example.net is a public suffix"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_a_changed_file_is_parsed_again(
    tmp_path: Path,
    change: Any,
    listed: str | None,
    unlisted: str | None,
    error: str | None,
) -> None:
    data = _data_dir(tmp_path, "a.example.net\n")
    extra = tmp_path / "mine.txt"
    extra.write_text("# category: proxy\ne.example.net\n")
    assert load_active(data, [extra]).lists.match_name("x.a.example.net") is not None
    change(data, extra)
    if error is not None:
        with pytest.raises(BlocklistError, match=error):
            load_active(data, [extra])
        return
    lists = load_active(data, [extra]).lists
    assert listed is not None and lists.match_name(listed) is not None
    assert unlisted is not None and lists.match_name(unlisted) is None


def _cache_content(raw: bytes) -> Any:
    """What a cache file holds, checked against its digest. Not its bytes: marshal writes a value
    shared by several references once and refers back to it, and which values are shared depends on
    what the process holds at that moment (the tests run before it, in a random order)."""
    magic = b"poolsniff parsed lists 2\n"
    assert raw.startswith(magic)
    digest, payload = raw[len(magic) : len(magic) + 32], raw[len(magic) + 32 :]
    assert hashlib.sha256(payload).digest() == digest
    return marshal.loads(payload)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b"",
        lambda b: b[:-1],
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),
        lambda b: b"poolsniff parsed lists 0\n" + b[25:],
        lambda b: b"\x00" * len(b),
    ],
    ids=["empty", "truncated", "flipped-bit", "old-format", "zeros"],
)
def test_a_damaged_cache_is_ignored_and_rewritten(
    tmp_path: Path, damage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data_dir(tmp_path, "a.example.net\n")
    expected = load_active(data).lists.state()
    good = _cache_file(data).read_bytes()
    _cache_file(data).write_bytes(damage(good))
    assert load_active(data).lists.state() == expected
    assert _cache_content(_cache_file(data).read_bytes()) == _cache_content(good)
    _refuse_to_parse(monkeypatch)
    assert load_active(data).lists.state() == expected


def test_the_cache_knows_which_path_each_entry_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--blocklist mine.txt`` and ``--blocklist ../here/mine.txt`` name the same file differently."""
    data = _data_dir(tmp_path, "a.example.net\n")
    (tmp_path / "mine.txt").write_text("d.example.net\n")
    monkeypatch.chdir(tmp_path)
    names = ["mine.txt", f"../{tmp_path.name}/mine.txt", "mine.txt"]
    origins = []
    for name in names:
        found = load_active(data, [name]).lists.match_name("d.example.net")
        assert found is not None
        origins.append(found.origin)
    assert origins == [f"{name}:1" for name in names]


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    data = _data_dir(tmp_path, "a.example.net\n")
    (data / "cache").write_text("not a folder")  # mkdir and the write both fail
    for _ in range(2):
        assert load_active(data).lists.match_name("x.a.example.net") is not None
    assert (data / "cache").read_text() == "not a folder"


def test_lists_updated_is_the_oldest_list(tmp_path: Path) -> None:
    shipped = LoadedList("pool", "pool", "shipped", None)
    package = (shipped_dir() / "pool.txt").stat().st_mtime  # type: ignore[attr-defined]
    assert lists_updated([shipped]) == package
    assert lists_updated([shipped, LoadedList("pool", "pool", "x", package - 100)]) == package - 100
    assert lists_updated([LoadedList("gone", "pool", "shipped", None)]) is None
    assert lists_updated([]) is None
