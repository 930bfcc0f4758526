"""Tests for poolsniff.intel.lists: list parsing, matching, the allowlist and the shipped lists."""

from __future__ import annotations

import importlib.util
import ipaddress
import marshal
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.errors import BlocklistError, ConfigError
from poolsniff.intel import lists as lists_module
from poolsniff.intel import psl
from poolsniff.intel.lists import (
    ALLOW,
    SHIPPED_FILES,
    Blocklist,
    ListEntry,
    header_category,
    load_files,
    load_shipped,
    shipped_dir,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"

POOL_LINES = """\
# category: pool
supportxmr.com          maltrail,curated   # XMR pool
eth.pp.ua               protocols-md
bücher.de               curated            # an IDN entry, stored as punycode
*.wild.example          curated
example.org             curated
94.23.251.22:3333       maltrail
[2001:db8::1]:3333      curated
1.2.3.4:3333            curated
pool.example.com
""".splitlines()
DONATION_LINES = ["donate.example.org xmrig-src", "donate.v2.xmrig.com xmrig-src"]
ALLOW_LINES = ["ok.supportxmr.com curated", "example.com", "pool.ntp.org", "1.2.3.4:3333"]


def small_list() -> Blocklist:
    """A list built from the lines above."""
    lists = Blocklist()
    lists.add_lines(POOL_LINES, "pool.txt", "pool")
    lists.add_lines(DONATION_LINES, "donation.txt", "donation")
    lists.add_allow_lines(ALLOW_LINES, "allowlist.txt")
    return lists


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("supportxmr.com", "supportxmr.com"),
        ("x.supportxmr.com", "supportxmr.com"),
        ("pool-nyc.supportxmr.com", "supportxmr.com"),
        ("SUPPORTXMR.COM.", "supportxmr.com"),
        ("Pool.SupportXMR.com", "supportxmr.com"),
        ("notsupportxmr.com", None),
        ("supportxmr.com.evil.net", None),
        ("supportxmr.co", None),
        ("supportxmr", None),
        ("com", None),
        ("", None),
        (".", None),
        ("ok.supportxmr.com", None),  # allowlisted host under a listed pool
        ("a.ok.supportxmr.com", None),
        ("pool.eth.pp.ua", "eth.pp.ua"),
        ("other.pp.ua", None),  # pp.ua is a public suffix: only the tenant is listed
        ("pool.bücher.de", "xn--bcher-kva.de"),
        ("POOL.BÜCHER.DE.", "xn--bcher-kva.de"),
        ("pool.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("wild.example", "wild.example"),
        ("a.wild.example", "wild.example"),
        ("x.donate.example.org", "donate.example.org"),  # the most specific entry wins
        ("x.example.org", "example.org"),
        ("pool.example.com", None),  # allowlist wins over a more specific block entry
        ("1.debian.pool.ntp.org", None),
        ("donate.v2.xmrig.com", "donate.v2.xmrig.com"),
        ("xmrig.com", None),
        ("94.23.251.22", None),
        ("bad name with spaces.com", None),
        ("\u200b.supportxmr.com", None),
    ],
)
def test_match_name(name: str, entry: str | None) -> None:
    match = small_list().match_name(name)
    assert (match.entry if match else None) == entry


def test_match_carries_list_category_sources_and_origin() -> None:
    match = small_list().match_name("x.donate.example.org")
    assert match == ListEntry("donate.example.org", "donation", "donation", ("xmrig-src",), "donation.txt:1")
    pool = small_list().match_name("pool.supportxmr.com")
    assert pool is not None
    assert (pool.list_name, pool.category, pool.sources) == ("pool", "pool", ("maltrail", "curated"))
    assert pool.origin == "pool.txt:2"


@pytest.mark.parametrize(
    ("ip", "port", "entry"),
    [
        ("94.23.251.22", 3333, "94.23.251.22:3333"),
        ("94.23.251.22", 3334, None),
        ("94.23.251.23", 3333, None),
        ("2001:db8::1", 3333, "[2001:db8::1]:3333"),
        ("2001:0DB8:0:0::1", 3333, "[2001:db8::1]:3333"),
        ("::ffff:94.23.251.22", 3333, "94.23.251.22:3333"),
        ("2001:db8::2", 3333, None),
        ("1.2.3.4", 3333, None),  # allowlisted endpoint
        ("not-an-ip", 3333, None),
        ("zz::zz", 3333, None),
    ],
)
def test_match_endpoint(ip: str, port: int, entry: str | None) -> None:
    match = small_list().match_endpoint(ip, port)
    assert (match.entry if match else None) == entry


@given(st.text(max_size=60))
def test_match_name_never_raises(name: str) -> None:
    match = small_list().match_name(name)
    assert match is None or isinstance(match, ListEntry)


BAD_LINES = [
    ("co.uk", "co.uk is a public suffix; list a registrable domain or a host under it"),
    ("duckdns.org", "duckdns.org is a public suffix; list a registrable domain or a host under it"),
    (
        "herokuapp.com curated",
        "herokuapp.com is a public suffix; list a registrable domain or a host under it",
    ),
    ("*.CO.UK.", "co.uk is a public suffix; list a registrable domain or a host under it"),
    ("pp.ua", "pp.ua is a public suffix; list a registrable domain or a host under it"),
    ("com", "'com' is not a valid domain name"),
    ("a..b.com", "'a..b.com' is not a valid domain name"),
    ("-bad.com", "'-bad.com' is not a valid domain name"),
    ("bad_ch@r.com", "'bad_ch@r.com' is not a valid domain name"),
    ("http://pool.example.com", "a domain entry takes no port: write http alone"),
    ("pool.example.com:3333", "a domain entry takes no port: write pool.example.com alone"),
    ("1.2.3.4", "an IP address needs a port: write 1.2.3.4:<port>"),
    ("0.0.0.0 pool.example.com", "an IP address needs a port: write 0.0.0.0:<port>"),
    ("1.2.3.4:0", "port 0 out of range 1-65535"),
    ("1.2.3.4:65536", "port 65536 out of range 1-65535"),
    ("1.2.3.4:abc", "bad port 'abc'"),
    ("1.2.3.4:", "bad port ''"),
    ("1.2.3.999:3333", "'1.2.3.999' is not a valid IPv4 address"),
    ("2001:db8::1:3333", "write an IPv6 endpoint as [address]:port, not '2001:db8::1:3333'"),
    ("[2001:db8::1]", "write an IPv6 endpoint as [address]:port, not '[2001:db8::1]'"),
    ("[2001:db8::zz]:3333", "'2001:db8::zz' is not a valid IPv6 address"),
    ("[2001:db8::1]:99999", "port 99999 out of range 1-65535"),
    ("pool.example.com maltrail extra", "expected '<entry> [<source>,...]', found 3 fields"),
    (
        "pool.example.com Maltrail",
        "bad source id 'Maltrail' (use a-z, 0-9, '-', '_'; commas, no spaces)",
    ),
    (
        "pool.example.com a,,b",
        "bad source id '' (use a-z, 0-9, '-', '_'; commas, no spaces)",
    ),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_bad_line_names_file_and_line(line: str, reason: str) -> None:
    lists = Blocklist()
    lines = ["# header", "", "good.example.com curated", line, "never.example.com"]
    with pytest.raises(BlocklistError) as caught:
        lists.add_lines(lines, "lists/mine.txt", "pool")
    assert str(caught.value) == f"lists/mine.txt:4: {reason}"
    assert (caught.value.source, caught.value.line, caught.value.reason) == ("lists/mine.txt", 4, reason)
    assert lists.match_name("good.example.com") is not None  # lines before the error stay added
    assert lists.match_name("never.example.com") is None


@pytest.mark.parametrize(
    ("line", "entry", "sources"),
    [
        ("supportxmr.com", "supportxmr.com", ()),
        ("  supportxmr.com\tmaltrail  ", "supportxmr.com", ("maltrail",)),
        ("supportxmr.com maltrail,et-open # trailing comment", "supportxmr.com", ("maltrail", "et-open")),
        ("SupportXMR.com.", "supportxmr.com", ()),
        (".supportxmr.com", "supportxmr.com", ()),
        ("*.supportxmr.com", "supportxmr.com", ()),
        ("94.23.251.22:3333 btc_pools", "94.23.251.22:3333", ("btc_pools",)),
        ("[2001:DB8:0::1]:3333", "[2001:db8::1]:3333", ()),
        ("[::ffff:94.23.251.22]:3333", "94.23.251.22:3333", ()),
    ],
)
def test_good_line_forms(line: str, entry: str, sources: tuple[str, ...]) -> None:
    lists = Blocklist()
    lists.add_lines(["# comment only", "   ", line], "mine.txt", "pool")
    (item,) = lists.entries()
    assert (item.entry, item.sources, item.origin, item.list_name) == (entry, sources, "mine.txt:3", "mine")


def test_first_entry_wins_and_counts() -> None:
    lists = Blocklist()
    lists.add_lines(["supportxmr.com a", "supportxmr.com b", "1.2.3.4:3333"], "pool.txt", "pool")
    lists.add_lines(["supportxmr.com c"], "extra.txt", "browser")
    lists.add_allow_lines(["example.com"], "allowlist.txt")
    match = lists.match_name("supportxmr.com")
    assert match is not None and (match.sources, match.category) == (("a",), "pool")
    assert lists.counts() == {"pool": 3, "extra": 1, "allowlist": 1}
    assert len(lists) == 2


@pytest.mark.parametrize(
    ("name", "ip", "port"),
    [
        ("x.supportxmr.com", "94.23.251.22", 3333),
        ("ok.supportxmr.com", "2001:db8::1", 3333),
        ("xn--bcher-kva.de", "1.2.3.4", 3333),
        ("donate.v2.xmrig.com", "::ffff:94.23.251.22", 3333),
        ("unlisted.example", "5.6.7.8", 1),
    ],
)
def test_state_survives_marshal(name: str, ip: str, port: int) -> None:
    """What the load cache keeps (plain data through ``marshal``) gives back an equal list."""
    original = small_list()
    copy = Blocklist.from_state(marshal.loads(marshal.dumps(original.state())))
    assert copy.match_name(name) == original.match_name(name)
    assert copy.match_endpoint(ip, port) == original.match_endpoint(ip, port)
    assert copy.entries() == original.entries()
    assert copy.counts() == original.counts() and len(copy) == len(original)
    assert copy.shadowed() == original.shadowed()


def test_unknown_category_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown blocklist category 'pools'"):
        Blocklist().add_lines([], "x.txt", "pools")


def test_shadowed_lists_block_entries_the_allowlist_hides() -> None:
    hidden = {item.entry for item in small_list().shadowed()}
    assert hidden == {"pool.example.com", "1.2.3.4:3333"}


def test_copy_is_independent() -> None:
    original = small_list()
    other = original.copy()
    other.add_lines(["extra.example.net"], "more.txt", "pool")
    assert other.match_name("extra.example.net") is not None
    assert original.match_name("extra.example.net") is None


@pytest.mark.parametrize(
    ("lines", "category"),
    [
        (["# category: donation", "x.example.com"], "donation"),
        (["# Title: mine", "#   Category :  Browser  ", "x.example.com"], "browser"),
        (["# category: allow"], ALLOW),
        (["x.example.com", "# category: proxy"], None),  # only the leading comment block counts
        (["# no header here"], None),
        ([], None),
    ],
)
def test_header_category(lines: list[str], category: str | None) -> None:
    assert header_category(lines, "mine.txt") == category


def test_header_category_unknown() -> None:
    with pytest.raises(BlocklistError) as caught:
        header_category(["# title", "# category: pools"], "mine.txt")
    assert str(caught.value) == (
        "mine.txt:2: unknown category 'pools' (known: pool, proxy, browser, donation, allow)"
    )


@pytest.mark.parametrize(
    ("text", "name", "list_name", "category"),
    [
        ("mypool.example.net curated\n", "a.mypool.example.net", "mine", "pool"),
        ("# category: donation\nfee.example.net\n", "fee.example.net", "mine", "donation"),
        ("# category: browser\r\nminer.example.net\r\n", "miner.example.net", "mine", "browser"),
    ],
)
def test_load_files(tmp_path: Path, text: str, name: str, list_name: str, category: str) -> None:
    path = tmp_path / "mine.txt"
    path.write_bytes(text.encode())
    lists = load_files(Blocklist(), [path])
    match = lists.match_name(name)
    assert match is not None
    assert (match.list_name, match.category, match.origin) == (
        list_name,
        category,
        f"{path}:{match.origin[-1]}",
    )


def test_load_files_allowlist_file_wins(tmp_path: Path) -> None:
    path = tmp_path / "ours.txt"
    path.write_text("# category: allow\nsupportxmr.com\n", encoding="utf-8")
    lists = load_files(small_list(), [str(path)])
    assert lists.match_name("pool.supportxmr.com") is None


def test_load_files_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("ok.example.net\nco.uk\n", encoding="utf-8")
    with pytest.raises(BlocklistError, match=re.escape(f"{path}:2: co.uk is a public suffix")):
        load_files(Blocklist(), [path])


def test_load_files_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(ConfigError) as caught:
        load_files(Blocklist(), [missing])
    assert str(caught.value) == f"{missing}: cannot read blocklist: No such file or directory"
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"ok.example.net\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=re.escape(f"{binary}: not UTF-8 text (byte 15)")):
        load_files(Blocklist(), [binary])


# --------------------------------------------------------------------------- shipped lists


@pytest.fixture(scope="module")
def shipped() -> Blocklist:
    return load_shipped()


COVERAGE = [
    ("pool.supportxmr.com", "pool"),
    ("xmr-eu1.nanopool.org", "pool"),
    ("eth-eu1.nanopool.org", "pool"),
    ("gulf.moneroocean.stream", "pool"),
    ("pool.hashvault.pro", "pool"),
    ("xmr.2miners.com", "pool"),
    ("eu1.ethermine.org", "pool"),
    ("btc.f2pool.com", "pool"),
    ("btc.viabtc.com", "pool"),
    ("rx.unmineable.com", "pool"),
    ("randomxmonero.auto.nicehash.com", "pool"),
    ("pool.minexmr.com", "pool"),
    ("xmr.pool.gntl.co.uk", "pool"),
    ("monero.herominers.com", "pool"),
    ("mine.c3pool.com", "pool"),
    ("xmr.kryptex.network", "pool"),
    ("eth-eu.flexpool.io", "pool"),
    ("stratum.braiins.com", "pool"),
    ("stratum.antpool.com", "pool"),
    ("us1.bitminter.com", "pool"),
    ("litecoinpool.org", "pool"),
    ("us2.litecoinpool.org", "pool"),
    ("xmr.suprnova.cc", "pool"),
    ("zec-eu.suprnova.cc", "pool"),
    ("eu1-zcash.flypool.org", "pool"),
    ("xmr.pool.minergate.com", "pool"),
    ("stratum.slushpool.com", "pool"),
    ("pool.eth.pp.ua", "pool"),
    ("donate.v2.xmrig.com", "donation"),
    ("donate.ssl.xmrig.com", "donation"),
    ("donate.xmr-stak.net", "donation"),
    ("coinhive.com", "browser"),
    ("crypto-loot.com", "browser"),
    ("minero-proxy-01.now.sh", "proxy"),
]


@pytest.mark.parametrize(("name", "category"), COVERAGE)
def test_shipped_coverage(shipped: Blocklist, name: str, category: str) -> None:
    match = shipped.match_name(name)
    assert match is not None, name
    assert match.category == category
    assert match.sources
    assert re.fullmatch(r"blocklists/\w+\.txt:\d+", match.origin)


@pytest.mark.parametrize(
    "name",
    [
        "0.debian.pool.ntp.org",
        "1.debian.pool.ntp.org",
        "pool.ntp.org",
        "time.windows.com",
        "www.google.com",
        "github.com",
        "raw.githubusercontent.com",
        "coinbase.com",
        "binance.com",
        "getmonero.org",
        "dns.google",
        "xmrig.com",
        "www.xmrig.com",
        "pp.ua",
        "other.pp.ua",
        "duckdns.org",
        "qualitypoolsboulder.com",
    ],
)
def test_shipped_does_not_match_benign_names(shipped: Blocklist, name: str) -> None:
    assert shipped.match_name(name) is None


def _overlapping(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def test_shipped_allowlist_and_block_lists_do_not_overlap(shipped: Blocklist) -> None:
    items = shipped.entries()
    allow = {e.entry for e in items if e.category == ALLOW}
    blocked = {e.entry for e in items if e.category != ALLOW}
    allowed_names = {a for a in allow if ":" not in a}
    clashes = [(b, s) for b in blocked if ":" not in b for s in domains_and_parents(b) if s in allowed_names]
    clashes += [(a, s) for a in allowed_names for s in domains_and_parents(a) if s in blocked]
    assert clashes == []
    assert allow & blocked == set()
    assert shipped.shadowed() == []
    for pool in ("2miners.com", "f2pool.com", "nicehash.com"):
        assert not any(_overlapping(pool, a) for a in allowed_names), pool


def domains_and_parents(name: str) -> list[str]:
    """A name and each of its parents."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def test_shipped_entries_are_canonical_and_sourced(shipped: Blocklist) -> None:
    defined = set(re.findall(r"^\| `([a-z0-9_-]+)` \|", _sources_md(), re.MULTILINE))
    for item in shipped.entries():
        assert item.sources, item
        assert set(item.sources) <= defined, item
        if ":" not in item.entry:
            assert psl.normalise(item.entry) == item.entry
            assert not psl.bundled().is_public_suffix(item.entry)


def test_shipped_endpoints_are_public_pool_addresses(shipped: Blocklist) -> None:
    endpoints = [e.entry for e in shipped.entries() if ":" in e.entry]
    assert endpoints
    resolvers = {ipaddress.ip_address(a) for a in ("1.1.1.1", "8.8.8.8", "9.9.9.9", "208.67.222.222")}
    for entry in endpoints:
        host, _, port = entry.rpartition(":")
        address = ipaddress.ip_address(host.strip("[]"))
        assert address.is_global and not address.is_multicast, entry
        assert address not in resolvers, entry
        assert 1 <= int(port) <= 65535


def test_shipped_files_declare_their_category() -> None:
    folder = shipped_dir()
    for filename, category in SHIPPED_FILES:
        lines = (folder / filename).read_text(encoding="utf-8").splitlines()
        assert header_category(lines, filename) == category


def test_shipped_counts_cover_every_list(shipped: Blocklist) -> None:
    counts = shipped.counts()
    assert set(counts) == {Path(f).stem for f, _ in SHIPPED_FILES}
    assert all(n > 0 for n in counts.values())
    assert len(shipped) == sum(n for name, n in counts.items() if name != "allowlist")


def test_load_shipped_returns_copies() -> None:
    first = load_shipped()
    first.add_lines(["only-here.example.net"], "mine.txt", "pool")
    assert load_shipped().match_name("only-here.example.net") is None


def test_load_shipped_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    lists_module._shipped.cache_clear()
    psl.bundled.cache_clear()
    try:
        assert load_shipped().match_name("pool.supportxmr.com") is not None
    finally:
        lists_module._shipped.cache_clear()
        psl.bundled.cache_clear()


def _sources_md() -> str:
    return (ROOT / "blocklists" / "SOURCES.md").read_text(encoding="utf-8")


@pytest.mark.skipif(not (SHARED / "blocklist-sources").is_dir(), reason="../shared/blocklist-sources absent")
def test_shipped_lists_are_what_the_curation_tool_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location(
        "curate_blocklists", ROOT / "tools" / "curate_blocklists.py"
    )
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, tool)  # dataclasses look their module up
    monkeypatch.setattr(sys, "path", list(sys.path))  # the tool prepends the repository root
    spec.loader.exec_module(tool)
    assert tool.main(["--check", "--quiet"]) == 0


# --------------------------------------------------------------------------- real captures

CORPUS = SHARED / "corpus"
CORPUS_CASES = [
    ("benign/ndpi__wechat.pcap", set()),  # *.debian.pool.ntp.org near-miss
    ("benign/slips__test7-malicious.pcap", set()),
    ("mining/nesfit__pool.eth.pp.ua.pcapng", {"pool.eth.pp.ua"}),
    ("mining/nesfit__cgminer.g0.pcapng", {"litecoinpool.org", "us.litecoinpool.org", "us2.litecoinpool.org"}),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("capture", "expected"), CORPUS_CASES)
def test_corpus_names(shipped: Blocklist, capture: str, expected: set[str]) -> None:
    tshark = shutil.which("tshark")
    if tshark is None or not (CORPUS / capture).is_file():
        pytest.skip("tshark or ../shared/corpus absent")
    fields = ["dns.qry.name", "tls.handshake.extensions_server_name", "http.host"]
    args = [tshark, "-r", str(CORPUS / capture), "-T", "fields"]
    for name in fields:
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout
    names = {n for line in out.splitlines() for n in re.split(r"[\t,]", line) if n}
    assert names
    matched = {n for n in names if shipped.match_name(n.rsplit(":", 1)[0]) is not None}
    assert matched == expected


def test_match_says_which_entry_as_alert_evidence() -> None:
    lists = Blocklist()
    lists.add_lines(["supportxmr.com curated,maltrail"], "t.txt", "pool")
    match = lists.match_name("pool.SupportXMR.com.")
    assert match is not None
    assert match.evidence() == {
        "blocklist": "t",
        "blocklist_entry": "supportxmr.com",
        "blocklist_category": "pool",
        "blocklist_source": "curated,maltrail",
    }


# --------------------------------------------------------------------------- remembered matches


def _fresh(allow: tuple[str, ...] = ()) -> Blocklist:
    lists = Blocklist()
    lists.add_lines(["supportxmr.com", "eth.pp.ua"], "pool.txt", "pool")
    lists.add_allow_lines(list(allow), "allow.txt")
    return lists


@pytest.mark.parametrize(
    "name",
    ["x.supportxmr.com", "SupportXMR.com.", "ok.supportxmr.com", "example.org", "", "eth.pp.ua"],
)
def test_remembered_match_is_the_blocklist_match(name: str) -> None:
    lists = _fresh(allow=("ok.supportxmr.com",))
    first, again = lists.match_name(name), lists.match_name(name)
    assert first == again == lists._match_name(name)


def test_remembered_matches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_module, "MAX_REMEMBERED_NAMES", 2)
    lists = _fresh()
    for name in ("a.example", "b.example", "c.supportxmr.com", "d.example"):
        lists.match_name(name)
        assert len(lists._matched) <= 2
    assert lists.match_name("c.supportxmr.com") == lists._match_name("c.supportxmr.com")


def test_a_change_to_the_lists_forgets_remembered_matches() -> None:
    lists = _fresh()
    assert lists.match_name("x.supportxmr.com") is not None and lists.match_name("new.example") is None
    lists.add_allow_lines(["x.supportxmr.com"], "allow.txt")
    lists.add_lines(["new.example"], "pool.txt", "pool")
    assert lists.match_name("x.supportxmr.com") is None and lists.match_name("new.example") is not None


@pytest.mark.parametrize(
    ("entry", "endpoint"),
    [("pool.example", False), ("192.0.2.1:3333", True), ("[2001:db8::1]:3333", True), ("a.b.example", False)],
)
def test_entry_knows_whether_it_is_an_endpoint(entry: str, endpoint: bool) -> None:
    assert ListEntry(entry, "pool", "pool", (), "pool.txt:1").is_endpoint is endpoint


def test_entry_provenance_names_its_sources() -> None:
    assert ListEntry("a.example", "pool", "pool", ("s1", "s2"), "x:1").provenance() == "sources s1,s2"
    assert ListEntry("a.example", "pool", "pool", (), "x:1").provenance() == "no source recorded"


@pytest.mark.parametrize(
    ("ip", "port"),
    [("94.23.251.22", 3333), ("2001:0DB8:0:0::1", 3333), ("1.2.3.4", 3333), ("94.23.251.22", 3334)]
    + [("zz::zz", 1)],
)
def test_remembered_endpoint_match_is_the_blocklist_match(ip: str, port: int) -> None:
    lists = small_list()
    first, again = lists.match_endpoint(ip, port), lists.match_endpoint(ip, port)
    assert first == again == lists._match_endpoint(ip, port)
    assert (ip, port) in lists._endpoint_matched


def test_remembered_endpoint_matches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_module, "MAX_REMEMBERED_ENDPOINTS", 2)
    lists = small_list()
    for ip in ("10.0.0.1", "10.0.0.2", "94.23.251.22", "10.0.0.3"):
        lists.match_endpoint(ip, 3333)
        assert len(lists._endpoint_matched) <= 2
    assert lists.match_endpoint("94.23.251.22", 3333) == lists._match_endpoint("94.23.251.22", 3333)


def test_a_change_to_the_lists_forgets_remembered_endpoint_matches() -> None:
    lists = _fresh()
    lists.add_lines(["94.23.251.22:3333"], "endpoints.txt", "pool")
    assert lists.match_endpoint("198.51.100.7", 3333) is None
    assert lists.match_endpoint("94.23.251.22", 3333) is not None
    lists.add_lines(["198.51.100.7:3333"], "pool.txt", "pool")
    lists.add_allow_lines(["94.23.251.22:3333"], "allow.txt")
    assert lists.match_endpoint("198.51.100.7", 3333) is not None
    assert lists.match_endpoint("94.23.251.22", 3333) is None
