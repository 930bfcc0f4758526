"""Real-traffic benchmark captures built from ``../shared/corpus`` (benchmark input, not part of the package).

The corpus holds 407 real captures (16 with mining, 391 benign, of about 400 protocols).
``build`` joins its Ethernet captures (379 of them; the others have other link types, which
one classic pcap cannot mix) end to end with ``mergecap -a -F pcap`` into one capture, then
joins that capture ``times`` times (``mergecap -a`` again), so the mix is real traffic:
short flows, DNS, QUIC, VoIP, games, TLS, mining. ``packets`` cuts a capture of the joined
file to a number of packets (``editcap -r``) by joining enough copies first. ``part`` keeps
the captures of one of the corpus's two folders only (``benign`` or ``mining``): the two parts of
the real mix, timed apart to show where its cost lies. ``relinked`` writes a capture's frames in
another link type, as ``tcpdump -i any`` (Linux cooked v1 or v2) or a tunnel (raw IP) would have
captured the same packets.

    python benchmarks/realmix.py /tmp/real-x30.pcap --times 30
    python benchmarks/realmix.py /tmp/real-4m.pcap --packets 4000000
    python benchmarks/realmix.py /tmp/real-mining-x30.pcap --times 30 --part mining
    python benchmarks/realmix.py /tmp/real-x30-sll.pcap --times 30 --link sll

Where the corpus (or mergecap) is absent ``corpus_dir`` says so and the callers skip.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
LINKTYPE_ETHERNET = 1
LINKS = {"sll": 113, "sll2": 276, "raw": 101}
"""Link types ``relinked`` writes: Linux cooked v1 and v2, raw IP."""
PARTS = ("benign", "mining")
"""The corpus's folders: the captures without and with mining."""


def corpus_dir() -> tuple[Path | None, str]:
    """The corpus folder and '' or (None, why the real-mix captures cannot be built)."""
    if not CORPUS.is_dir():
        return None, f"no corpus at {CORPUS}: real-mix rows skipped"
    if shutil.which("mergecap") is None or shutil.which("editcap") is None:
        return None, "mergecap/editcap (wireshark-common) not installed: real-mix rows skipped"
    return CORPUS, ""


def linktypes(path: Path) -> set[int]:
    """The link types of a classic pcap or pcapng file (empty when it is neither)."""
    data = path.read_bytes()
    if len(data) >= 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return {struct.unpack_from("<I", data, 20)[0]}
    if len(data) >= 24 and data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return {struct.unpack_from(">I", data, 20)[0]}
    if data[:4] != b"\x0a\x0d\x0d\x0a" or len(data) < 12:
        return set()
    found: set[int] = set()
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos = 0
    while pos + 12 <= len(data):
        kind, length = struct.unpack_from(order + "II", data, pos)
        if kind == 0x0A0D0D0A:
            order = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            kind, length = struct.unpack_from(order + "II", data, pos)
        if length < 12:
            break
        if kind == 1:
            found.add(struct.unpack_from(order + "H", data, pos + 8)[0])
        pos += length
    return found


def ethernet_files(corpus: Path, part: str | None = None) -> list[Path]:
    """The corpus captures whose every interface is Ethernet, sorted by path; of the folder
    ``part`` only when given."""
    top = corpus / part if part is not None else corpus
    files = sorted(p for p in top.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    return [p for p in files if linktypes(p) == {LINKTYPE_ETHERNET}]


def build(out: Path, times: int = 1, packets: int | None = None, part: str | None = None) -> Path:
    """Write the real mix to ``out`` (classic pcap): the Ethernet corpus (or its folder ``part``)
    joined, ``times`` over, cut to ``packets`` when given. Reuses ``out`` when it exists."""
    if out.exists():
        return out
    corpus, why = corpus_dir()
    if corpus is None:
        raise SystemExit(why)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        once = Path(tmp) / "once.pcap"
        files = ethernet_files(corpus, part)
        subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", str(once), *map(str, files)], check=True)
        if packets is not None:
            count = int(
                subprocess.run(
                    ["capinfos", "-M", "-c", "-r", str(once)], check=True, capture_output=True, text=True
                ).stdout.split()[-1]
            )
            times = -(-packets // count)
        joined = Path(tmp) / "joined.pcap"
        subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", str(joined), *[str(once)] * times], check=True)
        if packets is not None:
            subprocess.run(["editcap", "-r", str(joined), str(out), f"1-{packets}"], check=True)
        else:
            joined.replace(out)
    return out


def relinked(src: Path, out: Path, linktype: int) -> Path:
    """Write the Ethernet classic pcap ``src`` to ``out`` with its frames in ``linktype`` (``LINKS``): the
    Ethernet header made a Linux cooked one (its EtherType as protocol), or dropped with any VLAN tag
    (raw IP; frames that are not IP are left out there). Reuses ``out`` when it exists."""
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp")
    with open(src, "rb") as f, open(tmp, "wb") as o:
        head = f.read(24)
        order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        o.write(head[:20] + struct.pack(order + "I", linktype))
        record = struct.Struct(order + "IIII")
        while len(rh := f.read(16)) == 16:
            sec, frac, caplen, origlen = record.unpack(rh)
            frame = f.read(caplen)
            new = _relinked(frame, linktype)
            if new is not None:
                o.write(record.pack(sec, frac, len(new), origlen - len(frame) + len(new)) + new)
    tmp.replace(out)
    return out


def _relinked(frame: bytes, linktype: int) -> bytes | None:
    if len(frame) < 14:
        return frame
    protocol, start = frame[12:14], 14
    if linktype == 113:  # packet type, ARPHRD type, address length, 8-byte address, protocol
        return struct.pack("!HHH", 0, 1, 6) + frame[6:12] + bytes(2) + protocol + frame[14:]
    if linktype == 276:  # protocol, reserved, ifindex, ARPHRD type, packet type, address length, address
        return protocol + bytes(2) + struct.pack("!IHBB", 2, 1, 0, 6) + frame[6:12] + bytes(2) + frame[14:]
    while protocol in (b"\x81\x00", b"\x88\xa8") and len(frame) >= start + 4:
        protocol, start = frame[start + 2 : start + 4], start + 4
    return frame[start:] if protocol in (b"\x08\x00", b"\x86\xdd") else None


def main() -> None:
    """Command line: build one real-mix capture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--packets", type=int)
    parser.add_argument("--part", choices=PARTS, help="the captures of one corpus folder only")
    parser.add_argument("--link", choices=sorted(LINKS), help="the frames in this link type (relinked)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.link is None:
        build(out, args.times, args.packets, args.part)
        return
    joined = build(out.with_name(out.stem + "-ethernet.pcap"), args.times, args.packets, args.part)
    relinked(joined, out, LINKS[args.link])


if __name__ == "__main__":
    main()
