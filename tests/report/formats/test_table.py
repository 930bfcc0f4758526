"""The terminal table: fits the width, cuts long values, never passes terminal escapes through."""

from __future__ import annotations

import pytest

from poolsniff.report.formats.table import MAX_VALUES, clean, cut_end, cut_middle, to_table
from poolsniff.report.summary import HostReport, summarise

from ...factories_eve import eve

WALLET = "43tmeJ4TyczMGQyoQmMTFaVyv9PbCHsBQ8ffhV4C2qf3UunVdtu5FdzBoEQCS9jCZbEegMWXUUhpSbKRbrCd4CtoKhzGki5"
AGENT = "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"


def reports() -> list[HostReport]:
    return summarise(
        [
            eve(0, pool_host="gulf.moneroocean.stream", flavour="cryptonote", wallet=WALLET, agent=AGENT),
            eve(30, "pool", flavour="cryptonote"),
            eve(5, "dns", host="2001:db8:10::20", pool_host="pool.supportxmr.com"),
            eve(9, host="192.0.2.99", flavour="stratum-v1", wallet="1J97HrqvJYFVrNtnTZF1C8WgFuBL87QTzN"),
        ]
    )


@pytest.mark.parametrize("width", [300, 160, 120, 100, 80, 60, 40, 20])
def test_every_line_fits_the_width(width: int) -> None:
    text = to_table(reports(), width)
    assert max(len(line) for line in text.splitlines()) <= width


def test_wide_table_shows_every_value_whole() -> None:
    text = to_table(reports(), 400)
    header = text.splitlines()[0].split()
    assert header[:3] == ["HOST", "ROLES", "SEEN"] and header[-1] == "AGENTS"
    for value in (WALLET, AGENT, "gulf.moneroocean.stream", "2001:db8:10::20", "2024-05-01 12:00:30",
                  "1 Stratum v1 miner session", "cryptonote", "198.51.100.10:3333"):  # fmt: skip
        assert value in text, value


def test_narrow_table_cuts_values_but_not_addresses() -> None:
    text = to_table(reports(), 100)
    assert text.startswith("HOST")
    assert WALLET not in text and WALLET[:3] in text and WALLET[-3:] in text  # cut in the middle
    assert "2001:db8:10::20" in text


def test_too_narrow_becomes_blocks() -> None:
    text = to_table(reports(), 60)
    assert not text.startswith("HOST")
    blocks = text.split("\n\n")
    assert len(blocks) == 3
    assert blocks[0].splitlines()[0] == "192.0.2.10"
    assert blocks[0].splitlines()[1].split() == ["roles", "miner"]
    assert any(line.startswith("wallets") for line in blocks[0].splitlines())


def test_empty_report() -> None:
    assert to_table([], 80) == "no mining alerts\n"


def test_many_values_are_summed_up() -> None:
    records = [eve(i, pool_host=f"p{i}.pool.example") for i in range(MAX_VALUES + 3)]
    text = to_table(summarise(records), 300)
    assert "+4 more" in text
    assert sum(f"p{i}.pool.example" in text for i in range(MAX_VALUES + 3)) == MAX_VALUES - 1


def test_terminal_escapes_are_replaced() -> None:
    text = to_table(summarise([eve(0, agent="evil\x1b[2J\x07agent\x9b")]), 300)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "evil?[2J?agent?" in text


@pytest.mark.parametrize(
    "text, width, end, middle",
    [
        ("abcdefghij", 20, "abcdefghij", "abcdefghij"),
        ("abcdefghij", 10, "abcdefghij", "abcdefghij"),
        ("abcdefghij", 8, "abcde...", "abc...ij"),
        ("abcdefghij", 5, "ab...", "ab..."),
        ("abcdefghij", 2, "..", ".."),
    ],
)
def test_cuts(text: str, width: int, end: str, middle: str) -> None:
    assert cut_end(text, width) == end
    assert cut_middle(text, width) == middle
    assert len(cut_end(text, width)) == len(cut_middle(text, width)) == min(width, len(text))


@pytest.mark.parametrize("text, cleaned", [("a\tb", "a?b"), ("x\x00y\x7fz", "x?y?z"), ("ünï", "ünï")])
def test_clean(text: str, cleaned: str) -> None:
    assert clean(text) == cleaned
