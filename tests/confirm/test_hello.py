"""Tests for poolsniff.confirm.hello: the hellos, and the classifier on replies of every kind."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.confirm.hello import HELLOS, MAX_REPLY, Classifier, Dialect, Kind, hello

JOB = {"blob": "0707aa", "job_id": "12", "target": "b88d0600"}


def line(value: object) -> bytes:
    return json.dumps(value).encode() + b"\n"


@pytest.mark.parametrize(
    ("dialect", "method"),
    [
        (Dialect.CRYPTONOTE, "login"),
        (Dialect.STRATUM, "mining.subscribe"),
        (Dialect.ETH_PROXY, "eth_submitLogin"),
    ],
)
def test_each_hello_is_one_json_line_of_its_dialect(dialect: Dialect, method: str) -> None:
    data = hello(dialect)
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    message = json.loads(data)
    assert message["method"] == method and message["id"] == 1
    assert "poolsniff-probe" in data.decode()


REPLIES = [
    # CryptoNote: a login result with a job; a job pushed; an error; a result without a job
    (
        Dialect.CRYPTONOTE,
        line({"id": 1, "jsonrpc": "2.0", "result": {"id": "a", "job": JOB}}),
        Kind.CRYPTONOTE_JOB,
    ),
    (Dialect.CRYPTONOTE, line({"jsonrpc": "2.0", "method": "job", "params": JOB}), Kind.CRYPTONOTE_JOB),
    (
        Dialect.CRYPTONOTE,
        line({"id": 1, "error": {"code": -1, "message": "Invalid address"}}),
        Kind.NOT_MINING,
    ),
    (Dialect.CRYPTONOTE, line({"id": 1, "result": {"id": "a", "status": "OK"}}), Kind.NOT_MINING),
    (Dialect.CRYPTONOTE, line({"id": 1, "result": {"job": {"blob": "aa", "job_id": 3}}}), Kind.NOT_MINING),
    # Stratum v1: subscribe results (v1, NiceHash), pushes; results of the wrong shape
    (
        Dialect.STRATUM,
        line({"id": 1, "result": [[["mining.notify", "ae68"]], "08000002", 4], "error": None}),
        Kind.STRATUM_SUBSCRIBE,
    ),
    (
        Dialect.STRATUM,
        line({"id": 1, "result": [["mining.notify", "ae68", "EthereumStratum/1.0.0"], "080c"]}),
        Kind.STRATUM_SUBSCRIBE,
    ),
    (
        Dialect.STRATUM,
        line({"id": None, "method": "mining.set_difficulty", "params": [1]}),
        Kind.STRATUM_SUBSCRIBE,
    ),
    (Dialect.STRATUM, line({"id": 1, "result": [["x"], "08000002", 4]}), Kind.NOT_MINING),
    (Dialect.STRATUM, line({"id": 1, "result": [[["mining.notify", "a"]], "not hex", 4]}), Kind.NOT_MINING),
    (Dialect.STRATUM, line({"id": 1, "result": True}), Kind.NOT_MINING),
    # eth-proxy: true to the login; true to another id; false
    (Dialect.ETH_PROXY, line({"id": 1, "jsonrpc": "2.0", "result": True}), Kind.ETH_PROXY),
    (Dialect.ETH_PROXY, line({"id": 2, "jsonrpc": "2.0", "result": True}), Kind.NOT_MINING),
    (Dialect.ETH_PROXY, line({"id": 1, "jsonrpc": "2.0", "result": False}), Kind.NOT_MINING),
    # a reply to one hello says nothing about another
    (Dialect.CRYPTONOTE, line({"id": 1, "result": True}), Kind.NOT_MINING),
    (Dialect.ETH_PROXY, line({"id": 1, "result": {"job": JOB}}), Kind.NOT_MINING),
    (Dialect.STRATUM, line({"id": 1, "result": {"job": JOB}}), Kind.NOT_MINING),
    # other protocols
    (Dialect.CRYPTONOTE, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", Kind.NOT_MINING),
    (Dialect.STRATUM, b"HTTP/1.1 400 Bad Request\r\n\r\n", Kind.NOT_MINING),
    (Dialect.STRATUM, b"\x15\x03\x01\x00\x02\x02\x32", Kind.NOT_MINING),
    (Dialect.STRATUM, b"\x20\x02\x00\x00", Kind.NOT_MINING),
    (Dialect.ETH_PROXY, b"not json at all\n", Kind.NOT_MINING),
]


@pytest.mark.parametrize(("dialect", "reply", "kind"), REPLIES)
def test_a_whole_reply(dialect: Dialect, reply: bytes, kind: Kind) -> None:
    verdict = Classifier(dialect).feed(reply) or Classifier(dialect).finish("closed")
    assert verdict.kind is kind, verdict


@pytest.mark.parametrize(("dialect", "reply", "kind"), REPLIES)
def test_a_reply_byte_by_byte_then_closed(dialect: Dialect, reply: bytes, kind: Kind) -> None:
    classifier = Classifier(dialect)
    verdict = None
    for i in range(len(reply)):
        verdict = classifier.feed(reply[i : i + 1])
        if verdict is not None:
            break
    verdict = verdict or classifier.finish("closed")
    assert verdict.kind is kind, verdict


def test_a_last_line_without_newline_counts_when_the_server_closes() -> None:
    classifier = Classifier(Dialect.ETH_PROXY)
    assert classifier.feed(b'{"id":1,"result":true}') is None
    assert classifier.finish("closed").kind is Kind.ETH_PROXY


def test_the_error_message_is_reported() -> None:
    reply = line({"id": 1, "error": {"code": -1, "message": "Invalid payment address"}})
    verdict = Classifier(Dialect.CRYPTONOTE).feed(reply)
    assert verdict is not None and verdict.detail == "JSON-RPC error: Invalid payment address"


def test_silence_says_why() -> None:
    verdict = Classifier(Dialect.STRATUM).finish("no answer within 5 s")
    assert verdict.kind is Kind.NOT_MINING and verdict.detail == "no answer within 5 s"


def test_a_banner_ends_the_plain_tries() -> None:
    verdict = Classifier(Dialect.CRYPTONOTE).feed(b"SSH-2.0-x\r\n")
    assert verdict is not None and verdict.detail == "SSH banner" and not verdict.text_like


def test_pushes_before_the_answer_are_read_on() -> None:
    reply = line({"id": None, "method": "client.show_message", "params": ["hi"]}) + line(
        {"id": 1, "result": {"job": JOB}}
    )
    verdict = Classifier(Dialect.CRYPTONOTE).feed(reply)
    assert verdict is not None and verdict.kind is Kind.CRYPTONOTE_JOB


def test_a_long_reply_is_cut_at_the_bound() -> None:
    classifier = Classifier(Dialect.STRATUM)
    verdict = None
    for _ in range(2 * MAX_REPLY // 1000):
        verdict = classifier.feed(b"a" * 1000)
        if verdict is not None:
            break
    assert verdict is not None and verdict.kind is Kind.NOT_MINING
    assert len(classifier.data) <= MAX_REPLY


@given(st.sampled_from(HELLOS), st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_give_a_verdict_and_never_raise(dialect: Dialect, chunks: list[bytes]) -> None:
    classifier = Classifier(dialect)
    for chunk in chunks:
        if classifier.feed(chunk) is not None:
            return
    assert classifier.finish("closed").kind in set(Kind)
