"""Tests for poolsniff.blocklist_store: the data directory, atomic writes, the lists in use."""

from __future__ import annotations

import json
import os
import pkgutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff import blocklist_store, domains
from poolsniff.blocklist_store import (
    cache_paths,
    cached_copies,
    counts_by_source,
    load_active,
    psl_path,
    resolve_data_dir,
    write_atomic,
    write_meta,
)
from poolsniff.errors import BlocklistError


@pytest.fixture(autouse=True)
def snapshot_psl() -> Iterator[None]:
    """Every test starts and ends with tldextract's bundled snapshot."""
    domains.use_suffix_list(None)
    yield
    domains.use_suffix_list(None)


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


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "pool.txt"
    write_atomic(target, b"one\n")
    assert target.read_bytes() == b"one\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    target.chmod(0o640)
    write_atomic(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["pool.txt"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pool.txt"
    target.write_bytes(b"old\n")

    def crash(src: str, dst: str) -> None:
        assert Path(src).read_bytes() == b"new\n"  # the whole new content is on disk first
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.txt"]  # no temporary file left


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
    assert active.suffix_list == domains.BUNDLED_SNAPSHOT


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
    assert not domains.is_public_suffix("pools.example")
    data = tmp_path / "data"
    write_atomic(psl_path(data), _psl_text("pools.example"))
    active = load_active(data)
    assert active.suffix_list == str(psl_path(data).resolve())
    assert domains.is_public_suffix("pools.example")
    assert domains.registrable("a.b.pools.example") == "b.pools.example"
    load_active(tmp_path / "elsewhere")
    assert not domains.is_public_suffix("pools.example")


def test_cached_copies(tmp_path: Path) -> None:
    body, meta = cache_paths(tmp_path, "maltrail", "https://e.org/m.txt")
    write_atomic(body, b"pool.example.com\n")
    write_meta(meta, {"name": "maltrail", "url": "https://e.org/m.txt", "entries": 1})
    orphan = tmp_path / "cache" / "lost-0.meta.json"
    orphan.write_text(json.dumps({"name": "lost"}))  # no body: not a copy
    (tmp_path / "cache" / "junk-0.meta.json").write_text("{not json")
    copies = cached_copies(tmp_path)
    assert [(c.name, c.url, c.entries) for c in copies] == [("maltrail", "https://e.org/m.txt", 1)]
    assert blocklist_store.read_meta(orphan) == {"name": "lost"}
    assert blocklist_store.read_meta(tmp_path / "cache" / "junk-0.meta.json") == {}


def test_load_active_when_the_data_dir_cannot_be_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sensor that dropped to another user may not see the invoking user's home: shipped lists."""
    data = _data_dir(tmp_path, "only-updated.example.net maltrail\n")
    write_atomic(psl_path(data), _psl_text("pools.example"))
    is_file = Path.is_file

    def denied(self: Path) -> bool:
        if str(self).startswith(str(data)):
            raise PermissionError(13, "Permission denied", str(self))
        return is_file(self)

    monkeypatch.setattr(Path, "is_file", denied)
    active = load_active(data)
    assert [f.location for f in active.files] == ["shipped"] * 5
    assert active.suffix_list == domains.BUNDLED_SNAPSHOT
    assert active.lists.match_name("only-updated.example.net") is None
