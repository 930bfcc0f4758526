"""Tests for poolsniff.dissect.tlsfp: JA4 against FoxIO's vectors, JA3 against tshark."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from random import Random

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.dissect import tlsfp
from poolsniff.dissect.interface import NEED_MORE
from poolsniff.dissect.tls import client_hello_message, server_hello_message
from poolsniff.dissect.tlsfp import KNOWN_MINERS, fingerprint, is_grease, known_miner, server_fingerprint
from tests.dissect.test_tls import Reader, alpn_ext, ext, handshake, sni_ext, vec

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


# --------------------------------------------------------------------------- fast path vs a plain reference

GREASE_VALUES = [0x0A0A + 0x1010 * i for i in range(16)]
SPECIAL = [0, 2, 10, 11, 13, 16, 43, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0xFEFF, 0xFEFD, 0xFEFC]
U16 = st.one_of(st.integers(0, 0xFFFF), st.sampled_from(GREASE_VALUES), st.sampled_from(SPECIAL))


def _be16(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


EXTENSION = st.one_of(
    st.lists(U16, max_size=6).map(lambda vs: ext(10, vec(_be16(vs), 2))),  # supported_groups
    st.binary(max_size=4).map(lambda ps: ext(11, vec(ps, 1))),  # ec_point_formats
    st.lists(U16, max_size=6).map(lambda vs: ext(13, vec(_be16(vs), 2))),  # signature_algorithms
    st.lists(U16, max_size=4).map(lambda vs: ext(43, vec(_be16(vs), 1))),  # supported_versions
    st.lists(st.binary(max_size=6), max_size=3).map(lambda ps: alpn_ext(*ps)),
    st.lists(st.binary(max_size=8), max_size=2).map(lambda hs: sni_ext(*hs)),
    st.tuples(U16, st.binary(max_size=8)).map(lambda t: ext(*t)),  # any type, GREASE included
)
DAMAGE = st.binary(max_size=5)
"""Bytes between extensions: odd lengths, vectors that run past their extension."""
HELLO_SHAPE = st.tuples(
    st.integers(0x0300, 0x0304), st.lists(U16, min_size=1, max_size=40), st.lists(EXTENSION, max_size=12)
)
"""(legacy version, cipher suites, extensions) of a ClientHello, GREASE included."""
DAMAGED_SHAPE = st.tuples(
    st.integers(0, 0xFFFF), st.lists(U16, max_size=10), st.lists(st.one_of(EXTENSION, DAMAGE), max_size=6)
)


def shaped_hello(
    shape: tuple[int, list[int], list[bytes]], random: bytes = bytes(32), sid: bytes = b""
) -> bytes:
    """The ClientHello handshake message of ``shape`` with this random and session id."""
    legacy, ciphers, extensions = shape
    body = legacy.to_bytes(2, "big") + random + vec(sid, 1) + vec(_be16(ciphers), 2) + vec(b"\x00", 1)
    return handshake(body + vec(b"".join(extensions), 2))


def reference_fingerprint(h: bytes) -> tuple[str, str, str, str]:
    """(JA3 string, JA3 md5, JA4, JA4_r) read field by field with ``Reader``; raises ValueError."""

    def grease(v: int) -> bool:
        return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF

    def u16s(raw: bytes) -> list[int]:
        if len(raw) % 2:
            raise ValueError("odd")
        return [
            v for v in (int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)) if not grease(v)
        ]

    if len(h) < 39 or h[0] != 1:
        raise ValueError("not a ClientHello")
    body = Reader(h[4:])
    legacy = body.uint(2)
    body.take(32)
    body.vector(1)
    ciphers = u16s(body.vector(2))
    body.vector(1)
    exts: list[int] = []
    data: dict[int, bytes] = {}
    if body.off < len(body.data):
        block = Reader(body.vector(2))
        while block.off < len(block.data):
            ext_type, ext_data = block.uint(2), block.vector(2)
            if not grease(ext_type):
                exts.append(ext_type)
                data.setdefault(ext_type, ext_data)
    groups = u16s(Reader(data[10]).vector(2)) if 10 in data else []
    points = list(Reader(data[11]).vector(1)) if 11 in data else []
    versions = u16s(Reader(data[43]).vector(1)) if 43 in data else []
    sigalgs = u16s(Reader(data[13]).vector(2)) if 13 in data else []
    alpn = "00"
    if 16 in data and len(data[16]) >= 3:
        listed = Reader(data[16]).vector(2)
        first = Reader(listed).vector(1) if listed else b""
        if first and first[0] > 0x7F:
            alpn = "99"
        elif first and all(chr(b).isascii() and chr(b).isalnum() for b in (first[0], first[-1])):
            alpn = chr(first[0]) + chr(first[-1])
        elif first:
            alpn = first.hex()[0] + first.hex()[-1]
    ja3 = ",".join("-".join(str(v) for v in part) for part in ([legacy], ciphers, exts, groups, points))
    names = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}
    names |= {0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
    version = names.get(max(versions) if versions else legacy, "00")
    a = f"t{version}{'d' if 0 in data else 'i'}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn}"
    b_raw = ",".join(f"{c:04x}" for c in sorted(ciphers))
    c_raw = ",".join(f"{x:04x}" for x in sorted(exts) if x not in (0, 16))
    c_raw += "_" + ",".join(f"{v:04x}" for v in sigalgs) if sigalgs else ""
    b = hashlib.sha256(b_raw.encode()).hexdigest()[:12] if ciphers else "0" * 12
    c = hashlib.sha256(c_raw.encode()).hexdigest()[:12] if c_raw else "0" * 12
    return ja3, hashlib.md5(ja3.encode()).hexdigest(), f"{a}_{b}_{c}", f"{a}_{b_raw}_{c_raw}"


def both_fingerprints(message: bytes) -> tuple[object, object]:
    try:
        fp = fingerprint(message)
        fast: object = (fp.ja3_string, fp.ja3_hash, fp.ja4, fp.ja4_r)
    except ValueError:
        fast = None
    try:
        ref: object = reference_fingerprint(message)
    except ValueError:
        ref = None
    return fast, ref


@settings(max_examples=300)
@given(HELLO_SHAPE)
def test_fingerprint_agrees_with_the_plain_reference(shape: tuple[int, list[int], list[bytes]]) -> None:
    fast, ref = both_fingerprints(shaped_hello(shape))
    assert fast == ref


@given(DAMAGED_SHAPE, st.integers(0, 30))
def test_fingerprint_agrees_on_damaged_hellos(shape: tuple[int, list[int], list[bytes]], cut: int) -> None:
    message = shaped_hello(shape)
    fast, ref = both_fingerprints(message[: len(message) - cut] if cut < 20 else message)
    assert fast == ref


@pytest.mark.parametrize(
    "extensions",
    [
        pytest.param(ext(13, vec(_be16([0x1A1A]), 2)), id="signature-algorithms-all-grease"),
        pytest.param(ext(10, vec(_be16([0x2A2A, 0x001D]), 2)) + ext(0x3A3A, b""), id="grease-group-and-type"),
        pytest.param(ext(43, vec(_be16([0x4A4A]), 1)), id="versions-all-grease"),
        pytest.param(ext(13, b"\x00\x03\x04\x03\x05"), id="odd-signature-algorithms"),
    ],
)
def test_fingerprint_agrees_on_grease_corners(extensions: bytes) -> None:
    fast, ref = both_fingerprints(shaped_hello((0x0303, [0x0A0A, 0x1301], [extensions])))
    assert fast == ref


@given(st.binary(max_size=300))
def test_fingerprint_agrees_with_the_plain_reference_on_any_bytes(body: bytes) -> None:
    fast, ref = both_fingerprints(handshake(body))
    assert fast == ref


def test_grease_is_exactly_the_rfc_8701_values() -> None:
    assert [v for v in range(0x10000) if is_grease(v)] == GREASE_VALUES


def test_remembered_parts_give_what_the_reference_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser's hellos: the same lists with new GREASE values and the extensions shuffled each time."""
    for memory in ("_CIPHER_PARTS", "_GROUP_PARTS", "_VERSION_PARTS", "_SIGALG_PARTS"):
        monkeypatch.setattr(tlsfp, memory, {})
    monkeypatch.setattr(tlsfp, "MAX_PARTS", 3)
    rng = Random(12)
    for _ in range(30):
        grease = [rng.choice(GREASE_VALUES) for _ in range(4)]
        extensions = [
            ext(10, vec(_be16([grease[0], 0x001D, 0x0017][: rng.randint(1, 3)]), 2)),
            ext(13, vec(_be16([0x0403, 0x0804, 0x0401]), 2)),
            ext(43, vec(_be16([grease[1], 0x0304, 0x0303]), 1)),
            ext(grease[2], b""),
            alpn_ext(b"h2"),
            sni_ext(b"a.test"),
        ]
        rng.shuffle(extensions)
        ciphers = [grease[3], 0x1301, 0x1302, 0xC02B][: rng.randint(1, 4)]
        message = shaped_hello((0x0303, ciphers, extensions))
        fast, ref = both_fingerprints(message)
        assert fast == ref
        assert all(len(m) <= 3 for m in (tlsfp._CIPHER_PARTS, tlsfp._GROUP_PARTS, tlsfp._VERSION_PARTS))
    long_list = shaped_hello((0x0303, list(range(1, tlsfp.MAX_PART_BYTES)), []))
    assert both_fingerprints(long_list)[0] == both_fingerprints(long_list)[1]
    assert all(len(raw) <= tlsfp.MAX_PART_BYTES for raw in tlsfp._CIPHER_PARTS)
