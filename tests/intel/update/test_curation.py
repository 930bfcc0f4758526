"""Tests for poolsniff.intel.update.curation: the rules shared by the curation tool and `blocklist update`."""

from __future__ import annotations

import pytest

from poolsniff.errors import BlocklistError
from poolsniff.intel.lists import load_shipped
from poolsniff.intel.update.curation import (
    STRATUM_PORTS,
    Blocks,
    Candidates,
    Report,
    Seed,
    add_name,
    apply_popularity,
    candidate_blocks,
    category_of,
    decide_endpoints,
    dedupe,
    first_listed,
    parse_seed,
    render,
    rows_by_category,
    suffixes,
)


@pytest.mark.parametrize(
    ("raw", "kept", "reason"),
    [
        ("Pool.Example.COM.", "pool.example.com", None),
        ("*.pool.example.com", "pool.example.com", None),
        (".example.org", "example.org", None),
        ("bad..name", None, "invalid name"),
        ("co.uk", None, "public suffix"),
        ("duckdns.org", None, "public suffix"),
        ("my.domain", None, "no known public suffix (not a domain)"),
    ],
)
def test_add_name(raw: str, kept: str | None, reason: str | None) -> None:
    cands, report = Candidates(), Report()
    add_name(cands, report, raw, "pool", "src")
    assert list(cands.names) == ([kept] if kept else [])
    if kept:
        assert cands.names[kept] == {"pool": {"src"}}
    assert list(report.dropped) == ([reason] if reason else [])


@pytest.mark.parametrize(
    ("cats", "name", "category"),
    [
        ({"pool": set(), "browser": set()}, "x.com", "pool"),
        ({"browser": set(), "donation": set()}, "x.com", "donation"),
        ({"browser": set()}, "ws-proxy.x.com", "proxy"),
        ({"pool": set()}, "proxypool.x.com", "proxy"),
        ({"donation": set()}, "proxy.x.com", "donation"),
    ],
)
def test_category_of(cats: dict[str, set[str]], name: str, category: str) -> None:
    assert category_of(cats, name) == category


def test_suffixes_and_first_listed() -> None:
    assert list(suffixes("a.b.c")) == ["a.b.c", "b.c", "c"]
    assert first_listed("x.pool.example.com", {"example.com", "pool.example.com"}) == "pool.example.com"
    assert first_listed("example.net", {"example.com"}) is None


SEED = [
    "# comment",
    "pool.example.com\tpool\tcurated\ta pool",
    "bad.example.com\texclude\t-\tnot a pool",
    "ok.example.com\tallow\tcurated\tfine",
    "popular.example.net\tnoallow\t-\tpopular but a pool",
]


def test_parse_seed() -> None:
    seeds = parse_seed(SEED, "seed.tsv")
    assert seeds[0] == Seed("pool.example.com", "pool", ("curated",), "a pool")
    assert seeds[1] == Seed("bad.example.com", "exclude", (), "not a pool")
    assert [s.category for s in seeds] == ["pool", "exclude", "allow", "noallow"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("pool.example.com\tpool\tcurated", "seed.tsv:2: bad seed row"),
        ("co.uk\tpool\tcurated\tsuffix", "seed.tsv:2: bad seed row"),
        ("x.example.com\tpool\tcurated\thas # hash", "seed.tsv:2: bad seed row"),
        ("x.example.com\twebminer\tcurated\twhy", "seed.tsv:2: unknown category 'webminer'"),
    ],
)
def test_parse_seed_errors_name_the_line(row: str, message: str) -> None:
    with pytest.raises(BlocklistError) as caught:
        parse_seed(["# header", row], "seed.tsv")
    assert str(caught.value).startswith(message)


def _cands(**names: dict[str, set[str]]) -> Candidates:
    cands = Candidates()
    for name, cats in names.items():
        cands.names[name.replace("_", ".")] = cats
    return cands


def test_candidate_blocks_applies_the_seed() -> None:
    seeds = parse_seed(SEED, "seed.tsv")
    cands = _cands(
        pool_example_com={"browser": {"nocoin"}},
        x_bad_example_com={"pool": {"maltrail"}},
        dyn_example_org={"pool": {"maltrail"}},
        other_example_org={"pool": {"maltrail"}, "browser": {"nocoin"}},
    )
    cands.dyn_dns = {"dyn.example.org"}
    report = Report()
    blocks = candidate_blocks(cands, seeds, report)
    assert blocks == {
        "pool.example.com": ("pool", {"curated", "nocoin"}, "a pool"),
        "other.example.org": ("pool", {"maltrail", "nocoin"}, None),
    }
    assert report.dropped["seed.tsv exclude"] == 1
    assert report.dropped["apex of a dynamic-DNS provider (MISP dynamic-dns)"] == 1


def test_seed_entry_both_listed_and_excluded_is_an_error() -> None:
    seeds = parse_seed(["x.example.com\tpool\tcurated\tp", "example.com\texclude\t-\tno"], "seed.tsv")
    with pytest.raises(ValueError, match="x.example.com is both listed and excluded"):
        candidate_blocks(Candidates(), seeds, Report())


@pytest.mark.parametrize(
    ("name", "category", "sources", "reason", "kept"),
    [
        ("a.ok.example.com", "pool", {"maltrail"}, None, False),  # under an allow entry
        ("example.net", "browser", {"nocoin"}, None, False),  # covers popular www.example.net
        ("example.net", "pool", {"nocoin"}, None, False),  # a pool, but not vetted
        ("example.net", "pool", {"maltrail"}, None, True),  # a vetted pool
        ("example.net", "browser", {"curated"}, "hand-picked", True),  # hand-curated
        ("pool.example.org", "pool", {"btc-pools"}, None, True),  # not popular at all
    ],
)
def test_apply_popularity(
    name: str, category: str, sources: set[str], reason: str | None, kept: bool
) -> None:
    blocks: Blocks = {name: (category, sources, reason)}
    popular = set(suffixes("www.example.net"))
    apply_popularity(blocks, {"ok.example.com"}, popular, Report())
    assert (name in blocks) is kept


def test_apply_popularity_refuses_a_curated_entry_under_the_allowlist() -> None:
    blocks: Blocks = {"x.ok.example.com": ("pool", {"curated"}, "why")}
    with pytest.raises(ValueError, match="is listed and allowlisted"):
        apply_popularity(blocks, {"ok.example.com"}, set(), Report())


def test_dedupe_keeps_special_children() -> None:
    blocks: Blocks = {
        "pool.com": ("pool", {"a"}, None),
        "eu.pool.com": ("pool", {"a"}, None),
        "donate.pool.com": ("donation", {"a"}, None),
        "proxy.pool.com": ("proxy", {"a"}, None),
        "x.proxy.pool.com": ("proxy", {"a"}, None),
    }
    report = Report()
    dedupe(blocks, report)
    assert sorted(blocks) == ["donate.pool.com", "pool.com", "proxy.pool.com"]
    assert report.dropped["covered by a listed parent"] == 2


@pytest.mark.parametrize(
    ("ip", "port", "sources", "bare", "kept"),
    [
        ("94.23.251.22", 3333, {"maltrail"}, set(), True),  # Stratum port
        ("94.23.251.22", 8086, {"maltrail"}, set(), False),  # other port, one source
        ("94.23.251.22", 8086, {"maltrail"}, {"hestat"}, True),  # other port, corroborated
        ("10.0.0.1", 3333, {"maltrail"}, set(), False),  # private
        ("104.16.1.1", 3333, {"maltrail"}, set(), False),  # Cloudflare
        ("8.8.8.8", 3333, {"maltrail"}, set(), False),  # public resolver
        ("224.0.0.1", 3333, {"maltrail"}, set(), False),  # multicast
    ],
)
def test_decide_endpoints(ip: str, port: int, sources: set[str], bare: set[str], kept: bool) -> None:
    cands = Candidates(public_dns={"8.8.8.8"})
    cands.endpoints[(ip, port)] = set(sources)
    if bare:
        cands.bare_ips[ip] = set(bare)
    rows = decide_endpoints(cands, Report())
    assert rows == ([(f"{ip}:{port}", tuple(sorted(sources | bare)), None)] if kept else [])


def test_endpoints_sort_by_address_and_port_ipv6_bracketed() -> None:
    cands = Candidates()
    for key in [("94.23.251.22", 5555), ("2001:4860:1::1", 3333), ("9.9.9.10", 3333), ("94.23.251.22", 3333)]:
        cands.endpoints[key] = {"s"}
    rows = [r[0] for r in decide_endpoints(cands, Report())]
    assert rows == ["9.9.9.10:3333", "94.23.251.22:3333", "94.23.251.22:5555", "[2001:4860:1::1]:3333"]


def test_render() -> None:
    blocks: Blocks = {
        "b.example.com": ("pool", {"maltrail", "curated"}, "why it is a pool"),
        "a.example.com": ("pool", {"nocoin"}, None),
    }
    per = rows_by_category(blocks)
    text = render("# {title} / {category}\n", "pool", per["pool"], [("1.2.3.4:3333", ("m",), None)])
    assert text == (
        "# Stratum / mining-pool endpoints / pool\n"
        "a.example.com                            nocoin\n"
        "b.example.com                            curated,maltrail         # why it is a pool\n"
        "#\n# Endpoints (IPv4:port / [IPv6]:port)\n"
        "1.2.3.4:3333                             m\n"
    )


# --------------------------------------------------------------------------- the shipped lists obey the rules


def test_shipped_endpoints_are_on_a_stratum_port_or_corroborated() -> None:
    endpoints = [e for e in load_shipped().entries() if ":" in e.entry and e.category != "allow"]
    assert endpoints
    for item in endpoints:
        port = int(item.entry.rpartition(":")[2])
        assert port in STRATUM_PORTS or len(item.sources) >= 2, item


@pytest.mark.parametrize(
    "name",
    ["coinbase.com", "www.kraken.com", "coinmarketcap.com", "metamask.io", "www.blockchain.com",
     "etherscan.io", "bitcoin.org", "getmonero.org", "thepiratebay.org", "1.1.1.1", "one.one.one.one"],
)  # fmt: skip
def test_anything_crypto_sites_are_not_listed(name: str) -> None:
    """Exchanges, wallets, explorers and news are not pools (BLOCKLISTS.md §1.1)."""
    assert load_shipped().match_name(name) is None
