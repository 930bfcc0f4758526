"""Tests for poolsniff.intel.query: `blocklist check` verdicts and the `blocklist list` view."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolsniff.intel.lists import Blocklist
from poolsniff.intel.query import Explainer, age, describe
from poolsniff.intel.store import CachedCopy, load_active


def small() -> Blocklist:
    lists = Blocklist()
    lists.add_lines(
        ["supportxmr.com maltrail,curated", "pool.binance.com maltrail", "94.23.251.22:3333 maltrail",
         "[2001:db8::1]:3333", "1.2.3.4:3333 curated"],
        "blocklists/pool.txt", "pool",
    )  # fmt: skip
    lists.add_lines(["donate.v2.xmrig.com xmrig-src"], "blocklists/donation.txt", "donation")
    lists.add_allow_lines(["binance.com curated", "1.2.3.4:3333 curated"], "blocklists/allowlist.txt")
    return lists


CASES = [
    ("pool.supportxmr.com", True,
     "pool.supportxmr.com: listed by supportxmr.com (list pool, category pool, sources maltrail,curated; "
     "blocklists/pool.txt:1)"),
    ("SupportXMR.com.", True, "SupportXMR.com.: listed by supportxmr.com (list pool"),
    ("donate.v2.xmrig.com", True, "donate.v2.xmrig.com: listed by donate.v2.xmrig.com (list donation, "
     "category donation, sources xmrig-src; blocklists/donation.txt:1)"),
    ("94.23.251.22:3333", True, "94.23.251.22:3333: listed by 94.23.251.22:3333 (list pool, category pool, "
     "sources maltrail; blocklists/pool.txt:3)"),
    ("[2001:db8:0::1]:3333", True, "[2001:db8:0::1]:3333: listed by [2001:db8::1]:3333 (list pool, category "
     "pool, no source recorded; blocklists/pool.txt:4)"),
    ("94.23.251.22:4444", False, "94.23.251.22:4444: not listed"),
    ("notsupportxmr.com", False, "notsupportxmr.com: not listed"),
    ("pool.binance.com", False,
     "pool.binance.com: not listed: allowed by binance.com (sources curated; blocklists/allowlist.txt:1), "
     "which overrides pool.binance.com (list pool, category pool, sources maltrail; blocklists/pool.txt:2)"),
    ("www.binance.com", False,
     "www.binance.com: not listed: allowed by binance.com (sources curated; blocklists/allowlist.txt:1)"),
    ("1.2.3.4:3333", False,
     "1.2.3.4:3333: not listed: allowed by 1.2.3.4:3333 (sources curated; blocklists/allowlist.txt:2), "
     "which overrides 1.2.3.4:3333 (list pool"),
    ("bad..name", False, "bad..name: not listed (not a valid host name or ip:port)"),
    ("1.2.3.4:99999", False, "1.2.3.4:99999: not listed (not a valid host name or ip:port)"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "listed", "line"), CASES)
def test_explain(query: str, listed: bool, line: str) -> None:
    verdict = Explainer(small()).explain(query)
    assert (verdict.listed is not None) is listed
    assert verdict.line().startswith(line), verdict.line()


def test_explain_agrees_with_the_matcher() -> None:
    lists = small()
    explainer = Explainer(lists)
    for query in ("x.supportxmr.com", "pool.binance.com", "example.net", "a.donate.v2.xmrig.com"):
        assert explainer.explain(query).listed == lists.match_name(query)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0 s"), (42, "42 s"), (300, "5 min"), (3 * 3600, "3 h"), (47 * 3600, "47 h"), (12 * 86400, "12 d")],
)
def test_age(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_describe(tmp_path: Path) -> None:
    lists_dir = tmp_path / "lists"
    lists_dir.mkdir()
    (lists_dir / "pool.txt").write_text(
        "a-pool.example-mining.net maltrail\nb-pool.example-mining.net maltrail,x\n"
    )
    active = load_active(tmp_path)
    copies = [CachedCopy("maltrail", "https://e.org/m.txt", 2, 1000.0)]
    lines = describe(active, copies, str(tmp_path), now=1000.0 + 7200)
    text = "\n".join(lines)
    assert lines[0] == f"data directory: {tmp_path}"
    pool = next(line for line in lines if line.startswith("pool "))
    assert pool.split()[:3] == ["pool", "pool", "2"]
    assert str(lists_dir / "pool.txt") in pool and "ago)" in pool
    assert any(line.startswith("browser ") and "shipped with poolsniff" in line for line in lines)
    assert "  pool       maltrail 2, x 1" in lines
    assert "maltrail" in text and "<https://e.org/m.txt>" in text and "fetched 2 h ago" in text
    assert lines[-1] == "public suffix list: tldextract's bundled snapshot"
    empty = describe(load_active(None), [], "/nowhere", now=0.0)
    assert any("none: the shipped lists are in use" in line for line in empty)
