"""Tests for poolsniff.confirm.x509: subject and issuer of real certificates, and damaged bytes."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.confirm.x509 import names
from tests.listserver import self_signed


def der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


def test_a_self_signed_certificate(folder: Path) -> None:
    cert, _ = self_signed(folder)
    assert names(der(cert)) == ("CN=127.0.0.1", "CN=127.0.0.1")


def test_a_certificate_signed_by_a_ca_names_both(folder: Path) -> None:
    self_signed(folder)  # skips where openssl is missing
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)  # noqa: E731
    f = {name: str(folder / name) for name in ("ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem")}
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f["ca.key"], "-out", f["ca.pem"],
        "-days", "1", "-subj", "/C=DE/O=Test CA/CN=Probe Test Root")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f["leaf.key"], "-out", f["leaf.csr"],
        "-subj", "/O=Pool Ltd/OU=ops/CN=pool.example")  # fmt: skip
    run("x509", "-req", "-in", f["leaf.csr"], "-CA", f["ca.pem"], "-CAkey", f["ca.key"], "-CAcreateserial",
        "-out", f["leaf.pem"], "-days", "1")  # fmt: skip
    assert names(der(folder / "leaf.pem")) == (
        "O=Pool Ltd, OU=ops, CN=pool.example",
        "C=DE, O=Test CA, CN=Probe Test Root",
    )


def test_damaged_bytes_give_none(folder: Path) -> None:
    cert, _ = self_signed(folder)
    data = der(cert)
    for cut in (0, 1, 2, 10, 100, len(data) // 2):
        assert names(data[:cut]) is None
    assert names(b"\x30\x84\xff\xff\xff\xff") is None


@given(st.binary(max_size=400))
def test_any_bytes_never_raise(data: bytes) -> None:
    result = names(data)
    assert result is None or all(isinstance(x, str) for x in result)
