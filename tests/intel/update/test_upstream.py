"""Tests for poolsniff.intel.update.upstream: reading upstream list formats, spotting HTML pages."""

from __future__ import annotations

import pytest

from poolsniff.intel.update.upstream import FORMATS, html_reason, parse_upstream

CASES = [
    (
        "domains",
        "# comment\n\npool.example.com\nOther.Example.NET.  # trailing\nbad..name\n",
        ["pool.example.com", "Other.Example.NET.", "bad..name"], [], [], 0, 2,
    ),
    (
        "hosts",
        "# hosts\n0.0.0.0 a.example.com\n127.0.0.1 localhost\n:: b.example.com c.example.com\n"
        "plain.example.org\nnot an ip line\n",
        ["a.example.com", "localhost", "b.example.com", "c.example.com", "plain.example.org"], [], [], 1, 4,
    ),
    (
        "adblock",
        "[Adblock Plus 2.0]\n! Title: x\n||coinhive.com^\n||miner.example.org^$third-party\n"
        "||1.2.3.4^\n||example.net/path^\n@@||ok.example.com^\nexample.com##.ad\n||999.1.1.1^\n",
        ["coinhive.com", "miner.example.org"], [], ["1.2.3.4"], 1, 3,
    ),
    (
        "maltrail",
        "# Copyright\n# Reference: x\npool.example.com\nhttp://Web.Example.org/x.js\n"
        "94.23.251.22:3333\n5.6.7.8\n1.2.3.4:99999\n",
        ["pool.example.com", "web.example.org"], [("94.23.251.22", 3333)], ["5.6.7.8"], 1, 4,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "text", "names", "endpoints", "ips", "skipped", "valid"), CASES)
def test_parse_upstream(
    fmt: str,
    text: str,
    names: list[str],
    endpoints: list[tuple[str, int]],
    ips: list[str],
    skipped: int,
    valid: int,
) -> None:
    parsed = parse_upstream(text, fmt)
    assert parsed.names == names
    assert parsed.endpoints == endpoints
    assert parsed.bare_ips == ips
    assert parsed.skipped == skipped
    assert parsed.valid_entries() == valid


def test_every_format_is_parsed_and_unknown_is_an_error() -> None:
    for fmt in FORMATS:
        assert parse_upstream("", fmt).valid_entries() == 0
    with pytest.raises(ValueError, match="unknown list format 'csv'"):
        parse_upstream("a.com", "csv")


@pytest.mark.parametrize(
    ("body", "content_type", "html"),
    [
        (b"pool.example.com\n", "text/plain", False),
        (b"pool.example.com\n", None, False),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", None, True),
        (b"\xef\xbb\xbf\n  <html lang=en>", "application/octet-stream", True),
        (b"<HEAD><TITLE>Portal</TITLE>", None, True),
        (b"pool.example.com\n", "text/html; charset=utf-8", True),
        (b"pool.example.com\n", "application/xhtml+xml", True),
        (b"<not-html> pool.example.com", None, False),
        (b"# <html> mentioned in a comment\npool.example.com\n", None, False),
    ],
)
def test_html_reason(body: bytes, content_type: str | None, html: bool) -> None:
    reason = html_reason(body, content_type)
    assert (reason is not None) is html
    if reason:
        assert reason.startswith("an HTML page, not a list")
