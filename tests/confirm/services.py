"""Real servers that must come back "not mining": sshd and mosquitto on free loopback ports.

Each runs from a throwaway configuration in a temporary folder, listens on 127.0.0.1 only, and is
stopped (by its own pid) when the ``with`` block ends. A test skips, saying why, where the program
is missing (Debian: openssh-server, mosquitto).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.listserver import free_port

READY_S = 20.0
"""How long a server may take to start listening (it normally takes well under a second)."""


def program(name: str, package: str) -> str:
    """The path of ``name``, searched also in the sbin folders; skip when it is not installed."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install {package})")
    return found


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection; fail with the server's log if it died."""
    import time

    until = time.monotonic() + READY_S
    while time.monotonic() < until:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{proc.args} did not listen on {port} within {READY_S:g} s: {log.read_text()[-2000:]}")


@contextmanager
def _running(args: list[str], port: int, log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_listening(port, proc, log)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def sshd(folder: Path) -> Iterator[int]:
    """An OpenSSH server on a free loopback port (yields the port)."""
    binary = program("sshd", "openssh-server")
    keygen = program("ssh-keygen", "openssh-client")
    privsep = Path("/run/sshd")  # compiled into Debian's sshd; its service unit makes it at start
    if not privsep.is_dir():
        if os.geteuid() != 0:
            pytest.skip("sshd needs /run/sshd, and only root can make it")
        privsep.mkdir(mode=0o755, parents=True, exist_ok=True)
    key = folder / "ssh_host_ed25519_key"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=60)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\nUsePAM no\nStrictModes no\n"
        "ClientAliveInterval 5\n"
    )
    with _running([binary, "-D", "-e", "-f", str(config)], port, folder / "sshd.log") as ready:
        yield ready


@contextmanager
def mosquitto(folder: Path, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """A mosquitto MQTT broker on a free loopback port, plain or with ``tls`` (cert, key)."""
    binary = program("mosquitto", "mosquitto")
    port = free_port()
    config = folder / f"mosquitto-{port}.conf"
    # as root, mosquitto drops to its own user, which cannot read the test folder: stay root
    text = f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    if os.geteuid() == 0:
        text += "user root\n"
    if tls is not None:
        text += f"certfile {tls[0]}\nkeyfile {tls[1]}\n"
    config.write_text(text)
    with _running([binary, "-c", str(config)], port, folder / f"mosquitto-{port}.log") as ready:
        yield ready


@contextmanager
def openssl_www(folder: Path, cert: Path, key: Path) -> Iterator[int]:
    """``openssl s_server -www``: OpenSSL's own TLS server answering HTTP GETs with a status page."""
    binary = program("openssl", "openssl")
    port = free_port()
    args = [binary, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert), "-key", str(key), "-www"]
    with _running([*args, "-quiet"], port, folder / f"s_server-{port}.log") as ready:
        yield ready
