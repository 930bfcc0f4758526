"""Stratum inside TLS or another encryption, told by the rhythm of its messages alone (detection layer).

TlsRecords (``dissect/shape``), TcpMessages (``dissect/opaque``) -> **BehaviourDetector**
    -> Detection (possible encrypted Stratum)

A miner behind TLS still behaves like a miner. Measured on real XMRig 6.16.0 sessions
(``tests/data/real-xmrig/``): right after the handshake the client sends one large record, its
login (XMRig's lists every algorithm it knows: about 600 bytes), and the pool answers with a
larger one, the first job. Then the client only ever sends *submits*, records of one size
(nonce and result are fixed-length hex) at the random moments the hashing finds a share, and
each is answered at once by a much smaller record (``{"status":"OK"}``); keepalives are
answered the same way. The pool pushes a new job, a record much larger than its answers, now
and then. The rules below all have to hold; each threshold is a named constant:

1. **login**: among the client's first three application-data records, within
   :data:`LOGIN_WINDOW_S` of the hello, one of :data:`LOGIN_BYTES` answered within
   :data:`ANSWER_S` by a server record of at least :data:`JOB_MIN_BYTES`;
2. **submits**: after that, at least :data:`MIN_SUBMITS` client records within
   :data:`SIZE_SPREAD` bytes of their median (in :data:`SUBMIT_BYTES`), each answered within
   :data:`ANSWER_S` and before the client's next record;
3. **answers much smaller than submits**: the answers' median is at most :data:`MAX_ANSWER_RATIO`
   of the submits' (an echo, a chat or a ping answered in kind fails here);
4. **nothing else from the client**: at least :data:`MIN_ANSWERED_SHARE` of the client's records
   after the login are answered that way (a publisher, a chat or a browser fails here);
5. **pushes are jobs**: every server record that answers nothing is at least
   :data:`PUSH_VS_ANSWER` times the answers' size;
6. **shares come at random**: the gaps between submits vary (coefficient of variation at least
   :data:`MIN_SUBMIT_CV`), unlike the timer of a keepalive or a poll;
7. **long enough**: the session has been seen for :data:`MIN_SESSION_S` seconds;
8. **not the web**: the ClientHello offers no HTTP protocol in ALPN (:data:`WEB_ALPNS`). Browsers and
   HTTP libraries do; XMRig and other Stratum clients offer no ALPN at all.

The same rules read an opaque TCP session (``dissect/opaque``: one whose first bytes match no
protocol and look random, as an encrypting relay's such as shadowsocks do), from its messages
instead of its records: a relay's per-message overhead (shadowsocks AEAD: 34 bytes, and a 32-byte
salt on each side's first message) is of the size of TLS's, so the thresholds hold as they are
(measured: ``tests/data/real-xmrig/xmrig-shadowsocks.pcap``, login 682, job 562, submits 245,
answers 97, pushes 418). Rule 8 has no counterpart there; the session must instead start with
random-looking bytes on both sides, which no clear-text or binary protocol with a header does.
Its alert is a signature of its own (:data:`~poolsniff.detect.signatures.BEHAVIOUR_OPAQUE`).

The alert carries every measure it used, and the client's JA3/JA4 (TLS).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean, median, pstdev
from typing import Final

from poolsniff.detect import signatures as sigs
from poolsniff.dissect.shape import APPLICATION_DATA, WEB_ALPNS, unpack
from poolsniff.model import Detection, Event, Role, TcpMessages, TlsRecords

MIN_SESSION_S: Final = 60
LOGIN_WINDOW_S: Final = 10
LOGIN_BYTES: Final = range(120, 2501)
"""Record lengths of a login (with TLS overhead): XMRig's is about 600, a bare one about 200."""
JOB_MIN_BYTES: Final = 200
ANSWER_S: Final = 2.0
SUBMIT_BYTES: Final = range(120, 701)
SIZE_SPREAD: Final = 24
MIN_SUBMITS: Final = 4
MAX_ANSWER_RATIO: Final = 0.55
MAX_ANSWER_BYTES: Final = 200
MIN_ANSWERED_SHARE: Final = 0.85
PUSH_VS_ANSWER: Final = 2.0
MIN_SUBMIT_CV: Final = 0.3


@dataclass(frozen=True, slots=True)
class Rhythm:
    """The measures of one session that the rules read."""

    login: int
    job: int
    submits: list[int]
    """Times (ms) of the submit-sized client records that were answered."""
    submit_bytes: int
    answer_bytes: int
    answered_share: float
    pushes: list[tuple[int, int]]
    """(ms, length) of the server records that answered nothing."""
    seconds: float


class BehaviourDetector:
    """Raises "possible encrypted Stratum session" from TLS record or opaque message shapes."""

    name = "behaviour"
    events: tuple[type[Event], ...] = (TlsRecords, TcpMessages)

    def inspect(self, event: Event) -> list[Detection]:
        """A detection when a session's records (or messages) follow all the rules (a list: none or one)."""
        if isinstance(event, TcpMessages):
            rhythm = measure(event.records)
            if rhythm is not None and verdict(rhythm):
                det = Detection(event.ts_us, event.flow, sigs.BEHAVIOUR_OPAQUE, Role.MINER, True)
                det.evidence.update(explain(rhythm, "tcp-messages"))
                return [det]
            return []
        if not isinstance(event, TlsRecords) or WEB_ALPNS.intersection(event.alpns):
            return []
        rhythm = measure(event.records)
        if rhythm is None or not verdict(rhythm):
            return []
        det = Detection(event.ts_us, event.flow, sigs.BEHAVIOUR, Role.MINER, True)
        det.evidence.update(explain(rhythm))
        for key, value in (("sni", event.sni), ("ja3_hash", event.ja3_hash), ("ja4", event.ja4)):
            if value:
                det.evidence[key] = value
        return [det]


def measure(packed: bytes) -> Rhythm | None:
    """Find the login and pair the client's records with the server's answers; None without a login."""
    app = [(ms, c, n) for ms, c, kind, n in unpack(packed) if kind == APPLICATION_DATA]
    client = [(i, ms, n) for i, (ms, c, n) in enumerate(app) if c]
    login = next(
        ((i, ms, n) for i, ms, n in client[:3] if n in LOGIN_BYTES and ms <= LOGIN_WINDOW_S * 1000), None
    )
    if login is None:
        return None
    li, lms, ln = login
    window = lms + ANSWER_S * 1000
    job = max((n for ms, c, n in app[li + 1 :] if not c and ms <= window), default=0)
    steady = [(ms, c, n) for ms, c, n in app[li + 1 :] if ms > window]
    pairs, unanswered, pushes = [], 0, []
    answered_server: set[int] = set()
    for i, (ms, c, n) in enumerate(steady):
        if not c:
            continue
        nxt = steady[i + 1] if i + 1 < len(steady) else None
        if nxt is not None and not nxt[1] and nxt[0] - ms <= ANSWER_S * 1000:
            pairs.append((ms, n, nxt[2]))
            answered_server.add(i + 1)
        else:
            unanswered += 1
    pushes = [(ms, n) for i, (ms, c, n) in enumerate(steady) if not c and i not in answered_server]
    if not pairs:
        return None
    size = median(n for _, n, _ in pairs)
    cluster = [(ms, n, a) for ms, n, a in pairs if abs(n - size) <= SIZE_SPREAD]
    last = app[-1][0] if app else 0
    return Rhythm(
        login=ln,
        job=job,
        submits=[ms for ms, _, _ in cluster],
        submit_bytes=round(size),
        answer_bytes=round(median(a for _, _, a in cluster)) if cluster else 0,
        answered_share=len(pairs) / (len(pairs) + unanswered),
        pushes=pushes,
        seconds=(last - lms) / 1000,
    )


def verdict(r: Rhythm) -> bool:
    """Whether a session's rhythm is a miner's (all seven rules of the module docstring)."""
    if r.seconds < MIN_SESSION_S or r.job < JOB_MIN_BYTES or len(r.submits) < MIN_SUBMITS:
        return False
    if r.submit_bytes not in SUBMIT_BYTES or r.answer_bytes > MAX_ANSWER_BYTES:
        return False
    if r.answer_bytes > MAX_ANSWER_RATIO * r.submit_bytes or r.answered_share < MIN_ANSWERED_SHARE:
        return False
    if any(n < PUSH_VS_ANSWER * r.answer_bytes for _, n in r.pushes):
        return False
    return submit_cv(r.submits) >= MIN_SUBMIT_CV


def submit_cv(times: list[int]) -> float:
    """Coefficient of variation of the gaps between submits (0 for a metronome)."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if len(gaps) < 2 or mean(gaps) <= 0:
        return 0.0
    return pstdev(gaps) / mean(gaps)


def explain(r: Rhythm, flavour: str = "tls-records") -> dict[str, str]:
    """The measures, as alert metadata; ``flavour`` says what was measured (records or messages)."""
    out = {
        "flavour": flavour,
        "login_bytes": str(r.login),
        "job_bytes": str(r.job),
        "submits": str(len(r.submits)),
        "submit_bytes": str(r.submit_bytes),
        "answer_bytes": str(r.answer_bytes),
        "submit_interval_cv": f"{submit_cv(r.submits):.2f}",
        "pushes": str(len(r.pushes)),
        "duration_s": f"{r.seconds:.0f}",
    }
    if r.pushes:
        out["push_bytes"] = str(round(median(n for _, n in r.pushes)))
    if len(r.pushes) >= 2:
        gaps = [b[0] - a[0] for a, b in zip(r.pushes, r.pushes[1:], strict=False)]
        out["push_interval_s"] = f"{median(gaps) / 1000:.0f}"
    return out
