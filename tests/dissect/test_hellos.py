"""Tests for poolsniff.dissect.hellos: a stream's TLS hellos as fingerprinted events."""

from __future__ import annotations

import pytest

from poolsniff.dissect import hellos, tlsfp
from poolsniff.dissect.interface import NEED_MORE
from poolsniff.model import PROTO_TCP, FlowKey, TlsClientHello, TlsServerHello
from tests.factories import client_hello, server_hello

KEY = FlowKey("10.0.0.1", 40000, "10.0.0.2", 443, PROTO_TCP)


def test_a_client_hello_becomes_its_event_with_fingerprints() -> None:
    data = client_hello("pool.example")
    event = hellos.client_hello(7, KEY, data)
    assert isinstance(event, TlsClientHello)
    assert (event.ts_us, event.flow, event.from_client, event.sni) == (7, KEY, True, "pool.example")
    message = data[5:]
    fp = tlsfp.fingerprint(message)
    assert fp.ja3_hash and fp.ja4
    assert (event.ja3_string, event.ja3_hash, event.ja4) == (fp.ja3_string, fp.ja3_hash, fp.ja4)


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_cut_client_hello_needs_more(cut: int) -> None:
    assert hellos.client_hello(0, KEY, client_hello("pool.example")[:cut]) is NEED_MORE


def test_bytes_that_are_no_client_hello_give_none() -> None:
    assert hellos.client_hello(0, KEY, b"\x16\x03\x01\x00\x05" + b"\x02" + b"\0" * 40) is None


def test_a_server_hello_becomes_its_event_with_ja3s() -> None:
    event = hellos.server_hello(9, KEY, server_hello())
    assert isinstance(event, TlsServerHello)
    assert (event.ts_us, event.from_client, event.version) == (9, False, "TLS 1.3")
    assert event.ja3s_hash and event.ja3s_hash == tlsfp.server_fingerprint(server_hello()[5:]).ja3s_hash


def test_a_cut_server_hello_needs_more_and_other_bytes_give_none() -> None:
    assert hellos.server_hello(0, KEY, server_hello()[:12]) is NEED_MORE
    assert hellos.server_hello(0, KEY, b"HTTP/1.1 200 OK\r\n\r\n") is None
