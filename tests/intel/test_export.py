"""Tests for poolsniff.intel.export: golden output per format, and the real tools' verdicts."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolsniff.intel.export import FORMATS, export, select, suricata_rules
from poolsniff.intel.lists import Blocklist, load_shipped

from ..ports import PortTaken, started_on_free_port


def small() -> Blocklist:
    """Two pools (one with endpoints), a browser host, an allowlisted name under a pool, and a
    pool entry the allowlist hides."""
    lists = Blocklist()
    lists.add_lines(
        ["supportxmr.com maltrail,curated", "nanopool.org curated", "94.23.251.22:3333 maltrail",
         "94.23.251.22:5555 maltrail", "hidden.example.com maltrail"],
        "pool.txt", "pool",
    )  # fmt: skip
    lists.add_lines(["coinhive.com nocoin"], "browser.txt", "browser")
    lists.add_allow_lines(["ok.supportxmr.com curated", "example.com tranco"], "allowlist.txt")
    return lists


HEAD = (
    "poolsniff blocklist export ({fmt}): 3 domains from the pool, proxy, browser, donation lists\n"
)
GOLDEN = {
    "hosts": "# Title: poolsniff mining pools\n# " + HEAD.format(fmt="hosts") + """\
# Exact names only: the names under these entries are not covered.
# 2 ip:port endpoints cannot be expressed here: left out.
0.0.0.0 coinhive.com
:: coinhive.com
0.0.0.0 nanopool.org
:: nanopool.org
0.0.0.0 supportxmr.com
:: supportxmr.com
""",
    "dnsmasq": "# " + HEAD.format(fmt="dnsmasq") + """\
# Each domain covers itself and every name under it.
# 2 ip:port endpoints cannot be expressed here: left out.
# address=/d/ answers NXDOMAIN for d and the names under it; server=/d/# resolves d.
address=/coinhive.com/
address=/nanopool.org/
address=/supportxmr.com/
server=/ok.supportxmr.com/#
""",
    "unbound": "# " + HEAD.format(fmt="unbound") + """\
# Each domain covers itself and every name under it.
# 2 ip:port endpoints cannot be expressed here: left out.
server:
    local-zone: "coinhive.com." always_nxdomain
    local-zone: "nanopool.org." always_nxdomain
    local-zone: "supportxmr.com." always_nxdomain
    local-zone: "ok.supportxmr.com." transparent
""",
    "rpz": "; " + HEAD.format(fmt="rpz") + """\
; Each domain covers itself and every name under it.
; 2 ip:port endpoints cannot be expressed here: left out.
; Owner names are relative to the zone (for example rpz.poolsniff); CNAME . means NXDOMAIN.
$TTL 300
@ IN SOA localhost. hostmaster.localhost. ( 2026082301 3600 600 86400 300 )
  IN NS localhost.
coinhive.com CNAME .
*.coinhive.com CNAME .
nanopool.org CNAME .
*.nanopool.org CNAME .
supportxmr.com CNAME .
*.supportxmr.com CNAME .
ok.supportxmr.com CNAME rpz-passthru.
*.ok.supportxmr.com CNAME rpz-passthru.
""",
    "zeek-intel": "\n".join("\t".join(row) for row in [
        ["#fields", "indicator", "indicator_type", "meta.source", "meta.desc", "meta.url"],
        ["coinhive.com", "Intel::DOMAIN", "poolsniff",
         "in-browser miner script host (poolsniff browser list; sources nocoin)", "-"],
        ["nanopool.org", "Intel::DOMAIN", "poolsniff",
         "mining pool (poolsniff pool list; sources curated)", "-"],
        ["supportxmr.com", "Intel::DOMAIN", "poolsniff",
         "mining pool (poolsniff pool list; sources maltrail,curated)", "-"],
        ["94.23.251.22", "Intel::ADDR", "poolsniff",
         "mining pool on port 3333,5555 (poolsniff; Intel::ADDR matches any port)", "-"],
    ]) + "\n",
    "suricata-dataset": "LmNvaW5oaXZlLmNvbQ==\nLm5hbm9wb29sLm9yZw==\nLnN1cHBvcnR4bXIuY29t\n",
    "adblock": "! Title: poolsniff mining pools\n! " + HEAD.format(fmt="adblock") + """\
! Each domain covers itself and every name under it.
! 2 ip:port endpoints cannot be expressed here: left out.
||coinhive.com^
||nanopool.org^
||supportxmr.com^
@@||ok.supportxmr.com^
""",
}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(fmt: str) -> None:
    assert export(small(), fmt, serial=2026082301) == GOLDEN[fmt]


def test_every_format_has_a_golden_string() -> None:
    assert set(GOLDEN) == set(FORMATS)


def test_dataset_values_are_dot_prefixed_names() -> None:
    values = export(small(), "suricata-dataset").split()
    decoded = [base64.b64decode(v).decode() for v in values]
    assert decoded == [".coinhive.com", ".nanopool.org", ".supportxmr.com"]
    assert not any(v.startswith("#") for v in values)  # Suricata's loader has no comment syntax


def test_suricata_rules() -> None:
    rules = suricata_rules("/etc/suricata/poolsniff-pools.lst").splitlines()
    assert [r.split("sid:")[1].split(";")[0] for r in rules] == ["9100011", "9100012", "9100013"]
    for rule, buffer in zip(rules, ["dns.query", "tls.sni", "http.host"], strict=True):
        assert f"; {buffer}; dotprefix; dataset:isset,poolsniff-pools,type string,match subdomain," in rule
        assert "load /etc/suricata/poolsniff-pools.lst;" in rule
        assert rule.startswith("alert ") and rule.endswith("rev:1;)")


@pytest.mark.parametrize(
    ("categories", "domains"),
    [
        (["browser"], ["coinhive.com"]),
        (["pool"], ["nanopool.org", "supportxmr.com"]),
        (["donation", "proxy"], []),
    ],
)
def test_select_by_category(categories: list[str], domains: list[str]) -> None:
    sel = select(small(), categories)
    assert [d.entry for d in sel.domains] == domains
    assert sel.exceptions == (["ok.supportxmr.com"] if "pool" in categories else [])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown export format 'bind'"):
        export(small(), "bind")
    with pytest.raises(ValueError, match="RPZ serial 0 out of range"):
        export(small(), "rpz", serial=0)


def test_shipped_export_leaves_out_nothing_that_matches() -> None:
    lists = load_shipped()
    text = export(lists, "adblock")
    blocked = [line[2:-1] for line in text.splitlines() if line.startswith("||")]
    assert "supportxmr.com" in blocked and "coinhive.com" in blocked
    assert all(lists.match_name(name) is not None for name in blocked)
    assert not any(line.startswith("@@") for line in text.splitlines())  # no overlap in the shipped lists


# --------------------------------------------------------------------------- the real tools


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: dnsmasq-base, unbound, bind9-utils)")
    return path


def test_dnsmasq_accepts_the_shipped_export(tmp_path: Path) -> None:
    conf = tmp_path / "poolsniff.conf"
    conf.write_text(export(load_shipped(), "dnsmasq"))
    proc = subprocess.run([_tool("dnsmasq"), "--test", f"--conf-file={conf}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "syntax check OK" in proc.stderr + proc.stdout


def test_unbound_accepts_the_shipped_export(tmp_path: Path) -> None:
    checkconf = _tool("unbound-checkconf")
    conf = tmp_path / "unbound.conf"
    settings = f'server:\n    chroot: ""\n    directory: "{tmp_path}"\n    username: ""\n'
    conf.write_text(export(load_shipped(), "unbound").replace("server:\n", settings, 1))
    proc = subprocess.run([checkconf, str(conf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_named_checkzone_accepts_the_shipped_export(tmp_path: Path) -> None:
    checkzone = _tool("named-checkzone")
    zone = tmp_path / "db.rpz.poolsniff"
    zone.write_text(export(load_shipped(), "rpz", serial=2026082301))
    proc = subprocess.run([checkzone, "rpz.poolsniff", str(zone)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _query(name: str, port: int) -> tuple[int, bytes]:
    """Ask 127.0.0.1:port for the A record of ``name``; return (rcode, first answer's data)."""
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(packet, ("127.0.0.1", port))
        reply, _ = sock.recvfrom(4096)
    flags, answers = struct.unpack("!H", reply[2:4])[0], struct.unpack("!H", reply[6:8])[0]
    rdata = reply[-4:] if answers else b""
    return flags & 0xF, rdata


class _Upstream:
    """A tiny upstream resolver on loopback: every A query gets 192.0.2.7."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            end = query.index(b"\0", 12) + 5
            self.asked.append(query[12:end - 4])
            header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 7])
            self.sock.sendto(header + query[12:end] + answer, peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def dnsmasq_with_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, _Upstream]]:
    """dnsmasq on a loopback port, loaded with the shipped export, forwarding to _Upstream."""
    binary = _tool("dnsmasq")
    tmp_path = tmp_path_factory.mktemp("dnsmasq")
    upstream = _Upstream()
    lists = load_shipped()
    lists.add_allow_lines(["ok.supportxmr.com curated"], "test-allow.txt")
    conf = tmp_path / "poolsniff.conf"
    conf.write_text(export(lists, "dnsmasq"))
    user = ["--user=root"] if os.geteuid() == 0 else []

    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        proc = subprocess.Popen(
            [binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
             "--listen-address=127.0.0.1", f"--port={port}", f"--server=127.0.0.1#{upstream.port}",
             f"--conf-file={conf}", "--pid-file=", "--log-facility=-", *user],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                _query("ready.invalid", port)
                return proc, port
            except OSError:  # noqa: PERF203 (polled until it answers)
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    err = proc.communicate()[1].decode(errors="replace")
                    if "in use" in err:  # another program took the free port first
                        raise PortTaken(err) from None
                    pytest.fail(f"dnsmasq did not start: {err}")
                time.sleep(0.1)

    proc, port = started_on_free_port(start)
    try:
        yield port, upstream
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
        upstream.close()


NXDOMAIN, NOERROR = 3, 0


@pytest.mark.parametrize(
    ("name", "rcode", "address"),
    [
        ("pool.supportxmr.com", NXDOMAIN, b""),
        ("supportxmr.com", NXDOMAIN, b""),
        ("xmr-eu1.nanopool.org", NXDOMAIN, b""),
        ("coinhive.com", NXDOMAIN, b""),
        ("www.example.org", NOERROR, bytes([192, 0, 2, 7])),  # an ordinary name is forwarded
        ("notsupportxmr.com", NOERROR, bytes([192, 0, 2, 7])),  # label boundary
        ("ok.supportxmr.com", NOERROR, bytes([192, 0, 2, 7])),  # the allowlist exception
    ],
)
def test_dnsmasq_blocks_pools_over_dns(
    dnsmasq_with_export: tuple[int, _Upstream], name: str, rcode: int, address: bytes
) -> None:
    port, _upstream = dnsmasq_with_export
    assert _query(name, port) == (rcode, address)
