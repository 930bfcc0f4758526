"""Tests for poolsniff.confirm.target: HOST:PORT parsing and the rate-limit key."""

from __future__ import annotations

import re

import pytest

from poolsniff.confirm.target import Target, parse_target


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("127.0.0.1:3333", Target("127.0.0.1", 3333, "127.0.0.1")),
        ("[2001:db8::1]:443", Target("2001:db8::1", 443, "2001:db8::1")),
        ("[2001:DB8:0::1]:443", Target("2001:db8::1", 443, "2001:db8::1")),
        ("Pool.Example.com:10128", Target("pool.example.com", 10128, name="pool.example.com")),
        ("pool.example.com.:1", Target("pool.example.com", 1, name="pool.example.com")),
    ],
)
def test_parse(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("pool.example.com", "the port is required"),
        (":3333", "the port is required"),
        ("1.2.3.4:0", "from 1 to 65535"),
        ("1.2.3.4:65536", "from 1 to 65535"),
        ("1.2.3.4:http", "from 1 to 65535"),
        ("2001:db8::1:443", "[ADDRESS]:PORT"),
        ("[2001:db8::1]443", "[ADDRESS]:PORT"),
        ("bad host!:1", "neither an address nor a host name"),
        ("[not-v6]:1", "neither an address nor a host name"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(text)}: ") as e:
        parse_target(text)
    assert why in str(e.value)


def test_key_and_shown() -> None:
    assert Target("2001:db8::1", 443, "2001:db8::1").key == "[2001:db8::1]:443"
    resolved = Target("pool.example.com", 3333, "192.0.2.7", "pool.example.com")
    assert resolved.key == "192.0.2.7:3333"
    assert resolved.shown() == "pool.example.com:3333 (192.0.2.7)"
    assert Target("192.0.2.7", 3333, "192.0.2.7").shown() == "192.0.2.7:3333"
