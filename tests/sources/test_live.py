"""The live source: the kernel filter (run here by a small classic-BPF interpreter) and the socket.

The filter tests need nothing special: ``run_bpf`` executes the program as the kernel would.
They check the filter frame by frame, check that scanning only what it lets through gives
the same alerts as scanning everything (bundled captures, and the shared corpus where
present), and that bulk data is cut. The socket tests need root and network namespaces
(skipped otherwise, with the reason): they open a veth pair inside a namespace of their own.
This module also holds the helpers ``tests/run/test_sniff.py`` uses.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from poolsniff.engine.pipeline import Pipeline
from poolsniff.errors import CaptureError
from poolsniff.intel.lists import load_shipped
from poolsniff.model import Alert, Frame
from poolsniff.output.eve import to_eve
from poolsniff.output.eventid import without_id
from poolsniff.sources import live
from poolsniff.sources.live import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    SNAPLEN,
    Insn,
    and_filters,
    capture_filter,
)
from poolsniff.sources.pcap import expand_paths, iter_capture

from ..conftest import PCAPS, ROOT
from ..factories_frames import DST4, SRC4, eth, ext8, ipv4, ipv6, pcap_file, tcp, udp

ETH = capture_filter(LINKTYPE_ETHERNET)
RAW = capture_filter(LINKTYPE_RAW)
LOOP = capture_filter(LINKTYPE_ETHERNET, loopback=True)
ALERT_IGNORE = ("timestamp", "in_iface", "pcap_filename")
"""Fields that differ between a live capture and a scan of the same traffic."""

# --------------------------------------------------------------------------- helpers (shared)


def run_bpf(program: Sequence[Insn], frame: bytes, pkttype: int = 0) -> int:
    """Run a classic BPF program over ``frame`` as the kernel does; return the bytes it keeps."""
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        cls = code & 0x07
        if cls in (0, 1):  # LD, LDX
            value = _load(code, k, x, mem, frame, pkttype)
            if value is None:
                return 0  # a load past the end: the kernel drops the frame
            a, x = (value, x) if cls == 0 else (a, value)
        elif cls == 2:
            mem[k] = a
        elif cls == 3:
            mem[k] = x
        elif cls == 4:
            a = _alu(code & 0xF0, a, x if code & 0x08 else k)
        elif cls == 5:
            if code & 0xF0 == 0:
                pc += k
                continue
            src = x if code & 0x08 else k
            hit = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[code & 0xF0]
            pc += jt if hit else jf
        elif cls == 6:
            return a if code & 0x10 else k
        else:
            a, x = (x, x) if code & 0x80 else (a, a)


def _load(code: int, k: int, x: int, mem: list[int], frame: bytes, pkttype: int) -> int | None:
    mode = code & 0xE0
    if mode == 0x00:
        return k
    if mode == 0x80:
        return len(frame)
    if mode == 0x60:
        return mem[k]
    if mode == 0xA0:
        return (frame[k] & 0x0F) << 2 if k < len(frame) else None
    if mode == 0x20 and k >= 0xFFFFF000:
        assert k == live.SKF_AD_PKTTYPE, hex(k)
        return pkttype
    off = k + (x if mode == 0x40 else 0)
    width = {0x00: 4, 0x08: 2, 0x10: 1}[code & 0x18]
    if off + width > len(frame):
        return None
    return int.from_bytes(frame[off : off + width], "big")


def _alu(op: int, a: int, src: int) -> int:
    ops: dict[int, Callable[[], int]] = {
        0x00: lambda: a + src, 0x10: lambda: a - src, 0x20: lambda: a * src, 0x30: lambda: a // src,
        0x40: lambda: a | src, 0x50: lambda: a & src, 0x60: lambda: a << src, 0x70: lambda: a >> src,
        0x80: lambda: -a,
    }  # fmt: skip
    return ops[op]() & 0xFFFFFFFF


def to_live(frame: Frame) -> Frame | None:
    """The frame as an interface would carry it: Ethernet, or raw IP for BSD loopback and raw captures."""
    ts, linktype, data = frame
    if linktype == 1:
        return frame
    if linktype == 113:  # Linux cooked v1: protocol at 14
        return ts, 1, b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + data[14:16] + data[16:]
    if linktype == 276:  # Linux cooked v2: protocol at 0
        return ts, 1, b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + data[0:2] + data[20:]
    if linktype in (12, 14, 101):
        return ts, LINKTYPE_RAW, data
    if linktype == 0:
        return ts, LINKTYPE_RAW, data[4:]
    return None


def to_ethernet(frame: Frame) -> bytes:
    """Frame bytes an Ethernet interface carries (raw IP gets a made-up Ethernet header)."""
    converted = to_live(frame)
    assert converted is not None, frame[1]
    _, linktype, data = converted
    if linktype == LINKTYPE_RAW:
        etype = b"\x86\xdd" if data[0] >> 4 == 6 else b"\x08\x00"
        return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + etype + data
    return data


def passes(frame: Frame) -> bool:
    """Whether the default filter for the frame's link type keeps it."""
    return run_bpf(ETH if frame[1] == LINKTYPE_ETHERNET else RAW, frame[2]) > 0


def scan_frames(frames: Iterator[Frame] | list[Frame], name: str = "x") -> list[dict[str, Any]]:
    """Run frames through a fresh pipeline; return the EVE records."""
    pipeline = Pipeline(load_shipped())
    records = []
    for frame in frames:
        records += [to_eve(Alert(d, name)) for d in pipeline.feed(frame)]
    records += [to_eve(Alert(d, name)) for d in pipeline.finish()]
    return records


FLOW_IGNORE = ("start", "end", "age", "pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient")
"""Fields of a ``flow`` record that differ between live and offline: capture times, and the counts
(live, they count the frames the kernel filter kept: no pure ACKs, no bulk segments)."""


def alerts_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``alert`` records among EVE records (not the ``flow`` and ``stats`` ones)."""
    return [r for r in records if r.get("event_type") == "alert"]


def comparable(records: list[dict[str, Any]]) -> list[str]:
    """Alert and flow records without the fields that differ between live and offline, sorted, as JSON
    text; ``stats`` records (counts of the run, not of the traffic) are left out."""
    out = []
    for r in records:
        if r.get("event_type") == "stats":
            continue
        kept = {k: v for k, v in without_id(r).items() if k not in ALERT_IGNORE}  # the id hashes them all
        if isinstance(kept.get("flow"), dict):
            kept["flow"] = {k: v for k, v in kept["flow"].items() if k not in FLOW_IGNORE}
        out.append(json.dumps(kept, sort_keys=True))
    return sorted(out)


class Netns:
    """A network namespace of its own; commands run inside it; ``close`` deletes it."""

    _ids = itertools.count()

    def __init__(self) -> None:
        """Create the namespace, with loopback up and IPv6 off (no router solicitations)."""
        self.name = f"poolsniff-test-{os.getpid()}-{next(self._ids)}"
        self.procs: list[subprocess.Popen[Any]] = []
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        self.ip("link", "set", "lo", "up")
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")

    def ip(self, *args: str) -> None:
        """Run ``ip -n NAME ARGS``."""
        subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True)

    def command(self, *args: str) -> list[str]:
        """The argv running ``args`` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace; fail on a non-zero status."""
        return subprocess.run(
            self.command(*args), check=True, capture_output=True, text=True, timeout=timeout
        )

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a command inside the namespace; ``close`` kills it if it still runs."""
        proc = subprocess.Popen(self.command(*args), **kwargs)
        self.procs.append(proc)
        return proc

    def veth(self, a: str, b: str, peer: Netns | None = None) -> None:
        """A veth pair ``a`` (here) <-> ``b`` (here, or in ``peer``), both up."""
        other = peer or self
        self.ip("link", "add", a, "type", "veth", "peer", "name", b, "netns", other.name)
        self.ip("link", "set", a, "up")
        other.ip("link", "set", b, "up")

    def close(self) -> None:
        """Kill what still runs inside, then delete the namespace (and its interfaces)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def need_root(*tools: str) -> None:
    """Skip, saying why, unless we are root with network namespaces and ``tools``."""
    if not sys.platform.startswith("linux"):
        pytest.skip("live capture needs Linux (AF_PACKET)")
    if os.geteuid() != 0:
        pytest.skip("live capture tests need root (network namespaces, CAP_NET_RAW); CI runs them as root")
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian: apt-get install {PACKAGES.get(tool, tool)})")


PACKAGES = {"ip": "iproute2", "tcpreplay": "tcpreplay", "dnsmasq": "dnsmasq-base", "setpriv": "util-linux"}


def namespaces() -> Iterator[Callable[[], Netns]]:
    """Yield a factory of namespaces; delete them all afterwards (the body of ``netns`` fixtures)."""
    need_root()
    made: list[Netns] = []

    def make() -> Netns:
        try:
            made.append(Netns())
        except subprocess.CalledProcessError as e:
            pytest.skip(f"cannot create a network namespace here: {e.stderr.strip()}")
        return made[-1]

    try:
        yield make
    finally:
        for ns in made:
            ns.close()


@pytest.fixture
def netns() -> Iterator[Callable[[], Netns]]:
    """A factory of namespaces, all deleted at teardown."""
    yield from namespaces()


# --------------------------------------------------------------------------- the filter, frame by frame

JSON = b'{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}\n'
HTTP = b"POST / HTTP/1.1\r\nHost: pool\r\nContent-Type: application/json\r\nContent-Length: 1200\r\n\r\n"
TEXT = (b'"params":["' + b"0123456789abcdef" * 80)[:1400]
RANDOM = random.Random(5).randbytes(1400)
TLS_HELLO = bytes.fromhex("160301") + (1395).to_bytes(2, "big") + b"\x01" + RANDOM[:1394]
TLS_DATA = bytes.fromhex("170303") + (1395).to_bytes(2, "big") + RANDOM[:1395]
ACK, PSH, SYN, FIN, RST = 0x10, 0x18, 0x02, 0x11, 0x04


def ws_frame(payload: bytes, opcode: int = 1, mask: bytes = b"", fin: bool = True) -> bytes:
    """One WebSocket frame (RFC 6455 §5.2), masked when ``mask`` is given, with a 16-bit length."""
    head = bytes([0x80 * fin | opcode, 0x80 * bool(mask) | 126]) + len(payload).to_bytes(2, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + mask + body


LOGIN_1K = (
    b'{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"'
    + b"4" * 95
    + b'","pass":"x",'
    + b'"agent":"XMRig/6.16.0","algo":['
    + b'"rx/0",' * 150
    + b'"cn/r"]}}\n'
)
"""A CryptoNote login over 1 KiB (XMRig lists every algorithm it knows)."""

FRAMES = [
    # (id, frame, passes)
    ("tcp-syn", eth(ipv4(tcp(flags=SYN))), True),
    ("tcp-fin", eth(ipv4(tcp(flags=FIN))), True),
    ("tcp-rst", eth(ipv4(tcp(flags=RST))), True),
    ("pure-ack", eth(ipv4(tcp(flags=ACK))), False),
    ("pure-ack-padded", eth(ipv4(tcp(flags=ACK))) + b"\0" * 6, False),
    ("json-line", eth(ipv4(tcp(JSON))), True),
    ("small-binary", eth(ipv4(tcp(RANDOM[:234]))), True),
    ("text-continuation", eth(ipv4(tcp(TEXT))), True),
    ("json-leading-newline", eth(ipv4(tcp(b"\r\n\t" + TEXT))), True),
    ("http-request", eth(ipv4(tcp(HTTP + TEXT[: 1400 - len(HTTP)]))), True),
    ("tls-client-hello", eth(ipv4(tcp(TLS_HELLO))), True),
    ("tls-app-data", eth(ipv4(tcp(TLS_DATA))), False),
    ("bulk-random", eth(ipv4(tcp(RANDOM))), False),
    ("websocket-masked-login", eth(ipv4(tcp(ws_frame(LOGIN_1K, mask=b"\x9a\x17\xe2\x05")))), True),
    ("websocket-binary-frame", eth(ipv4(tcp(ws_frame(RANDOM[:1300], opcode=2)))), True),
    ("websocket-deflated-frame", eth(ipv4(tcp(b"\xc1" + ws_frame(RANDOM[:1300])[1:]))), True),
    ("websocket-not-final", eth(ipv4(tcp(ws_frame(RANDOM[:1300], fin=False)))), False),
    ("websocket-control-frame", eth(ipv4(tcp(ws_frame(RANDOM[:1300], opcode=9)))), False),
    ("websocket-64-bit-length", eth(ipv4(tcp(b"\x82\x7f" + bytes(6) + b"\x05\x00" + RANDOM[:1300]))), False),
    ("websocket-16-kib-or-more", eth(ipv4(tcp(b"\x82\x7e\x40\x00" + RANDOM[:1300]))), False),
    ("text-then-binary", eth(ipv4(tcp(b"{" * 15 + b"\x00" + RANDOM[:1300]))), False),
    ("utf8-at-start", eth(ipv4(tcp("é".encode() + TEXT))), False),
    ("proxy-v2-then-data", eth(ipv4(tcp(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + RANDOM[:1300]))), True),
    ("crlf-then-text", eth(ipv4(tcp(b"\r\n" + TEXT))), True),
    ("crlf-then-binary", eth(ipv4(tcp(b"\r\n\r\n\x01" + RANDOM[:1300]))), False),
    ("cr-then-binary", eth(ipv4(tcp(b"\r\x00" + RANDOM[:1300]))), False),
    ("tcp-dns-bulk", eth(ipv4(tcp(RANDOM, dport=53))), True),
    ("ip-options", eth(ipv4(tcp(TEXT), options=b"\x01" * 8)), True),
    ("ip-options-bulk", eth(ipv4(tcp(RANDOM), options=b"\x01" * 8)), False),
    ("tcp-options", eth(ipv4(tcp(TEXT, options=b"\x01" * 12))), True),
    ("tcp-options-bulk", eth(ipv4(tcp(RANDOM, options=b"\x01" * 12))), False),
    ("tso-length-0", eth(ipv4(tcp(TEXT), total=0)), True),
    ("tso-length-0-bulk", eth(ipv4(tcp(RANDOM), total=0)), False),
    ("udp-dns-query", eth(ipv4(udp(b"\x12\x34" + b"\0" * 20, dport=53), proto=17)), True),
    ("udp-dns-answer", eth(ipv4(udp(b"\x12\x34" + b"\0" * 20, sport=53, dport=40000), proto=17)), True),
    ("udp-quic", eth(ipv4(udp(RANDOM, sport=443, dport=40000), proto=17)), False),
    ("icmp", eth(ipv4(b"\x08\x00" + b"\0" * 30, proto=1)), False),
    ("fragment-later", eth(ipv4(TEXT, frag=0x00B9)), False),
    ("fragment-first", eth(ipv4(tcp(TEXT), frag=0x2000)), True),
    ("arp", eth(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\0" * 20, etype=0x0806), False),
    ("ipv6-json", eth(ipv6(tcp(JSON)), etype=0x86DD), True),
    ("ipv6-bulk", eth(ipv6(tcp(RANDOM)), etype=0x86DD), False),
    ("ipv6-ack", eth(ipv6(tcp(flags=ACK)), etype=0x86DD), False),
    ("ipv6-dns", eth(ipv6(udp(b"\0" * 20, dport=53), nxt=17), etype=0x86DD), True),
    ("ipv6-hop-by-hop", eth(ipv6(ext8(6) + tcp(RANDOM), nxt=0), etype=0x86DD), True),
    ("ipv6-icmp", eth(ipv6(b"\x80\x00" + b"\0" * 30, nxt=58), etype=0x86DD), False),
    ("vlan-json", eth(ipv4(tcp(TEXT)), tags=[0x8100]), True),
    ("vlan-bulk", eth(ipv4(tcp(RANDOM)), tags=[0x8100]), False),
    ("qinq-ipv6-json", eth(ipv6(tcp(TEXT)), etype=0x86DD, tags=[0x88A8, 0x8100]), True),
    ("qinq-ipv6-bulk", eth(ipv6(tcp(RANDOM)), etype=0x86DD, tags=[0x88A8, 0x8100]), False),
    ("three-tags", eth(ipv4(tcp(RANDOM)), tags=[0x88A8, 0x8100, 0x8100]), True),
    ("pppoe-json", eth(b"\x11\x00\x00\x01\x05\xdc\x00\x21" + ipv4(tcp(TEXT)), etype=0x8864), True),
    ("pppoe-bulk", eth(b"\x11\x00\x00\x01\x05\xdc\x00\x21" + ipv4(tcp(RANDOM)), etype=0x8864), False),
    ("vlan-pppoe-ipv6", eth(b"\x11\x00\x00\x01\x05\xdc\x00\x57" + ipv6(tcp(JSON)), 0x8864, [0x8100]), True),
    ("truncated", eth(ipv4(tcp(RANDOM)))[:30], False),
]


@pytest.mark.parametrize(("frame", "expected"), [f[1:] for f in FRAMES], ids=[f[0] for f in FRAMES])
def test_ethernet_filter(frame: bytes, expected: bool) -> None:
    kept = run_bpf(ETH, frame)
    assert kept == (SNAPLEN if expected else 0)


UNTAGGED = [f for f in FRAMES if f[1][12:14] in (b"\x08\x00", b"\x86\xdd")]


@pytest.mark.parametrize(("frame", "expected"), [f[1:] for f in UNTAGGED], ids=[f[0] for f in UNTAGGED])
def test_raw_ip_filter_agrees(frame: bytes, expected: bool) -> None:
    """The datagram-socket filter judges the IP packet inside an untagged frame the same way."""
    assert bool(run_bpf(RAW, frame[14:])) == expected


@pytest.mark.parametrize(("pkttype", "expected"), [(0, True), (3, True), (live.PACKET_OUTGOING, False)])
def test_loopback_keeps_the_incoming_copy(pkttype: int, expected: bool) -> None:
    assert bool(run_bpf(LOOP, eth(ipv4(tcp(JSON))), pkttype)) == expected
    assert bool(run_bpf(ETH, eth(ipv4(tcp(JSON))), pkttype))


@pytest.mark.parametrize("size", [1, 64, 234, live.SMALL_PAYLOAD, live.SMALL_PAYLOAD + 1, 1448])
def test_small_segments_pass_whatever_they_hold(size: int) -> None:
    expected = size <= live.SMALL_PAYLOAD
    assert bool(run_bpf(ETH, eth(ipv4(tcp(RANDOM[:size]))))) == expected
    assert bool(run_bpf(ETH, eth(ipv6(tcp(RANDOM[:size])), etype=0x86DD))) == expected


def test_bulk_data_is_cut() -> None:
    """Random full-size segments (encrypted, compressed) almost never pass."""
    rng = random.Random(1)
    frames = [eth(ipv4(tcp(rng.randbytes(1448), seq=i))) for i in range(20000)]
    kept = sum(1 for f in frames if run_bpf(ETH, f))
    # 16 03 at the start (TLS handshake odds) and a WebSocket frame header (4 first bytes of 256,
    # 1 second of 128, 1 third of 4), and nothing more
    assert kept <= 20000 * (256**-2 * 2 + 4 / 256 / 128 / 4) + 2


def test_filter_fits_the_kernel() -> None:
    for program in (ETH, RAW, LOOP):
        assert len(program) < 256  # every conditional jump target within reach
        assert program[-1][0] == live.RET


def test_assembler_rejects_a_jump_out_of_reach() -> None:
    a = live._Asm()
    a.jump(live.JEQ, 0, "far")
    for _ in range(300):
        a.op(live.RET, 0)
    a.label("far")
    a.op(live.RET, 1)
    with pytest.raises(ValueError, match="out of range"):
        a.assemble()


def test_unknown_link_type_has_no_filter() -> None:
    with pytest.raises(ValueError, match="link type 113"):
        capture_filter(113)


# --------------------------------------------------------------------------- nothing a detector uses is lost

CAPTURES = [Path(p) for p in expand_paths([str(PCAPS)])]


def lossless(path: Path) -> tuple[list[str], list[str], int, int]:
    """Alerts from every frame and from the frames the filter keeps, plus both frame counts."""
    frames = [f for f in map(to_live, iter_capture(str(path))) if f is not None]
    kept = [f for f in frames if passes(f)]
    return comparable(scan_frames(frames)), comparable(scan_frames(kept)), len(frames), len(kept)


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_filtered_scan_equals_full_scan(capture: Path) -> None:
    full, filtered, _, _ = lossless(capture)
    assert filtered == full


RECORDED = sorted((ROOT / "tests" / "data" / "real-xmrig").glob("*.pcap"))


@pytest.mark.parametrize("capture", RECORDED, ids=[c.name for c in RECORDED])
def test_recorded_miners_alert_the_same_through_the_filter(capture: Path) -> None:
    """The real XMRig sessions (the behaviour detector's TLS and shadowsocks ones too) lose nothing live."""
    full, filtered, _, _ = lossless(capture)
    assert full and filtered == full


def test_a_websocket_login_over_1_kib_survives_the_filter(tmp_path: Path) -> None:
    """A masked frame is not text: before the filter knew frame headers, this login was dropped live."""
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: 203.0.113.7:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    switched = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    login = ws_frame(LOGIN_1K, mask=b"\x9a\x17\xe2\x05")
    c, srv = (40000, 8080), (8080, 40000)
    steps = [
        (tcp(b"", *c, seq=99, flags=SYN), True),
        (tcp(b"", *srv, seq=499, flags=SYN | ACK), False),
        (tcp(upgrade, *c, seq=100), True),
        (tcp(switched, *srv, seq=500), False),
        (tcp(login, *c, seq=100 + len(upgrade)), True),
    ]
    frames = [
        (1_700_000_000_000_000 + i * 1000, eth(ipv4(seg) if up else ipv4(seg, src=DST4, dst=SRC4)))
        for i, (seg, up) in enumerate(steps)
    ]
    path = tmp_path / "ws-login.pcap"
    path.write_bytes(pcap_file(frames))
    full, filtered, n, k = lossless(path)
    assert any('"login"' in line or "9300107" in line for line in full), full
    assert filtered == full and k == n


@pytest.mark.corpus
def test_filtered_scan_equals_full_scan_on_the_corpus(corpus: Path) -> None:
    seen = kept = 0
    for path in sorted((corpus / "mining").iterdir()):
        full, filtered, n, k = lossless(path)
        assert full, path.name
        assert filtered == full, path.name
        seen, kept = seen + n, kept + k
    assert kept < seen


# --------------------------------------------------------------------------- --bpf expressions


def test_and_filters_keeps_the_first_programs_verdicts() -> None:
    accept_all = [(live.RET, 0, 0, 96)]
    assert and_filters(ETH, accept_all)[-1] == (live.RET, 0, 0, SNAPLEN)
    program = and_filters(ETH, accept_all)
    for _, frame, expected in FRAMES:
        assert bool(run_bpf(program, frame)) == expected


# --------------------------------------------------------------------------- the socket

PROBE = """
import json, socket, sys, time
from poolsniff.sources.live import LiveCapture
cap = LiveCapture.open(sys.argv[1], sys.argv[3] or None)
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((sys.argv[2], 0))
frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]
for f in frames:
    tx.send(f)
time.sleep(0.2)
got = cap.read(1000)
stats = cap.stats()
print(json.dumps({"linktype": cap.linktype, "rcvbuf": cap.rcvbuf, "frames": [d.hex() for _, _, d in got],
                  "ts": [t for t, _, _ in got], "received": stats.received, "dropped": stats.dropped}))
"""


def probe(ns: Netns, capture_on: str, send_on: str, frames: list[bytes], bpf: str = "") -> dict[str, Any]:
    """Open a capture in ``ns``, send ``frames`` on the other end, return what was read."""
    proc = subprocess.run(
        ns.command(sys.executable, "-c", PROBE, capture_on, send_on, bpf),
        input=json.dumps([f.hex() for f in frames]), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.live
def test_socket_reads_what_the_filter_keeps(netns: Callable[[], Netns]) -> None:
    ns = netns()
    ns.veth("veth0", "veth1")
    frames = [f[1] for f in FRAMES if len(f[1]) <= 1514 and f[0] != "truncated"]
    result = probe(ns, "veth1", "veth0", frames)
    assert result["linktype"] == LINKTYPE_ETHERNET
    # the kernel takes the outer VLAN tag out of received frames; the filter judges what is left
    expected = [s for s in map(strip_outer_tag, frames) if run_bpf(ETH, s)]
    assert len(expected) > len(frames) // 3
    assert [bytes.fromhex(h) for h in result["frames"]] == expected
    assert result["received"] == len(expected) and result["dropped"] == 0
    assert result["rcvbuf"] >= live.RCVBUF  # root may pass net.core.rmem_max
    assert result["ts"] == sorted(result["ts"])


def strip_outer_tag(frame: bytes) -> bytes:
    """What a packet socket shows of a received frame: without its outer VLAN tag."""
    if frame[12:14] in (b"\x81\x00", b"\x88\xa8"):
        return frame[:12] + frame[16:]
    return frame


@pytest.mark.live
def test_socket_with_bpf_expression(netns: Callable[[], Netns]) -> None:
    ns = netns()
    ns.veth("veth0", "veth1")
    frames = [
        eth(ipv4(tcp(JSON, dport=3333))),
        eth(ipv4(tcp(JSON, dport=4444))),
        eth(ipv4(tcp(RANDOM, dport=4444))),
    ]
    result = probe(ns, "veth1", "veth0", frames, bpf="tcp port 4444")
    assert [bytes.fromhex(h) for h in result["frames"]] == [frames[1]]


@pytest.mark.live
def test_interface_without_ethernet_header(netns: Callable[[], Netns]) -> None:
    """A tun device has no link header: it is read as raw IP with the IP-level filter."""
    ns = netns()
    ns.ip("tuntap", "add", "dev", "tun0", "mode", "tun")
    ns.ip("link", "set", "tun0", "up")
    script = "from poolsniff.sources.live import LiveCapture as L; print(L.open('tun0').linktype)"
    proc = subprocess.run(
        ns.command(sys.executable, "-c", script), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == LINKTYPE_RAW


def test_no_such_interface() -> None:
    with pytest.raises(CaptureError, match="no-such-if0: no such network interface"):
        live.LiveCapture.open("no-such-if0")


@pytest.mark.parametrize(("name", "found"), [("lo", True), ("no-such-if0", False)])
def test_wire_packets(name: str, found: bool) -> None:
    if not Path("/proc/net/dev").exists():
        pytest.skip("no /proc/net/dev here")
    count = live.wire_packets(name)
    assert (count is not None) == found
    assert count is None or count >= 0
