"""Hostile traffic does not crash poolsniff or grow its memory without bound (issue: hostile input).

Each case writes a capture built to exhaust one structure, scans it in a child process,
and checks the exit status, the absence of a traceback, and the child's peak RSS against
the bound SECURITY.md states (300 MiB). The captures are raw IP (link type 101) so they
are small to build.
"""

from __future__ import annotations

import resource
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .factories_frames import ipv4, tcp, udp

RSS_BOUND_MIB = 300
SYN, ACK, PSH = 0x02, 0x10, 0x08


def write_raw_pcap(path: Path, frames: Iterator[bytes]) -> None:
    """Write raw-IP frames (link type 101), one microsecond apart."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        for i, frame in enumerate(frames):
            ts = 1_714_564_800_000_000 + i
            out.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)


def addr(i: int, base: int) -> bytes:
    return struct.pack("!I", (base << 24) | (i & 0xFFFFFF))


def scan_in_child(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Scan ``path`` in a child; return the result and the child's peak RSS in MiB."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'poolsniff', 'scan', '-q', sys.argv[1]],"
        " capture_output=True, text=True)\n"
        "sys.stderr.write(p.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(p.returncode)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=900
    )
    rss_kib = int(proc.stdout.strip().splitlines()[-1])
    return proc, rss_kib / 1024


def unfinished_lines(flows: int) -> Iterator[bytes]:
    """Each flow: SYN, then a JSON line with no newline, never finished."""
    line = b'{"id":1,"method":"mining.subscribe","params":["cgminer/4.11.1","' + b"a" * 200
    for i in range(flows):
        src, dst = addr(i, 10), addr(i % 997, 172)
        sport = 1024 + i % 60000
        yield ipv4(tcp(b"", sport, 3333, 1000, SYN), src=src, dst=dst)
        yield ipv4(tcp(line, sport, 3333, 1001, PSH | ACK), src=src, dst=dst)


def one_huge_line(megabytes: int) -> Iterator[bytes]:
    src, dst = addr(1, 10), addr(1, 172)
    yield ipv4(tcp(b"", 40000, 3333, 1000, SYN), src=src, dst=dst)
    seq = 1001
    chunk = b'{"id":1,"method":"mining.subscribe","params":["' + b"x" * 1400
    for _ in range(megabytes * 1024 * 1024 // len(chunk)):
        yield ipv4(tcp(chunk, 40000, 3333, seq, ACK), src=src, dst=dst)
        seq += len(chunk)
        chunk = b"y" * 1448
    tail = b'"]}\n{"id":2,"method":"mining.authorize","params":["1J97HrqvJYFVrNtnTZF1C8WgFuBL87QTzN","x"]}\n'
    yield ipv4(tcp(tail, 40000, 3333, seq, ACK), src=src, dst=dst)


def deep_nesting(levels: int) -> Iterator[bytes]:
    src, dst = addr(2, 10), addr(2, 172)
    body = b"[" * levels + b"]" * levels + b"\n"
    yield ipv4(tcp(b"", 40001, 3333, 1000, SYN), src=src, dst=dst)
    seq = 1001
    for off in range(0, len(body), 1448):
        yield ipv4(tcp(body[off : off + 1448], 40001, 3333, seq, ACK), src=src, dst=dst)
        seq += len(body[off : off + 1448])


def dns_names(count: int) -> Iterator[bytes]:
    """Queries and answers for a million distinct names."""
    for i in range(count):
        name = f"h{i}.example-{i % 5000}.net".encode()
        qname = b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\0"
        query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1"
        answer = (
            struct.pack("!HHHHHH", i & 0xFFFF, 0x8180, 1, 1, 0, 0) + qname + b"\0\1\0\1"
            + b"\xc0\x0c\0\1\0\1" + struct.pack("!IH", 300, 4) + addr(i, 100)
        )  # fmt: skip
        yield ipv4(udp(query, 1024 + i % 60000, 53), proto=17, src=addr(1, 10), dst=addr(53, 10))
        yield ipv4(udp(answer, 53, 1024 + i % 60000), proto=17, src=addr(53, 10), dst=addr(1, 10))


CASES = {
    "200k-unfinished-lines": lambda: unfinished_lines(200_000),
    "5mb-line": lambda: one_huge_line(5),
    "nesting-100k": lambda: deep_nesting(100_000),
    "1m-dns-names": lambda: dns_names(1_000_000),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_capture_stays_bounded(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.pcap"
    write_raw_pcap(path, CASES[case]())
    proc, rss_mib = scan_in_child(path)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode in (0, 1), proc.stderr
    assert rss_mib < RSS_BOUND_MIB, f"peak RSS {rss_mib:.0f} MiB"
    if case == "5mb-line":
        # the line after the oversized one is still parsed
        assert proc.returncode == 1


def test_rss_measure_is_real() -> None:
    """ru_maxrss of children is reported in KiB on Linux (guards the unit above)."""
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 1000
