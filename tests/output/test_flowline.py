"""The flow record's line and id made in C (``output/_flowline.c``) against the Python reference."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolsniff.model import FlowEnd, FlowKey, FlowSummary, Role
from poolsniff.output import eveflow
from poolsniff.output.eveflow import flow_record, known_texts, stamped_line
from poolsniff.output.eventid import _stamped, flow_line, stamped_flow

if eveflow._line is None:  # pragma: no cover - depends on the build
    pytest.skip("the C flow line (output/_flowline.c) is not built here", allow_module_level=True)

ASCII = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=12)  # quotes, controls
PORT = st.integers(min_value=0, max_value=65535)
TS = st.integers(min_value=-(10**13), max_value=260_000_000_000_000_000)  # before 1970, after 9999
COUNT = st.integers(min_value=0, max_value=2**62 - 1)
V4 = st.ip_addresses(v=4).map(str)
V6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None and "." not in str(a)).map(str)


@pytest.fixture(params=["sha-ni", "portable"], autouse=True)
def hashes_made(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here twice: with the CPU's SHA instructions (where it has them) and without."""
    from poolsniff.output import _flowline

    had = _flowline.sha_ni()
    if request.param == "sha-ni" and not had:
        pytest.skip("this CPU has no SHA instructions (x86-64 SHA-NI)")
    _flowline.sha_ni(request.param == "sha-ni")
    yield request.param
    _flowline.sha_ni(had)


def test_the_modules_own_hashes_are_hashlibs(hashes_made: str) -> None:
    """Every length up to five blocks (the padding's one and two blocks, 55/56/63/64 bytes), and longer."""
    from poolsniff.output import _flowline

    for n in [*range(321), 1000, 4096, 100_000]:
        data = bytes((i * 131 + n) % 256 for i in range(n))
        one, two = _flowline.hashes(data)
        assert one == hashlib.sha1(data).digest(), n
        if hashes_made == "sha-ni":
            assert two == hashlib.sha256(data).digest(), n
        else:
            assert two is None  # hashlib makes it


def test_the_line_text_is_the_lines_last_value() -> None:
    from poolsniff.output import _flowline

    args = ("192.0.2.1", 1, "192.0.2.2", 2, 6, "TCP", 0, 10**15, 1, 2, 3, 4, True, "timeout", "", ("b",), "x",
            False)  # fmt: skip
    made = _flowline.line(*args)
    assert made is not None and _flowline.line_text(*args) == made[5]
    refused = ("192.0.2.1", 1, "::1", 2, *args[4:])  # two families: the Python way
    assert _flowline.line(*refused) is None and _flowline.line_text(*refused) is None
    with pytest.raises(TypeError):
        _flowline.line_text(*args[:-1])
    with pytest.raises(TypeError):
        _flowline.line_text(1, *args[1:])
    with pytest.raises(TypeError, match="argument 16 must be tuple"):
        _flowline.line_text(*args[:15], ["b"], *args[16:])
    with pytest.raises(TypeError):
        _flowline.line_text(*args[:1], 1.5, *args[2:])  # a float for a port, as PyArg_ParseTuple said


def reference(summary: FlowSummary, source: str, live: bool) -> tuple[dict[str, Any], str]:
    """What the Python way makes: the record, its texts, its id."""
    record = flow_record(summary, source, live)
    texts = known_texts(record, "in_iface" if live else "pcap_filename", bool(summary.app_proto))
    return record, _stamped(record, *texts)


@st.composite
def plain(draw: st.DrawFn) -> tuple[FlowSummary, str, bool]:
    """A flow record the C way writes: ASCII strings, addresses as written, numbers within 62 bits."""
    ips = V4 if draw(st.booleans()) else V6
    key = FlowKey(draw(ips), draw(PORT), draw(ips), draw(PORT), draw(st.sampled_from((6, 17, 132, 0, 255))))
    counts = (draw(COUNT), draw(COUNT), draw(COUNT), draw(COUNT))
    ended = FlowEnd(draw(TS), key, True, draw(TS), counts, draw(ASCII), draw(st.booleans()))
    roles = tuple(draw(st.lists(st.sampled_from(list(Role)), min_size=1, max_size=4)))
    summary = FlowSummary(ended, roles, draw(st.booleans()), draw(st.sampled_from(("", "stratum", 'a"\x01'))))
    return summary, draw(ASCII), draw(st.booleans())


@given(plain())
def test_the_c_line_is_the_python_one(made: tuple[FlowSummary, str, bool]) -> None:
    got = stamped_line(*made)
    assert got is not None  # the C way was taken
    assert got == reference(*made)


def test_same_ports_order_the_community_id_by_port() -> None:
    for ports in ((1, 2), (2, 1), (7, 7)):
        key = FlowKey("192.0.2.1", ports[0], "192.0.2.1", ports[1], 6)
        summary = FlowSummary(FlowEnd(10**15, key, True, 0), (Role.MINER,), True)
        assert stamped_line(summary, "x", False) == reference(summary, "x", False)


@pytest.mark.parametrize(
    "key, counts, source",
    [
        (FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6), (1, 2, 3, 4), "ünïcode.pcap"),  # not ASCII
        (FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6), (2**64, 2, 3, 4), "x"),  # beyond 64 bits
        (FlowKey("::ffff:102:304", 1, "::1", 2, 6), (1, 2, 3, 4), "x"),  # inet_ntop writes ::ffff:1.2.3.4
        (FlowKey("2001:DB8::1", 1, "::1", 2, 6), (1, 2, 3, 4), "x"),  # not as inet_ntop writes it
        (FlowKey("192.0.2.1", 1, "::1", 2, 6), (1, 2, 3, 4), "x"),  # two families
        (FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6), (-1, 2, 3, 4), "x"),  # a negative count
    ],
)
def test_what_the_c_way_does_not_write_goes_the_python_way(
    key: FlowKey, counts: tuple[int, int, int, int], source: str
) -> None:
    summary = FlowSummary(FlowEnd(10**15, key, True, 0, counts), (Role.MINER,), True)
    assert stamped_line(summary, source, False) is None
    if ipaddress.ip_address(key.client_ip).version == ipaddress.ip_address(key.server_ip).version:
        reference(summary, source, False)  # which writes it


@pytest.mark.parametrize("port", [-1, 65536])
def test_a_port_the_community_id_cannot_pack_goes_the_python_way(port: int) -> None:
    key = FlowKey("192.0.2.1", port, "192.0.2.2", 2, 6)
    summary = FlowSummary(FlowEnd(1, key, True, 0), (Role.MINER,), True)
    assert stamped_line(summary, "x", False) is None


def test_a_time_beyond_62_bits_goes_the_python_way() -> None:
    key = FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6)
    for start, end in ((0, 2**62), (-(2**62), 0)):
        summary = FlowSummary(FlowEnd(end, key, True, start), (Role.MINER,), True)
        assert stamped_line(summary, "x", False) is None
        within = FlowSummary(FlowEnd(end // 2, key, True, start // 2), (Role.MINER,), True)
        assert stamped_line(within, "x", False) == reference(within, "x", False)


@given(plain())
def test_the_line_alone_is_the_stamped_records_line(made: tuple[FlowSummary, str, bool]) -> None:
    """``flow_line`` (the stage's short way, no record made) writes the line ``stamped_flow`` writes."""
    assert flow_line(*made) == stamped_flow(*made)[1] == reference(*made)[1]


@pytest.mark.parametrize(
    "key",
    [FlowKey("2001:DB8::1", 1, "::1", 2, 6), FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6)],
    ids=["python-way", "c-way"],
)
def test_the_line_alone_where_the_c_way_does_not_write_it(key: FlowKey) -> None:
    """A record the C way refuses (an address not as inet_ntop writes it), or no C line at all: the
    line alone is still the record's line, made the Python way."""
    summary = FlowSummary(FlowEnd(10**15, key, True, 0, (1, 2, 3, 4)), (Role.POOL,), False, "stratum")
    assert flow_line(summary, "a.pcap") == reference(summary, "a.pcap", False)[1]


def test_the_line_alone_without_the_c_line(monkeypatch: pytest.MonkeyPatch) -> None:
    key = FlowKey("192.0.2.1", 1, "192.0.2.2", 2, 6)
    summary = FlowSummary(FlowEnd(10**15, key, True, 0), (Role.MINER,), True)
    with_c = flow_line(summary, "a.pcap")
    monkeypatch.setattr(eveflow, "_line", None)
    monkeypatch.setattr(eveflow, "_line_text", None)
    assert eveflow.line_only(summary, "a.pcap") is None
    assert flow_line(summary, "a.pcap") == with_c
