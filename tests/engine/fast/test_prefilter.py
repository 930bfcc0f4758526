"""poolsniff.engine.fast.prefilter: skipping packets on raw bytes changes nothing the scan reports.

The reference is the straightforward path: every frame of the capture through
``Pipeline.feed``. Each capture is also scanned through the prefilter in one process and
over two processes (``poolsniff.engine.split.parallel``); the alerts (in their order), the counts and
the damage must be the same. Captures: the demo captures in pcaps/, the benchmark's
generated mix (classic pcap both byte orders, nanoseconds, gzip, pcapng, pcapng with several
sections, interfaces, time resolutions and link types, and simple packet blocks), the
short-flow mix (UDP of many kinds, DNS, short sessions), and a capture of frames built to sit
just beside what the prefilter may skip (IP options, fragments, QinQ, truncated and padded
frames, UDP on a TCP flow's ports, bad TCP offsets, flags). Both record walks (pcap records
and pcapng blocks) are compared with their Python references on generated input.
"""

from __future__ import annotations

import gzip
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from poolsniff.dissect import flows
from poolsniff.dissect.shape import RecordShape
from poolsniff.dissect.shape import quiet as shape_quiet
from poolsniff.engine import pipeline, tracker
from poolsniff.engine.fast import prefilter
from poolsniff.engine.fast import walk as references
from poolsniff.engine.fast.prefilter import detections
from poolsniff.engine.pipeline import Pipeline
from poolsniff.engine.split import parallel
from poolsniff.errors import CaptureDamaged
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, TlsRecords
from poolsniff.output.eve import to_eve
from poolsniff.output.eventid import without_id
from poolsniff.run import scan
from poolsniff.sources.pcap import expand_paths, read_frames
from tests import factories_mixes as mixes
from tests.factories import client_hello, server_hello
from tests.factories_frames import (
    block,
    epb,
    eth,
    idb,
    ipv4,
    ipv6,
    only_counted,
    pcap_file,
    pcap_record,
    relinked,
    shb,
    tcp,
    udp,
)

from ...conftest import PCAPS, ROOT

DEMO = [Path(p) for p in expand_paths([str(PCAPS)])]
A, B = bytes([10, 9, 0, 1]), bytes([203, 0, 113, 7])
SUBSCRIBE = b'{"id": 2, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}\n'


@dataclass
class Outcome:
    """What a scan reports."""

    records: list[dict[str, Any]]
    packets: int
    flows: int
    alerts: int
    skipped: dict[str, int]
    damage: tuple[int, str] | None


def plain(path: Path, lists: Blocklist) -> Outcome:
    """Every frame through ``Pipeline.feed``: the reference."""
    pipeline = Pipeline(lists)
    records: list[dict[str, Any]] = []
    damage = None
    with open(path, "rb") as fileobj:
        try:
            for frame in read_frames(fileobj, str(path)):
                records += [to_eve(Alert(d, path.name)) for d in pipeline.feed(frame)]
        except CaptureDamaged as e:
            damage = (e.offset, e.reason)
    records += [to_eve(Alert(d, path.name)) for d in pipeline.finish()]
    stats = pipeline.stats
    skipped = dict(stats.skipped)
    return Outcome(records, stats.packets, pipeline.flows.counters["flows"], stats.alerts, skipped, damage)


def scanned(path: Path, lists: Blocklist, jobs: int) -> Outcome:
    """``scan_file``: the prefilter in one process (jobs 1) or two (jobs 2)."""
    records: list[dict[str, Any]] = []
    r = scan.scan_file(str(path), lists, emit=records.append, to_record=to_eve, jobs=jobs)
    damage = (r.damage.offset, r.damage.reason) if r.damage is not None else None
    return Outcome(records, r.packets, r.flows, r.alerts, r.skipped, damage)


def assert_same(path: Path, lists: Blocklist) -> Outcome:
    """The three ways agree; return the reference."""
    reference = plain(path, lists)
    assert scanned(path, lists, 1) == reference
    assert scanned(path, lists, 2) == reference
    return reference


@pytest.fixture(autouse=True, params=["c-walk", "python-walk"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the C record walk (when built) and with the pure-Python reference."""
    if request.param == "python-walk":
        monkeypatch.setattr(prefilter, "SKIP", references.skip)
        monkeypatch.setattr(prefilter, "SKIP_NG", references.skip_ng)
        monkeypatch.setattr(prefilter, "STEP", references.step)
        monkeypatch.setattr(prefilter, "STEP_NG", references.step_ng)
        monkeypatch.setattr(parallel, "QUIET", shape_quiet)
    elif not prefilter.ACCELERATED:
        pytest.skip("the C record walk (engine/fast/_walk.c) is not built here: no compiler or Python.h")
    return str(request.param)


@pytest.fixture(autouse=True)
def always_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let jobs=2 split even the small captures of these tests."""
    monkeypatch.setattr(scan, "SPLIT_MIN_BYTES", 0)


# --------------------------------------------------------------------------- captures


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's mixed traffic, 30,000 packets."""
    return mixes.mix(tmp_path_factory.mktemp("mix") / "mix.pcap", 30_000, seed=3)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mix with a mining session of each kind every 1,000 packets (many held alerts)."""
    return mixes.mix(tmp_path_factory.mktemp("busy") / "busy.pcap", 30_000, seed=4, mining_every=1000)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The short-flow mix, 30,000 packets: short sessions, DNS, UDP of many kinds, some mining."""
    return mixes.short_mix(tmp_path_factory.mktemp("short") / "short.pcap", 30_000, seed=6, mining_every=3000)


def frames_of(path: Path) -> list[tuple[int, bytes]]:
    """(µs, frame) of every record."""
    with open(path, "rb") as fileobj:
        return [(ts, data) for ts, _, data in read_frames(fileobj, str(path))]


LINKED = {"sll": 113, "sll2": 276, "raw": 101, "ipv4": 228}
"""Other link types a capture is written in (``relinked``): ``tcpdump -i any``'s, a tunnel's."""


def rewrite(mix: Path, tmp_path: Path, kind: str) -> Path:
    """The mix written another way: big-endian, nanoseconds, gzip, pcapng, or another link type (``LINKED``;
    "-ng": as pcapng)."""
    frames = frames_of(mix)
    out = tmp_path / f"mix-{kind}.pcap"
    if kind == "qinq":  # a provider's trunk: an 802.1ad tag outside an 802.1Q one (untagged frames only)
        tags = struct.pack("!HHHH", 0x88A8, 100, 0x8100, 10)
        ip = (b"\x08\x00", b"\x86\xdd")
        frames = [(ts, d[:12] + tags + d[12:] if d[12:14] in ip else d) for ts, d in frames]
        out.write_bytes(pcap_file(frames))
    elif kind.removesuffix("-ng") in LINKED:
        linktype = LINKED[kind.removesuffix("-ng")]
        frames = [(ts, relinked(d, linktype)) for ts, d in frames]
        if not kind.endswith("-ng"):
            out.write_bytes(pcap_file(frames, linktype=linktype))
            return out
        epbs = (epb(0, ts, d) for ts, d in frames)
        out.write_bytes(shb() + idb(linktype, tsresol=6) + b"".join(epbs))
    elif kind == "big-endian":
        out.write_bytes(pcap_file(frames, order=">"))
    elif kind == "nanoseconds":
        out.write_bytes(pcap_file([(ts * 1000 + 7, data) for ts, data in frames], nano=True))
    elif kind == "gzip":
        out.write_bytes(gzip.compress(mix.read_bytes(), compresslevel=1))
    elif kind == "pcapng":
        head = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        iface = block(1, struct.pack("<HHI", 1, 0, 0))
        epbs = (
            block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(d), len(d)) + d)
            for ts, d in frames
        )
        out.write_bytes(head + iface + b"".join(epbs))
    else:
        out.write_bytes(pcapng_multi(frames))
    return out


def pcapng_multi(frames: list[tuple[int, bytes]]) -> bytes:
    """pcapng as capture tools write it on several interfaces: two sections (little- then
    big-endian), per section an Ethernet interface in nanoseconds, one in 2^-20 s with an
    offset, a raw-IP interface (link type 101) and, late, a fourth; a few simple packet blocks."""
    out = []
    half = len(frames) // 2
    for section, (order, part) in enumerate((("<", frames[:half]), (">", frames[half:]))):
        out.append(shb(order) + idb(1, order, tsresol=9) + idb(1, order, tsresol=0x94, tsoffset=section))
        out.append(idb(101, order))
        for i, (ts, d) in enumerate(part):
            if i == 200:
                out.append(idb(1, order, tsresol=3))  # milliseconds, declared mid-section
            ifid = i % 2 if i < 200 else i % 4
            if ifid == 2 and d[12:14] == b"\x08\x00":
                body = d[14:]  # the same packet on the raw-IP interface
            elif ifid == 2:
                ifid = 0
                body = d
            else:
                body = d
            if i % 97 == 5:
                out.append(block(3, struct.pack(order + "I", len(d)) + d, order))  # simple packet block
                continue
            if ifid == 0:
                units = ts * 1000
            elif ifid == 1:
                units = ((ts - section * 1_000_000) << 20) // 1_000_000 + 1
            elif ifid == 3:
                units = ts // 1000
            else:
                units = ts
            head = struct.pack(order + "IIIII", ifid, units >> 32, units & 0xFFFFFFFF, len(body), len(body))
            out.append(block(6, head + body, order))
    return b"".join(out)


Frame_ = tuple[int, bytes]
"""(µs, frame)."""


def session(t: int, cport: int, payloads: list[tuple[bool, bytes]]) -> Iterator[tuple[int, bytes]]:
    """A TCP session A:cport -> B:3333 (handshake, the payloads, ACKs), one frame per ms."""
    seq = {True: 1000, False: 5000}

    def frame(client: bool, flags: int, data: bytes = b"") -> bytes:
        src, dst, sp, dp = (A, B, cport, 3333) if client else (B, A, 3333, cport)
        out = eth(ipv4(tcp(data, sp, dp, seq[client], flags), src=src, dst=dst))
        seq[client] += len(data) + (1 if flags & 0x03 else 0)
        return out

    for client, flags in ((True, 0x02), (False, 0x12), (True, 0x10)):
        yield t, frame(client, flags)
        t += 1000
    for client, data in payloads:
        yield t, frame(client, 0x18, data)
        yield t + 500, frame(not client, 0x10)
        t += 1000


def odd(cport: int) -> list[bytes]:
    """Frames of flow A:cport <-> B:3333 that the prefilter must not take for plain ones."""
    c2s = (A, B, cport, 3333)

    def v4(data: bytes = b"", flags: int = 0x10, server: bool = False, **kw: Any) -> bytes:
        src, dst, sp, dp = (B, A, 3333, cport) if server else c2s
        return ipv4(tcp(data, sp, dp, 77, flags), src=src, dst=dst, **kw)

    opts = ipv4(tcp(b"x" * 30, cport, 3333, 77, 0x18), src=A, dst=B, options=b"\x01\x01\x01\x00")
    return [
        eth(opts),  # IPv4 options
        eth(v4(b"y" * 40, 0x18, frag=0x0005)),  # a later fragment
        eth(v4(b"z" * 40, 0x18, frag=0x2000)),  # the first fragment (more to come)
        eth(v4(b"q" * 20, 0x18), tags=(0x88A8, 0x8100)),  # QinQ
        eth(v4(b"t" * 100, 0x18))[:80],  # cut by the snaplen
        eth(v4()) + b"\0" * 6,  # a bare ACK with Ethernet padding
        eth(v4(b"p" * 20, 0x18)) + b"\xee" * 9,  # data and a trailer
        eth(ipv4(udp(b"u" * 30, cport, 3333), proto=17, src=A, dst=B)),  # UDP on the same ports
        eth(ipv4(tcp(b"o" * 8, cport, 3333, 77, 0x18, data_offset=4), src=A, dst=B)),  # bad offset
        eth(v4(b"w" * 8, 0x18, total=0)),  # total length 0 (offload)
        eth(v4(b"s" * 10, 0x18, server=True), tags=(0x8100,)),  # 802.1Q, server side
        eth(v4()[:30]),  # cut inside TCP
        eth(v4(b"", 0x14)),  # RST
    ]


def odd_capture(path: Path) -> Path:
    """Bulk flows that close at once, odd frames on their 4-tuples, a miner, FIN/RST, IPv6."""
    binary = bytes(range(200, 256)) * 30
    frames: list[tuple[int, bytes]] = []
    t = 1_700_000_000_000_000
    for n, cport in enumerate((40001, 40002, 40003)):
        frames += session(t + n * 100, cport, [(True, binary[:600]), (False, binary), (False, binary)])
    t += 10_000
    for i, data in enumerate(odd(40001) + odd(40002)):
        frames.append((t + i * 10, data))
    frames += session(t + 1000, 40009, [(True, SUBSCRIBE), (False, b'{"id":2,"result":true,"error":null}\n')])
    six = ipv6(tcp(b"v" * 50, 40004, 443, 9, 0x18))
    frames += [(t + 5000, eth(six, etype=0x86DD)), (t + 5001, eth(six, etype=0x86DD, tags=(0x8100,)))]
    hop = ipv6(bytes([6, 0]) + b"\0" * 6 + tcp(b"h" * 20, 40004, 443, 59, 0x18), nxt=0)
    frames.append((t + 5002, eth(hop, etype=0x86DD)))
    for i, frame in enumerate(only_counted(A, B)):  # between the flows' packets, as on a real link
        frames.append((t + 20 + i * 10, frame))
    frames += session(t + 6000, 40001, [(False, binary)])  # the 4-tuple again, later
    frames.sort(key=lambda f: f[0])
    path.write_bytes(pcap_file(frames))
    return path


def record(ctype: int, length: int) -> bytes:
    """One TLS record of ``length`` (zero) bytes."""
    return bytes([ctype, 3, 3]) + length.to_bytes(2, "big") + bytes(length)


def tls_session(
    t: int, cport: int, steps: list[tuple[float, bool, bytes]], rng: random.Random
) -> list[Frame_]:
    """A TLS session A:cport -> B:443 being shaped: handshake, ClientHello, ServerHello, then each
    step's bytes at ``t`` + its seconds, cut into segments (often inside a record header), some sent
    again or overlapping the next, now and then one lost; ACKs; FINs unless the session runs on."""
    seq = {True: rng.randrange(1 << 32), False: rng.randrange(1 << 32)}
    out: list[Frame_] = []

    def frame(ts: int, client: bool, flags: int, at: int, data: bytes = b"") -> None:
        src, dst, sp, dp = (A, B, cport, 443) if client else (B, A, 443, cport)
        out.append((ts, eth(ipv4(tcp(data, sp, dp, at & 0xFFFFFFFF, flags), src=src, dst=dst))))

    def send(ts: int, client: bool, data: bytes, flags: int = 0x18) -> None:
        cuts = sorted(
            {rng.randrange(1, len(data)) for _ in range(rng.choice([0, 0, 1, 2, 4]))}
            if len(data) > 1
            else set()
        )
        bounds = [0, *cuts, len(data)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            roll = rng.random()
            if roll < 0.01:
                continue  # lost: the shape of this side stops at the next segment
            frame(ts, client, flags, seq[client] + a, data[a:b])
            if roll < 0.05:
                frame(ts + 50, client, flags, seq[client] + a, data[a:b])  # sent again
            elif roll < 0.08 and b < len(data):
                frame(ts + 50, client, flags, seq[client] + max(0, a - 3), data[max(0, a - 3) : b + 2])
            ts += 100
        seq[client] += len(data)
        frame(ts + 200, not client, 0x10, seq[not client])

    for client, flags in ((True, 0x02), (False, 0x12), (True, 0x10)):
        frame(t, client, flags, seq[client])
        seq[client] += flags & 0x02 and 1
        t += 1000
    send(t, True, client_hello("pool.example"))
    send(t + 20_000, False, server_hello() + record(20, 1) + record(23, 800))
    for seconds, client, data in steps:
        send(t + 40_000 + int(seconds * 1_000_000), client, data)
    if rng.random() < 0.7:
        end = t + 40_000 + int(steps[-1][0] * 1_000_000) + 500_000 if steps else t + 50_000
        frame(end, True, 0x11, seq[True])
        frame(end + 100, False, 0x11, seq[False])
    return out


def shaped_tls_capture(path: Path, seed: int = 11) -> Path:
    """Many TLS sessions being shaped (``dissect/shape``): miner-like rhythms past a minute (snapshots),
    chatter past 96 records, bulk after the handshake, a session past 30 minutes, records in several
    segments and several records in one, retransmissions, overlaps, lost segments; over a bulk download."""
    rng = random.Random(seed)
    frames: list[Frame_] = []
    t0 = 1_700_000_000_000_000
    for n in range(40):
        kind = n % 5
        if kind == 0:  # a miner: login, job, then submits answered at once, jobs pushed now and then
            steps = [(0.1, True, record(23, 592)), (0.2, False, record(23, 513))]
            at = 1.0
            for _ in range(rng.randrange(6, 30)):
                at += rng.uniform(1, 15)
                steps += [(at, True, record(23, 228)), (at + 0.01, False, record(23, 80))]
                if rng.random() < 0.3:
                    steps.append((at + 0.5, False, record(23, 600)))
        elif kind == 1:  # chatter: small records both ways, several to a segment, past the record limit
            steps = [
                (i * 0.7, i % 3 == 0, record(23, 40) * rng.randrange(1, 4))
                for i in range(rng.randrange(20, 60))
            ]
        elif kind == 2:  # a page: handshake records, then bulk
            steps = [
                (0.1 * i, i % 2 == 0, record(23, rng.randrange(30, 300)))
                for i in range(rng.randrange(10, 20))
            ]
            steps.append((3.0, False, record(23, 5000)))
            steps.append((3.1, True, record(23, 50)))
        elif kind == 3:  # a slow session that outlives the shaping (30 minutes), idle less than the timeout
            steps = [(i * 400.0, i % 2 == 0, record(23, 120)) for i in range(6)]
        else:  # anything: mixed record types, pushes, odd lengths
            steps = [
                (
                    i * rng.uniform(0.01, 9),
                    rng.random() < 0.5,
                    record(rng.choice([23, 23, 22, 21]), rng.randrange(0, 1500)),
                )
                for i in range(rng.randrange(1, 25))
            ]
        frames += tls_session(t0 + n * 1_500_000, 42000 + n, steps, rng)
    bulk = bytes(range(256)) * 5
    frames += session(t0, 40100, [(True, b"GET /file HTTP/1.1\r\n\r\n")] + [(False, bulk)] * 40)
    frames.sort(key=lambda f: f[0])
    path.write_bytes(pcap_file(frames))
    return path


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("capture", DEMO, ids=[c.name for c in DEMO])
def test_demo_captures_scan_the_same_every_way(capture: Path, lists: Blocklist) -> None:
    assert_same(capture, lists)


RELAYED = sorted((ROOT / "tests" / "data" / "real-xmrig").glob("*shadowsocks*.pcap")) + sorted(
    (ROOT / "tests" / "data" / "lookalikes").glob("ss-*.pcap")
)
"""Recorded sessions through a shadowsocks relay: the opaque shaper keeps their flows from the prefilter."""


@pytest.mark.parametrize("capture", RELAYED, ids=[c.name for c in RELAYED])
def test_relayed_captures_scan_the_same_every_way(capture: Path, lists: Blocklist) -> None:
    """In ``scan -j 2`` the front must leave an opaque server's side to the back, which shapes it."""
    reference = assert_same(capture, lists)
    sids = {r["alert"]["signature_id"] for r in reference.records if "alert" in r}
    assert sids == ({9300141} if "xmrig" in capture.name else set())


def test_generated_mix_scans_the_same_every_way(mix: Path, busy: Path, lists: Blocklist) -> None:
    reference = assert_same(mix, lists)
    assert reference.alerts >= 4 and reference.packets == 30_000
    assert assert_same(busy, lists).alerts > 50


def test_short_flow_mix_scans_the_same_every_way(short: Path, lists: Blocklist, tmp_path: Path) -> None:
    reference = assert_same(short, lists)
    assert reference.alerts >= 4 and reference.packets == 30_000
    assert_same(rewrite(short, tmp_path, "pcapng"), lists)
    assert_same(rewrite(short, tmp_path, "pcapng-multi"), lists)


@pytest.mark.parametrize("kind", ["big-endian", "nanoseconds", "gzip", "pcapng", "pcapng-multi"])
def test_generated_mix_in_other_formats(kind: str, mix: Path, lists: Blocklist, tmp_path: Path) -> None:
    assert_same(rewrite(mix, tmp_path, kind), lists)


@pytest.mark.parametrize("kind", ["sll", "sll2", "raw", "ipv4", "sll2-ng", "raw-ng", "qinq"])
def test_other_link_types_scan_the_same_every_way(
    kind: str, short: Path, lists: Blocklist, tmp_path: Path
) -> None:
    """``tcpdump -i any`` writes Linux cooked frames, a tunnel raw IP: the walks read them as the Ethernet
    frames the decoder makes of them (``link``), the flows counting the frames' own bytes."""
    reference = assert_same(rewrite(short, tmp_path, kind), lists)
    assert reference.alerts >= 4 and reference.packets == 30_000


@pytest.mark.parametrize("kind", ["sll", "sll2", "raw"])
def test_odd_frames_of_other_link_types(kind: str, lists: Blocklist, tmp_path: Path) -> None:
    """Frames beside what the walks skip, cut short and odd, captured as Linux cooked or raw IP frames."""
    path = rewrite(odd_capture(tmp_path / "odd.pcap"), tmp_path, kind)
    assert assert_same(path, lists).alerts >= 1


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_odd_frames_beside_skipped_flows(kind: str, lists: Blocklist, tmp_path: Path) -> None:
    path = odd_capture(tmp_path / "odd.pcap")
    if kind == "pcapng":
        path = rewrite(path, tmp_path, kind)
    reference = assert_same(path, lists)
    assert reference.skipped.get("fragment") == 3 and reference.skipped.get("truncated") == 2
    assert reference.skipped.get("not-ip") == 6 and reference.skipped.get("other-proto") == 5
    assert reference.alerts >= 1


@pytest.mark.parametrize(
    ("settings", "counter"),
    [
        ({"SWEEP_EVERY": 97}, None),
        ({"SWEEP_EVERY": 300, "IDLE_TIMEOUT_US": 20_000}, "flows-expired"),
        ({"MAX_FLOWS": 12}, "flows-evicted"),
        ({"HOLD_US": 20_000, "CHECK_EVERY_US": 3_000}, None),
    ],
    ids=["sweep-often", "expire-idle", "evict", "release-held-often"],
)
def test_bounds_and_sweeps_fire_where_they_would(
    settings: dict[str, int],
    counter: str | None,
    busy: Path,
    lists: Blocklist,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name, value in settings.items():  # every module that holds the setting, as it reads its own
        for module in (flows, pipeline, tracker, prefilter, parallel):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    reference = assert_same(busy, lists)
    assert reference.alerts > 50
    again = assert_same(rewrite(busy, tmp_path, "pcapng"), lists)
    assert [without_id(dict(r, pcap_filename="")) for r in again.records] == [
        without_id(dict(r, pcap_filename="")) for r in reference.records
    ]  # the id hashes the file name too
    if counter is not None:
        assert reference.skipped.get(counter, 0) > 0


def test_damage_part_way_is_reported_at_the_same_offset(mix: Path, lists: Blocklist, tmp_path: Path) -> None:
    data = mix.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    reference = assert_same(cut, lists)
    assert reference.damage is not None and reference.packets < 30_000
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(data[:5000] + pcap_record(0, b"x" * 64, caplen=300_000) + data[5000:])
    assert assert_same(bad, lists).damage is not None


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupt_keeps_what_was_found(jobs: int, mix: Path, lists: Blocklist) -> None:
    calls = []
    half = mix.stat().st_size // 2

    def progress(done: int) -> None:  # past half the file, whether it is read or mapped (4 MiB at a time)
        calls.append(done)
        if done >= half:
            raise KeyboardInterrupt

    records: list[dict[str, Any]] = []
    with pytest.raises(KeyboardInterrupt):
        scan.scan_file(str(mix), lists, emit=records.append, to_record=to_eve, progress=progress, jobs=jobs)
    one: list[dict[str, Any]] = []
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        scan.scan_file(str(mix), lists, emit=one.append, to_record=to_eve, progress=progress, jobs=1)
    assert records == one and records


@pytest.mark.parametrize("kind", ["ethernet", "sll", "sll2", "raw", "sll2-ng", "raw-ng", "qinq"])
def test_most_packets_never_reach_python(kind: str, mix: Path, lists: Blocklist, tmp_path: Path) -> None:
    """The prefilter hands the engine a frame (``feed``) or a packet its fast lane decoded in C
    (``feed_packet``) for a small part of the mix's packets; it counts the others itself. So it does
    with the frames of ``tcpdump -i any`` (Linux cooked) and of a tunnel (raw IP), in pcap and pcapng, and
    with those of a provider's QinQ trunk (two VLAN tags)."""
    path = mix if kind == "ethernet" else rewrite(mix, tmp_path, kind)
    pipeline = Pipeline(lists)
    fed = [0, 0]
    feed, feed_packet = pipeline.feed, pipeline.feed_packet

    def counting(frame: Any) -> Any:
        fed[0] += 1
        return feed(frame)

    def counting_packet(ts_us: int, size: int, packet: Any) -> Any:
        fed[1] += 1
        return feed_packet(ts_us, size, packet)

    pipeline.feed = counting  # type: ignore[method-assign]
    pipeline.feed_packet = counting_packet  # type: ignore[method-assign]
    with open(path, "rb") as fileobj:
        list(detections(fileobj, str(path), pipeline))
    assert pipeline.stats.packets == 30_000
    assert 0 < sum(fed) < 30_000 * 0.15, fed
    if kind != "qinq":  # the decoder's fast lane reads untagged frames; tagged ones it leaves to the decoder
        assert fed[1] > fed[0], fed  # most of those it decodes itself


TLS_RECORDED = [
    ROOT / "tests" / "data" / "real-xmrig" / f"xmrig-tls-{how}.pcap" for how in ("ip", "name")
] + [
    ROOT / "tests" / "data" / "lookalikes" / name
    for name in ("electrum-tls.pcap", "imap-idle-tls.pcap", "mqtt-tls.pcap")
]
"""Recorded TLS sessions that are shaped: their ClientHellos offer no web protocol in ALPN."""
WEB_RECORDED = ROOT / "tests" / "data" / "lookalikes" / "sse-https-ip.pcap"
"""A recorded browser session (ALPN h2, http/1.1): not shaped (``shape.WEB_ALPNS``)."""


@pytest.mark.parametrize("capture", ["generated", "generated-pcapng", *TLS_RECORDED], ids=str)
def test_shaped_tls_sessions_scan_the_same_every_way(
    capture: Path | str, lists: Blocklist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk reads the record headers of shaped TLS sessions itself (``shape.quiet``): the
    detectors get the same ``TlsRecords`` snapshots, at the same packets, as when every frame goes
    through the pipeline, in one process and in two (where the back reads them in C); fewer
    segments reach the shaper either way; the alerts are the same every way."""
    if isinstance(capture, str):
        path = shaped_tls_capture(tmp_path / "tls.pcap")
        if capture.endswith("pcapng"):
            path = rewrite(path, tmp_path, "pcapng")
    else:
        path = capture
    log = tmp_path / "seen.log"  # written by whichever process dissects: the back of a split too
    handle, feed = Pipeline.handle, RecordShape.feed

    def spy(self: Pipeline, event: Any, out: Any) -> None:
        if isinstance(event, TlsRecords):
            with open(log, "a") as f:
                f.write(f"{event!r}\n")
        handle(self, event, out)

    def counted(self: RecordShape, *args: Any) -> Any:
        with open(log, "a") as f:
            f.write("feed\n")
        return feed(self, *args)

    def seen() -> tuple[list[str], int]:
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return [line for line in lines if line != "feed"], lines.count("feed")

    monkeypatch.setattr(Pipeline, "handle", spy)  # every event goes through it, in one process or two
    monkeypatch.setattr(RecordShape, "feed", counted)
    reference = plain(path, lists)
    want, fed_plain = seen()
    assert want
    for jobs in (1, 2):
        assert scanned(path, lists, jobs) == reference
        got, fed = seen()
        assert got == want
        # one process: the walk reads the quiet segments; two: the front holds no shapes and sends
        # every segment along, and the back reads the quiet ones in C (walk.QUIET), not the shaper
        assert fed < fed_plain
    if isinstance(capture, str):
        assert reference.alerts >= 1  # the miners' rhythm


def test_a_recorded_session_of_the_web_is_not_shaped_any_way(
    lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser's session (server-sent events over HTTPS) offers h2 and http/1.1: no record shape is read
    of it in one process or two, so no ``TlsRecords`` reach the detectors, and the scan is the same
    every way."""
    handle = Pipeline.handle
    shapes: list[TlsRecords] = []

    def spy(self: Pipeline, event: Any, out: Any) -> None:
        if isinstance(event, TlsRecords):
            shapes.append(event)
        handle(self, event, out)

    monkeypatch.setattr(Pipeline, "handle", spy)
    reference = plain(WEB_RECORDED, lists)
    assert scanned(WEB_RECORDED, lists, 1) == reference
    assert not shapes  # a split's back is another process: its records are compared below
    assert scanned(WEB_RECORDED, lists, 2) == reference


def test_times_beyond_64_bits_in_pcapng(lists: Blocklist, tmp_path: Path) -> None:
    """A block whose time does not fit 64 bits (found by fuzzing): the reader takes it, and the
    walk goes on after it with the same results."""
    frames = list(session(1_700_000_000_000_000, 40011, [(True, SUBSCRIBE), (False, b"x" * 300)]))
    out = [shb(), idb(1), idb(1, tsresol=0)]  # µs, and seconds: 2^64 - 1 s is beyond 64-bit µs
    for i, (ts, d) in enumerate(frames):
        if i == 4:  # the server's ACK, again, at a time beyond 64 bits
            huge = (1 << 64) - 1
            out.append(block(6, struct.pack("<IIIII", 1, huge >> 32, huge & 0xFFFFFFFF, len(d), len(d)) + d))
            out.append(block(3, struct.pack("<I", len(d)) + d))  # a simple packet block: the last time
        out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(d), len(d)) + d))
    path = tmp_path / "huge.pcapng"
    path.write_bytes(b"".join(out))
    reference = assert_same(path, lists)
    assert reference.packets == len(frames) + 2


def http_bodies_capture(path: Path) -> Path:
    """Keep-alive HTTP on port 3333: a form POST with a 20 KiB body that is not JSON, a 30 KiB HTML
    answer, then a getwork POST to a listed pool and its JSON answer; the bodies go in 1,400-byte
    segments, one of them out of order, so most of them lie inside bytes the directions do not read."""
    from tests.factories import ETH_GETWORK_BODY, ETH_GETWORK_URI

    form = bytes(range(40, 120)) * 256
    html = b"<html>" + bytes(range(256)) * 120 + b"</html>"
    getwork = (
        b"POST " + ETH_GETWORK_URI.encode() + b" HTTP/1.1\r\nHost: pool.eth.pp.ua\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ETH_GETWORK_BODY) + ETH_GETWORK_BODY
    )
    answer = b'{"id":1,"jsonrpc":"2.0","result":["0x01","0x02","0x03"]}'

    def pieces(client: bool, data: bytes) -> list[tuple[bool, bytes]]:
        return [(client, data[i : i + 1400]) for i in range(0, len(data), 1400)]

    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
    head = b"POST /form HTTP/1.1\r\nHost: a.example\r\nContent-Length: %d\r\n\r\n" % len(form)
    payloads = pieces(True, head + form)
    payloads += pieces(False, ok % len(html) + html)
    payloads += [(True, getwork), (False, ok % len(answer) + answer)]
    frames = list(session(1_700_000_000_000_000, 40020, payloads))
    data = [i for i, (_, f) in enumerate(frames) if len(f) > 1000]
    frames[data[20]], frames[data[21]] = frames[data[21]], frames[data[20]]  # one swapped pair
    path.write_bytes(pcap_file(frames))
    return path


def test_http_bodies_nobody_reads_are_skipped_and_the_next_head_still_read(
    lists: Blocklist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefilter skips the segments inside a non-JSON body (``Direction.unread``), in one process and
    in two, and the getwork request after the bodies still alerts, the same every way."""
    capture = http_bodies_capture(tmp_path / "bodies.pcap")
    reference = assert_same(capture, lists)
    assert any(r["alert"]["signature"].startswith("POOLSNIFF") and "http" in r for r in reference.records)
    tracked = 0
    track = pipeline.Pipeline._track

    def counting(self: pipeline.Pipeline, *args: Any) -> Any:
        nonlocal tracked
        tracked += 1
        return track(self, *args)

    monkeypatch.setattr(pipeline.Pipeline, "_track", counting)
    scanned(capture, lists, 1)
    with_unread, tracked = tracked, 0
    monkeypatch.setattr(flows.Direction, "unread", lambda self: None)
    assert scanned(capture, lists, 1) == reference
    assert with_unread <= tracked - 25, (with_unread, tracked)
