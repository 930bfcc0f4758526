"""Tests for poolsniff.engine.pipeline: one alert per flow and signature, held until it is complete.

Most tests drive the real decoder, detectors and enricher with scripted events: the flow
table is replaced by ``ScriptedFlows``, which hands the pipeline the events the test lists,
one batch per fed frame. ``test_real_frames_*`` runs the whole chain from frames.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

import pytest

from poolsniff.engine.pipeline import CHECK_EVERY_US, HOLD_US, Pipeline, run
from poolsniff.intel.lists import Blocklist
from poolsniff.model import (
    Detection,
    DnsMessage,
    Event,
    FlowEnd,
    FlowKey,
    FlowStart,
    FlowSummary,
    HttpMessage,
    JsonMessage,
    Packet,
    Released,
    Role,
    TlsClientHello,
    TlsServerHello,
    TunnelOpen,
)
from tests.factories_frames import DST4, SRC4, eth, ipv4, tcp

TS = 1_700_000_000_000_000
MS = 1000
POOL_IP = "192.168.1.2"
FLOW = FlowKey("10.0.0.1", 40000, POOL_IP, 3333, 6)
FLOW2 = FlowKey("10.0.0.1", 40001, POOL_IP, 3333, 6)
OTHER = FlowKey("10.0.0.1", 40009, "203.0.113.9", 443, 6)
DNS_FLOW = FlowKey("10.0.0.1", 5353, "10.0.0.53", 53, 17)
LINKTYPE_ETHERNET = 1
FRAME = eth(ipv4(tcp(b"")))
"""Any frame the decoder accepts; ScriptedFlows ignores the packet."""
# Monero Project general fund (a published standard address).
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
ETH_HTTP_WALLET = "0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745"

SUBSCRIBE = '{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}'
AUTHORIZE = '{"id": 3, "method": "mining.authorize", "params": ["' + XMR + '.rig1", "x"]}'
SUBMIT = (
    '{"params": ["'
    + XMR
    + '.rig1", "4f", "00000000", "5d5a0c1b", "a1b2c3d4"], "id": 5, "method": "mining.submit"}'
)
EXTRANONCE_SUBSCRIBE = '{"id": 3, "method": "mining.extranonce.subscribe", "params": []}'
SET_DIFFICULTY = '{"id":null,"method":"mining.set_difficulty","params":[512]}'
NOTIFY = (
    '{"id":null,"method":"mining.notify","params":["4f","'
    + "ab" * 32
    + '","01","ff",[],"20000000","1d00ffff","5d5a0c1b",true]}'
)  # noqa: E501
XMRIG_LOGIN_RESULT = (
    '{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"1","job":{"blob":"' + "0e" * 38 + '",'
    '"job_id":"7","target":"b88d0600","algo":"rx/0"},"status":"OK"}}'
)
XMRIG_LOGIN = (
    '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"' + XMR + '.rig1","pass":"x",'
    '"agent":"XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1","algo":["rx/0"]}}'
)

MINER_SID, POOL_SID = 9300101, 9300102
DNS_SID, TLS_SID, RESOLVED_SID, ENDPOINT_SID = 9300201, 9300202, 9300204, 9300205


class ScriptedFlows:
    """Stands in for ``Pipeline.flows``: the n-th packet yields the n-th scripted batch of events."""

    def __init__(self) -> None:
        """Nothing scripted yet."""
        self.batches: deque[list[Event]] = deque()
        self.counters: Counter[str] = Counter()

    def process(self, packet: Packet, size: int | None = None) -> list[Event]:
        """The next scripted batch."""
        return self.batches.popleft()

    def close_all(self) -> list[Event]:
        """Scripts end their flows themselves."""
        return []


def blocklist() -> Blocklist:
    """supportxmr.com, eth.pp.ua and one endpoint, category pool."""
    bl = Blocklist()
    bl.add_lines(
        ["supportxmr.com maltrail", "eth.pp.ua curated", "94.23.251.22:3333 maltrail"], "test", "pool"
    )
    return bl


def pipeline(*, redact: bool = False, fold_pool: bool = True) -> tuple[Pipeline, ScriptedFlows]:
    """A pipeline over the test list whose flow table is scripted."""
    pipe = Pipeline(blocklist(), redact=redact, fold_pool=fold_pool)
    flows = ScriptedFlows()
    pipe.flows = flows  # type: ignore[assignment]
    return pipe, flows


def feed(
    pipe: Pipeline, flows: ScriptedFlows, events: Iterable[Event], *, summaries: bool = False
) -> list[Any]:
    """Feed one frame per event; return the detections released (and the flow summaries, if asked)."""
    out: list[Released] = []
    for event in events:
        flows.batches.append([event])
        out.extend(pipe.feed((event.ts_us, LINKTYPE_ETHERNET, FRAME)))
    return out if summaries else only_detections(out)


def only_detections(released: Iterable[Released]) -> list[Detection]:
    """The detections among what a pipeline released (flow summaries left out)."""
    return [x for x in released if isinstance(x, Detection)]


def msg(
    line: str, ts: int, *, flow: FlowKey = FLOW, from_client: bool = True, http: HttpMessage | None = None
) -> JsonMessage:
    """A JSON-RPC line on ``flow``."""
    return JsonMessage(ts, flow, from_client, json.loads(line), via_http=http is not None, http=http)


def resolved(name: str, address: str, ts: int = TS) -> DnsMessage:
    """A DNS response: ``name`` has address ``address`` (TTL 600)."""
    return DnsMessage(ts, DNS_FLOW, False, 7, True, 0, 0, 0x8180, ((name, 1),), ((name, 1, address, 600),))


def sids(dets: Iterable[Detection]) -> Counter[tuple[FlowKey, int]]:
    """How many alerts each (flow, sid) got."""
    return Counter((d.flow, d.signature.sid) for d in dets)


# --------------------------------------------------------------------------- one alert per flow and signature


@pytest.mark.parametrize("fold", [True, False], ids=["pool-side-folded", "both-kept"])
def test_long_session_gives_one_alert_per_flow_and_signature(fold: bool) -> None:
    """100 submits and 100 notifies on a flow give one miner alert (and one pool alert when kept)."""
    pipe, flows = pipeline(fold_pool=fold)
    events: list[Event] = [
        msg(SUBSCRIBE, TS),
        msg(AUTHORIZE, TS + MS),
        msg(SET_DIFFICULTY, TS + 2 * MS, from_client=False),
    ]
    for i in range(100):
        events += [msg(NOTIFY, TS + (3 + 2 * i) * MS, from_client=False), msg(SUBMIT, TS + (4 + 2 * i) * MS)]
    events += [msg(SUBSCRIBE, TS + 300 * MS, flow=FLOW2), msg(AUTHORIZE, TS + 301 * MS, flow=FLOW2)]
    events += [FlowEnd(TS + 400 * MS, FLOW, True), FlowEnd(TS + 401 * MS, FLOW2, True)]
    out = feed(pipe, flows, events) + only_detections(pipe.finish())
    if fold:
        assert sids(out) == {(FLOW, MINER_SID): 1, (FLOW2, MINER_SID): 1}
        assert (pipe.stats.alerts, pipe.stats.folded, pipe.stats.suppressed) == (2, 1, 200)
    else:
        assert sids(out) == {(FLOW, MINER_SID): 1, (FLOW, POOL_SID): 1, (FLOW2, MINER_SID): 1}
        assert (pipe.stats.alerts, pipe.stats.folded, pipe.stats.suppressed) == (3, 0, 200)


def test_held_miner_alert_carries_the_later_login() -> None:
    """The subscribe is held; the authorize completes it and releases one alert with agent and wallet."""
    pipe, flows = pipeline(fold_pool=False)
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS)]) == []
    [det] = feed(pipe, flows, [msg(AUTHORIZE, TS + MS)])
    e = det.evidence
    assert (e["method"], e["software"], e["software_version"]) == ("mining.subscribe", "cgminer", "4.11.1")
    assert (e["wallet"], e["worker"], e["wallet_type"]) == (XMR, "rig1", "monero-standard")
    assert only_detections(pipe.finish()) == []


def test_cryptonote_login_with_agent_is_released_at_once() -> None:
    """A CryptoNote login carries everything; nothing is worth waiting for."""
    pipe, flows = pipeline(fold_pool=False)
    [det] = feed(pipe, flows, [msg(XMRIG_LOGIN, TS)])
    assert (det.signature.sid, det.evidence["software"], det.evidence["wallet"]) == (9300107, "XMRig", XMR)


def test_with_the_pool_side_folded_in_a_login_waits_for_the_pools_answer() -> None:
    """One round trip more: the alert says the pool answered as a pool."""
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(XMRIG_LOGIN, TS)]) == []
    [det] = feed(pipe, flows, [msg(XMRIG_LOGIN_RESULT, TS + MS, from_client=False)])
    e = det.evidence
    assert (det.signature.sid, det.ts_us, e["wallet"]) == (9300107, TS, XMR)
    assert e["pool_signature_id"] == "9300108"
    assert (e["pool_method"], e["algorithm"]) == ("login(result)", "rx/0")


def test_a_pool_that_never_answers_does_not_hold_the_alert_past_the_hold() -> None:
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(XMRIG_LOGIN, TS)]) == []
    [det] = feed(pipe, flows, [msg(SUBSCRIBE, TS + HOLD_US + CHECK_EVERY_US, flow=FLOW2)])
    assert (det.flow, "pool_signature_id" in det.evidence) == (FLOW, False)


def test_pool_alert_is_released_at_once() -> None:
    """A pool-side message has no login to wait for."""
    pipe, flows = pipeline()
    [det] = feed(pipe, flows, [msg(SET_DIFFICULTY, TS, from_client=False)])
    assert det.signature.sid == POOL_SID


# ---------------------------------------------------------------------- one session, one alert; time order


def test_pool_side_of_a_held_session_goes_into_the_miner_alert() -> None:
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS), msg(SET_DIFFICULTY, TS + MS, from_client=False)]) == []
    [det] = feed(pipe, flows, [msg(AUTHORIZE, TS + 2 * MS)])
    e = det.evidence
    assert (det.signature.sid, det.ts_us, e["method"]) == (MINER_SID, TS, "mining.subscribe")
    assert (e["pool_signature_id"], e["pool_method"]) == (str(POOL_SID), "mining.set_difficulty")
    assert e["wallet"] == XMR
    later = [msg(NOTIFY, TS + 3 * MS, from_client=False), FlowEnd(TS + 4 * MS, FLOW, True)]
    assert feed(pipe, flows, later) == []
    assert (pipe.stats.alerts, pipe.stats.folded) == (1, 1)


def test_a_pool_side_alone_still_alerts() -> None:
    """A capture taken on the pool side (no miner message seen) keeps its pool alert."""
    pipe, flows = pipeline()
    [det] = feed(pipe, flows, [msg(NOTIFY, TS, from_client=False)])
    assert (det.signature.sid, pipe.stats.folded) == (POOL_SID, 0)


def test_pool_side_of_another_flow_is_not_folded() -> None:
    pipe, flows = pipeline()
    feed(pipe, flows, [msg(SUBSCRIBE, TS)])
    [det] = feed(pipe, flows, [msg(SET_DIFFICULTY, TS + MS, flow=FLOW2, from_client=False)])
    assert (det.flow, det.signature.sid) == (FLOW2, POOL_SID)


ENDINGS = [
    pytest.param([msg(AUTHORIZE, TS + 2 * MS)], id="login"),
    pytest.param([FlowEnd(TS + 2 * MS, FLOW, True)], id="flow-end"),
    pytest.param([msg(SUBMIT, TS + HOLD_US + CHECK_EVERY_US, flow=FLOW2)], id="hold-timeout"),
    pytest.param([], id="end-of-input"),
]


@pytest.mark.parametrize("ending", ENDINGS)
def test_kept_pool_alert_waits_for_the_earlier_held_miner_alert(ending: list[Event]) -> None:
    """Within a flow alerts go out in time order: a later complete alert waits behind a held one."""
    pipe, flows = pipeline(fold_pool=False)
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS), msg(SET_DIFFICULTY, TS + MS, from_client=False)]) == []
    out = feed(pipe, flows, ending) + only_detections(pipe.finish())
    mine = [(d.signature.sid, d.ts_us) for d in out if d.flow == FLOW]
    assert mine == [(MINER_SID, TS), (POOL_SID, TS + MS)]


def test_release_at_flow_end() -> None:
    """A subscribe with no authorize is released when its flow ends, not before."""
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS), msg(EXTRANONCE_SUBSCRIBE, TS + MS)]) == []
    [det] = feed(pipe, flows, [FlowEnd(TS + 2 * MS, FLOW, True)])
    assert (det.flow, det.signature.sid, det.evidence["software"]) == (FLOW, MINER_SID, "cgminer")
    assert only_detections(pipe.finish()) == []


def test_release_after_hold_time() -> None:
    """A held alert is released once HOLD_US of capture time has passed (checked every CHECK_EVERY_US)."""
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS), FlowStart(TS + HOLD_US // 2, OTHER, True)]) == []
    [det] = feed(pipe, flows, [FlowStart(TS + HOLD_US + CHECK_EVERY_US, OTHER, True)])
    assert (det.flow, det.signature.sid) == (FLOW, MINER_SID)


def test_finish_releases_what_is_held() -> None:
    """End of input releases every held alert."""
    pipe, flows = pipeline()
    assert feed(pipe, flows, [msg(SUBSCRIBE, TS)]) == []
    assert sids(only_detections(pipe.finish())) == {(FLOW, MINER_SID): 1}


# --------------------------------------------------------------------------- fallback signatures

STRATUM_SESSION = [msg(SUBSCRIBE, TS + 20 * MS), msg(AUTHORIZE, TS + 21 * MS)]
LISTED = FlowKey("10.0.0.1", 40000, "94.23.251.22", 3333, 6)
"""A flow to the listed endpoint."""
DNS_THEN_CONNECT = [resolved("x.supportxmr.com", POOL_IP), FlowStart(TS + 10 * MS, FLOW, True)]
END = FlowEnd(TS + 30 * MS, FLOW, True)
FALLBACK_ROWS = [
    pytest.param(
        [*DNS_THEN_CONNECT, *STRATUM_SESSION, END],
        {(DNS_FLOW, DNS_SID): 1, (FLOW, MINER_SID): 1}, id="resolved-dropped-for-stratum"),
    pytest.param(
        [*DNS_THEN_CONNECT, msg(SUBSCRIBE, TS + 20 * MS), END],
        {(DNS_FLOW, DNS_SID): 1, (FLOW, MINER_SID): 1}, id="resolved-dropped-for-held-stratum"),
    pytest.param(
        [*DNS_THEN_CONNECT, TlsClientHello(TS + 20 * MS, FLOW, True, "x.supportxmr.com", "TLS 1.2"), END],
        {(DNS_FLOW, DNS_SID): 1, (FLOW, TLS_SID): 1}, id="resolved-dropped-for-sni"),
    pytest.param(
        [*DNS_THEN_CONNECT, END],
        {(DNS_FLOW, DNS_SID): 1, (FLOW, RESOLVED_SID): 1}, id="resolved-kept-alone"),
    pytest.param(
        [*DNS_THEN_CONNECT, msg(SUBSCRIBE, TS + 20 * MS, flow=FLOW2),
         msg(AUTHORIZE, TS + 21 * MS, flow=FLOW2), END],
        {(DNS_FLOW, DNS_SID): 1, (FLOW, RESOLVED_SID): 1, (FLOW2, MINER_SID): 1},
        id="resolved-kept-when-stratum-is-on-another-flow"),
    pytest.param(
        [FlowStart(TS, LISTED, True), msg(SUBSCRIBE, TS + MS, flow=LISTED),
         FlowEnd(TS + 2 * MS, LISTED, True)],
        {(LISTED, MINER_SID): 1}, id="endpoint-dropped-for-stratum"),
    pytest.param(
        [FlowStart(TS, LISTED, True), FlowEnd(TS + 2 * MS, LISTED, True)],
        {(LISTED, ENDPOINT_SID): 1}, id="endpoint-kept-alone"),
]  # fmt: skip


@pytest.mark.parametrize(("events", "expected"), FALLBACK_ROWS)
def test_fallback_only_when_nothing_specific_fired(events: list[Event], expected: dict[Any, int]) -> None:
    """A resolved-address or endpoint alert is dropped when a specific signature fired on its flow."""
    pipe, flows = pipeline()
    out = feed(pipe, flows, events) + only_detections(pipe.finish())
    assert sids(out) == expected


def test_miner_alert_named_after_the_resolved_pool() -> None:
    """A Stratum alert on a flow to a remembered address gets the pool's name and list entry."""
    pipe, flows = pipeline()
    out = feed(pipe, flows, [resolved("x.supportxmr.com", POOL_IP), *STRATUM_SESSION])
    out += only_detections(pipe.finish())
    [det] = [d for d in out if d.signature.sid == MINER_SID]
    e = det.evidence
    assert (e["pool_host"], e["pool"], e["blocklist_entry"]) == (
        "x.supportxmr.com",
        "supportxmr.com",
        "supportxmr.com",
    )


# --------------------------------------------------------------------------- redaction


def all_text(dets: Iterable[Detection]) -> str:
    """Everything a sink could write from these detections."""
    return json.dumps([[d.evidence, d.app, d.names] for d in dets], default=str)


@pytest.mark.parametrize("redact", [True, False])
def test_redact_hides_wallet_and_login(redact: bool) -> None:
    """With --redact the wallet appears nowhere in the alerts; without it, it is there."""
    pipe, flows = pipeline(redact=redact)
    out = feed(pipe, flows, [msg(XMRIG_LOGIN, TS), *STRATUM_SESSION]) + only_detections(pipe.finish())
    assert len(out) == 2
    assert (XMR[4:-3] in all_text(out)) is not redact
    assert all(("[redacted" in d.evidence["login"]) is redact for d in out)
    assert all(d.evidence["worker"] == "rig1" for d in out)


def test_redact_hides_wallet_in_http_getwork_url() -> None:
    """The HTTP getwork URL carries the wallet too; redaction must reach it."""
    pipe, flows = pipeline(redact=True)
    uri = f"/?miner=30@{ETH_HTTP_WALLET}@OptionalRigName"
    http = HttpMessage(
        TS, OTHER, True, True, "POST", uri, 0, {"host": "pool.eth.pp.ua", "user-agent": "ethminer/0.19"}
    )
    events = [http, msg('{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}', TS + MS, flow=OTHER, http=http)]
    out = feed(pipe, flows, events) + only_detections(pipe.finish())
    assert {d.signature.sid for d in out} >= {9300105, 9300203}
    assert ETH_HTTP_WALLET[4:-3] not in all_text(out)


# --------------------------------------------------------------------------- real frames


def segment(payload: bytes, seq: int, flags: int, *, from_client: bool = True) -> bytes:
    """An Ethernet/IPv4/TCP frame of the FLOW connection."""
    if from_client:
        return eth(ipv4(tcp(payload, FLOW.client_port, FLOW.server_port, seq, flags)))
    return eth(ipv4(tcp(payload, FLOW.server_port, FLOW.client_port, seq, flags), src=DST4, dst=SRC4))


def test_real_frames_subscribe_authorize_gives_one_alert() -> None:
    """From frames: handshake, subscribe, authorize, 3 submits, FIN/FIN -> one miner alert."""
    lines = [SUBSCRIBE, AUTHORIZE, SUBMIT, SUBMIT, SUBMIT]
    seq, frames = (
        1001,
        [
            (TS, LINKTYPE_ETHERNET, segment(b"", 1000, 0x02)),
            (TS + 1, LINKTYPE_ETHERNET, segment(b"", 5000, 0x12, from_client=False)),
        ],
    )
    for i, line in enumerate(lines):
        data = line.encode() + b"\n"
        frames.append((TS + (i + 2) * MS, LINKTYPE_ETHERNET, segment(data, seq, 0x18)))
        seq += len(data)
    frames += [
        (TS + 10 * MS, LINKTYPE_ETHERNET, segment(b"", seq, 0x11)),
        (TS + 11 * MS, LINKTYPE_ETHERNET, segment(b"", 5001, 0x11, from_client=False)),
    ]
    released = list(run(frames, Pipeline(blocklist())))
    out = only_detections(released)
    assert sids(out) == {(FLOW, MINER_SID): 1}
    e = out[0].evidence
    assert (e["software"], e["wallet"], e["worker"]) == ("cgminer", XMR, "rig1")
    [summary] = [x for x in released if isinstance(x, FlowSummary)]
    sizes = [len(f[2]) for f in frames]
    server = sizes[1] + sizes[-1]  # the SYN-ACK and the server's FIN
    assert summary.end.counts == (len(frames) - 2, 2, sum(sizes) - server, server)
    assert (summary.end.start_us, summary.end.ts_us, summary.end.closed) == (TS, TS + 11 * MS, True)
    assert summary.end.reason == "timeout"


# --------------------------------------------------------------------------- who sees which events


class Recording:
    """A detector that records what it is handed and raises nothing."""

    name = "recording"

    def __init__(self, events: tuple[type[Event], ...]) -> None:
        """Take ``events`` only."""
        self.events = events
        self.seen: list[type[Event]] = []

    def inspect(self, event: Event) -> list[Detection]:
        """Remember the event's type."""
        self.seen.append(type(event))
        return []


EVERY_KIND: list[Event] = [
    FlowStart(TS, FLOW, True),
    resolved("pool.example.org", POOL_IP),
    DnsMessage(TS, DNS_FLOW, True, 7, False, 0, 0, 0x0100, (("pool.example.org", 1),)),
    msg(SUBSCRIBE, TS),
    TlsClientHello(TS, OTHER, True, "example.org", "TLS 1.3"),
    HttpMessage(TS, OTHER, True, True, "GET", "/", 0, {"host": "example.org"}),
    FlowEnd(TS, FLOW, True),
]


@pytest.mark.parametrize(
    "takes",
    [
        pytest.param((DnsMessage,), id="dns"),
        pytest.param((FlowStart, FlowEnd), id="flow-start-and-end"),
        pytest.param((JsonMessage, HttpMessage), id="json-and-http"),
        pytest.param((Event,), id="every-event"),
        pytest.param((), id="none"),
    ],
)
def test_detector_is_handed_only_the_event_types_it_takes(takes: tuple[type[Event], ...]) -> None:
    pipe, flows = pipeline()
    recording = Recording(takes)
    pipe.detectors.append(recording)
    feed(pipe, flows, EVERY_KIND)
    assert recording.seen == [type(e) for e in EVERY_KIND if isinstance(e, takes)]


def test_enricher_observes_dns_messages_and_flow_facts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS (the passive DNS memory) and the TLS hello (the flow's fingerprints), nothing else."""
    pipe, flows = pipeline()
    observed: list[type[Event]] = []
    monkeypatch.setattr(pipe.enricher, "observe", lambda event: observed.append(type(event)))
    feed(pipe, flows, EVERY_KIND)
    assert observed == [DnsMessage, DnsMessage, TlsClientHello]


def test_settled_stratum_detections_are_counted_as_suppressed() -> None:
    """Detections the stratum detector leaves bare are still counted, as before, and change nothing."""
    pipe, flows = pipeline(fold_pool=False)
    submits = [msg(SUBMIT, TS + (2 + i) * MS) for i in range(3)]
    events = [msg(SUBSCRIBE, TS), msg(AUTHORIZE, TS + MS), *submits]
    out = feed(pipe, flows, events)
    [det] = out
    assert det.evidence["login"].startswith(XMR)
    assert pipe.stats.suppressed == 3


# --------------------------------------------------------------------------- tunnels and TLS fingerprints

PROXY = FlowKey("10.0.0.1", 40200, "10.0.0.8", 1080, 6)
TUNNEL_SID = 9300206
JA3S = ("771,4865,43", "a" * 32)


def hello(ts: int, flow: FlowKey, sni: str | None, known: str = "") -> TlsClientHello:
    return TlsClientHello(ts, flow, True, sni, "TLS 1.3", (), "771,4865,0", "b" * 32, "t13d0101_x_y", known)


def server_hello(ts: int, flow: FlowKey) -> TlsServerHello:
    return TlsServerHello(ts, flow, False, "TLS 1.3", *JA3S)


def test_stratum_behind_socks_names_the_proxy_and_the_target() -> None:
    """The login through a SOCKS5 proxy: the miner alert says which tunnel and which pool behind it."""
    pipe, flows = pipeline()
    events: list[Event] = [
        resolved("proxy.corp.example", PROXY.server_ip),
        FlowStart(TS, PROXY, True),
        TunnelOpen(TS + MS, PROXY, True, "socks5", "gulf.supportxmr.com", 10128, "gulf.supportxmr.com:10128"),
        msg(XMRIG_LOGIN, TS + 2 * MS, flow=PROXY),
        FlowEnd(TS + 3 * MS, PROXY, True),
    ]
    out = {d.signature.sid: d for d in feed(pipe, flows, events)}
    assert set(out) == {9300107, TUNNEL_SID}
    for det in out.values():
        assert det.evidence["tunnel"] == "socks5"
        assert det.evidence["tunnel_target"] == "gulf.supportxmr.com:10128"
        assert det.evidence["pool_host"] == "gulf.supportxmr.com"  # not the proxy's name
        assert det.evidence["blocklist_entry"] == "supportxmr.com"
    assert pipe.enricher.facts.flows == {}  # forgotten once the flow ended


def test_benign_tunnel_gives_no_alert() -> None:
    pipe, flows = pipeline()
    events: list[Event] = [
        FlowStart(TS, PROXY, True),
        TunnelOpen(TS + MS, PROXY, True, "socks5", "www.example.com", 443, "www.example.com:443"),
        hello(TS + 2 * MS, PROXY, "www.example.com"),
        server_hello(TS + 3 * MS, PROXY),
        FlowEnd(TS + 4 * MS, PROXY, True),
    ]
    assert feed(pipe, flows, events) == []


def test_sni_alert_waits_for_the_server_hello_and_carries_every_fingerprint() -> None:
    pipe, flows = pipeline()
    assert feed(pipe, flows, [FlowStart(TS, OTHER, True), hello(TS + MS, OTHER, "pool.supportxmr.com")]) == []
    (det,) = feed(pipe, flows, [server_hello(TS + 2 * MS, OTHER)])
    assert det.signature.sid == TLS_SID
    tls = det.app["tls"]
    assert tls["sni"] == "pool.supportxmr.com"
    assert tls["ja3"] == {"hash": "b" * 32, "string": "771,4865,0"} and tls["ja4"] == "t13d0101_x_y"
    assert tls["ja3s"] == {"string": JA3S[0], "hash": JA3S[1]}


def test_sni_alert_without_a_server_hello_is_released_after_the_hold() -> None:
    pipe, flows = pipeline()
    assert feed(pipe, flows, [hello(TS, OTHER, "pool.supportxmr.com")]) == []
    (det,) = feed(pipe, flows, [FlowStart(TS + HOLD_US + CHECK_EVERY_US, FLOW, True)])
    assert det.signature.sid == TLS_SID and "ja3s" not in det.app["tls"]


def test_every_alert_of_a_tls_flow_carries_its_fingerprints() -> None:
    """A fallback alert (the address a pool name resolved to) on a TLS flow without SNI."""
    pipe, flows = pipeline()
    events: list[Event] = [
        resolved("pool.supportxmr.com", POOL_IP),
        FlowStart(TS, FLOW, True),
        hello(TS + MS, FLOW, None, known="XMRig 6.16.0"),
        server_hello(TS + 2 * MS, FLOW),
        FlowEnd(TS + 3 * MS, FLOW, True),
    ]
    (det,) = [d for d in feed(pipe, flows, events) if d.flow == FLOW]
    assert det.signature.sid == RESOLVED_SID
    assert set(det.app["tls"]) == {"version", "ja3", "ja4", "ja3s"}
    assert det.evidence["tls_fingerprint"] == "XMRig 6.16.0"


def test_known_miner_fingerprint_alone_raises_nothing() -> None:
    pipe, flows = pipeline()
    events: list[Event] = [
        FlowStart(TS, OTHER, True),
        hello(TS + MS, OTHER, None, known="XMRig 6.16.0"),
        server_hello(TS + 2 * MS, OTHER),
        FlowEnd(TS + 3 * MS, OTHER, True),
    ]
    assert feed(pipe, flows, events) == []


# -------------------------------------------------------------------- the flow summary of an alerted flow

COUNTS = (11, 6, 1035, 1558)


def test_an_alerted_flow_ends_with_its_summary_after_its_alerts() -> None:
    pipe, flows = pipeline()
    events: list[Event] = [msg(SUBSCRIBE, TS), msg(SET_DIFFICULTY, TS + MS, from_client=False)]
    events += [msg(AUTHORIZE, TS + 2 * MS), FlowEnd(TS + 9 * MS, FLOW, True, TS - MS, COUNTS, "timeout")]
    out = feed(pipe, flows, events, summaries=True)
    assert [type(x).__name__ for x in out] == ["Detection", "FlowSummary"]
    summary = out[1]
    assert isinstance(summary, FlowSummary)
    assert (summary.end.counts, summary.end.start_us, summary.end.reason) == (COUNTS, TS - MS, "timeout")
    assert (summary.roles, summary.miner_is_client) == ((Role.MINER, Role.POOL), True)
    assert summary.app_proto == "stratum"


def test_a_flow_without_alerts_has_no_summary() -> None:
    pipe, flows = pipeline()
    assert feed(pipe, flows, [FlowEnd(TS, FLOW, True, TS - MS, COUNTS)], summaries=True) == []
    assert pipe.finish() == []


def test_a_held_alert_released_by_its_flows_end_comes_before_the_summary() -> None:
    pipe, flows = pipeline()
    out = feed(pipe, flows, [msg(SUBSCRIBE, TS), FlowEnd(TS + MS, FLOW, True, TS, COUNTS)], summaries=True)
    assert [type(x).__name__ for x in out] == ["Detection", "FlowSummary"]


def test_a_new_flow_on_the_same_ports_alerts_again() -> None:
    """A flow that ended is forgotten: the next one on the same four-tuple is a new session."""
    pipe, flows = pipeline(fold_pool=False)
    session = [msg(XMRIG_LOGIN, TS), FlowEnd(TS + MS, FLOW, True, TS, COUNTS)]
    first = feed(pipe, flows, session, summaries=True)
    second = feed(pipe, flows, [msg(XMRIG_LOGIN, TS + 2 * MS)])
    assert [type(x).__name__ for x in first + second] == ["Detection", "FlowSummary", "Detection"]
