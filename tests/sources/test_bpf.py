"""poolsniff.sources.bpf: --bpf expressions compiled by libpcap through ctypes, and ANDed with
the built-in filter; the programs are run over frames by the test's own BPF interpreter."""

from __future__ import annotations

import pytest

from poolsniff.errors import CaptureError
from poolsniff.sources import bpf
from poolsniff.sources.bpf import compile_expression
from poolsniff.sources.live import LINKTYPE_ETHERNET, LINKTYPE_RAW, SNAPLEN, and_filters

from ..factories_frames import eth, ipv4, ipv6, tcp
from .test_live import ETH, JSON, RANDOM, run_bpf


@pytest.fixture(scope="module")
def libpcap() -> None:
    """Skip, saying why, where libpcap is missing."""
    try:
        compile_expression("tcp", LINKTYPE_ETHERNET)
    except CaptureError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize(
    ("expression", "frame", "expected"),
    [
        ("host 10.0.0.1", eth(ipv4(tcp(JSON))), True),
        ("host 10.9.9.9", eth(ipv4(tcp(JSON))), False),
        ("not port 3333", eth(ipv4(tcp(JSON))), False),
        ("port 3333", eth(ipv4(tcp(RANDOM))), False),  # the built-in filter still cuts bulk
        ("ip6", eth(ipv6(tcp(JSON)), etype=0x86DD), True),
        ("ip6", eth(ipv4(tcp(JSON))), False),
    ],
)
def test_bpf_expression_is_anded(libpcap: None, expression: str, frame: bytes, expected: bool) -> None:
    program = and_filters(ETH, compile_expression(expression, LINKTYPE_ETHERNET))
    assert run_bpf(program, frame) == (SNAPLEN if expected else 0)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [("tcp portt 80", "syntax error"), ("port 99999", "port"), ("ip and not ip", "rejects all")],
)
def test_bad_bpf_expression(libpcap: None, expression: str, reason: str) -> None:
    with pytest.raises(CaptureError) as info:
        compile_expression(expression, LINKTYPE_RAW)
    assert expression in str(info.value) and reason in str(info.value)
    assert "\n" not in str(info.value)


def test_raw_ip_programs_read_the_ip_header_at_offset_0(libpcap: None) -> None:
    program = compile_expression("host 10.0.0.1", LINKTYPE_RAW)
    assert run_bpf(program, ipv4(tcp(JSON))) > 0
    assert run_bpf(compile_expression("host 10.9.9.9", LINKTYPE_RAW), ipv4(tcp(JSON))) == 0


def test_missing_libpcap_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpf.ctypes.util, "find_library", lambda _name: "libpcap-not-here.so.0")
    bpf._libpcap.cache_clear()
    try:
        with pytest.raises(CaptureError, match=r"--bpf needs libpcap .* apt-get install libpcap0\.8"):
            compile_expression("tcp", LINKTYPE_ETHERNET)
    finally:
        bpf._libpcap.cache_clear()
