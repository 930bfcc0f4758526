"""The sockets of ``sniff --jobs``: DNS kept apart by the kernel filter, flows spread by a symmetric hash.

The filter tests run the programs with the classic-BPF interpreter of ``test_live``; the socket
tests need root and a namespace of their own (skipped otherwise, with the reason): frames of many
flows, in both directions, are sent into a veth pair and read back from each socket.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from poolsniff.errors import CaptureError
from poolsniff.sources import fanout
from poolsniff.sources.live import (
    DNS_DROP,
    DNS_ONLY,
    DNS_PASS,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    capture_filter,
)

from ..conftest import ROOT
from ..factories_frames import eth, ext8, ipv4, ipv6, tcp, udp
from .test_live import FRAMES, SYN, UNTAGGED, Netns, namespaces, run_bpf

DNS_FRAMES = [
    ("tcp-dns-syn", eth(ipv4(tcp(flags=SYN, dport=53))), True),
    ("tcp-dns-answer-syn-ack", eth(ipv4(tcp(flags=0x12, sport=53, dport=40000))), True),
    ("tcp-dns-query", eth(ipv4(tcp(b"\x00\x20" + b"\x12" * 32, dport=53))), True),
    ("ipv6-udp-dns", eth(ipv6(udp(b"\0" * 20, sport=53, dport=40000), nxt=17), etype=0x86DD), True),
    ("ipv6-dns-behind-extension", eth(ipv6(ext8(17) + udp(b"\0" * 20), nxt=0), etype=0x86DD), False),
    ("three-tags-dns", eth(ipv4(udp(b"\0" * 20), proto=17), tags=[0x88A8, 0x8100, 0x8100]), False),
]
"""(id, frame, whether the DNS socket keeps it): what only the port tells apart, and what is never read."""


@pytest.mark.parametrize("linktype", [LINKTYPE_ETHERNET, LINKTYPE_RAW])
def test_the_two_filters_split_the_usual_one(linktype: int) -> None:
    """Every frame the usual filter keeps goes to exactly one kind of socket; nothing else is kept."""
    whole, flows, dns = (capture_filter(linktype, dns=mode) for mode in (DNS_PASS, DNS_DROP, DNS_ONLY))
    frames = [f[1] for f in FRAMES + DNS_FRAMES]
    if linktype == LINKTYPE_RAW:  # the IP packet of each untagged frame
        frames = [f[1][14:] for f in UNTAGGED]
    kept = 0
    for frame in frames:
        verdicts = [bool(run_bpf(p, frame)) for p in (whole, flows, dns)]
        assert verdicts[0] == (verdicts[1] or verdicts[2]) and not (verdicts[1] and verdicts[2]), frame.hex()
        kept += verdicts[2]
    assert kept >= 3  # the DNS of the table


@pytest.mark.parametrize(("frame", "to_dns"), [f[1:] for f in DNS_FRAMES], ids=[f[0] for f in DNS_FRAMES])
def test_dns_goes_to_the_dns_socket_only(frame: bytes, to_dns: bool) -> None:
    assert bool(run_bpf(capture_filter(LINKTYPE_ETHERNET, dns=DNS_ONLY), frame)) == to_dns
    assert bool(run_bpf(capture_filter(LINKTYPE_ETHERNET, dns=DNS_DROP), frame)) != to_dns


def test_unknown_dns_mode() -> None:
    with pytest.raises(ValueError, match="no DNS mode"):
        capture_filter(LINKTYPE_ETHERNET, dns="sometimes")


def test_a_group_needs_two_sockets() -> None:
    with pytest.raises(ValueError, match="two sockets"):
        fanout.open_group("lo", None, 1)


def test_a_kernel_without_fanout_is_a_one_line_capture_error() -> None:
    """setsockopt(SOL_PACKET, PACKET_FANOUT) fails as on a kernel without it (here: not a packet socket)."""

    class NotPacket:
        def __init__(self) -> None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def fileno(self) -> int:
            return self.sock.fileno()

    fake = NotPacket()
    try:
        with pytest.raises(CaptureError) as raised:
            fanout.join(fake, "eth9", None)  # type: ignore[arg-type]
    finally:
        fake.sock.close()
    message = str(raised.value)
    assert message.startswith("eth9: this kernel cannot spread a capture over sockets (PACKET_FANOUT")
    assert message.endswith("run with --jobs 1") and "\n" not in message


# --------------------------------------------------------------------------- the sockets (root)


@pytest.fixture
def netns() -> Iterator[Callable[[], Netns]]:
    """A factory of namespaces, all deleted at teardown."""
    yield from namespaces()


GROUP_PROBE = r"""
import json, socket, sys, time
from poolsniff.sources.fanout import open_group
pairs = open_group(sys.argv[1], None, int(sys.argv[3]))
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((sys.argv[2], 0))
for f in json.load(sys.stdin):
    tx.send(bytes.fromhex(f))
time.sleep(0.3)
out = []
for p in pairs:
    out.append({kind: [d.hex() for _, _, d in getattr(p, kind).read(10000)] for kind in ("flows", "dns")})
print(json.dumps(out))
"""


def flow_frames(n: int) -> tuple[list[bytes], dict[bytes, int]]:
    """Frames of ``n`` TCP flows, each direction several times, and DNS; the flow of each frame."""
    frames: list[bytes] = []
    flow_of: dict[bytes, int] = {}
    for k in range(n):
        client, server = bytes([10, 1, k // 200, k % 200 + 1]), bytes([10, 2, 0, k % 7 + 1])
        port = 30000 + k * 37
        for i in range(3):
            out = eth(ipv4(tcp(b"x%d" % i, sport=port, dport=3333, seq=k), src=client, dst=server))
            back = eth(ipv4(tcp(b"y%d" % i, sport=3333, dport=port, seq=k), src=server, dst=client))
            frames += [out, back]
            flow_of[out] = flow_of[back] = k
    dns = [eth(ipv4(udp(b"\x12\x34" + bytes([k]) * 20, sport=40000 + k), proto=17)) for k in range(8)]
    return frames + dns, flow_of


@pytest.mark.live
def test_each_flow_reaches_one_socket_both_ways_and_dns_reaches_all(netns: Callable[[], Netns]) -> None:
    ns = netns()
    ns.veth("veth0", "veth1")
    frames, flow_of = flow_frames(48)
    proc = subprocess.run(
        ns.command(sys.executable, "-c", GROUP_PROBE, "veth1", "veth0", "2"),
        input=json.dumps([f.hex() for f in frames]), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sockets = json.loads(proc.stdout)
    where: dict[int, set[int]] = {}
    for index, got in enumerate(sockets):
        for h in got["flows"]:
            where.setdefault(flow_of[bytes.fromhex(h)], set()).add(index)
    assert sorted(where) == list(range(48))  # every flow arrived, none as DNS
    assert all(len(socks) == 1 for socks in where.values()), where  # both directions on one socket
    assert {i for socks in where.values() for i in socks} == {0, 1}  # and both sockets had flows
    dns = [f.hex() for f in frames if f not in flow_of]
    assert [got["dns"] for got in sockets] == [dns, dns]  # every DNS frame on every DNS socket
    assert sum(len(got["flows"]) for got in sockets) == len(flow_of)  # each frame once


JOIN_PROBE = r"""
import socket, struct, sys
from poolsniff.errors import CaptureError
from poolsniff.sources import fanout
from poolsniff.sources.live import LiveCapture, SOL_PACKET
other = LiveCapture.open(sys.argv[1])  # a group of another kind (round robin) on the same interface
dup = socket.socket(fileno=socket.dup(other.fileno()))
roundrobin = (1 | fanout.PACKET_FANOUT_FLAG_UNIQUEID) << 16
dup.setsockopt(SOL_PACKET, fanout.PACKET_FANOUT, struct.pack("I", roundrobin))
group = struct.unpack("I", dup.getsockopt(SOL_PACKET, fanout.PACKET_FANOUT, 4))[0] & 0xFFFF
try:
    fanout.join(LiveCapture.open(sys.argv[1]), sys.argv[1], group)
except CaptureError as e:
    print(e)
"""


@pytest.mark.live
def test_a_socket_that_cannot_join_is_a_capture_error(netns: Callable[[], Netns]) -> None:
    ns = netns()
    ns.veth("veth0", "veth1")
    proc = subprocess.run(
        ns.command(sys.executable, "-c", JOIN_PROBE, "veth1"),
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("veth1: a socket cannot join fanout group "), proc.stdout
    assert proc.stdout.count("\n") == 1
