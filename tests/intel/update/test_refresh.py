"""Tests for poolsniff.intel.update.refresh against loopback servers (never the network)."""

from __future__ import annotations

import os
import pkgutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.errors import OutputError
from poolsniff.intel import psl as psl_module
from poolsniff.intel.lists import Blocklist
from poolsniff.intel.store import cache_paths, lists_dir, load_active, psl_path, read_meta
from poolsniff.intel.update.refresh import Options, SourceResult, update
from poolsniff.intel.update.upstream import SourcesDoc, SourceSpec

from ...listserver import ListServer, Route, running, without_proxies


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)


@pytest.fixture
def server() -> Iterator[ListServer]:
    with running() as srv:
        yield srv

MALTRAIL = """\
# Copyright (c) maltrail developers
# Reference: https://example.org/pools
fresh-pool-one.example-mining.net
fresh-pool-two.example-mining.net
2miners.com
ws-proxy.fresh-pool-three.net
pool.binance.com
duckdns.org
coin-seed-x.fresh-pool-one.example-mining.net
94.23.251.99:3333
94.23.251.98:8080
"""
"""A maltrail copy: two new pools, a known pool, a proxy, an allowlisted host, a public suffix,
a name under a listed parent, a Stratum endpoint and a non-Stratum one."""

HTML = b"<!DOCTYPE html>\n<html><head><title>Error</title></head><body>rate limited</body></html>\n"
OPTIONS = Options(allow_http=True, timeout=5)


def doc(server: ListServer, *paths: str, psl: str | None = None, fmt: str = "maltrail") -> SourcesDoc:
    """A sources document: one maltrail-format source ``maltrail`` per path."""
    specs = tuple(
        SourceSpec("maltrail", server.url(p), fmt, "pool", f"s.yaml:{i}") for i, p in enumerate(paths)
    )
    return SourcesDoc(specs, server.url(psl) if psl else None, "s.yaml")


def loaded(data: Path) -> Blocklist:
    return load_active(data).lists


def statuses(results: list[SourceResult]) -> list[str]:
    return [r.status for r in results]


def test_first_update_recurates_with_the_fresh_copy(server: ListServer, tmp_path: Path) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode(), etag='"1"')
    report = update(doc(server, "/m.txt"), tmp_path, OPTIONS)
    assert statuses(report.sources) == ["updated"]
    assert report.sources[0].entries == 9
    assert report.sources[0].reason == "new copy (first copy)"
    assert report.psl is None
    lists = loaded(tmp_path)
    fresh = lists.match_name("stratum.fresh-pool-one.example-mining.net")
    assert fresh is not None
    assert fresh.entry == "fresh-pool-one.example-mining.net"
    assert (fresh.category, fresh.sources) == ("pool", ("maltrail",))
    assert fresh.origin.startswith(str(lists_dir(tmp_path) / "pool.txt"))
    proxy = lists.match_name("ws-proxy.fresh-pool-three.net")
    assert proxy is not None and proxy.category == "proxy"
    assert lists.match_name("pool.binance.com") is None  # the allowlist wins, and it was dropped
    assert lists.match_endpoint("94.23.251.99", 3333) is not None
    assert lists.match_endpoint("94.23.251.98", 8080) is None  # not a Stratum port, one source
    # the refreshed id is replaced: maltrail-only entries it no longer lists are gone...
    assert lists.match_name("2miners.ru") is None
    assert lists.match_endpoint("3.18.108.36", 15555) is None
    # ... entries with other sources stay, and the other lists are untouched
    two = lists.match_name("xmr.2miners.com")
    assert two is not None and two.sources == ("curated", "maltrail", "nocoin")
    assert lists.match_name("supportxmr.com") is not None
    assert lists.match_name("coinhive.com") is not None
    pool_text = (lists_dir(tmp_path) / "pool.txt").read_text()
    assert "coin-seed-x" not in pool_text  # covered by its listed parent
    assert "duckdns.org" not in pool_text
    assert "Written by `poolsniff blocklist update`" in pool_text
    change = {c.category: c for c in report.lists}
    assert change["pool"].added >= 3 and change["pool"].removed > 0


def test_unchanged_list_by_etag_and_by_content(server: ListServer, tmp_path: Path) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode(), etag='"1"')
    source = doc(server, "/m.txt")
    update(source, tmp_path, OPTIONS)
    before = (lists_dir(tmp_path) / "pool.txt").stat().st_mtime_ns
    report = update(source, tmp_path, OPTIONS)
    assert [(r.status, r.reason) for r in report.sources] == [("unchanged", "not modified (HTTP 304)")]
    assert server.requests[-1][1]["If-None-Match"] == '"1"'
    assert (lists_dir(tmp_path) / "pool.txt").stat().st_mtime_ns == before  # nothing rewritten
    server.routes["/m.txt"] = Route(MALTRAIL.encode())  # same bytes, no validators
    report = update(source, tmp_path, OPTIONS)
    assert [(r.status, r.reason) for r in report.sources] == [("unchanged", "same content")]
    assert loaded(tmp_path).match_name("fresh-pool-two.example-mining.net") is not None


def test_changed_list(server: ListServer, tmp_path: Path) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode(), last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    source = doc(server, "/m.txt")
    update(source, tmp_path, OPTIONS)
    changed = MALTRAIL.replace("fresh-pool-two.example-mining.net", "fresh-pool-four.example-mining.net")
    server.routes["/m.txt"] = Route(changed.encode(), last_modified="Thu, 22 Oct 2015 07:28:00 GMT")
    report = update(source, tmp_path, OPTIONS)
    assert server.requests[-1][1]["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert [(r.status, r.reason) for r in report.sources] == [("updated", "new copy (was 9)")]
    lists = loaded(tmp_path)
    assert lists.match_name("fresh-pool-four.example-mining.net") is not None
    assert lists.match_name("fresh-pool-two.example-mining.net") is None
    body, meta = cache_paths(tmp_path, "maltrail", server.url("/m.txt"))
    assert body.read_text() == changed
    assert read_meta(meta)["last_modified"] == "Thu, 22 Oct 2015 07:28:00 GMT"


FAILURES = [
    (Route(b"internal error", status=500), {}, "HTTP 500 Internal Server Error"),
    (Route(HTML, content_type="text/html"), {}, "an HTML page, not a list (Content-Type text/html)"),
    (Route(HTML), {}, "an HTML page, not a list (it starts with an HTML tag)"),
    (Route(b""), {}, "empty body"),
    (Route(b" \n\n"), {}, "empty body"),
    (Route(b"# only comments\n"), {}, "no entries found in maltrail format"),
    (Route(b"\xff\xfe\x00"), {}, "not UTF-8 text (byte 0)"),
    (Route(b"fresh-pool-one.example-mining.net\n94.23.251.99:3333\n"), {},
     "shrank from 9 to 2 entries (more than half): not trusted"),
    (Route((MALTRAIL * 40).encode()), {"max_bytes": 4096}, "too large: Content-Length"),
    (Route((MALTRAIL * 40).encode(), length=False), {"max_bytes": 4096},
     "too large: more than the 4096-byte cap"),
    (Route(MALTRAIL.encode(), delay=2), {"timeout": 0.5}, "timed out after 0.5 s"),
    (None, {}, "cannot connect: Connection refused"),
]  # fmt: skip


@pytest.mark.parametrize(("route", "limits", "reason"), FAILURES)
def test_failure_keeps_the_cached_copy(
    server: ListServer, tmp_path: Path, route: Route | None, limits: dict[str, float], reason: str
) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode(), etag='"1"')
    source = doc(server, "/m.txt")
    update(source, tmp_path, OPTIONS)
    body, _meta = cache_paths(tmp_path, "maltrail", server.url("/m.txt"))
    if route is None:
        server.stop()  # the server is gone
    else:
        server.routes["/m.txt"] = route
    options = Options(allow_http=True, timeout=float(limits.get("timeout", 5)),
                      max_bytes=int(limits.get("max_bytes", 1 << 20)))  # fmt: skip
    report = update(source, tmp_path, options)
    [result] = report.sources
    assert result.status == "failed"
    assert result.reason.startswith(reason), result.reason
    assert result.reason.endswith("; cached copy kept (9 entries)")
    assert result.entries == 9
    assert report.failed() == [result]
    assert body.read_text() == MALTRAIL
    assert loaded(tmp_path).match_name("fresh-pool-one.example-mining.net") is not None


def test_failure_without_a_cached_copy_keeps_the_shipped_entries(server: ListServer, tmp_path: Path) -> None:
    server.routes["/good.txt"] = Route(MALTRAIL.encode())
    server.routes["/bad.txt"] = Route(b"", status=503)
    report = update(doc(server, "/good.txt", "/bad.txt"), tmp_path, OPTIONS)
    assert statuses(report.sources) == ["updated", "failed"]
    assert report.sources[1].reason == "HTTP 503 Service Unavailable; no cached copy"
    assert report.sources[1].entries is None
    lists = loaded(tmp_path)
    # one file of the source is missing: its shipped entries stay, the good copy adds its own
    assert lists.match_name("2miners.ru") is not None
    assert lists.match_name("fresh-pool-one.example-mining.net") is not None


def test_plain_http_refused_without_allow_http(server: ListServer, tmp_path: Path) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode())
    report = update(doc(server, "/m.txt"), tmp_path, Options())
    assert [r.reason for r in report.sources] == [
        "plain http refused: use an https:// URL, or pass --allow-http; no cached copy"
    ]
    assert server.requests == []
    assert report.lists == []  # nothing usable: nothing written, the shipped lists stay in use
    assert not lists_dir(tmp_path).exists()
    assert loaded(tmp_path).match_name("2miners.ru") is not None


def test_offline_uses_the_cache_without_the_network(
    server: ListServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode())
    server.routes["/new.txt"] = Route(b"other-pool.example-mining.net\n")
    update(doc(server, "/m.txt"), tmp_path, OPTIONS)
    (lists_dir(tmp_path) / "pool.txt").unlink()

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    report = update(doc(server, "/m.txt", "/new.txt"), tmp_path, Options(offline=True))
    assert [(r.status, r.reason) for r in report.sources] == [
        ("offline", "using the cached copy"),
        ("failed", "offline, and never downloaded; no cached copy"),
    ]
    lists = loaded(tmp_path)
    assert lists.match_name("fresh-pool-one.example-mining.net") is not None  # rebuilt from the cache
    assert lists.match_name("2miners.ru") is not None  # a file of maltrail is missing: shipped kept


def test_atomic_writes_keep_the_previous_files(
    server: ListServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode())
    source = doc(server, "/m.txt")
    update(source, tmp_path, OPTIONS)
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    server.routes["/m.txt"] = Route(MALTRAIL.replace("two", "five").encode())

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="cannot write the data directory: No space left on device"):
        update(source, tmp_path, OPTIONS)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files  # no part, no temp


def test_report_line() -> None:
    line = SourceResult("maltrail", "https://e.org/m.txt", "updated", "new copy (first copy)", 9).line()
    assert line.split() == ["maltrail", "updated", "9", "entries", "new", "copy", "(first", "copy)", "<https://e.org/m.txt>"]
    failed = SourceResult("nocoin", "https://e.org/h", "failed", "HTTP 500; no cached copy").line()
    assert "no copy" in failed and failed.startswith("nocoin ")


# --------------------------------------------------------------------------- public suffix list


def psl(extra: str = "") -> bytes:
    """tldextract's snapshot (it has the ICANN/PRIVATE markers) plus ``extra`` private rules."""
    snapshot = pkgutil.get_data("tldextract", ".tld_set_snapshot")
    assert snapshot is not None
    return snapshot + extra.encode()


def test_psl_refresh_is_used_afterwards(server: ListServer, tmp_path: Path) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL.encode())
    server.routes["/psl.dat"] = Route(psl("\nexample-mining.net\n"), etag='"p1"')
    report = update(doc(server, "/m.txt", psl="/psl.dat"), tmp_path, OPTIONS)
    assert report.psl is not None
    assert (report.psl.status, report.psl.reason) == ("updated", "new copy")
    assert psl_path(tmp_path).read_bytes() == psl("\nexample-mining.net\n")
    active = load_active(tmp_path)
    assert active.suffix_list == str(psl_path(tmp_path).resolve())
    assert active.lists.suffixes.is_public_suffix("example-mining.net")
    # with the new list the fresh entries are tenants of a suffix: still listed, by their own name
    assert loaded(tmp_path).match_name("x.fresh-pool-one.example-mining.net") is not None
    assert not psl_module.bundled().is_public_suffix("example-mining.net")
    report = update(doc(server, "/m.txt", psl="/psl.dat"), tmp_path, OPTIONS)
    assert report.psl is not None and report.psl.status == "unchanged"
    report = update(doc(server, "/m.txt", psl="/psl.dat"), tmp_path, Options(offline=True))
    assert report.psl is not None and report.psl.status == "offline"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"com\nnet\n" * 4000, "not a Public Suffix List (its ICANN/PRIVATE section markers are missing)"),
        (b"// ===BEGIN ICANN DOMAINS===\ncom\n// ===BEGIN PRIVATE DOMAINS===\nx.com\n", "only 2 rules"),
        (psl("\nsupportxmr.com\n"), "rejected: with it a shipped entry is a public suffix (blocklists/"),
        (HTML, "an HTML page, not a list"),
    ],
)
def test_bad_psl_is_rejected(server: ListServer, tmp_path: Path, body: bytes, reason: str) -> None:
    server.routes["/psl.dat"] = Route(body)
    report = update(doc(server, psl="/psl.dat"), tmp_path, OPTIONS)
    assert report.psl is not None
    assert report.psl.status == "failed"
    assert report.psl.reason.startswith(reason), report.psl.reason
    assert report.psl.reason.endswith("; bundled snapshot in use")
    assert not psl_path(tmp_path).exists()
    assert list(tmp_path.iterdir()) == []  # no candidate file left behind, no lists without sources
    assert load_active(tmp_path).suffix_list == psl_module.BUNDLED_SNAPSHOT


def test_new_psl_recurates_lists_written_before(server: ListServer, tmp_path: Path) -> None:
    lists = lists_dir(tmp_path)
    lists.mkdir(parents=True)
    (lists / "pool.txt").write_text("pools-host.example-mining.net maltrail\nexample-mining.net maltrail\n")
    server.routes["/psl.dat"] = Route(psl("\nexample-mining.net\n"))
    report = update(doc(server, psl="/psl.dat"), tmp_path, OPTIONS)
    assert report.psl is not None and report.psl.status == "updated"
    assert report.lists  # rewritten, although no source was given
    assert "example-mining.net" not in (lists / "pool.txt").read_text()  # now a public suffix
    assert loaded(tmp_path).match_name("supportxmr.com") is not None  # loads, from the shipped base
