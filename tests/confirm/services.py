"""Real servers that must come back "not mining": sshd and mosquitto on free loopback ports.

Each runs from a throwaway configuration in a temporary folder, listens on 127.0.0.1 only, and is
stopped (by its own pid) when the ``with`` block ends. A test skips, saying why, where the program
is missing (Debian: openssh-server, mosquitto).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.ports import PortTaken, listens, started_on_free_port

READY_S = 20.0
"""How long a server may take to start listening (it normally takes well under a second)."""


def program(name: str, package: str) -> str:
    """The path of ``name``, searched also in the sbin folders; skip when it is not installed."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install {package})")
    return found


def _start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``args`` and return once it listens on 127.0.0.1:``port`` itself.

    Raises PortTaken when the program exited because another program had the port; fails the
    test with the program's log for any other exit, or when it does not listen in time.
    """
    import time

    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    until = time.monotonic() + READY_S
    while time.monotonic() < until:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")
            if "in use" in text:
                raise PortTaken(text)
            pytest.fail(f"{proc.args} exited with {proc.returncode}: {text[-2000:]}")
        if listens(proc.pid, port):
            return proc
        time.sleep(0.05)
    _stop(proc)
    pytest.fail(f"{proc.args} did not listen on {port} within {READY_S:g} s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def _running(start: Callable[[int], tuple[list[str], Path]]) -> Iterator[int]:
    """Run the program that ``start(port)`` configures (its argv and log) on a free loopback port."""

    def attempt(port: int) -> tuple[subprocess.Popen[bytes], int]:
        args, log = start(port)
        return _start(args, port, log), port

    proc, port = started_on_free_port(attempt)
    try:
        yield port
    finally:
        _stop(proc)


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

    def configure(port: int) -> tuple[list[str], Path]:
        config = folder / f"sshd_config-{port}"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\nUsePAM no\nStrictModes no\n"
            "ClientAliveInterval 5\n"
        )
        return [binary, "-D", "-e", "-f", str(config)], folder / f"sshd-{port}.log"

    with _running(configure) as ready:
        yield ready


@contextmanager
def mosquitto(folder: Path, tls: tuple[Path, Path] | None = None) -> Iterator[int]:
    """A mosquitto MQTT broker on a free loopback port, plain or with ``tls`` (cert, key)."""
    binary = program("mosquitto", "mosquitto")

    def configure(port: int) -> tuple[list[str], Path]:
        config = folder / f"mosquitto-{port}.conf"
        # as root, mosquitto drops to its own user, which cannot read the test folder: stay root
        text = f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        if os.geteuid() == 0:
            text += "user root\n"
        if tls is not None:
            text += f"certfile {tls[0]}\nkeyfile {tls[1]}\n"
        config.write_text(text)
        return [binary, "-c", str(config)], folder / f"mosquitto-{port}.log"

    with _running(configure) as ready:
        yield ready


@contextmanager
def openssl_www(folder: Path, cert: Path, key: Path) -> Iterator[int]:
    """``openssl s_server -www``: OpenSSL's own TLS server answering HTTP GETs with a status page."""
    binary = program("openssl", "openssl")

    def configure(port: int) -> tuple[list[str], Path]:
        args = [binary, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert), "-key", str(key)]
        return [*args, "-www", "-quiet"], folder / f"s_server-{port}.log"

    with _running(configure) as ready:
        yield ready
