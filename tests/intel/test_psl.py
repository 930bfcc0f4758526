"""Tests for poolsniff.intel.psl: name normalisation and offline Public Suffix List look-ups."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.intel import psl
from poolsniff.intel.psl import SuffixList, bundled, normalise


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pool.supportxmr.com", "pool.supportxmr.com"),
        ("Pool.SupportXMR.COM", "pool.supportxmr.com"),
        ("pool.supportxmr.com.", "pool.supportxmr.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de.", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("faß.de", "fass.de"),  # IDNA 2003 (stdlib codec) maps ß to ss
        ("_sleep-proxy._udp.local", "_sleep-proxy._udp.local"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("x" * 63 + ".com", "x" * 63 + ".com"),
        (".".join(["a" * 63] * 3 + ["b" * 61]), ".".join(["a" * 63] * 3 + ["b" * 61])),  # 253
        ("2miners.com", "2miners.com"),
        ("1.debian.pool.ntp.org", "1.debian.pool.ntp.org"),
    ],
)
def test_normalise_valid(name: str, expected: str) -> None:
    assert normalise(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "localhost",  # one label
        "com.",
        "a..b.com",  # empty label
        ".a.com",
        "a.com..",  # only one trailing dot is stripped
        "-a.com",
        "a-.com",
        "a.-b.com",
        "x" * 64 + ".com",  # label over 63
        ".".join(["a" * 63] * 3 + ["b" * 62]),  # 254 characters
        "a b.com",
        "a\tb.com",
        "pool.example.com:3333",
        "http://pool.example.com",
        "*.example.com",
        "1.2.3.4",  # an IPv4 literal is not a name
        "10.0.0.13",
        "a\u00a0b.de",  # no-break space survives IDNA as a space
        "\u200b.com",  # zero-width space maps to an empty label
    ],
)
def test_normalise_invalid(name: str) -> None:
    assert normalise(name) is None


@given(st.text(max_size=80))
def test_normalise_never_raises_and_is_idempotent(text: str) -> None:
    result = normalise(text)
    if result is not None:
        assert result.isascii()
        assert result == result.lower()
        assert normalise(result) == result


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("xmr.pool.gntl.co.uk", "gntl.co.uk"),
        ("pool.eth.pp.ua", "eth.pp.ua"),  # pp.ua is a PSL private suffix
        ("eth.pp.ua", "eth.pp.ua"),
        ("xmr-eu1.nanopool.org", "nanopool.org"),
        ("d1pool.ddns.net", "d1pool.ddns.net"),  # ddns.net is a private suffix
        ("x.y.herokuapp.com", "y.herokuapp.com"),
        ("co.uk", ""),
        ("pp.ua", ""),
        ("com", ""),
        ("1.2.3.4", ""),
    ],
)
def test_registrable(name: str, expected: str) -> None:
    assert bundled().registrable(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("com", True),
        ("co.uk", True),
        ("duckdns.org", True),
        ("herokuapp.com", True),
        ("pp.ua", True),
        ("github.io", True),
        ("s3.amazonaws.com", True),
        ("eth.pp.ua", False),
        ("supportxmr.com", False),
        ("amazonaws.com", False),
        ("example.duckdns.org", False),
        ("pool.ntp.org", False),
    ],
)
def test_is_public_suffix(name: str, expected: bool) -> None:
    assert bundled().is_public_suffix(name) is expected


def test_psl_lookups_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh extractor loads the bundled snapshot with every socket connection failing."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    fresh = SuffixList()
    assert fresh.registrable("a.b.example.co.uk") == "example.co.uk"
    assert fresh.is_public_suffix("duckdns.org")


def test_extractor_is_built_once() -> None:
    suffixes = SuffixList()
    assert suffixes._extractor() is suffixes._extractor()
    assert bundled() is bundled()


def test_suffix_rules() -> None:
    text = "// ===BEGIN ICANN DOMAINS===\n\ncom\n*.ck\n!www.ck\n  Example.Tld\tx\n// comment\n"
    assert psl.suffix_rules(text) == ["com", "*.ck", "!www.ck", "example.tld"]


def test_a_local_copy_adds_its_rules(tmp_path: Path) -> None:
    copy = tmp_path / "public_suffix_list.dat"
    copy.write_text("// local copy\nnew-suffix.example\n*.wild.example\n")
    assert bundled().in_use == psl.BUNDLED_SNAPSHOT
    assert not bundled().is_public_suffix("new-suffix.example")
    local = SuffixList(copy)
    assert local.in_use == str(copy.resolve())
    assert local.is_public_suffix("new-suffix.example")
    assert local.is_public_suffix("x.wild.example")
    assert local.registrable("a.b.new-suffix.example") == "b.new-suffix.example"
    assert local.is_public_suffix("duckdns.org")  # the snapshot's rules stay
    assert not bundled().is_public_suffix("new-suffix.example"), "one list's rules never leak into another"
    copy.unlink()  # a copy that went missing: the snapshot alone
    assert not SuffixList(copy).is_public_suffix("new-suffix.example")


def test_importing_psl_does_not_import_tldextract() -> None:
    """tldextract (and the requests it imports) costs ~0.1 s: only a PSL look-up loads it."""
    code = "import sys, poolsniff.intel.psl as d; d.bundled().identity(); print('tldextract' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_identity_follows_the_local_copy_and_names_no_private_file(tmp_path: Path) -> None:
    copy = tmp_path / "public_suffix_list.dat"
    copy.write_text("new-suffix.example\n")
    snapshot = bundled().identity()
    assert SuffixList().identity() == snapshot
    assert "tldextract-" in str(snapshot[0]) and ".tld_set_snapshot" not in repr(snapshot)
    local = SuffixList(copy).identity()
    assert local != snapshot
    copy.write_text("new-suffix.example\nanother.example\n")
    assert SuffixList(copy).identity() != local
    copy.unlink()
    assert SuffixList(copy).identity() not in (snapshot, local)


# the table of registrable domains kept in the parsed-lists cache: it must answer as tldextract does
TABLE_NAMES = [
    "nanopool.org", "pool.supportxmr.com", "2miners.com", "xmrig.com", "gntl.co.uk", "pool.gntl.co.uk",
    "amazonaws.com", "s3.amazonaws.com", "herokuapp.com", "example.herokuapp.com", "kawasaki.jp",
    "city.kawasaki.jp", "www.ck", "foo.ck", "blogspot.com", "eth.pp.ua", "pp.ua", "co.uk", "github.io",
    "user.github.io", "xn--e1afmkfd.xn--p1ai", "minergate.com",
]
LABELS = ["a", "s3", "www", "city", "blog", "co", "uk", "jp", "ck"]
UNDER = ["", "a.", "x.y.", "s3.", "www.", "bucket.s3.", "city.", "blog."]


def test_registrable_table_answers_as_tldextract() -> None:
    suffixes, reference = SuffixList(), SuffixList()
    table = suffixes.registrable_table(TABLE_NAMES)
    assert "amazonaws.com" not in table and "kawasaki.jp" not in table and "co.uk" not in table
    assert table["pool.supportxmr.com"] == "supportxmr.com" and table["gntl.co.uk"] == "gntl.co.uk"
    names = [prefix + name for name in TABLE_NAMES for prefix in UNDER]
    suffixes.remember_registrable(table)
    assert {n: suffixes.registrable(n) for n in names} == {n: reference.registrable(n) for n in names}


@settings(max_examples=300)
@given(labels=st.lists(st.sampled_from(LABELS), max_size=3))
def test_registrable_table_agrees_under_any_prefix(labels: list[str]) -> None:
    suffixes = SuffixList()
    table = suffixes.registrable_table(TABLE_NAMES)
    names = [".".join([*labels, name]) for name in TABLE_NAMES]
    expected = [bundled().registrable(name) for name in names]
    suffixes.remember_registrable(table)
    assert [suffixes.registrable(name) for name in names] == expected


def test_a_table_stays_with_its_suffix_list() -> None:
    one, other = SuffixList(), SuffixList()
    one.remember_registrable({"nanopool.org": "wrong.example"})
    assert one.registrable("x.nanopool.org") == "wrong.example"
    assert other.registrable("x.nanopool.org") == "nanopool.org"


@pytest.mark.parametrize(("text", "ip"), [("192.0.2.1", True), ("2001:db8::1", True), ("pool.example", False),
                                          ("1.2.3", False), ("", False), ("[::1]", False)])  # fmt: skip
def test_is_ip(text: str, ip: bool) -> None:
    assert psl.is_ip(text) is ip
