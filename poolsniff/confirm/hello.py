"""The Stratum hellos a probe sends and the classifier of the replies (confirmation stage, no I/O).

alert (possible pool) -> **hello bytes** -> probe socket -> reply bytes -> **classify** -> verdict

Three hellos, each the first line a miner of one dialect sends (``../shared/reference/PROTOCOLS.md``;
NEMEA's ``stratum_check_server`` sends the same three):

* CryptoNote/XMRig ``login`` with a dummy wallet: a pool answers with a ``job`` (``blob``, ``job_id``,
  ``target``);
* Stratum v1 ``mining.subscribe``: a pool answers with subscriptions and an extranonce, or sends
  ``mining.notify`` / ``mining.set_difficulty``;
* eth-proxy ``eth_submitLogin``: a pool answers ``"result": true``.

A reply counts only when it is the answer *to that hello* (a ``"result": true`` says nothing to a
CryptoNote login); the answer to the hello's id decides, without waiting for more. Anything else
(a banner, an HTTP answer, a TLS record, a JSON-RPC error, silence) is "not mining", with a short
reason that says what came back. The reply is bounded: the classifier
decides on the first complete lines and never holds more than :data:`MAX_REPLY` bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from poolsniff import __version__

AGENT: Final = f"poolsniff-probe/{__version__}"
"""The agent every hello names, so that a pool operator who logs it can tell what asked."""
DUMMY_WALLET: Final = "poolsniff-probe-dummy-wallet"
"""The login of the CryptoNote and eth-proxy hellos: no wallet, so no work can be credited to anyone."""

MAX_REPLY: Final = 16 << 10
"""Bytes of a reply read at most; a job line of a real pool is well under 1 KiB."""
MAX_LINES: Final = 4
"""Complete JSON lines read before a reply with nothing mining-like in it is "not mining"."""
EXCERPT: Final = 120
"""Characters of the reply kept for the report."""


class Dialect(str, Enum):
    """The hello sent, by mining dialect."""

    CRYPTONOTE = "cryptonote"
    STRATUM = "stratum-v1"
    ETH_PROXY = "eth-proxy"


HELLOS: Final = (Dialect.CRYPTONOTE, Dialect.STRATUM, Dialect.ETH_PROXY)
"""The order a probe tries them in (XMRig's dialect first: the miners that hide are mostly XMRig)."""


def hello(dialect: Dialect) -> bytes:
    """The hello line for ``dialect`` (JSON, newline-terminated)."""
    message: dict[str, Any]
    if dialect is Dialect.CRYPTONOTE:
        algos = ["rx/0", "cn/r", "gr", "kawpow"]
        params = {"login": DUMMY_WALLET, "pass": "x", "agent": AGENT, "algo": algos}
        message = {"id": 1, "jsonrpc": "2.0", "method": "login", "params": params}
    elif dialect is Dialect.STRATUM:
        message = {"id": 1, "method": "mining.subscribe", "params": [AGENT]}
    else:
        message = {"id": 1, "jsonrpc": "2.0", "method": "eth_submitLogin", "worker": "probe",
                   "params": [DUMMY_WALLET, "x"]}  # fmt: skip
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class Kind(str, Enum):
    """What a reply says the server is."""

    CRYPTONOTE_JOB = "cryptonote-job"
    """A CryptoNote login result carrying a job."""
    STRATUM_SUBSCRIBE = "stratum-subscribe"
    """A Stratum v1 subscribe result, or a ``mining.notify``/``set_difficulty`` push."""
    ETH_PROXY = "eth-proxy"
    """``"result": true`` to ``eth_submitLogin``."""
    NOT_MINING = "not-mining"

    @property
    def mining(self) -> bool:
        """True for the kinds that confirm a pool."""
        return self is not Kind.NOT_MINING


@dataclass(frozen=True)
class Reply:
    """The classifier's verdict on one reply."""

    kind: Kind
    detail: str
    """What was seen, for people: ``job 7 (target b88d0600)``, ``SSH banner``, ``no answer``."""
    excerpt: str = ""
    """The start of the reply, printable characters only."""
    text_like: bool = True
    """False when the reply shows the port speaks another protocol (no other hello can help)."""


BANNERS: Final = (
    (b"SSH-", "SSH banner"),
    (b"HTTP/", "HTTP response"),
    (b"220", "FTP/SMTP greeting"),
    (b"* OK", "IMAP greeting"),
    (b"+OK", "POP3 greeting"),
    (b"RFB ", "VNC greeting"),
    (b"<", "HTML or XML reply"),
)
"""Replies that name another protocol at once."""

_PUSHES: Final = frozenset(
    {"mining.notify", "mining.set_difficulty", "mining.set_target", "mining.set_extranonce"}
)


def excerpt(data: bytes) -> str:
    """The first line of ``data`` as printable ASCII (others as ``.``), cut to :data:`EXCERPT`."""
    line = data[:EXCERPT].split(b"\n", 1)[0]
    return "".join(chr(b) if 32 <= b < 127 else "." for b in line)


class Classifier:
    """Reads one reply to one hello, incrementally: ``feed`` until it answers, then ``finish``."""

    def __init__(self, dialect: Dialect) -> None:
        """Expect the reply to the ``dialect`` hello."""
        self.dialect = dialect
        self.data = bytearray()
        self.lines = 0
        self.done = 0
        """Bytes of ``data`` already read as lines."""
        self.error = ""

    def feed(self, chunk: bytes) -> Reply | None:
        """Take the next bytes of the reply; the verdict once it is clear, else None (read on)."""
        start = len(self.data)
        self.data += chunk[: MAX_REPLY - start]
        if start == 0 and self.data:
            other = _other_protocol(bytes(self.data[:8]))
            if other:
                return Reply(Kind.NOT_MINING, other, excerpt(bytes(self.data)), text_like=False)
        while True:
            end = self.data.find(b"\n", self.done)
            if end < 0:
                break
            line = bytes(self.data[self.done : end])
            self.done = end + 1
            verdict = self._line(line)
            if verdict is not None:
                return verdict
        if len(self.data) >= MAX_REPLY:
            return self.finish("reply too long for a hello")
        return None

    def finish(self, why: str) -> Reply:
        """The verdict when the reply ends (closed, timed out, or too long): ``why`` says which."""
        rest = bytes(self.data[self.done :]).strip()
        if rest:  # a last line without its newline
            verdict = self._line(rest)
            if verdict is not None:
                return verdict
        if self.error:
            return Reply(Kind.NOT_MINING, f"JSON-RPC error: {self.error}", excerpt(bytes(self.data)))
        if not self.data:
            return Reply(Kind.NOT_MINING, why)
        text = self.lines > 0
        return Reply(Kind.NOT_MINING, f"no mining reply ({why})", excerpt(bytes(self.data)), text_like=text)

    def _line(self, line: bytes) -> Reply | None:
        line = line.strip()
        if not line:
            return None
        self.lines += 1
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return Reply(Kind.NOT_MINING, "not JSON", excerpt(line), text_like=False)
        verdict = self._judge(value) if isinstance(value, dict) else None
        if verdict is not None:
            return Reply(verdict[0], verdict[1], excerpt(line))
        if self.lines >= MAX_LINES:
            return self.finish(f"{self.lines} lines")
        return None

    def _judge(self, msg: dict[str, Any]) -> tuple[Kind, str] | None:
        method = msg.get("method")
        result = msg.get("result")
        error = msg.get("error")
        if error and not self.error:
            self.error = _error_text(error)
        if self.dialect is Dialect.CRYPTONOTE:
            job = result.get("job") if isinstance(result, dict) else None
            if method == "job":
                job = msg.get("params")
            if _is_job(job):
                assert isinstance(job, dict)
                what = f"job {_short(job.get('job_id'))} (target {_short(job.get('target'))})"
                return Kind.CRYPTONOTE_JOB, what
        elif self.dialect is Dialect.STRATUM:
            if isinstance(method, str) and method in _PUSHES:
                return Kind.STRATUM_SUBSCRIBE, f"{method} pushed"
            if msg.get("id") == 1 and _is_subscribe_result(result):
                assert isinstance(result, list)
                return Kind.STRATUM_SUBSCRIBE, f"subscribed (extranonce1 {_short(result[1])})"
        elif msg.get("id") == 1 and result is True:
            return Kind.ETH_PROXY, "eth_submitLogin accepted"
        if msg.get("id") == 1 and ("result" in msg or "error" in msg):  # the answer, and no work in it
            return Kind.NOT_MINING, f"JSON-RPC error: {self.error}" if self.error else "answered without work"
        return None


def _other_protocol(head: bytes) -> str:
    for prefix, name in BANNERS:
        if head.startswith(prefix):
            return name
    if len(head) >= 3 and head[0] in (0x15, 0x16) and head[1] == 3:
        return "TLS record (the port speaks TLS)"
    if head[:1] in (b"{", b"[", b" ", b"\r", b"\n", b"\t") or head[:1].isalnum():
        return ""
    return "binary reply"


def _is_job(job: object) -> bool:
    return isinstance(job, dict) and all(isinstance(job.get(k), str) for k in ("blob", "job_id", "target"))


def _is_subscribe_result(result: object) -> bool:
    """``[subscriptions, extranonce1, extranonce2_size]`` (v1), ``[subscription, extranonce]`` (NiceHash)."""
    if not isinstance(result, list) or len(result) < 2:
        return False
    subs, extranonce = result[0], result[1]
    if not isinstance(extranonce, str) or not all(c in "0123456789abcdefABCDEF" for c in extranonce):
        return False
    text = json.dumps(subs)
    return "mining." in text


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        error = error.get("message", error)
    elif isinstance(error, list) and len(error) >= 2:
        error = error[1]
    return _short(error, 80)


def _short(value: object, width: int = 24) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = "".join(c if c.isprintable() else "." for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"
