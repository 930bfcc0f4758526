"""``sniff --redis`` / ``--syslog tcp://`` during a live replay: collector outages and restarts lose nothing.

Issue 14 item 1. Each test builds a network namespace of its own (names unique per run) with a
veth pair; ``poolsniff sniff`` listens on veth1, tcpreplay replays mining sessions into veth0 in
chunks, and the collector runs inside the namespace on loopback, on a port picked at run time: a
real ``redis-server`` (with an append-only file, so that what it acknowledged survives its
restarts) or a small TCP syslog receiver (a Python script). Between chunks the collector is
stopped (SIGKILL, SIGTERM) and started again, or poolsniff itself is stopped with SIGTERM while
the collector is down and started again. At the end every alert of the EVE file must be in the
collector, in order: de-duplicating on ``alert.metadata.event_id`` (delivery is at least once)
gives exactly the EVE file's alerts. Nothing waits for a fixed time: every step polls for what it
needs, with generous deadlines.
"""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from poolsniff.output.eventid import read_event_id
from poolsniff.sources.pcap import iter_capture

from ..conftest import PCAPS
from ..ports import free_port  # inside the test's own namespace nothing else can take it
from ..sources.test_live import Netns, need_root
from .test_sniff import Sniffer, ethernet_frames, replay, write_pcap

MINER = PCAPS / "stratum-v1-cgminer.pcap"
SESSIONS_PER_CHUNK = 15
"""Mining sessions (one alert each) per replayed chunk."""


def chunk(tmp: Path, index: int) -> Path:
    """SESSIONS_PER_CHUNK copies of the cgminer session, each from a client port of its own."""
    frames = ethernet_frames(MINER)
    client = frames[0][34:36]
    out = []
    for i in range(SESSIONS_PER_CHUNK):
        port = struct.pack("!H", 20000 + index * SESSIONS_PER_CHUNK + i)
        for data in frames:
            where = 34 if data[34:36] == client else 36
            out.append(data[:where] + port + data[where + 2 :])
    path = tmp / f"chunk{index}.pcap"
    write_pcap(path, out, step_us=500)
    return path


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def alerts_in(path: Path) -> list[dict[str, Any]]:
    """The alert lines of ``path`` so far (a last line still being written, no newline yet, left out)."""
    if not path.exists():
        return []
    text = path.read_text()
    records = [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]
    return [r for r in records if r.get("event_type") == "alert"]


def first_occurrences(records: list[dict[str, Any]]) -> tuple[list[str], int]:
    """The ids of ``records`` with repeats removed (first one kept), and how many repeats there were."""
    seen: dict[str, None] = {}
    for record in records:
        ident = read_event_id(record)
        assert ident is not None, record
        seen.setdefault(ident, None)
    return list(seen), len(records) - len(seen)


def assert_everything_arrived(eve: list[dict[str, Any]], got: list[dict[str, Any]]) -> int:
    """Every EVE alert reached the collector, in order, as the same record; returns the repeats."""
    ids, repeats = first_occurrences(got)
    assert ids == [read_event_id(r) for r in eve]
    by_id = {read_event_id(r): r for r in got}
    assert all(by_id[read_event_id(r)] == r for r in eve)
    return repeats


@pytest.fixture
def veth(tmp_path: Path) -> Iterator[Netns]:
    need_root("tcpreplay")
    try:
        ns = Netns()
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace here: {e.stderr.strip()}")
    try:
        ns.veth("veth0", "veth1")
        yield ns
    finally:
        ns.close()


# --------------------------------------------------------------------------- collectors in the namespace


class Redis:
    """A redis-server inside ``ns`` on 127.0.0.1:``port``; its data (AOF, fsync always) outlives restarts."""

    def __init__(self, ns: Netns, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
        self.ns, self.folder, self.binary = ns, folder, binary
        self.port = free_port()
        folder.mkdir()
        self.proc: subprocess.Popen[Any] | None = None
        self.restarts = 0

    def start(self) -> None:
        argv = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
        ]  # fmt: skip
        self.proc = self.ns.popen(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.call("PING") == "PONG", "redis-server answering")

    def stop(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)
        self.proc.wait(60)
        self.restarts += 1

    def call(self, *args: str) -> Any:
        """Run one command from inside the namespace; None if the server does not answer."""
        script = textwrap.dedent(
            """
            import json, socket, sys
            from poolsniff.output.transports.redis import encode_command, read_reply
            try:
                with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
                    s.sendall(encode_command(*sys.argv[2:]))
                    reply = read_reply(s.makefile("rb"))
            except OSError:
                reply = None
            def plain(x):
                if isinstance(x, list):
                    return [plain(y) for y in x]
                return x.decode() if isinstance(x, bytes) else x
            print(json.dumps(plain(reply)))
            """
        )
        proc = self.ns.run(sys.executable, "-c", script, str(self.port), *args)
        return json.loads(proc.stdout)

    def alerts(self) -> list[dict[str, Any]]:
        """The EVE records in the stream, in stream order."""
        entries = self.call("XRANGE", "poolsniff", "-", "+") or []
        return [
            json.loads(dict(zip(fields[::2], fields[1::2], strict=True))["eve"]) for _id, fields in entries
        ]


RECEIVER = textwrap.dedent(
    """
    # A TCP syslog receiver (RFC 6587 octet counting) appending every byte it reads to a file.
    # SIGTERM stops it as a syslog daemon's orderly shutdown does: no new connection, FIN to
    # each client, and what is still in flight is read to the end (EOF) before it exits.
    import selectors, signal, socket, sys
    port, path = int(sys.argv[1]), sys.argv[2]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    stopping = False
    def stop(*_):
        global stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)
    out = open(path, "ab", buffering=0)
    conns = []
    while not stopping or conns:
        if stopping and listener.fileno() != -1:
            sel.unregister(listener)
            listener.close()
            for c in conns:
                c.shutdown(socket.SHUT_WR)
        events = sel.select(timeout=60 if stopping else 0.2)
        if stopping and not events:
            break  # a minute without a byte from a half-closed client: nothing is in flight
        for key, _ in events:
            if key.fileobj is listener:
                c, _ = listener.accept()
                conns.append(c)
                sel.register(c, selectors.EVENT_READ)
                continue
            data = key.fileobj.recv(65536)
            if data:
                out.write(data)
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                conns.remove(key.fileobj)
    """
)


class SyslogReceiver:
    """The receiver above inside ``ns``; ``alerts`` parses what all its runs wrote."""

    def __init__(self, ns: Netns, path: Path) -> None:
        self.ns, self.path, self.port = ns, path, free_port()
        self.proc: subprocess.Popen[Any] | None = None
        self.restarts = 0

    def start(self) -> None:
        if self.proc is not None:
            self.proc.wait(120)  # the previous run has read what was in flight (see stop)
        self.proc = self.ns.popen(sys.executable, "-c", RECEIVER, str(self.port), str(self.path))
        probe = f"import socket; socket.create_connection(('127.0.0.1', {self.port}), timeout=5).close()"

        def listening() -> bool:
            return (
                subprocess.run(self.ns.command(sys.executable, "-c", probe), capture_output=True).returncode
                == 0
            )

        wait_for(listening, "the syslog receiver listening")

    def stop(self, signum: int) -> None:
        """Ask it to stop; it goes on reading while poolsniff sends, until poolsniff closes its side."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        self.restarts += 1

    def alerts(self) -> list[dict[str, Any]]:
        data = self.path.read_bytes() if self.path.exists() else b""
        out = []
        while data:
            length, _, rest = data.partition(b" ")
            message, data = rest[: int(length)], rest[int(length) :]
            out.append(json.loads(message.split(b" alert - ", 1)[1]))
        return out


# --------------------------------------------------------------------------- the tests


def run_chunks(
    ns: Netns, tmp: Path, sniffer: Sniffer, toggles: list[Callable[[], None]], first: int = 0
) -> int:
    """Replay one chunk after each toggle of the collector; wait for its alerts in the EVE file."""
    for offset, toggle in enumerate(toggles):
        toggle()
        index = first + offset
        replay(ns, "veth0", chunk(tmp, index), 2000)
        want = (index + 1) * SESSIONS_PER_CHUNK

        def arrived(want: int = want) -> bool:
            return len(alerts_in(sniffer.output)) >= want

        sniffer.wait_for(arrived, f"the alerts of chunk {index}")
    return first + len(toggles)


def one_alert_per_session(tmp: Path) -> None:
    """The premise of the counts: scan finds one alert in each session of a chunk."""
    from ..sources.test_live import scan_frames

    records = scan_frames(iter_capture(str(chunk(tmp, 0))))
    assert sum(r["event_type"] == "alert" for r in records) == SESSIONS_PER_CHUNK


@pytest.mark.live
def test_redis_stopped_and_restarted_during_a_replay_gets_every_alert_in_order(
    veth: Netns, tmp_path: Path
) -> None:
    one_alert_per_session(tmp_path)
    redis = Redis(veth, tmp_path / "redis")
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "-o", str(tmp_path / "alerts.json"), "--redis", url)
    toggles = [
        lambda: None,
        lambda: redis.stop(signal.SIGKILL),
        redis.start,
        lambda: redis.stop(signal.SIGTERM),
        lambda: None,  # a second chunk while it is away
        redis.start,
        lambda: redis.stop(signal.SIGKILL),
    ]
    run_chunks(veth, tmp_path, sniffer, toggles)
    redis.start()
    eve = alerts_in(sniffer.output)
    assert len(eve) == len(toggles) * SESSIONS_PER_CHUNK
    wait_for(lambda: len(first_occurrences(redis.alerts())[0]) >= len(eve), "every alert in the stream")
    assert sniffer.stop(signal.SIGTERM) == 0
    repeats = assert_everything_arrived(eve, redis.alerts())
    print(f"\n{len(eve)} alerts, {redis.restarts} redis stops and restarts, {repeats} delivered twice")
    stderr = sniffer.stderr()
    assert "alerts wait in the spool" in stderr and "reconnected; delivering" in stderr
    assert "Traceback" not in stderr


@pytest.mark.live
def test_tcp_syslog_receiver_stopped_and_restarted_during_a_replay_gets_every_alert_in_order(
    veth: Netns, tmp_path: Path
) -> None:
    one_alert_per_session(tmp_path)
    receiver = SyslogReceiver(veth, tmp_path / "received.bin")
    receiver.start()
    url = f"tcp://127.0.0.1:{receiver.port}"
    sniffer = Sniffer(veth, tmp_path, "-i", "veth1", "-o", str(tmp_path / "alerts.json"), "--syslog", url)
    toggles = [
        lambda: None,
        lambda: receiver.stop(signal.SIGTERM),
        receiver.start,
        lambda: receiver.stop(signal.SIGTERM),
        lambda: None,
        receiver.start,
    ]
    run_chunks(veth, tmp_path, sniffer, toggles)
    eve = alerts_in(sniffer.output)
    wait_for(lambda: len(first_occurrences(receiver.alerts())[0]) >= len(eve), "every alert at the receiver")
    assert sniffer.stop(signal.SIGTERM) == 0
    receiver.stop(signal.SIGTERM)
    assert receiver.proc is not None and receiver.proc.wait(120) == 0
    repeats = assert_everything_arrived(eve, receiver.alerts())
    print(f"\n{len(eve)} alerts, {receiver.restarts} receiver stops and restarts, {repeats} delivered twice")
    assert "Traceback" not in sniffer.stderr()


@pytest.mark.live
def test_sigterm_and_restart_of_poolsniff_while_redis_is_down(veth: Netns, tmp_path: Path) -> None:
    """The spool a stopped poolsniff leaves is delivered by the next run on the same sink, first."""
    one_alert_per_session(tmp_path)
    redis = Redis(veth, tmp_path / "redis")
    redis.start()
    out = tmp_path / "alerts.json"
    args = ("-i", "veth1", "-o", str(out), "--redis", f"redis://127.0.0.1:{redis.port}/0")
    first = Sniffer(veth, tmp_path, *args)
    done = run_chunks(veth, tmp_path, first, [lambda: None, lambda: redis.stop(signal.SIGKILL)])
    assert first.stop(signal.SIGTERM) == 0  # while Redis is down: chunk 1 stays in the spool
    assert "alerts stay in the spool" in first.stderr()
    second = Sniffer(veth, tmp_path, *args)  # Redis still down at start: a warning, not an error
    run_chunks(veth, tmp_path, second, [lambda: None, redis.start], first=done)
    eve = alerts_in(out)
    assert len(eve) == 4 * SESSIONS_PER_CHUNK
    wait_for(lambda: len(first_occurrences(redis.alerts())[0]) >= len(eve), "every alert in the stream")
    assert second.stop(signal.SIGTERM) == 0
    repeats = assert_everything_arrived(eve, redis.alerts())
    print(f"\n{len(eve)} alerts across a SIGTERM and a restart of poolsniff, {repeats} delivered twice")
    assert "Traceback" not in first.stderr() + second.stderr()
