"""A capture worker's reading: frames of its flow socket and its DNS socket processed in timestamp order.

Fake sockets hand out prepared reads; a fake pipeline and DNS share record what they are fed. The live
behaviour (real sockets, real processes) is tested in ``test_fanout``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from poolsniff.model import Frame, Released
from poolsniff.run import fanworker
from poolsniff.run.fanworker import _Interface, _Worker


class Socket:
    """Each ``read`` returns the next prepared list (then nothing)."""

    def __init__(self, *reads: list[int]) -> None:
        self.reads = deque([[(ts, 1, b"") for ts in r] for r in reads])

    def read(self, limit: int) -> list[Frame]:
        got = self.reads.popleft() if self.reads else []
        assert len(got) <= limit
        return got


class Sockets:
    def __init__(self, flows: Socket, dns: Socket) -> None:
        self.flows, self.dns = flows, dns


class Fed:
    """Stands in for the pipeline and the DNS share: notes (kind, timestamp) of each frame fed."""

    def __init__(self) -> None:
        self.order: list[tuple[str, int]] = []

    def feed(self, frame: Frame) -> list[Released]:
        self.order.append(("flow", frame[0]))
        return []

    feed_live = feed  # what the worker calls for its flow frames

    def owned(self, frame: Frame) -> bool:
        return True


class Share(Fed):
    def __init__(self, fed: Fed) -> None:
        self.fed = fed

    def feed(self, frame: Frame) -> list[Released]:
        self.fed.order.append(("dns", frame[0]))
        return []


def worker(flows: Socket, dns: Socket) -> tuple[_Worker, _Interface, Fed]:
    fed = Fed()
    share: Any = Share(fed)
    iface = _Interface("x", Sockets(flows, dns), fed, share)  # type: ignore[arg-type]
    return _Worker([iface], -1, -1, None), iface, fed


def test_frames_go_in_timestamp_order() -> None:
    w, iface, fed = worker(Socket([10, 30, 50]), Socket([20, 40]))
    w._read(iface)
    assert fed.order == [("flow", 10), ("dns", 20), ("flow", 30), ("dns", 40), ("flow", 50)]


def test_a_later_dns_frame_waits_for_the_next_read_of_the_flows() -> None:
    """The flow socket may still receive frames earlier than a DNS frame read after it."""
    w, iface, fed = worker(Socket([10, 25], [30]), Socket([20, 40]))
    w._read(iface)
    assert fed.order == [("flow", 10), ("dns", 20), ("flow", 25)] and [f[0] for f in iface.pending] == [40]
    w._read(iface)
    assert fed.order[3:] == [("flow", 30), ("dns", 40)] and not iface.pending


def test_a_waiting_dns_frame_goes_once_the_flow_socket_was_found_empty() -> None:
    w, iface, fed = worker(Socket([10]), Socket([40]))
    w._read(iface)
    assert fed.order == [("flow", 10)]
    w._read(iface)  # nothing more on either socket: the flow socket is idle
    assert fed.order == [("flow", 10), ("dns", 40)]


def test_a_full_batch_keeps_later_dns_frames_waiting() -> None:
    batch = list(range(100, 100 + fanworker.BATCH))
    w, iface, fed = worker(Socket([10], batch, [5000]), Socket([1000, 3000]))
    w._read(iface)  # both DNS frames are later than 10: they wait
    w._read(iface)  # a full batch up to 355: the socket may hold more before 1000
    assert ("dns", 1000) not in fed.order and len(iface.pending) == 2
    w._read(iface)  # 5000 (the socket emptied): both go, in order, before it
    assert fed.order[-3:] == [("dns", 1000), ("dns", 3000), ("flow", 5000)]


def test_the_dns_socket_is_read_to_the_end() -> None:
    many = list(range(1, 2 * fanworker.BATCH + 1))
    w, iface, fed = worker(Socket([10_000]), Socket(many[: fanworker.BATCH], many[fanworker.BATCH :]))
    w._read(iface)
    assert [ts for kind, ts in fed.order if kind == "dns"] == many


# --------------------------------------------------------------------------- the waiting DNS frames


def reference_split(pending: list[Frame], older: int | None) -> tuple[list[Frame], list[Frame]]:
    """What the worker did before ``split_pending``: two passes over the waiting frames, in any order."""
    due = [f for f in pending if older is None or f[0] <= older]
    return due, [f for f in pending if older is not None and f[0] > older]


def reference_add(pending: list[Frame], newer: list[Frame]) -> list[Frame]:
    return pending + newer


class Tagged:
    """Stands in for the pipeline and the DNS share: notes (kind, time, tag) of every frame fed."""

    def __init__(self) -> None:
        self.order: list[tuple[str, int, bytes]] = []

    def feed_live(self, frame: Frame) -> list[Released]:
        self.order.append(("flow", frame[0], frame[2]))
        return []

    def feed(self, frame: Frame) -> list[Released]:
        self.order.append(("dns", frame[0], frame[2]))
        return []

    def owned(self, frame: Frame) -> bool:
        return True


class Reads:
    def __init__(self, reads: list[list[Frame]]) -> None:
        self.reads = deque(reads)

    def read(self, limit: int) -> list[Frame]:
        return self.reads.popleft() if self.reads else []


def scenario(seed: int) -> tuple[list[list[Frame]], list[list[Frame]]]:
    """Flow reads (full batches while the socket is behind) and DNS reads running ahead of them, with
    times out of order and equal times, each frame tagged."""
    import random

    rng = random.Random(seed)
    flows, dns, t, tag = [], [], 0, 0
    for _ in range(40):
        batch = []
        for _ in range(rng.choice([4] * 8 + [2, 0])):  # BATCH is 4 here: mostly full reads, the socket behind
            t += rng.randint(0, 3)
            tag += 1
            batch.append((t, 1, tag.to_bytes(2, "big")))
        flows.append(batch)
        answers = []
        for _ in range(rng.randint(0, 6)):
            tag += 1
            answers.append((t + rng.randint(-4, 40), 1, tag.to_bytes(2, "big")))
        dns.append(answers)
    return flows, dns


def fed_in_order(seed: int, split: Any, add: Any, monkeypatch: Any) -> list[tuple[str, int, bytes]]:
    monkeypatch.setattr(fanworker, "BATCH", 4)
    monkeypatch.setattr(fanworker, "split_pending", split)
    monkeypatch.setattr(fanworker, "add_pending", add)
    flows, dns = scenario(seed)
    fed = Tagged()
    iface = _Interface("x", Sockets(Reads(flows), Reads(dns)), fed, fed)  # type: ignore[arg-type]
    w = _Worker([iface], -1, -1, None)
    for _ in range(len(flows) + 2):
        w._read(iface)
    return fed.order


def test_waiting_dns_frames_are_fed_exactly_as_the_two_passes_fed_them(monkeypatch: Any) -> None:
    """``split_pending`` and ``add_pending`` (a bisection over frames kept in time order) feed every
    frame at the same place as filtering the unordered waiting list twice did, equal times included."""
    for seed in range(300):
        new = fed_in_order(seed, fanworker.split_pending, fanworker.add_pending, monkeypatch)
        old = fed_in_order(seed, reference_split, reference_add, monkeypatch)
        assert new == old, seed
        assert len(new) == sum(len(r) for rs in scenario(seed) for r in rs)


def test_waiting_frames_are_kept_in_time_order_and_equal_times_in_arrival_order() -> None:
    def f(ts: int, tag: bytes) -> Frame:
        return (ts, 1, tag)

    between = fanworker.add_pending([f(5, b"a"), f(9, b"b")], [f(7, b"c")])
    assert between == [f(5, b"a"), f(7, b"c"), f(9, b"b")]
    pending = fanworker.add_pending([f(5, b"a"), f(9, b"b")], [f(7, b"c"), f(9, b"d"), f(6, b"e")])
    assert pending == [f(5, b"a"), f(6, b"e"), f(7, b"c"), f(9, b"b"), f(9, b"d")]
    assert fanworker.split_pending(pending, 7) == (pending[:3], pending[3:])
    assert fanworker.split_pending(pending, None) == (pending, [])
    assert fanworker.add_pending(pending, []) is pending
