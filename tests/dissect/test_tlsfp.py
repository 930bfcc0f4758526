"""Tests for poolsniff.dissect.tlsfp: JA4 against FoxIO's vectors, JA3 against tshark."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest

from poolsniff.dissect.interface import NEED_MORE
from poolsniff.dissect.tls import client_hello_message, server_hello_message
from poolsniff.dissect.tlsfp import KNOWN_MINERS, fingerprint, is_grease, known_miner, server_fingerprint

VECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "ja4-vectors"
CAPTURES = sorted(VECTORS.glob("*.ja4.json")) if VECTORS.is_dir() else []


def _packets(path: Path) -> list[tuple[int, bytes]]:
    """(datalink, frame) of every packet."""
    with path.open("rb") as f:
        pcapng = f.read(4) == b"\x0a\x0d\x0d\x0a"  # by magic: some ".pcapng" files are pcap
        f.seek(0)
        reader = dpkt.pcapng.Reader(f) if pcapng else dpkt.pcap.Reader(f)
        link = reader.datalink()
        return [(link, bytes(buf)) for _, buf in reader]


def hellos(path: Path, server: bool = False) -> dict[tuple[str, int, str, int], bytes]:
    """First ClientHello (``server``: ServerHello) message per TCP stream (src, sport, dst, dport)."""
    import socket

    streams: dict[tuple[str, int, str, int], bytes] = {}
    done: dict[tuple[str, int, str, int], bytes] = {}
    for link, buf in _packets(path):
        frame = dpkt.loopback.Loopback(buf) if link == 0 else dpkt.ethernet.Ethernet(buf)
        ip = frame.data
        if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        fam = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
        tcp = ip.data
        key = (socket.inet_ntop(fam, ip.src), tcp.sport, socket.inet_ntop(fam, ip.dst), tcp.dport)
        if key in done or not tcp.data:
            continue
        data = streams.get(key, b"") + bytes(tcp.data)
        if key not in streams and data[:1] != b"\x16":
            done[key] = b""
            continue
        streams[key] = data
        msg = (server_hello_message if server else client_hello_message)(data)
        if msg is not NEED_MORE:
            done[key] = msg or b""
    return {k: v for k, v in done.items() if v}


def test_grease() -> None:
    assert is_grease(0x0A0A) and is_grease(0xFAFA)
    assert not is_grease(0x0A1A) and not is_grease(0x1301)


@pytest.mark.skipif(not CAPTURES, reason="../shared/reference/ja4-vectors is absent")
@pytest.mark.parametrize("expected_file", CAPTURES, ids=lambda p: p.name)
def test_ja4_matches_foxio_vectors(expected_file: Path) -> None:
    capture = expected_file.with_name(expected_file.name.removesuffix(".ja4.json"))
    found = hellos(capture)
    compared = 0
    for entry in json.loads(expected_file.read_text()):
        if "JA4.1" not in entry:
            continue
        key = (entry["src"], int(entry["srcport"]), entry["dst"], int(entry["dstport"]))
        if key not in found:
            continue  # a hello inside a tunnel (SOCKS) does not start its TCP stream
        fp = fingerprint(found[key])
        assert (fp.ja4, fp.ja4_r) == (entry["JA4.1"], entry["JA4_r.1"]), key
        compared += 1
    if not compared:
        pytest.skip(f"no ClientHello at the start of a stream in {capture.name}")


@pytest.mark.skipif(not CAPTURES or shutil.which("tshark") is None, reason="tshark or vectors absent")
@pytest.mark.parametrize("expected_file", CAPTURES, ids=lambda p: p.name)
def test_ja3_matches_tshark(expected_file: Path) -> None:
    capture = expected_file.with_name(expected_file.name.removesuffix(".ja4.json"))
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(capture),
            "-Y",
            "tls.handshake.type == 1",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tls.handshake.ja3_full",
            "-e",
            "tls.handshake.ja3",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = hellos(capture)
    compared = 0
    for line in out.splitlines():
        src4, src6, sport, dst4, dst6, dport, full, md5 = line.split("\t")
        if not sport or not dport:
            continue
        key = (src4 or src6, int(sport), dst4 or dst6, int(dport))
        if key not in found or not full or "," in md5:
            continue
        fp = fingerprint(found[key])
        if fp.ja3_string != full:
            # Wireshark leaves the padding extension (21) out of JA3; the Salesforce
            # definition, which poolsniff follows (as Suricata does), keeps it.
            version, ciphers, exts, groups, points = fp.ja3_string.split(",")
            exts = "-".join(e for e in exts.split("-") if e != "21")
            assert ",".join((version, ciphers, exts, groups, points)) == full, key
            compared += 1
            continue
        assert fp.ja3_hash == md5, key
        compared += 1
    if not compared:
        pytest.skip(f"tshark saw no ClientHello at the start of a stream in {capture.name}")


def test_malformed_raises() -> None:
    with pytest.raises(ValueError):
        fingerprint(b"\x01\x00\x00\x05\x03\x03")


def test_known_xmrig_entry_is_the_recorded_hello() -> None:
    """The shipped XMRig 6.16.0 JA4 is what the recording of the real binary gives."""
    recording = Path(__file__).parent / "data" / "xmrig-6.16.0-tls-hello.pcap"
    (message,) = hellos(recording).values()
    fp = fingerprint(message)
    assert known_miner(fp.ja4) == "XMRig 6.16.0"
    assert fp.ja3_hash == "c34a54599a1fbaf1786aa6d633545a60"
    assert "i" == fp.ja4[3]  # XMRig 6.16 sends no SNI even given a name
    assert len(KNOWN_MINERS) == len(set(KNOWN_MINERS.values()))


ALL_VECTORS = sorted(p for p in VECTORS.glob("*.pcap*") if not p.name.endswith(".json")) if CAPTURES else []


def tshark_ja3s(capture: Path) -> dict[tuple[str, int, str, int], tuple[str, str]]:
    """tshark's JA3S (full string, md5) of each ServerHello, by (src, sport, dst, dport)."""
    fields = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"]
    fields += ["tls.handshake.ja3s_full", "tls.handshake.ja3s"]
    cmd = ["tshark", "-r", str(capture), "-Y", "tls.handshake.type == 2", "-T", "fields"]
    cmd += [a for f in fields for a in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        src4, src6, sport, dst4, dst6, dport, full, md5 = line.split("\t")
        if sport and dport and full and "," not in md5:
            found[(src4 or src6, int(sport), dst4 or dst6, int(dport))] = (full, md5)
    return found


@pytest.mark.skipif(not ALL_VECTORS or shutil.which("tshark") is None, reason="tshark or vectors absent")
@pytest.mark.parametrize("capture", ALL_VECTORS, ids=lambda p: p.name)
def test_ja3s_matches_tshark(capture: Path) -> None:
    """JA3S of every ServerHello that starts a stream, as Wireshark computes it."""
    expected = tshark_ja3s(capture)
    compared = 0
    for key, message in hellos(capture, server=True).items():
        if key in expected:
            fp = server_fingerprint(message)
            assert (fp.ja3s_string, fp.ja3s_hash) == expected[key], key
            compared += 1
    if not compared:
        pytest.skip(f"no ServerHello at the start of a stream in {capture.name}")


@pytest.mark.parametrize(
    "message, ja3s, version",
    [
        # TLS 1.3: the legacy version stays 771 in JA3S; supported_versions says 1.3
        (bytes.fromhex("020000300303") + bytes(32) + bytes.fromhex("00130100" "000a002b00020304" "00330000"),
         "771,4865,43-51", 0x0304),
        (bytes.fromhex("0200002a0301") + bytes(32) + bytes.fromhex("00000500"), "769,5,", 0x0301),
        (bytes.fromhex("020000300303") + bytes(32) + bytes.fromhex("00c03000" "0009" "0a0a0000" "ff01000100"),
         "771,49200,65281", 0x0303),
    ],
)  # fmt: skip
def test_ja3s_string(message: bytes, ja3s: str, version: int) -> None:
    fp = server_fingerprint(message)
    assert (fp.ja3s_string, fp.version) == (ja3s, version)
    assert len(fp.ja3s_hash) == 32


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x01" + bytes(60),
        bytes.fromhex("020000300303") + bytes(32) + b"\x21",
        b"\x02" + bytes(38) + bytes.fromhex("130100" "0009" "002b0002"),
        b"\x02" + bytes(38) + bytes.fromhex("130100" "0004" "002b0009"),
    ],
)  # fmt: skip
def test_ja3s_of_malformed_server_hello_raises(message: bytes) -> None:
    with pytest.raises(ValueError):
        server_fingerprint(message)
