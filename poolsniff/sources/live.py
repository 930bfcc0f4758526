"""Frames from a network interface: the source stage of ``poolsniff sniff``.

source (this module) -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``LiveCapture.open(name)`` opens an AF_PACKET socket with the standard ``socket`` module,
attaches the kernel filter, asks for a large receive buffer and kernel timestamps;
``read()`` returns the queued frames as ``(ts_us, linktype, data)``, what a capture file
yields, so one ``Pipeline`` serves both. Kernel drops come from ``PACKET_STATISTICS``.
A ``--bpf`` expression is compiled with libpcap by ``bpf.compile_expression`` (ctypes).

The kernel filter (``capture_filter``: classic BPF built here, no libpcap needed) passes
what a detector can use: DNS (UDP and TCP port 53); TCP SYN, FIN and RST; TCP payloads
of at most ``SMALL_PAYLOAD`` bytes (Stratum V2 handshakes, short JSON-RPC, the tail of a
long ClientHello); larger payloads that start a TLS handshake record (``16 03``) or a PROXY
protocol v2 header (``0d 0a 0d 0a 00``: a load balancer sends it with the client's first bytes), or a
WebSocket frame header (FIN, text or binary, a 16-bit length under ``WS_MAX_FRAME``: a masked frame is
not text), or whose first ``PRINTABLE_BYTES`` bytes are printable ASCII. That test, not "starts with ``{``",
keeps a long JSON line, whose continuation segments start anywhere inside it. Pure ACKs,
other UDP (QUIC), ICMP, later IPv4 fragments and encrypted or compressed bulk segments
(16 random bytes are all printable with odds of 2 in 10^7) are dropped.

libpcap's ``tcp[...]`` offsets work only for IPv4 without VLAN tags, so the filter walks
the headers with the index register: Ethernet with up to two in-frame VLAN tags (Linux
takes the outer tag out of received frames before packet sockets see them) and PPPoE,
IPv4 and TCP with options, IPv6; links without an Ethernet header are read from the IP
header on. Trade-offs: IPv6 extension headers and deeper VLAN stacks pass unread; a
continuation segment starting with non-ASCII (UTF-8 at a segment boundary) is lost, and
the reassembler resynchronises after the hole; plain-text bulk passes, since a stateless
filter cannot tell it from a long JSON line. On loopback only the incoming copy is kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from poolsniff.errors import CaptureError
from poolsniff.model import Frame
from poolsniff.sources.bpf import Insn

LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
SMALL_PAYLOAD: Final = 1024
"""TCP payloads up to this size always pass; bulk transfers move full-size segments."""
PRINTABLE_BYTES: Final = 16
"""Leading payload bytes of a larger segment that must be text for it to pass."""
WS_MAX_FRAME: Final = 16 << 10
"""A larger segment that starts a WebSocket frame (FIN, text or binary, a 16-bit length) passes when
the frame is shorter than this: a masked or binary frame's bytes are not text, and a Stratum message
of 1-16 KiB inside it would otherwise be lost."""
SNAPLEN: Final = 262144
"""Bytes kept of a frame that passes (libpcap's maximum; GRO frames can exceed 64 KiB)."""
RCVBUF: Final = 128 << 20
"""Receive buffer asked for (``sniff --buffer``, as Zeek's AF_Packet); the kernel doubles it."""
MAX_TAGS: Final = 2
"""VLAN tags walked inside the frame (the kernel has already removed the outer one)."""
VLAN_TPIDS: Final = (0x8100, 0x88A8, 0x9100)
ETH_IPV4, ETH_IPV6, ETH_PPPOE = 0x0800, 0x86DD, 0x8864
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
IPV6_EXTENSIONS: Final = (0, 43, 44, 51, 60, 135)
"""Hop-by-hop, routing, fragment, AH, destination options, mobility: passed unread."""
DNS_PASS, DNS_DROP, DNS_ONLY = "pass", "drop", "only"  # what the filter does with DNS (sniff --jobs)

# Linux ABI numbers (linux/if_packet.h, asm-generic/socket.h, linux/filter.h, if_arp.h)
ETH_P_ALL: Final = 0x0003
SOL_PACKET: Final = 263
PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC, PACKET_STATISTICS = 1, 1, 6
PACKET_OUTGOING: Final = 4
SO_ATTACH_FILTER, SO_RCVBUFFORCE, SO_TIMESTAMPNS = 26, 33, 35
SKF_AD_PKTTYPE: Final = 0xFFFFF000 + 4
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
BPF_MAXINSNS: Final = 4096

# classic BPF opcodes (linux/bpf_common.h)
LD_W, LD_H, LD_B, LD_LEN = 0x20, 0x28, 0x30, 0x80
LD_H_IND, LD_B_IND, LD_MEM = 0x48, 0x50, 0x60
LDX_IMM, ST, TAX, TXA = 0x01, 0x02, 0x07, 0x87
ADD_K, SUB_X, ADD_X, AND_K, LSH_K, RSH_K = 0x04, 0x1C, 0x0C, 0x54, 0x64, 0x74
JA, JEQ, JGT, JGE, JSET = 0x05, 0x15, 0x25, 0x35, 0x45
RET = 0x06

_TS = struct.Struct("@ll")  # struct timespec
_ANC_SIZE = socket.CMSG_SPACE(_TS.size)


# --------------------------------------------------------------------------- assembler


class _Asm:
    """A small classic-BPF assembler: conditional jumps name labels instead of offsets."""

    def __init__(self) -> None:
        self._code: list[tuple[int, int, str | None, str | None]] = []
        self._labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        """Mark the next instruction as ``name``."""
        self._labels[name] = len(self._code)

    def op(self, code: int, k: int = 0) -> None:
        """Append a non-jump instruction."""
        self._code.append((code, k & 0xFFFFFFFF, None, None))

    def ops(self, *insns: tuple[int, int]) -> None:
        """Append several non-jump instructions, each ``(code, k)``."""
        for code, k in insns:
            self.op(code, k)

    def jump(self, code: int, k: int, jt: str | None, jf: str | None = None) -> None:
        """Append a conditional jump; a ``None`` target is the next instruction."""
        self._code.append((code, k, jt, jf))

    def goto(self, target: str) -> None:
        """Append an unconditional jump."""
        self._code.append((JA, 0, target, None))

    def assemble(self) -> list[Insn]:
        """Resolve the labels; a target out of reach of an 8-bit offset is a ValueError."""
        out: list[Insn] = []
        for pc, (code, k, jt, jf) in enumerate(self._code):
            if code == JA and jt is not None:
                out.append((JA, 0, 0, self._offset(pc, jt, 1 << 32)))
            elif jt is not None or jf is not None or code & 0x07 == 0x05:
                out.append((code, self._offset(pc, jt, 256), self._offset(pc, jf, 256), k))
            else:
                out.append((code, 0, 0, k))
        return out

    def _offset(self, pc: int, target: str | None, limit: int) -> int:
        if target is None:
            return 0
        off = self._labels[target] - pc - 1
        if not 0 <= off < limit:
            raise ValueError(f"BPF jump from {pc} to {target!r} is out of range ({off})")
        return off


# --------------------------------------------------------------------------- the default filter


def capture_filter(
    linktype: int,
    *,
    loopback: bool = False,
    small: int = SMALL_PAYLOAD,
    printable: int = PRINTABLE_BYTES,
    dns: str = DNS_PASS,
) -> list[Insn]:
    """Build the kernel filter for frames of ``linktype`` (Ethernet, or raw IP from a datagram socket);
    DNS (UDP and TCP port 53) is kept (``DNS_PASS``), dropped (``DNS_DROP``) or alone kept (``DNS_ONLY``)."""
    if dns not in (DNS_PASS, DNS_DROP, DNS_ONLY):
        raise ValueError(f"no DNS mode {dns!r}")
    a = _Asm()
    if loopback:  # keep one copy of each packet: the one coming in
        a.op(LD_W, SKF_AD_PKTTYPE)
        a.jump(JEQ, PACKET_OUTGOING, None, "link")
        a.op(RET, 0)
        a.label("link")
    if linktype == LINKTYPE_ETHERNET:
        _ethernet(a, dns)
    elif linktype == LINKTYPE_RAW:
        _raw_ip(a)
    else:
        raise ValueError(f"no capture filter for link type {linktype}")
    _ipv4(a)
    _ipv6(a, dns)
    _udp_tcp(a, small, dns)
    _payload(a, printable)
    return a.assemble()


def _ethernet(a: _Asm, dns: str) -> None:
    """EtherType dispatch, walking VLAN tags and PPPoE; sets X to the IP header's offset."""
    starts: list[int] = []
    for depth in range(MAX_TAGS + 1):
        p = 12 + 4 * depth  # where the EtherType sits
        a.label(f"type{p}")
        a.op(LD_H, p)
        a.jump(JEQ, ETH_IPV4, f"v4at{p + 2}")
        a.jump(JEQ, ETH_IPV6, f"v6at{p + 2}")
        a.jump(JEQ, ETH_PPPOE, f"pppoe{p}")
        deeper = f"type{p + 4}" if depth < MAX_TAGS else f"deep{p}"
        for tpid in VLAN_TPIDS:
            a.jump(JEQ, tpid, deeper)
        a.op(RET, 0)
        if depth == MAX_TAGS:
            a.label(deeper)  # more tags than walked: let the decoder judge (never as DNS alone)
            a.op(RET, 0 if dns == DNS_ONLY else SNAPLEN)
        a.label(f"pppoe{p}")
        a.op(LD_H, p + 8)  # 6-byte PPPoE session header, then the PPP protocol
        a.jump(JEQ, PPP_IPV4, f"v4at{p + 10}")
        a.jump(JEQ, PPP_IPV6, f"v6at{p + 10}")
        a.op(RET, 0)
        starts += [p + 2, p + 10]
    for off in starts:
        for version in ("v4", "v6"):
            a.label(f"{version}at{off}")
            a.op(LDX_IMM, off)
            a.goto("ipv4" if version == "v4" else "ipv6")


def _raw_ip(a: _Asm) -> None:
    """IP version dispatch for frames that start at the IP header."""
    a.ops((LD_B, 0), (AND_K, 0xF0), (LDX_IMM, 0))
    a.jump(JEQ, 0x40, "ipv4")
    a.jump(JEQ, 0x60, "ipv6")
    a.op(RET, 0)


def _ipv4(a: _Asm) -> None:
    """IPv4 at X: M[0] = end of the packet, M[1] = protocol, X = transport header."""
    a.label("ipv4")
    a.op(LD_H_IND, 6)
    a.jump(JSET, 0x1FFF, "drop")  # a fragment other than the first
    a.op(LD_H_IND, 2)
    a.jump(JEQ, 0, "v4tso")  # total length 0: segmentation offload, the frame knows
    a.ops((ADD_X, 0), (ST, 0))
    a.goto("v4proto")
    a.label("v4tso")
    a.ops((LD_LEN, 0), (ST, 0))
    a.label("v4proto")
    a.ops((LD_B_IND, 9), (ST, 1))
    a.ops((LD_B_IND, 0), (AND_K, 0x0F), (LSH_K, 2), (ADD_X, 0), (TAX, 0))  # X += header length
    a.goto("l4")


def _ipv6(a: _Asm, dns: str) -> None:
    """IPv6 at X: as IPv4; extension headers are not walked and pass (but not as DNS)."""
    a.label("ipv6")
    a.op(LD_H_IND, 4)
    a.jump(JEQ, 0, "v6jumbo")
    a.ops((ADD_X, 0), (ADD_K, 40), (ST, 0))
    a.goto("v6next")
    a.label("v6jumbo")
    a.ops((LD_LEN, 0), (ST, 0))
    a.label("v6next")
    a.ops((LD_B_IND, 6), (ST, 1), (TXA, 0), (ADD_K, 40), (TAX, 0), (LD_MEM, 1))
    for nxt in IPV6_EXTENSIONS:  # passed unread, never as DNS alone
        a.jump(JEQ, nxt, "drop" if dns == DNS_ONLY else "pass")


def _udp_tcp(a: _Asm, small: int, dns: str) -> None:
    """Transport at X, protocol in M[1]: DNS (as ``dns`` says), TCP control flags, then the payload size."""
    keep = "drop" if dns == DNS_DROP else "pass"
    other = "drop" if dns == DNS_ONLY else None
    a.label("l4")
    a.op(LD_MEM, 1)
    a.jump(JEQ, 6, "tcp")
    a.jump(JEQ, 17, None, "drop")
    a.op(LD_H_IND, 0)
    a.jump(JEQ, 53, keep)
    a.op(LD_H_IND, 2)
    a.jump(JEQ, 53, keep, "drop")
    a.label("tcp")
    a.op(LD_H_IND, 0)
    a.jump(JEQ, 53, keep)
    a.op(LD_H_IND, 2)
    a.jump(JEQ, 53, keep, other)
    a.op(LD_B_IND, 13)
    a.jump(JSET, 0x07, "pass")  # FIN, SYN, RST
    a.ops((LD_B_IND, 12), (RSH_K, 4), (LSH_K, 2), (ADD_X, 0), (TAX, 0))  # X = first payload byte
    a.ops((LD_MEM, 0), (SUB_X, 0))  # A = payload length
    a.jump(JEQ, 0, "drop")  # a pure ACK
    a.jump(JGT, small, "content", "pass")
    a.label("pass")
    a.op(RET, SNAPLEN)
    a.label("drop")
    a.op(RET, 0)


def _payload(a: _Asm, printable: int) -> None:
    """A large payload at X passes if it starts a TLS handshake record, a PROXY v2 header, a WebSocket
    frame (``WS_MAX_FRAME``), or with text."""
    a.label("content")
    a.op(LD_B_IND, 0)
    a.jump(JEQ, 0x16, "tls")
    a.jump(JEQ, 0x0D, None, "ws")
    # a PROXY protocol v2 header (\r\n\r\n\0\r\nQUIT\n) carries the client's first bytes with it
    a.op(LD_H_IND, 0)
    a.jump(JEQ, 0x0D0A, None, "text")
    a.op(LD_H_IND, 2)
    a.jump(JEQ, 0x0D0A, None, "text")
    a.op(LD_B_IND, 4)
    a.jump(JEQ, 0x00, "accept", "text")
    # a WebSocket frame header: FIN, RSV2/3 clear, text or binary, a 16-bit length under 16 KiB
    a.label("ws")
    a.op(AND_K, 0xBF)  # RSV1 (permessage-deflate) either way
    a.jump(JEQ, 0x81, "ws1")
    a.jump(JEQ, 0x82, "ws1", "text")
    a.label("ws1")
    a.ops((LD_B_IND, 1), (AND_K, 0x7F))  # the mask bit either way
    a.jump(JEQ, 126, None, "text")
    a.op(LD_B_IND, 2)
    a.jump(JGE, WS_MAX_FRAME >> 8, "text", "accept")
    a.label("text")
    a.op(LD_B_IND, 0)
    a.label("text0")
    for i in range(printable):
        if i:
            a.op(LD_B_IND, i)
        nxt = f"text{i + 1}" if i + 1 < printable else "accept"
        a.jump(JGT, 0x7E, "reject")
        a.jump(JGE, 0x20, nxt)
        a.jump(JEQ, 0x0A, nxt)
        a.jump(JEQ, 0x0D, nxt)
        a.jump(JEQ, 0x09, nxt, "reject")
        if i + 1 < printable:
            a.label(nxt)
    a.label("tls")
    a.op(LD_B_IND, 1)
    a.jump(JEQ, 0x03, None, "reject")
    a.label("accept")
    a.op(RET, SNAPLEN)
    a.label("reject")
    a.op(RET, 0)


# --------------------------------------------------------------------------- user expressions


def and_filters(first: Sequence[Insn], second: Sequence[Insn]) -> list[Insn]:
    """Chain two programs: a frame passes when both accept it (whole, up to ``SNAPLEN``)."""
    out: list[Insn] = []
    n = len(first)
    for pc, (code, jt, jf, k) in enumerate(first):
        if code == RET and k:
            out.append((JA, 0, 0, n - pc - 1))
        else:
            out.append((code, jt, jf, k))
    out.extend((code, jt, jf, SNAPLEN if code == RET and k else k) for code, jt, jf, k in second)
    return out


# --------------------------------------------------------------------------- the socket


@dataclass
class KernelStats:
    """What the kernel counted for one socket since it opened."""

    received: int = 0
    """Frames that passed the filter (queued or dropped)."""
    dropped: int = 0
    """Frames that passed the filter but found the receive buffer full."""


class LiveCapture:
    """One AF_PACKET socket on one interface, with the kernel filter attached."""

    def __init__(self, name: str, sock: socket.socket, linktype: int, insns: int) -> None:
        """Wrap an opened, filtered, bound socket (use ``LiveCapture.open``)."""
        self.name = name
        self.linktype = linktype
        self.filter_length = insns
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.promiscuous = False
        self._sock = sock
        self._buf = bytearray(SNAPLEN)
        self._view = memoryview(self._buf)
        self._stats = KernelStats()

    @classmethod
    def open(
        cls, name: str, bpf: str | None = None, rcvbuf: int = RCVBUF, dns: str = DNS_PASS
    ) -> LiveCapture:
        """Open ``name`` with the default filter (``dns``: its DNS mode; ANDed with ``bpf``); CaptureError
        says what is wrong."""
        try:
            socket.if_nametoindex(name)
        except OSError:
            raise CaptureError(f"{name}: no such network interface (`ip link` lists them)") from None
        sock = _packet_socket(name, socket.SOCK_RAW)
        hatype = _bind(sock, name, 0)[3]
        ethernet = hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK)
        if not ethernet:  # no link header to speak of: let the kernel strip it
            sock.close()
            sock = _packet_socket(name, socket.SOCK_DGRAM)
        linktype = LINKTYPE_ETHERNET if ethernet else LINKTYPE_RAW
        try:
            program = capture_filter(linktype, loopback=hatype == ARPHRD_LOOPBACK, dns=dns)
            if bpf:
                from poolsniff.sources.bpf import compile_expression  # loads libpcap: only for --bpf

                program = and_filters(program, compile_expression(bpf, linktype))
            _attach(sock, name, program)
            _set_rcvbuf(sock, rcvbuf)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            _bind(sock, name, ETH_P_ALL)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        capture = cls(name, sock, linktype, len(program))
        capture.promiscuous = _promiscuous(sock, name)
        return capture

    def fileno(self) -> int:
        """The socket's descriptor, for poll()."""
        return self._sock.fileno()

    def read(self, limit: int) -> list[Frame]:
        """Return up to ``limit`` queued frames without waiting (an empty list if none)."""
        frames: list[Frame] = []
        recv = self._sock.recvmsg_into
        bufs = [self._buf]
        view, linktype, unpack = self._view, self.linktype, _TS.unpack_from
        for _ in range(limit):
            try:
                size, anc, _flags, _addr = recv(bufs, _ANC_SIZE)
            except BlockingIOError:
                break
            if anc:
                sec, nsec = unpack(anc[0][2])
                ts = sec * 1_000_000 + nsec // 1000
            else:  # pragma: no cover - the kernel stamps every frame once asked to
                ts = time.time_ns() // 1000
            frames.append((ts, linktype, bytes(view[:size])))
        return frames

    def stats(self) -> KernelStats:
        """Kernel counters since the socket opened (reading them resets the kernel's copy)."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        self._stats.received += packets  # the kernel's tp_packets already includes the drops
        self._stats.dropped += drops
        return KernelStats(self._stats.received, self._stats.dropped)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


def _packet_socket(name: str, kind: int) -> socket.socket:
    try:
        return socket.socket(socket.AF_PACKET, kind, 0)
    except PermissionError as e:
        raise CaptureError(
            f"{name}: capturing needs the CAP_NET_RAW capability: run as root, or grant "
            "CAP_NET_RAW (and CAP_NET_ADMIN for a large buffer) as docs/sniff.md shows"
        ) from e


def _bind(sock: socket.socket, name: str, protocol: int) -> tuple[str, int, int, int, bytes]:
    try:
        sock.bind((name, protocol))
    except OSError as e:
        sock.close()
        if e.errno in (errno.ENODEV, errno.ENXIO):
            raise CaptureError(f"{name}: no such network interface (`ip link` lists them)") from e
        raise CaptureError(f"{name}: cannot capture: {e.strerror}") from e
    address: tuple[str, int, int, int, bytes] = sock.getsockname()
    return address


def _attach(sock: socket.socket, name: str, program: Sequence[Insn]) -> None:
    code = b"".join(struct.pack("@HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as e:
        size = f"{len(program)} instructions, at most {BPF_MAXINSNS}"
        raise CaptureError(f"{name}: the kernel refused the capture filter ({size}): {e.strerror}") from e


def _set_rcvbuf(sock: socket.socket, size: int) -> None:
    """Ask for ``size`` bytes past net.core.rmem_max if allowed (CAP_NET_ADMIN), else up to it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def _promiscuous(sock: socket.socket, name: str) -> bool:
    """See frames for other hosts too (a mirror port), as tcpdump does; undone when the socket closes."""
    mreq = struct.pack("@iHH8s", socket.if_nametoindex(name), PACKET_MR_PROMISC, 0, b"")
    try:
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    except OSError:
        return False
    return True


def wire_packets(name: str) -> int | None:
    """Packets the interface received plus sent (received only on loopback), from /proc/net/dev."""
    with contextlib.suppress(OSError), open("/proc/net/dev", encoding="utf-8") as f:
        for line in f:
            iface, sep, counters = line.partition(":")
            if sep and iface.strip() == name:
                fields = counters.split()
                rx, tx = int(fields[1]), int(fields[9])
                return rx if name == "lo" else rx + tx
    return None
