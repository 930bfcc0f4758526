"""poolsniff.dissect.interface: one "need more bytes" marker for every dissector."""

from __future__ import annotations

from poolsniff.dissect import http, tls
from poolsniff.dissect.interface import NEED_MORE, Incomplete


def test_the_dissectors_share_the_marker() -> None:
    assert NEED_MORE is Incomplete.NEED_MORE


def test_each_dissector_answers_need_more_for_a_plausible_start() -> None:
    assert http.parse_head(b"GET / HTTP/1.1\r\nHost: a") is NEED_MORE
    assert tls.parse_client_hello(b"\x16\x03\x01\x02\x00\x01") is NEED_MORE
    assert http.parse_head(b"\x00\x01garbage") is None
