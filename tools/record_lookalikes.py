"""Developer tool outside the package: records benign programs whose sessions look like mining (test input).

source -> decode -> flows/dissectors -> detectors -> enrichment -> output

Each scenario runs real programs (OpenSSH, mosquitto, curl, chromium, dovecot) or the small stdlib peers of
``tools/lookalike_peers.py`` in the lab of ``tools/nslab.py`` (two network namespaces and a veth, captured
with dumpcap; nothing leaves the machine). Every session is long-lived, with server pushes and small periodic
client messages, as a miner's is; none of them mines, so poolsniff must stay silent on all of them.

    sudo python3 tools/record_lookalikes.py --out tests/data/lookalikes [--seconds 100] [SCENARIO ...]

``PROVENANCE.md`` in ``--out`` gets the program versions, the date and the command lines.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nslab import SERVER4, Lab, lab

TOOLS = Path(__file__).resolve().parent
PEERS = [sys.executable, str(TOOLS / "lookalike_peers.py")]


@dataclass(frozen=True)
class Scenario:
    """One benign session: how to set up and start the servers, and the client command."""

    name: str
    what: str
    servers: Callable[[Lab, Path], list[list[str]]]
    client: Callable[[Path, float], list[str]]
    listen: int
    versions: tuple[str, ...] = ()
    helpers: tuple[tuple[str, ...], ...] = ()
    """Programs for the client namespace (a relay's client end), started before the client."""


def cert(work: Path, name: str = "lab.invalid") -> tuple[Path, Path]:
    """A self-signed certificate and key for servers that need files."""
    crt, key = work / "server.crt", work / "server.key"
    if not crt.exists():
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                f"/CN={name}",
                "-days",
                "30",
                "-keyout",
                str(key),
                "-out",
                str(crt),
            ],
            check=True,
            capture_output=True,
        )
    return crt, key


def ssh_servers(the_lab: Lab, work: Path) -> list[list[str]]:
    """sshd with a fresh host key, root login by a fresh key, no PAM."""
    for f in ("host_ed25519", "host_ed25519.pub", "client_ed25519", "client_ed25519.pub"):
        (work / f).unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_ed25519")], check=True
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "client_ed25519")], check=True
    )
    shutil.copyfile(work / "client_ed25519.pub", work / "authorized_keys")
    (work / "sshd_config").write_text(
        f"Port 22\nListenAddress {SERVER4}\nHostKey {work}/host_ed25519\n"
        f"AuthorizedKeysFile {work}/authorized_keys\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "ClientAliveInterval 15\nPidFile none\n"
    )
    return [["/usr/sbin/sshd", "-D", "-e", "-f", str(work / "sshd_config")]]


def ssh_client(work: Path, seconds: float) -> list[str]:
    """An interactive-looking session: keepalives every 10 s, a line of output every 3 s."""
    loop = (
        f"end=$(( $(date +%s) + {int(seconds)} )); "
        "while [ $(date +%s) -lt $end ]; do date; uptime; sleep 3; done"
    )
    return [
        "ssh",
        "-tt",
        "-i",
        str(work / "client_ed25519"),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ServerAliveInterval=10",
        f"root@{SERVER4}",
        loop,
    ]


def mosquitto_servers(tls: bool) -> Callable[[Lab, Path], list[list[str]]]:
    """mosquitto with one listener, anonymous, TLS on 8883 or plain on 1883."""

    def servers(the_lab: Lab, work: Path) -> list[list[str]]:
        conf = f"listener {8883 if tls else 1883} {SERVER4}\nallow_anonymous true\nuser root\n"
        if tls:
            crt, key = cert(work)
            conf += f"certfile {crt}\nkeyfile {key}\n"
        (work / "mosquitto.conf").write_text(conf)
        return [["mosquitto", "-c", str(work / "mosquitto.conf")]]

    return servers


def mqtt_client(tls: bool, payloads: str) -> Callable[[Path, float], list[str]]:
    """One subscriber and one long-lived publisher (``mosquitto_pub -l``), payloads from a peer script."""

    def client(work: Path, seconds: float) -> list[str]:
        tls_args = f"-p 8883 --cafile {work}/server.crt --insecure" if tls else "-p 1883"
        if payloads == "sensor":
            gen = (
                f"end=$(( $(date +%s) + {int(seconds)} )); n=0; while [ $(date +%s) -lt $end ]; do "
                'n=$((n+1)); echo "{\\"sensor\\":\\"t1\\",\\"seq\\":$n,\\"temp\\":2$((n % 10)).$((n % 7))}"; '
                "sleep 3; done"
            )
            topic = "home/sensors/t1"
        else:
            gen = " ".join(PEERS + ["shelly-lines", "--interval", "4", "--seconds", str(seconds)])
            topic = "shellyplus1-441793a4/rpc"
        return [
            "sh",
            "-c",
            f"mosquitto_sub -h {SERVER4} {tls_args} -k 30 -t '#' -v > {work}/sub.out & "
            f"({gen}) | mosquitto_pub -h {SERVER4} {tls_args} -k 30 -l -t {topic}; kill %1",
        ]

    return client


def electrum_servers(tls: bool) -> Callable[[Lab, Path], list[list[str]]]:
    """The Electrum-protocol peer on 50002 (TLS) or 50001."""

    def servers(the_lab: Lab, work: Path) -> list[list[str]]:
        port = 50002 if tls else 50001
        return [
            PEERS
            + ["electrum-server", "--listen", f"{SERVER4}:{port}", "--interval", "20"]
            + (["--tls"] if tls else [])
        ]

    return servers


def electrum_client(tls: bool) -> Callable[[Path, float], list[str]]:
    """The Electrum-protocol wallet side: a ping every 6 s."""

    def client(work: Path, seconds: float) -> list[str]:
        port = 50002 if tls else 50001
        return (
            PEERS
            + [
                "electrum-client",
                "--connect",
                f"{SERVER4}:{port}",
                "--interval",
                "6",
                "--seconds",
                str(seconds),
            ]
            + (["--tls"] if tls else [])
        )

    return client


def imap_servers(the_lab: Lab, work: Path) -> list[list[str]]:
    """dovecot with IMAPS only, one passwd-file user with an empty Maildir."""
    crt, key = cert(work, "mail.lab.invalid")
    (work / "mail" / "alice" / "Maildir" / "cur").mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(work / "mail")], check=True)
    (work / "users").write_text(f"alice:{{PLAIN}}secret:65534:65534::{work}/mail/alice::\n")
    (work / "dovecot.conf").write_text(
        f"protocols = imap\nlisten = {SERVER4}\nbase_dir = {work}/run\nstate_dir = {work}/state\n"
        f"ssl = required\nssl_cert = <{crt}\nssl_key = <{key}\nmail_location = maildir:~/Maildir\n"
        f"passdb {{\n  driver = passwd-file\n  args = {work}/users\n}}\n"
        f"userdb {{\n  driver = passwd-file\n  args = {work}/users\n}}\n"
        "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n  inet_listener imaps {\n"
        "    port = 993\n  }\n}\nimap_idle_notify_interval = 10 secs\nlog_path = /dev/stderr\n"
        "first_valid_uid = 100\n"
    )
    return [["dovecot", "-F", "-c", str(work / "dovecot.conf")]]


def imap_client(work: Path, seconds: float) -> list[str]:
    """Python's imaplib: log in, select INBOX, then IDLE rounds of two server "Still here" notices (~20 s).

    Python 3.11's imaplib has no IDLE command, so the client writes it (RFC 2177) on imaplib's connection.
    """
    code = (
        "import imaplib,ssl,time\n"
        "c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE\n"
        f"m=imaplib.IMAP4_SSL('{SERVER4}',993,ssl_context=c); m.login('alice','secret'); m.select('INBOX')\n"
        f"end=time.time()+{seconds}; n=0\n"
        "while time.time()<end:\n"
        "    n+=1; tag=b'I%d' % n; m.send(tag+b' IDLE\\r\\n'); m.readline()\n"
        "    for _ in range(2): m.readline()\n"
        "    m.send(b'DONE\\r\\n')\n"
        "    while not m.readline().startswith(tag): pass\n"
        "    m.noop()\n"
        "m.logout()\n"
    )
    return [sys.executable, "-c", code]


def chromium(work: Path, url: str, *more: str) -> list[str]:
    """Headless Chromium opening ``url``, with a profile of its own under ``work``."""
    return [
        "chromium",
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        *more,
        f"--user-data-dir={work}/chromium",
        url,
    ]


SCENARIOS = [
    Scenario(
        "ssh-keepalive",
        "OpenSSH session: ServerAliveInterval 10 s, ClientAliveInterval 15 s, a line of output every 3 s",
        ssh_servers,
        ssh_client,
        22,
        ("ssh -V",),
    ),
    Scenario(
        "mqtt-tls",
        "mosquitto over TLS (8883): a subscriber and a publisher sending a JSON reading every 3 s",
        mosquitto_servers(True),
        mqtt_client(True, "sensor"),
        8883,
        ("mosquitto -h",),
    ),
    Scenario(
        "mqtt-jsonrpc",
        "mosquitto in clear (1883) carrying Shelly Gen2 JSON-RPC requests every 4 s",
        mosquitto_servers(False),
        mqtt_client(False, "shelly"),
        1883,
        ("mosquitto -h",),
    ),
    Scenario(
        "electrum-plain",
        "Electrum protocol on 50001: subscriptions, header pushes ~20 s, pings ~6 s",
        electrum_servers(False),
        electrum_client(False),
        50001,
    ),
    Scenario(
        "electrum-tls",
        "Electrum protocol over TLS on 50002: subscriptions, header pushes, pings",
        electrum_servers(True),
        electrum_client(True),
        50002,
    ),
    Scenario(
        "sse-https-ip",
        "curl reading HTTPS server-sent events from a bare address, a tick every ~4 s",
        lambda lab_, work: [
            PEERS + ["sse-server", "--listen", f"{SERVER4}:8443", "--tls", "--interval", "4"]
        ],
        lambda work, seconds: [
            "curl",
            "-sk",
            "-N",
            "--max-time",
            str(int(seconds)),
            f"https://{SERVER4}:8443/events",
        ],
        8443,
        ("curl --version",),
    ),
    Scenario(
        "websocket-chat",
        "headless chromium in a WebSocket JSON chat (ws://, port 8080): a message every 4-6 s each way",
        lambda lab_, work: [PEERS + ["ws-chat", "--listen", f"{SERVER4}:8080", "--interval", "6"]],
        lambda work, seconds: chromium(work, f"http://{SERVER4}:8080/"),
        8080,
        ("chromium --version",),
    ),
    Scenario(
        "sse-https-chromium",
        "headless chromium reading HTTPS server-sent events from a bare address, a tick every ~4 s: a"
        " browser's ClientHello (post-quantum key shares, ALPN h2 and http/1.1) in two segments",
        lambda lab_, work: [
            PEERS + ["sse-server", "--listen", f"{SERVER4}:8443", "--tls", "--interval", "4"]
        ],
        lambda work, seconds: (
            ["timeout", str(int(seconds))]
            + chromium(work, f"https://{SERVER4}:8443/events", "--ignore-certificate-errors")
        ),
        8443,
        ("chromium --version",),
    ),
    Scenario(
        "imap-idle-tls",
        "dovecot IMAPS (993) with Python imaplib in IDLE, renewed after two server notices (about 20 s)",
        imap_servers,
        imap_client,
        993,
        ("dovecot --version",),
    ),
]


RELAY_KEY = "lab-only-relay-key"
"""The shadowsocks password of the relayed scenarios (the lab's own; as in ``tools/record_real.py``)."""
RELAY_PORT = 8388
RELAY_CIPHER = ("-m", "chacha20-ietf-poly1305", "-k", RELAY_KEY)


def relayed(base: Scenario) -> Scenario:
    """``base`` through a shadowsocks relay, as a miner behind one would be.

    ss-tunnel in the client namespace listens on 127.0.0.1 at the server's port and carries each
    connection, encrypted, to ss-server (8388), which opens it to the real server. The client is
    ``base``'s, pointed at 127.0.0.1; the capture shows only the relay's encrypted leg.
    """

    def servers(the_lab: Lab, work: Path) -> list[list[str]]:
        relay = ["ss-server", "-s", SERVER4, "-p", str(RELAY_PORT), *RELAY_CIPHER]
        return [*base.servers(the_lab, work), relay]

    def client(work: Path, seconds: float) -> list[str]:
        return [arg.replace(SERVER4, "127.0.0.1") for arg in base.client(work, seconds)]

    tunnel = (
        "ss-tunnel", "-s", SERVER4, "-p", str(RELAY_PORT), "-b", "127.0.0.1", "-l", str(base.listen),
        "-L", f"{SERVER4}:{base.listen}", *RELAY_CIPHER,
    )  # fmt: skip
    what = f"{base.what}; through a shadowsocks relay (ss-tunnel to ss-server on {RELAY_PORT})"
    return Scenario(
        f"ss-{base.name}", what, servers, client, base.listen, (*base.versions, "ss-server -h"), (tunnel,)
    )


SCENARIOS += [relayed(s) for s in list(SCENARIOS)]


def version(command: str) -> str:
    """First line of a program's version output."""
    result = subprocess.run(command.split(), capture_output=True, text=True)
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else "?"


def record(scenario: Scenario, out: Path, seconds: float, work: Path) -> list[str]:
    """Run one scenario; write ``<out>/<name>.pcap``; return the command lines used."""
    commands: list[str] = []
    here = work / scenario.name
    with lab(here) as the_lab:
        for i, argv in enumerate(scenario.servers(the_lab, here)):
            the_lab.start("server", argv, f"server{i}")
            commands.append("server: " + " ".join(argv))
        the_lab.wait_port("server", SERVER4, scenario.listen)
        for i, argv in enumerate(scenario.helpers):
            the_lab.start("client", argv, f"helper{i}")
            commands.append("client: " + " ".join(argv))
        if scenario.helpers:
            the_lab.wait_port("server", SERVER4, RELAY_PORT)
            the_lab.wait_port("client", "127.0.0.1", scenario.listen)
        raw = work / f"{scenario.name}.pcap"
        the_lab.record(raw)
        argv = scenario.client(here, seconds)
        commands.append("client: " + " ".join(argv))
        proc = the_lab.start("client", argv, "client")
        try:
            proc.wait(seconds + 10)
        except subprocess.TimeoutExpired:
            the_lab.stop(proc)
        time.sleep(0.5)
    shutil.copyfile(raw, out / f"{scenario.name}.pcap")
    return [
        c.replace(str(here), "$WORK").replace(str(TOOLS), "tools").replace(sys.executable, "python3")
        for c in commands
    ]


def main() -> None:
    """Record the scenarios named (all by default); extend PROVENANCE.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp") / "psrec-lookalikes")
    parser.add_argument("scenarios", nargs="*", help="names: " + ", ".join(s.name for s in SCENARIOS))
    args = parser.parse_args()
    unknown = set(args.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "PROVENANCE.md"
    notes = (
        []
        if path.exists()
        else [
            "# Benign look-alike captures\n\nMade by `tools/record_lookalikes.py`; "
            "never edited. None of them mines: poolsniff must stay silent.\n"
        ]
    )
    for scenario in SCENARIOS:
        if args.scenarios and scenario.name not in args.scenarios:
            continue
        print(f"record_lookalikes: {scenario.name} ({args.seconds:g} s)", flush=True)
        commands = record(scenario, args.out, args.seconds, args.work)
        pcap = args.out / f"{scenario.name}.pcap"
        notes.append(
            f"## {scenario.name}.pcap\n\n{scenario.what}. Recorded "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {pcap.stat().st_size} "
            f"bytes, sha256 `{hashlib.sha256(pcap.read_bytes()).hexdigest()}`."
        )
        notes += [f"- {version(v)}" for v in scenario.versions]
        notes += [""] + [f"    {c}" for c in commands] + [""]
    with path.open("a", encoding="utf-8") as f:
        f.write("\n".join(notes) + "\n")


if __name__ == "__main__":
    main()
