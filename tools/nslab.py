"""Developer tool outside the package: two network namespaces, a veth pair between them, a capture on it.

source -> decode -> flows/dissectors -> detectors -> enrichment -> output

``tools/record_real.py`` (real XMRig) and ``tools/record_lookalikes.py`` (benign programs) record their
captures in a :class:`Lab`: namespace ``psrec-<pid>-<n>-c`` holds the client, ``psrec-<pid>-<n>-s`` the
servers, and ``dumpcap`` writes what crosses the veth. Nothing has a route off the machine (the namespaces
have no other interface), and everything is deleted on exit, also after an error. Needs root, ``ip``
(iproute2), ``dumpcap`` (Wireshark) and, for names, ``dnsmasq`` (dnsmasq-base), which answers only from its
command line.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

CLIENT4, SERVER4 = "10.66.0.1", "10.66.0.2"
CLIENT6, SERVER6 = "fd66::1", "fd66::2"
_COUNTER = itertools.count()


class Lab:
    """A client and a server namespace, a veth between them, processes started in either."""

    def __init__(self, workdir: Path) -> None:
        """Name the namespaces and the link; ``workdir`` receives logs and the raw capture."""
        n = next(_COUNTER)
        self.client = f"psrec-{os.getpid()}-{n}-c"
        self.server = f"psrec-{os.getpid()}-{n}-s"
        self.veth_c, self.veth_s = f"prc{os.getpid()}x{n}"[:15], f"prs{os.getpid()}x{n}"[:15]
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.capture: subprocess.Popen[bytes] | None = None
        self.netns_etc = Path("/etc/netns") / self.client

    def setup(self) -> None:
        """Create the namespaces, the veth pair and the addresses (IPv4 and IPv6) on it."""
        for ns in (self.client, self.server):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(
            [
                "ip",
                "-n",
                self.client,
                "link",
                "add",
                self.veth_c,
                "type",
                "veth",
                "peer",
                "name",
                self.veth_s,
                "netns",
                self.server,
            ]
        )
        for ns, dev, v4, v6 in (
            (self.client, self.veth_c, CLIENT4, CLIENT6),
            (self.server, self.veth_s, SERVER4, SERVER6),
        ):
            run(["ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", dev])
            run(["ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
            # No offloads: the capture shows the segments as they are on a wire, not 64 KiB super-frames.
            if shutil.which("ethtool"):
                run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "ethtool",
                        "-K",
                        dev,
                        "tso",
                        "off",
                        "gso",
                        "off",
                        "gro",
                        "off",
                    ],
                    check=False,
                )

    def use_dns(self, names: dict[str, str]) -> None:
        """Resolve ``names`` (name -> address) in the client namespace through a dnsmasq in the server one."""
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "resolv.conf").write_text(f"nameserver {SERVER4}\n")
        (self.netns_etc / "hosts").write_text("127.0.0.1 localhost\n")
        args = [
            "dnsmasq",
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            f"--listen-address={SERVER4}",
            "--port=53",
            "--user=root",
            "--pid-file=",
            "--log-queries",
        ]
        args += [f"--address=/{name}/{addr}" for name, addr in names.items()]
        self.start("server", args, "dnsmasq")

    def start(
        self, where: str, argv: Sequence[str], name: str, nice: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the ``client`` or ``server`` namespace; its output goes to ``<name>.log``."""
        ns = self.client if where == "client" else self.server
        cmd = ["ip", "netns", "exec", ns, *(["nice", "-n", "19"] if nice else []), *argv]
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the process)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def exec(self, where: str, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` to completion in a namespace."""
        ns = self.client if where == "client" else self.server
        return subprocess.run(["ip", "netns", "exec", ns, *argv], check=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]

    def record(self, out: Path) -> None:
        """Start dumpcap on the server end of the veth, full packets, pcap format."""
        self.capture = subprocess.Popen(
            ["ip", "netns", "exec", self.server, "dumpcap", "-q", "-P", "-i", self.veth_s, "-w", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(100):
            if out.exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)

    def wait_port(self, where: str, host: str, port: int, timeout: float = 15.0) -> None:
        """Wait until something listens on ``host:port`` in a namespace."""
        deadline = time.monotonic() + timeout
        probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=1).close()"
        while time.monotonic() < deadline:
            ns = self.client if where == "client" else self.server
            if (
                subprocess.run(
                    ["ip", "netns", "exec", ns, "python3", "-c", probe], capture_output=True
                ).returncode
                == 0
            ):
                return
            time.sleep(0.3)
        raise RuntimeError(f"nothing listens on {host}:{port} in the {where} namespace after {timeout} s")

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
        """Signal a process group and wait for it (SIGKILL after ``grace`` seconds)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self) -> None:
        """Stop every process (clients first, capture last); delete the namespaces and their /etc files."""
        for proc in reversed(self.procs):
            self.stop(proc)
        time.sleep(1.0)
        if self.capture:
            self.stop(self.capture, signal.SIGINT)
        for ns in (self.client, self.server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.netns_etc, ignore_errors=True)


@contextlib.contextmanager
def lab(workdir: Path) -> Iterator[Lab]:
    """A :class:`Lab` that is always torn down."""
    workdir.mkdir(parents=True, exist_ok=True)
    the_lab = Lab(workdir)
    try:
        the_lab.setup()
        yield the_lab
    finally:
        the_lab.close()


def run(argv: Sequence[str], check: bool = True) -> None:
    """Run a set-up command; say which one failed."""
    result = subprocess.run(argv, capture_output=True)
    if check and result.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.decode(errors='replace').strip()}")
