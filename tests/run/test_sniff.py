"""``poolsniff sniff``: the service loop, its signals, its errors, and live alerts equal to ``scan``.

The live tests need root (network namespaces, CAP_NET_RAW) and are skipped otherwise, with
the reason. They build namespaces of their own, run ``poolsniff sniff`` inside one, and
replay captures into a veth pair with tcpreplay or make a real DNS lookup through dnsmasq;
nothing leaves those namespaces. The namespaces are deleted at teardown.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from poolsniff.run.sniff import AlertOutput, InterfaceSummary, format_summary, resolve_jobs
from poolsniff.sources.pcap import expand_paths, iter_capture

from ..conftest import PCAPS, ROOT
from ..sources.test_live import (
    ETH,
    Netns,
    alerts_of,
    comparable,
    namespaces,
    need_root,
    run_bpf,
    scan_frames,
    strip_outer_tag,
    to_ethernet,
)
from ..unprivileged import NOBODY, Install, install_for_nobody

POOLSNIFF = [sys.executable, "-m", "poolsniff"]
REPLAY_PPS = 50_000
BULK_PACKETS = 200_000
MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
POOL_NAME = "pool.supportxmr.com"
"""A pool in the shipped lists (pool.txt)."""


# --------------------------------------------------------------------------- without root


def test_output_reopens_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    out = AlertOutput(str(path))
    out.write({"n": 1})
    path.rename(tmp_path / "alerts.json.1")
    out.write({"n": 2})  # still the old file: it was not reopened yet
    out.reopen()
    out.write({"n": 3})
    out.close()
    assert (tmp_path / "alerts.json.1").read_text().splitlines() == ['{"n":1}', '{"n":2}']
    assert path.read_text().splitlines() == ['{"n":3}']


def test_output_to_stdout_ignores_reopen() -> None:
    stream = io.StringIO()
    out = AlertOutput(None, stream)
    out.write({"n": 1})
    out.reopen()
    out.write({"n": 2})
    assert stream.getvalue().splitlines() == ['{"n":1}', '{"n":2}']


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (
            1000,
            "eth0: 2.5 s, 1000 packets on the wire, 40 captured, 3 dropped by the kernel, 7 flows, 2 alerts",
        ),
        (None, "eth0: 2.5 s, 40 captured, 3 dropped by the kernel, 7 flows, 2 alerts"),
    ],
)
def test_summary_line(wire: int | None, expected: str) -> None:
    assert format_summary(InterfaceSummary("eth0", wire, 40, 3, 7, 2), 2.5) == expected


def test_summary_line_of_one_flow_and_one_alert() -> None:
    line = format_summary(InterfaceSummary("eth0", None, 1, 0, 1, 1), 2.5)
    assert line == "eth0: 2.5 s, 1 captured, 0 dropped by the kernel, 1 flow, 1 alert"


def test_jobs_0_is_one_per_usable_cpu() -> None:
    assert resolve_jobs(0) == len(os.sched_getaffinity(0))
    assert (resolve_jobs(1), resolve_jobs(3)) == (1, 3)


def test_no_such_interface_is_a_one_line_error() -> None:
    proc = subprocess.run(
        [*POOLSNIFF, "sniff", "-i", "no-such-if0"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3
    assert (
        proc.stderr.strip()
        == "poolsniff: error: no-such-if0: no such network interface (`ip link` lists them)"
    )


@pytest.fixture(scope="session")
def nobody_install() -> Iterator[Install]:
    """How ``nobody`` runs poolsniff: from here or from a readable copy; skipped, saying why, if it cannot."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to run poolsniff as nobody")
    found = install_for_nobody()
    if isinstance(found, str):
        pytest.skip(found)
    yield found
    found.remove()


def test_missing_cap_net_raw(request: pytest.FixtureRequest) -> None:
    """Without CAP_NET_RAW the error names the capability (as root: run as nobody without capabilities)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        install: Install = request.getfixturevalue("nobody_install")
        added = [f"{key}={value}" for key, value in install.env.items()]
        prefix = [*NOBODY, "--inh-caps=-all", "--reset-env", "env", *added]
    proc = subprocess.run(
        [*prefix, *POOLSNIFF, "sniff", "-i", "lo"], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("poolsniff: error: lo: capturing needs the CAP_NET_RAW capability")


# --------------------------------------------------------------------------- captures to replay


def write_pcap(path: Path, frames: list[bytes], step_us: int = 1_000_000 // REPLAY_PPS) -> None:
    """A classic Ethernet pcap of ``frames``, ``step_us`` apart (the pace of the replay)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, frame in enumerate(frames):
            ts = 1_714_564_800_000_000 + i * step_us
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)


def ethernet_frames(*captures: Path) -> list[bytes]:
    """Every frame of the captures as an Ethernet interface carries it."""
    return [to_ethernet(f) for c in captures for f in iter_capture(str(c))]


def _ip(src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    return (
        MAC + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0, src, dst) + body
    )


def _tcp(
    src: bytes, dst: bytes, ports: tuple[int, int], seq: int, ack: int, flags: int, data: bytes = b""
) -> bytes:
    head = struct.pack("!HHIIBBHHH", *ports, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
    return _ip(src, dst, 6, head + data)


def _dns(client: bytes, server: bytes, port: int, name: str, answer: bytes | None) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    msg = struct.pack("!HHHHHH", port, 0x8180 if answer else 0x0100, 1, int(bool(answer)), 0, 0)
    msg += qname + b"\x00\x01\x00\x01"
    if answer:
        msg += b"\xc0\x0c\x00\x01\x00\x01" + struct.pack("!IH", 300, 4) + answer
        return _ip(server, client, 17, struct.pack("!HHHH", 53, port, 8 + len(msg), 0) + msg)
    return _ip(client, server, 17, struct.pack("!HHHH", port, 53, 8 + len(msg), 0) + msg)


def bulk_flow(k: int, segments: int, pool: bytes, rng: random.Random) -> list[bytes]:
    """A name lookup, then an HTTPS download: handshake, hello, full-size encrypted segments, ACKs, FINs."""
    c, s, resolver = (
        bytes([10, 200, k // 250 % 250, k % 250 + 1]),
        bytes([10, 100, 0, k % 50 + 1]),
        b"\n\x64\0\xfe",
    )
    fwd, rev = (20000 + k % 40000, 443), (443, 20000 + k % 40000)
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    hello = b"\x16\x03\x01\x01\xfc\x01" + pool[k : k + 506]
    out = [
        _dns(c, resolver, fwd[0], f"cdn{k}.example.net", None),
        _dns(c, resolver, fwd[0], f"cdn{k}.example.net", s),
        _tcp(c, s, fwd, cs, 0, 0x02),
        _tcp(s, c, rev, ss, cs + 1, 0x12),
        _tcp(c, s, fwd, cs + 1, ss + 1, 0x10),
        _tcp(c, s, fwd, cs + 1, ss + 1, 0x18, hello),
    ]
    cs, ss = cs + 1 + len(hello), ss + 1
    for i in range(segments):
        off = rng.randrange(len(pool) - 1448)
        data = b"\x16\x03\x03" + pool[off : off + 1445] if i == 0 else pool[off : off + 1448]
        out.append(_tcp(s, c, rev, ss, cs, 0x18 if i % 8 == 7 else 0x10, data))
        ss += len(data)
        if i % 2:
            out.append(_tcp(c, s, fwd, cs, ss, 0x10))
    out += [
        _tcp(s, c, rev, ss, cs, 0x11),
        _tcp(c, s, fwd, cs, ss + 1, 0x11),
        _tcp(s, c, rev, ss + 1, cs + 1, 0x10),
    ]
    return out


def bulk_frames(packets: int, segments: int = 200, concurrent: int = 8) -> list[bytes]:
    """HTTPS downloads, ``concurrent`` at a time, until there are ``packets`` frames (deterministic)."""
    rng = random.Random(7)
    pool = rng.randbytes(1 << 20)
    out: list[bytes] = []
    k = 0
    while len(out) < packets:
        flows = [bulk_flow(k + j, segments, pool, rng) for j in range(concurrent)]
        k += concurrent
        for batch in zip(*flows, strict=True):
            out.extend(batch)
    return out


def mixed_capture(path: Path) -> list[bytes]:
    """Bulk HTTPS with the mining flows of every bundled capture spread through it; return the frames."""
    mining = ethernet_frames(*[Path(p) for p in expand_paths([str(PCAPS)])])
    bulk = bulk_frames(BULK_PACKETS)
    step = len(bulk) // (len(mining) + 1)
    frames: list[bytes] = []
    for i in range(len(bulk)):
        frames.append(bulk[i])
        if i % step == step - 1 and i // step < len(mining):
            frames.append(mining[i // step])
    write_pcap(path, frames)
    return frames


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[bytes]]]:
    """The capture for the 50,000 packets/s replay (about 200 MB, built once, deleted after)."""
    path = tmp_path_factory.mktemp("replay") / "mixed.pcap"
    yield path, mixed_capture(path)
    path.unlink()


# --------------------------------------------------------------------------- a sniffer in a namespace


class Sniffer:
    """``poolsniff sniff ARGS`` inside ``ns``; stderr goes to a file the test reads as it grows."""

    def __init__(
        self,
        ns: Netns,
        tmp: Path,
        *args: str,
        stdout: int | IO[Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start it and wait until it listens.

        It runs from ``/``, so that the clone need not be reachable once ``--user`` has dropped root,
        and without suppression unless ``args`` ask for it: the tests compare its lines with a scan
        of the same frames, which does not suppress.
        """
        self.output = tmp / "alerts.json"
        self.errors = tmp / "stderr.txt"
        if "--suppress" not in args:
            args = (*args, "--suppress", "0")
        with open(self.errors, "w") as err:
            self.proc = ns.popen(
                *POOLSNIFF, "sniff", *args, stdout=stdout, stderr=err, cwd="/", text=True, env=env
            )  # fmt: skip
        self.wait_for(lambda: "listening on" in self.stderr(), "the listening line")

    def stderr(self) -> str:
        """What it logged so far."""
        return self.errors.read_text()

    def records(self, path: Path | None = None) -> list[dict[str, Any]]:
        """The EVE lines written so far: alerts, flow records of alerted flows that ended, stats. A line
        still being written (read while poolsniff appends it: no newline yet) is left for the next look."""
        path = path or self.output
        text = path.read_text() if path.exists() else ""
        return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]

    def alerts(self, path: Path | None = None) -> list[dict[str, Any]]:
        """The alert lines written so far."""
        return alerts_of(self.records(path))

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Poll until ``condition`` holds; fail, showing stderr, if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None and not condition():
                pytest.fail(f"poolsniff exited ({self.proc.returncode}) before {what}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout} s:\n{self.stderr()}")
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and return the exit status."""
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)


def replay(ns: Netns, iface: str, path: Path, pps: int) -> str:
    """Replay ``path`` into ``iface`` at ``pps`` packets per second; return tcpreplay's report."""
    return ns.run("tcpreplay", f"--pps={pps}", "-i", iface, str(path), timeout=600).stdout


def summary_numbers(stderr: str, iface: str) -> dict[str, int]:
    """The counts in the final summary line of ``iface``."""
    line = [x for x in stderr.splitlines() if x.startswith(f"poolsniff: {iface}: ")][-1]
    return {
        name.replace(" ", "_"): int(n) for n, name in re.findall(r"(?<![\d.])(\d+) ([a-z ]+?)(?:,|$)", line)
    }


@pytest.fixture
def netns() -> Iterator[Callable[[], Netns]]:
    """A factory of namespaces, all deleted at teardown."""
    yield from namespaces()


@pytest.fixture
def veth(netns: Callable[[], Netns]) -> Netns:
    """A namespace holding a veth pair: replay into veth0, sniff on veth1."""
    need_root("tcpreplay")
    ns = netns()
    ns.veth("veth0", "veth1")
    return ns


def small_capture(tmp: Path, *names: str) -> tuple[Path, list[str]]:
    """Bundled captures as one Ethernet pcap, and the alerts scan finds in it (comparable form)."""
    frames = ethernet_frames(*[PCAPS / n for n in names])
    path = tmp / ("-".join(names) + ".eth.pcap")
    write_pcap(path, frames, step_us=500)
    return path, comparable(alerts_of(scan_frames(iter_capture(str(path)))))


# --------------------------------------------------------------------------- live: the alerts


@pytest.mark.live
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_replay_at_50000_pps_alerts_as_scan_does(
    veth: Netns, tmp_path: Path, mixed: tuple[Path, list[bytes]], jobs: str
) -> None:
    path, frames = mixed
    expected = comparable(scan_frames(iter_capture(str(path))))
    kept = sum(1 for f in frames if run_bpf(ETH, strip_outer_tag(f)))
    args = ("-i", "veth1", "-o", str(tmp_path / "alerts.json"), "--stats-interval", "1", "--jobs", jobs)
    sniffer = Sniffer(veth, tmp_path, *args)
    report = replay(veth, "veth0", path, REPLAY_PPS)
    sniffer.wait_for(lambda: f"{kept} captured" in sniffer.stderr(), "every kept frame in a stats line", 30)
    assert sniffer.stop(signal.SIGINT) == 0
    counts = summary_numbers(sniffer.stderr(), "veth1")
    print(f"\ntcpreplay: {report.strip()}\npoolsniff: {counts}")  # the figures, for -s runs
    assert len(frames) >= BULK_PACKETS and counts["packets_on_the_wire"] == len(frames)
    assert counts["captured"] == kept and counts["dropped_by_the_kernel"] == 0
    records = [r for r in sniffer.records() if r["event_type"] != "stats"]  # alerts and flow records
    assert {r["in_iface"] for r in records} == {"veth1"}
    assert expected and comparable(records) == expected


@pytest.mark.live
def test_dns_lookup_through_dnsmasq(netns: Callable[[], Netns], tmp_path: Path) -> None:
    need_root("dnsmasq", "getent")
    client, server = netns(), netns()
    client.veth("c0", "s0", server)
    client.ip("addr", "add", "10.77.0.1/24", "dev", "c0")
    server.ip("addr", "add", "10.77.0.2/24", "dev", "s0")
    server.popen(
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
        "--listen-address=10.77.0.2", "--bind-interfaces", f"--address=/{POOL_NAME}/10.77.0.9",
        "--pid-file=", "--user=nobody", "--group=nogroup",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sniffer = Sniffer(client, tmp_path, "-i", "c0", "-o", str(tmp_path / "alerts.json"))
    with resolv_conf(client, "10.77.0.2"):
        deadline = time.monotonic() + 30
        while True:  # dnsmasq may still be starting
            lookup = subprocess.run(
                client.command("getent", "ahostsv4", POOL_NAME), capture_output=True, text=True, timeout=30
            )
            if lookup.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert lookup.stdout.split()[:1] == ["10.77.0.9"]
    sniffer.wait_for(lambda: bool(sniffer.alerts()), "a DNS alert")
    assert sniffer.stop() == 0
    alert = sniffer.alerts()[0]
    assert alert["in_iface"] == "c0" and alert["app_proto"] == "dns"
    assert (alert["src_ip"], alert["dest_ip"], alert["dest_port"]) == ("10.77.0.1", "10.77.0.2", 53)
    assert alert["dns"]["queries"][0]["rrname"] == POOL_NAME
    assert alert["alert"]["metadata"]["pool_host"] == [POOL_NAME]


class resolv_conf:  # noqa: N801 - used as a context manager
    """/etc/netns/NAME/resolv.conf, which ``ip netns exec`` mounts over /etc/resolv.conf; removed after."""

    def __init__(self, ns: Netns, nameserver: str) -> None:
        self.folder = Path("/etc/netns") / ns.name
        self.made_parent = not self.folder.parent.exists()
        self.nameserver = nameserver

    def __enter__(self) -> None:
        self.folder.mkdir(parents=True)
        (self.folder / "resolv.conf").write_text(f"nameserver {self.nameserver}\n")

    def __exit__(self, *exc: object) -> None:
        (self.folder / "resolv.conf").unlink()
        self.folder.rmdir()
        if self.made_parent:
            with contextlib.suppress(OSError):  # another test run may be using it too
                self.folder.parent.rmdir()


@pytest.mark.live
def test_two_interfaces_name_their_alerts(netns: Callable[[], Netns], tmp_path: Path) -> None:
    need_root("tcpreplay")
    ns = netns()
    ns.veth("veth0", "veth1")
    ns.veth("veth2", "veth3")
    first, first_alerts = small_capture(tmp_path, "stratum-v1-cgminer.pcap")
    second, second_alerts = small_capture(tmp_path, "xmrig-login.pcapng")
    sniffer = Sniffer(ns, tmp_path, "-i", "veth1", "-i", "veth3", "-o", str(tmp_path / "alerts.json"))
    replay(ns, "veth0", first, 2000)
    replay(ns, "veth2", second, 2000)
    time.sleep(0.5)
    assert sniffer.stop() == 0
    alerts = sniffer.alerts()
    assert comparable([a for a in alerts if a["in_iface"] == "veth1"]) == first_alerts
    assert comparable([a for a in alerts if a["in_iface"] == "veth3"]) == second_alerts
    stderr = sniffer.stderr()
    assert "poolsniff: veth1: " in stderr and "poolsniff: veth3: " in stderr


# --------------------------------------------------------------------------- live: running as a service


def check_processes(stderr: str, iface: str, jobs: str) -> None:
    """One summary line, one stop line; with ``--jobs 2`` the listening line and each socket's counts say
    so, with ``--jobs 1`` nothing changed."""
    assert sum(line.startswith(f"poolsniff: {iface}: ") for line in stderr.splitlines()) == 1
    assert stderr.count("poolsniff: stopped by ") == 1
    assert (f"listening on {iface} with 2 processes (" in stderr) == (jobs == "2")
    assert (f"listening on {iface} (" in stderr) == (jobs == "1")
    per_socket = [line for line in stderr.splitlines() if line.startswith(f"poolsniff: {iface} sockets: ")]
    assert len(per_socket) == (1 if jobs == "2" else 0)


@pytest.mark.live
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_flushes_and_summarises(
    veth: Netns, tmp_path: Path, signum: signal.Signals, jobs: str
) -> None:
    path, expected = small_capture(tmp_path, "stratum-v1-cgminer.pcap", "dns-pool-lookup.pcap")
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "-o", str(tmp_path / "alerts.json"), "--jobs", jobs)
    replay(veth, "veth0", path, 2000)
    # each line is flushed as it is written: a reader sees alerts while poolsniff runs
    sniffer.wait_for(lambda: len(sniffer.alerts()) >= 2, "flushed alert lines")
    assert sniffer.proc.poll() is None
    assert sniffer.stop(signum) == 0
    assert comparable(sniffer.alerts()) == expected
    stderr = sniffer.stderr()
    assert f"poolsniff: stopped by {signum.name}" in stderr and "Traceback" not in stderr
    counts = summary_numbers(stderr, "veth1")
    assert counts["captured"] > 0 and counts["dropped_by_the_kernel"] == 0
    assert counts["alerts"] == len(expected)
    check_processes(stderr, "veth1", jobs)


@pytest.mark.live
def test_held_alert_is_released_on_a_quiet_link(veth: Netns, tmp_path: Path) -> None:
    """A subscribe without a login is held for its login; the clock, not a next frame, releases it."""
    miner, pool = bytes([192, 0, 2, 7]), bytes([198, 51, 100, 9])
    out, back = (40001, 3333), (3333, 40001)
    subscribe = b'{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}\n'
    frames = [
        _tcp(miner, pool, out, 100, 0, 0x02),
        _tcp(pool, miner, back, 500, 101, 0x12),
        _tcp(miner, pool, out, 101, 501, 0x10),
        _tcp(miner, pool, out, 101, 501, 0x18, subscribe),
    ]
    path = tmp_path / "subscribe.pcap"
    write_pcap(path, frames)
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "-o", str(tmp_path / "alerts.json"))
    replay(veth, "veth0", path, 1000)
    sniffer.wait_for(lambda: bool(sniffer.alerts()), "the held alert", timeout=60)
    assert sniffer.proc.poll() is None  # released while running, not by the stop
    assert sniffer.stop() == 0
    [alert] = sniffer.alerts()
    assert alert["alert"]["signature"] == "POOLSNIFF COINMINER Stratum v1 miner session"
    assert (alert["src_ip"], alert["dest_port"]) == ("192.0.2.7", 3333)


@pytest.mark.live
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sighup_reopens_the_output(veth: Netns, tmp_path: Path, jobs: str) -> None:
    before, before_alerts = small_capture(tmp_path, "stratum-v1-cgminer.pcap")
    after, after_alerts = small_capture(tmp_path, "xmrig-login.pcapng")
    output, rotated = tmp_path / "alerts.json", tmp_path / "alerts.json.1"
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "-o", str(output), "--jobs", jobs)
    replay(veth, "veth0", before, 2000)
    sniffer.wait_for(lambda: len(sniffer.alerts()) == len(before_alerts), "the first capture's alerts")
    output.rename(rotated)
    sniffer.proc.send_signal(signal.SIGHUP)
    sniffer.wait_for(lambda: "SIGHUP: output reopened" in sniffer.stderr(), "the reopen")
    replay(veth, "veth0", after, 2000)
    sniffer.wait_for(lambda: len(sniffer.alerts()) == len(after_alerts), "the second capture's alerts")
    assert sniffer.stop() == 0
    assert comparable(sniffer.alerts(rotated)) == before_alerts
    assert comparable(sniffer.alerts(output)) == after_alerts
    check_processes(sniffer.stderr(), "veth1", jobs)


@pytest.mark.live
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_count_stops_after_n_frames(veth: Netns, tmp_path: Path, jobs: str) -> None:
    path, _ = small_capture(tmp_path, "stratum-v1-cgminer.pcap")
    args = ("-i", "veth1", "--count", "5", "-o", str(tmp_path / "alerts.json"), "--jobs", jobs)
    sniffer = Sniffer(veth, tmp_path, *args)
    replay(veth, "veth0", path, 2000)
    assert sniffer.proc.wait(timeout=60) == 0
    assert "stopped by --count" in sniffer.stderr()
    assert summary_numbers(sniffer.stderr(), "veth1")["captured"] == 5


@pytest.mark.live
def test_duration_stops(veth: Netns, tmp_path: Path) -> None:
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "--duration", "0.5", "--stats-interval", "0.1")
    assert sniffer.proc.wait(timeout=60) == 0
    stderr = sniffer.stderr()
    assert "stopped by --duration" in stderr and "poolsniff: stats: veth1: " in stderr


@pytest.mark.live
def test_user_drops_root_once_listening(veth: Netns, tmp_path: Path, nobody_install: Install) -> None:
    path, expected = small_capture(tmp_path, "stratum-v1-cgminer.pcap")
    env = nobody_install.environ()
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "--user", "nobody", stdout=subprocess.PIPE, env=env)
    status = Path(f"/proc/{sniffer.proc.pid}/status").read_text()
    assert re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    replay(veth, "veth0", path, 2000)
    time.sleep(0.5)
    sniffer.proc.send_signal(signal.SIGTERM)
    stdout, _ = sniffer.proc.communicate(timeout=60)
    assert sniffer.proc.returncode == 0, sniffer.stderr()
    assert comparable(alerts_of([json.loads(line) for line in stdout.splitlines()])) == expected


@pytest.mark.live
@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["-i", "lo", "--bpf", "tcp portt 80"], 3, ["--bpf 'tcp portt 80' does not compile", "syntax error"]),
        (["-i", "lo", "--user", "no-such-user-x"], 2, ["--user no-such-user-x: no such user"]),
        (["-i", "lo", "-o", "/no/such/dir/alerts.json"], 4, ["/no/such/dir/alerts.json: cannot open"]),
    ],
)
def test_start_errors_are_one_line(
    netns: Callable[[], Netns], args: list[str], status: int, words: list[str]
) -> None:
    ns = netns()
    proc = subprocess.run(
        ns.command(*POOLSNIFF, "sniff", *args), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == status, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("poolsniff: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    for word in words:
        assert word in errors[0]


@pytest.mark.live
def test_sink_stage_metrics_and_suppression_while_sniffing(veth: Netns, tmp_path: Path) -> None:
    """The operations options of scan work live too: metrics count packets, suppression holds repeats."""
    path, expected = small_capture(tmp_path, "stratum-v1-cgminer.pcap", "xmrig-login.pcapng")
    metrics = tmp_path / "poolsniff.prom"
    sniffer = Sniffer(
        veth, tmp_path, "-i", "veth1", "-o", str(tmp_path / "alerts.json"),
        "--metrics", str(metrics), "--metrics-interval", "1s", "--suppress", "1h",
    )  # fmt: skip
    replay(veth, "veth0", path, 2000)
    sniffer.wait_for(lambda: len(sniffer.alerts()) >= len(expected), "the alerts")
    assert sniffer.stop(signal.SIGTERM) == 0
    text = metrics.read_text()
    packets = re.search(r"^poolsniff_packets(?:_total)? (\d+)", text, re.M)
    assert packets and int(packets.group(1)) > 0, text
    assert re.search(r"^poolsniff_alerts(?:_total)?\{", text, re.M), text
    assert comparable(sniffer.alerts()) == expected


@pytest.mark.live
def test_confirm_probes_without_holding_up_the_capture(veth: Netns, tmp_path: Path) -> None:
    """sniff --confirm: a listed endpoint answers a hello; the confirmed alert comes while running."""
    pool_argv = [sys.executable, str(ROOT / "tools" / "fakepool.py"), "--listen", "127.0.0.1:0"]
    pool = veth.popen(*pool_argv, stderr=subprocess.PIPE, text=True)
    assert pool.stderr is not None
    listening = re.search(r"listening on \('127\.0\.0\.1', (\d+)\)", pool.stderr.readline())
    assert listening, "tools/fakepool.py did not start"
    port = int(listening.group(1))  # the pool listens on 127.0.0.1 inside the namespace
    miner, server = bytes([10, 9, 8, 7]), bytes([127, 0, 0, 1])
    frames = [
        _tcp(miner, server, (40001, port), 100, 0, 0x02),
        _tcp(server, miner, (port, 40001), 500, 101, 0x12),
        _tcp(miner, server, (40001, port), 101, 501, 0x18, b"\x17\x03\x03\x00\x04abcd"),
    ]
    path = tmp_path / "opaque.pcap"
    write_pcap(path, frames)
    listed = tmp_path / "listed.txt"
    listed.write_text(f"127.0.0.1:{port} test\n")
    output = tmp_path / "alerts.json"
    args = ("-i", "veth1", "-o", str(output), "--blocklist", str(listed), "--confirm")
    sniffer = Sniffer(veth, tmp_path, *args)
    replay(veth, "veth0", path, 1000)
    sniffer.wait_for(lambda: len(sniffer.alerts()) == 2, "the confirmed alert")
    assert sniffer.proc.poll() is None  # written while capturing, not at the stop
    assert sniffer.stop() == 0
    possible, confirmed = sniffer.alerts()
    assert possible["alert"]["signature_id"] == 9300205 and confirmed["alert"]["signature_id"] == 9300301
    assert confirmed["in_iface"] == "veth1" and confirmed["flow_id"] == possible["flow_id"]
    assert confirmed["alert"]["metadata"]["probe_verdict"] == ["cryptonote-job"]
    assert f"poolsniff: confirm: 127.0.0.1:{port}: mining (cryptonote-job" in sniffer.stderr()
