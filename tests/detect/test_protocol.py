"""Tests for poolsniff.detect.protocol: Stratum V2 handshakes and getwork HTTP headers.

Header rows follow PROTOCOLS.md §5 (bfgminer's and cgminer's request headers, the X-Stratum
redirect cgminer parses) and §7 (SV2 SetupConnection fields).
"""

from __future__ import annotations

from typing import Any

import pytest

from poolsniff.detect.protocol import ProtocolDetector
from poolsniff.model import Detection, Event, FlowKey, HttpMessage, JsonMessage, Role, Sv2Handshake

TS = 1_700_000_000_000_000
FLOW = FlowKey("10.0.0.1", 40000, "192.0.2.10", 8332, 6)
GETWORK_MINER, GETWORK_POOL = 9300109, 9300110


def detect(event: Event) -> list[Detection]:
    """Every detection ``event`` raises."""
    return list(ProtocolDetector().inspect(event))


def request(headers: dict[str, str], *, from_client: bool = True) -> HttpMessage:
    """A ``POST /`` request head."""
    return HttpMessage(TS, FLOW, from_client, True, "POST", "/", 0, headers)


def response(headers: dict[str, str], *, from_client: bool = False) -> HttpMessage:
    """A ``200`` response head."""
    return HttpMessage(TS, FLOW, from_client, False, "", "", 200, headers)


# --------------------------------------------------------------------------- Stratum V2

SETUP = {
    "protocol": 0, "min_version": 2, "max_version": 2, "flags": 1, "endpoint_host": "pool.example.net",
    "endpoint_port": 3336, "vendor": "Bitmain", "hardware_version": "S19", "firmware": "braiins-os",
    "device_id": "rig-1",
}  # fmt: skip
SV2_ROWS = [
    pytest.param(True, {}, 9300130, 3, {"flavour": "stratum-v2", "encrypted": "yes"}, [], id="noise"),
    pytest.param(False, SETUP, 9300131, 1, {"flavour": "stratum-v2", "encrypted": "no",
                                            "pool_host": "pool.example.net", "software": "Bitmain",
                                            "endpoint_port": "3336", "device_id": "rig-1"},
                 ["pool.example.net"], id="plaintext-setup"),
    pytest.param(False, {"vendor": ""}, 9300131, 1, {"software": None, "pool_host": None}, [],
                 id="setup-empty-vendor"),
]  # fmt: skip


@pytest.mark.parametrize(("encrypted", "setup", "sid", "severity", "expected", "names"), SV2_ROWS)
def test_stratum_v2(
    encrypted: bool,
    setup: dict[str, Any],
    sid: int,
    severity: int,
    expected: dict[str, str | None],
    names: list[str],
) -> None:
    """A Noise handshake is a low-severity maybe; a plaintext SetupConnection is mining."""
    [det] = detect(Sv2Handshake(TS, FLOW, True, encrypted, setup))
    assert (det.signature.sid, det.signature.severity, det.role) == (sid, severity, Role.MINER)
    assert {key: det.evidence.get(key) for key in expected} == expected
    assert det.names == names


@pytest.mark.parametrize("from_client", [True, False])
def test_stratum_v2_orientation(from_client: bool) -> None:
    """The handshake's sender is the miner."""
    [det] = detect(Sv2Handshake(TS, FLOW, from_client, True))
    assert det.miner_is_client == from_client


# --------------------------------------------------------------------------- getwork request headers

REQUEST_ROWS = [
    pytest.param({"x-mining-extensions": "longpoll midstate rollntime submitold",
                  "user-agent": "bfgminer/5.2.0", "authorization": "Basic dXNlcjpwYXNz",
                  "content-type": "application/json"},
                 {"headers": "x-mining-extensions", "software": "bfgminer", "software_version": "5.2.0"},
                 id="bfgminer"),
    pytest.param({"x-mining-hashrate": "12345", "user-agent": "cgminer/4.11.1"},
                 {"headers": "x-mining-hashrate", "software": "cgminer", "software_version": "4.11.1"},
                 id="cgminer-hashrate"),
    pytest.param({"x-mining-extensions": "midstate", "x-mining-hashrate": "1"},
                 {"headers": "x-mining-extensions,x-mining-hashrate", "agent": None},
                 id="both-headers-no-ua"),
    pytest.param({"user-agent": "cgminer/4.11.1"}, {"headers": None, "agent": "cgminer/4.11.1"},
                 id="miner-ua-only"),
    pytest.param({"user-agent": "XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1"},
                 {"software": "XMRig", "software_version": "6.22.2"}, id="xmrig-ua"),
    pytest.param({"user-agent": "PhoenixMiner/6.2c"}, {"software": "PhoenixMiner"}, id="phoenixminer-ua"),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "expected"), REQUEST_ROWS)
def test_miner_request_headers(headers: dict[str, str], expected: dict[str, str | None]) -> None:
    """X-Mining-* headers or a miner User-Agent raise the getwork miner signature."""
    [det] = detect(request(headers))
    assert (det.signature.sid, det.role, det.miner_is_client) == (GETWORK_MINER, Role.MINER, True)
    assert det.evidence["flavour"] == "getwork"
    assert {key: det.evidence.get(key) for key in expected} == expected
    assert det.app["http"]["url"] == "/"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
        {"user-agent": "python-requests/2.31.0"},
        {"user-agent": "Minecraft/1.20"},
        {"user-agent": "curl/8.5.0", "x-stratum": "stratum+tcp://pool.example.net:3333"},
        {"x-mining": "1"},
    ],
    ids=["no-headers", "browser", "library", "minecraft", "x-stratum-in-request", "other-x-mining"],
)
def test_ordinary_request_is_silent(headers: dict[str, str]) -> None:
    """Browsers, libraries and unrelated headers raise nothing."""
    assert detect(request(headers)) == []


# --------------------------------------------------------------------------- X-Stratum response header


@pytest.mark.parametrize("from_client", [False, True], ids=["from-server", "from-client"])
def test_x_stratum_response_marks_the_pool(from_client: bool) -> None:
    """A response telling a getwork miner to use Stratum (ET 2017960) raises the pool signature."""
    [det] = detect(response({"x-stratum": "stratum+tcp://pool.example.net:3333"}, from_client=from_client))
    assert (det.signature.sid, det.role) == (GETWORK_POOL, Role.POOL)
    assert det.miner_is_client == (not from_client)
    assert det.evidence["x_stratum"] == "stratum+tcp://pool.example.net:3333"


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-long-polling": "/LP", "server": "nginx"}, {"x-reject-reason": "stale"}],
    ids=["no-headers", "long-polling-only", "reject-reason-only"],
)
def test_response_without_x_stratum_is_silent(headers: dict[str, str]) -> None:
    """Other getwork response headers alone raise nothing here."""
    assert detect(response(headers)) == []


def test_other_events_are_ignored() -> None:
    """JSON messages are the Stratum detector's, not this one's."""
    assert detect(JsonMessage(TS, FLOW, True, {"id": 1, "method": "mining.subscribe", "params": []})) == []
