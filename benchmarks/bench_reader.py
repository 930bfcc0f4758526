"""Benchmark of the source and decode stages (source -> decode -> ...): packets/s and MB/s.

Writes a capture of N Ethernet/IPv4 TCP and UDP frames of a few sizes into a temporary
file, then times ``read_frames`` alone and ``read_frames`` + ``Decoder.decode``.

    python benchmarks/bench_reader.py --packets 1000000 --format pcap --format pcapng
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import BinaryIO

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from poolsniff.engine.decode import Decoder  # noqa: E402
from poolsniff.sources.pcap import read_frames  # noqa: E402

SIZES = (64, 590, 1514, 1514, 1514)
"""Frame sizes cycled through (about 1 kB on average, so 1,000,000 packets make 1 GB)."""


def make_frame(size: int, udp: bool) -> bytes:
    """Build an Ethernet/IPv4/TCP-or-UDP frame of exactly ``size`` bytes."""
    l4 = (
        struct.pack("!HHHH", 5353, 53, size - 34, 0)
        if udp
        else struct.pack("!HHIIBBHHH", 40000, 3333, 1, 0, 0x50, 0x18, 65535, 0, 0)
    )
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        size - 14,
        1,
        0,
        64,
        17 if udp else 6,
        0,
        b"\x0a\x00\x00\x01",
        b"\xc0\xa8\x00\x02",
    )
    head = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + l4
    return head + b"x" * (size - len(head))


def records(packets: int, pcapng: bool) -> Iterator[bytes]:
    """Yield the file header and then one record per packet."""
    frames = [make_frame(size, i % 3 == 0) for i, size in enumerate(SIZES)]
    if pcapng:
        yield struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
        yield struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20)
    else:
        yield struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    ts = 1_700_000_000_000_000
    for i in range(packets):
        frame = frames[i % len(frames)]
        ts += 37
        if pcapng:
            pad = -len(frame) % 4
            blen = 32 + len(frame) + pad
            head = struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
            yield head + frame + b"\0" * pad + struct.pack("<I", blen)
        else:
            yield struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame


def write_capture(path: str, packets: int, kind: str) -> None:
    """Write the benchmark capture: ``pcap``, ``pcapng`` or either with ``.gz``."""
    with open(path, "wb") as raw:
        if kind.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb") as squeezed:
                write_records(squeezed, packets, kind.startswith("pcapng"))
        else:
            write_records(raw, packets, kind.startswith("pcapng"))


def write_records(out: BinaryIO | io.BufferedIOBase, packets: int, pcapng: bool) -> None:
    """Write the records in batches."""
    batch: list[bytes] = []
    for record in records(packets, pcapng):
        batch.append(record)
        if len(batch) == 4096:
            out.write(b"".join(batch))
            batch.clear()
    out.write(b"".join(batch))


def timed(path: str, decode: bool) -> tuple[int, int, float]:
    """Read (and decode) the whole capture: (packets, frame bytes, seconds)."""
    decoder = Decoder()
    count = size = 0
    start = time.perf_counter()
    with open(path, "rb") as fileobj:
        if decode:
            for ts_us, linktype, data in read_frames(fileobj, path):
                decoder.decode(ts_us, linktype, data)
                count += 1
                size += len(data)
        else:
            for _, _, data in read_frames(fileobj, path):
                count += 1
                size += len(data)
    return count, size, time.perf_counter() - start


def main() -> None:
    """Parse options, write each capture, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument(
        "--format",
        action="append",
        choices=("pcap", "pcapng", "pcap.gz", "pcapng.gz"),
        help="capture format(s) to time (default: pcap)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.format or ["pcap"]:
            path = os.path.join(tmp, f"bench.{kind}")
            write_capture(path, args.packets, kind)
            file_mb = os.path.getsize(path) / 1e6
            for label, decode in (("read_frames", False), ("read_frames+decode", True)):
                count, size, secs = timed(path, decode)
                print(
                    f"{kind:9} {label:18} {count:>9} packets {size / 1e6:8.1f} MB "
                    f"(file {file_mb:.1f} MB) in {secs:6.2f} s: "
                    f"{count / secs:>10,.0f} packets/s {size / 1e6 / secs:8.1f} MB/s"
                )
            os.unlink(path)


if __name__ == "__main__":
    main()
