"""The behaviour detector: a miner's TLS rhythm alerts, and each look-alike trait alone keeps it silent.

The base session has the record sizes of the real XMRig 6.16.0 TLS capture
(tests/data/real-xmrig/xmrig-tls-ip.pcap: login 592, job 513, submits 228, answers 80, a job push 401);
each row changes one thing a benign program does differently.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from poolsniff.detect import behaviour
from poolsniff.detect.behaviour import BehaviourDetector
from poolsniff.detect.signatures import BEHAVIOUR, BEHAVIOUR_OPAQUE
from poolsniff.dissect.shape import RECORD
from poolsniff.model import FlowKey, TcpMessages, TlsRecords

Record = tuple[float, bool, int, int]
"""(seconds since the hello, from the client, content type, length)"""
FLOW = FlowKey("10.0.0.1", 40000, "192.168.1.2", 443, 6)
SUBMITS = [21.4, 31.8, 44.0, 77.0, 79.5, 90.7]


def miner(
    submits: list[float] = SUBMITS, submit: int = 228, answer: int = 80, push: int = 401, login: int = 592
) -> list[Record]:
    """A TLS 1.3 XMRig session: handshake, login and job, submits with their answers, one job push."""
    out: list[Record] = [(0.0, False, 22, 122), (0.0, False, 23, 2200), (0.0, True, 23, 69)]
    out += [(0.01, True, 23, login), (0.02, False, 23, 250), (0.02, False, 23, 513)]
    for t in submits:
        out += [(t, True, 23, submit), (t + 0.005, False, 23, answer)]
    out.append((50.0, False, 23, push))
    return sorted(out)


def pack(records: list[Record]) -> bytes:
    """The records as ``dissect/shape`` keeps them."""
    return b"".join(RECORD.pack(int(t * 1000), c << 7 | kind, n) for t, c, kind, n in records)


def alerts(records: list[Record], alpns: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """The evidence of each detection the detector raises on one snapshot."""
    event = TlsRecords(int(records[-1][0] * 1e6), FLOW, True, pack(records), 0, "", alpns, "ja3", "ja4")
    return [d.evidence for d in BehaviourDetector().inspect(event)]


def unanswered_publishes(r: list[Record]) -> list[Record]:
    return sorted(r + [(t + 2.5, True, 23, 228) for t in SUBMITS])


CASES: list[tuple[str, Callable[[], list[Record]], bool]] = [
    ("the XMRig session", miner, True),
    ("answers as large as the requests (echo, chat)", lambda: miner(answer=230), False),
    ("answers a bit smaller, as a ping's (Electrum)", lambda: miner(submit=82, answer=62), False),
    (
        "requests on a timer (keepalive, poll)",
        lambda: miner(submits=[20.0 + 10 * i for i in range(7)]),
        False,
    ),
    ("client messages nobody answers (a publisher)", lambda: unanswered_publishes(miner()), False),
    ("too few submits", lambda: miner(submits=SUBMITS[:3]), False),
    ("seen for less than a minute", lambda: miner(submits=[s * 0.55 for s in SUBMITS])[:-1], False),
    ("no login: the first records are small", lambda: miner(login=90), False),
    ("a server push no larger than an answer", lambda: miner(push=90), False),
]


@pytest.mark.parametrize("name, make, alerted", CASES, ids=[c[0] for c in CASES])
def test_rules(name: str, make: Callable[[], list[Record]], alerted: bool) -> None:
    assert bool(alerts(make())) is alerted


def test_web_clients_are_left_alone() -> None:
    assert alerts(miner()) and not alerts(miner(), alpns=("h2", "http/1.1"))


def test_the_alert_explains_itself() -> None:
    (evidence,) = alerts(miner())
    assert evidence == {
        "flavour": "tls-records", "login_bytes": "592", "job_bytes": "513", "submits": "6",
        "submit_bytes": "228", "answer_bytes": "80", "submit_interval_cv": evidence["submit_interval_cv"],
        "pushes": "1", "push_bytes": "401", "duration_s": "91", "ja3_hash": "ja3", "ja4": "ja4",
    }  # fmt: skip
    assert float(evidence["submit_interval_cv"]) >= behaviour.MIN_SUBMIT_CV
    assert BEHAVIOUR.severity == 2 and BEHAVIOUR.probe


# --------------------------------------------------------------------------- opaque TCP (dissect/opaque)


def relayed(records: list[Record]) -> list[Record]:
    """A session's messages as an encrypting relay shows them: no handshake, each message one record."""
    return [r for r in records if r[2] == 23]


def opaque_alerts(records: list[Record]) -> list[tuple[int, dict[str, str]]]:
    """The signature and evidence of each detection on one opaque snapshot."""
    event = TcpMessages(int(records[-1][0] * 1e6), FLOW, True, pack(records), 0)
    return [(d.signature.sid, d.evidence) for d in BehaviourDetector().inspect(event)]


@pytest.mark.parametrize("name, make, alerted", CASES, ids=[c[0] for c in CASES])
def test_the_same_rules_read_opaque_sessions(
    name: str, make: Callable[[], list[Record]], alerted: bool
) -> None:
    assert bool(opaque_alerts(relayed(make()))) is alerted


def test_the_shadowsocks_session_alerts_with_its_own_signature() -> None:
    """Sizes of tests/data/real-xmrig/xmrig-shadowsocks.pcap: login 682, job 562, submits 245, answers 97."""
    session = [(0.0, True, 23, 682), (0.001, False, 23, 562), (25.5, False, 23, 418), (56.3, False, 23, 418)]
    session += [(88.6, False, 23, 418)]
    for t in (5.2, 45.6, 89.8, 93.7):
        session += [(t, True, 23, 245), (t + 0.001, False, 23, 97)]
    ((sid, evidence),) = opaque_alerts(sorted(session))
    assert sid == BEHAVIOUR_OPAQUE.sid and evidence["flavour"] == "tcp-messages"
    assert (evidence["login_bytes"], evidence["job_bytes"], evidence["submit_bytes"]) == ("682", "562", "245")
    assert (evidence["answer_bytes"], evidence["push_bytes"], evidence["push_interval_s"]) == (
        "97",
        "418",
        "32",
    )
    assert "ja3_hash" not in evidence and "ja4" not in evidence
    assert BEHAVIOUR_OPAQUE.severity == 2 and not BEHAVIOUR_OPAQUE.probe
