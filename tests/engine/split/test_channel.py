"""The split's pipes: messages of any size cross both ways without either process waiting forever."""

from __future__ import annotations

import os
import pickle
from typing import Any

import pytest

from poolsniff.engine.split import channel
from poolsniff.engine.split.channel import Channel


def echo(rfd: int, wfd: int) -> None:
    """A child: send back every message, reversed, until the pipe closes."""
    channel = Channel(rfd, wfd, patient=True)
    while (message := channel.receive()) is not None:
        channel.send(message[::-1])
    os._exit(0)


@pytest.mark.parametrize("size", [10, 300_000, 3_000_000], ids=["small", "larger-than-a-pipe", "megabytes"])
def test_messages_cross_both_ways_without_deadlock(size: int, deadline: None) -> None:
    a2b_r, a2b_w = os.pipe()
    b2a_r, b2a_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(a2b_w)
        os.close(b2a_r)
        echo(a2b_r, b2a_w)
    os.close(a2b_r)
    os.close(b2a_w)
    front = Channel(b2a_r, a2b_w, patient=False)
    sent = [bytes([n % 251]) * size + str(n).encode() for n in range(12)]
    for message in sent:
        front.send(message)  # the child answers while we are still sending
    front.drain()  # what the pipe did not take yet, before the end is closed
    os.close(a2b_w)
    got = []
    while (message := front.receive()) is not None:
        got.append(message)
    os.close(b2a_r)
    os.waitpid(pid, 0)
    assert got == [m[::-1] for m in sent]


def test_the_front_queues_what_a_busy_back_has_no_room_for(deadline: None) -> None:
    """A back that is busy for a while does not stop the front: what the pipe cannot take waits in the
    front, up to ``QUEUE_BYTES``, and reaches the back whole and in order once it reads again."""
    a2b_r, a2b_w = os.pipe()
    b2a_r, b2a_w = os.pipe()
    front = Channel(b2a_r, a2b_w, patient=False)
    back = Channel(a2b_r, b2a_w, patient=True)
    sent = [bytes([n % 256]) * 50_000 for n in range(channel.QUEUE_BYTES // 50_000 - 2)]  # each fits any pipe
    for message in sent:
        front.send(message)  # nobody reads: it would block here if it waited for the back
    assert front._queued > channel.PIPE_BYTES
    got = []
    while len(got) < len(sent):
        front.poll()  # the front writes on as the back reads
        got.append(back.receive())
    assert got == sent and not front._queued
    for fd in (a2b_r, a2b_w, b2a_r, b2a_w):
        os.close(fd)


class Unmarshallable(int):
    """An int subclass: ``marshal`` refuses it, pickle takes it."""


RECORD = (1, ("10.0.0.1", 1, "10.0.0.2", 2, 6), (9300101, "m", 1, "", False), 1)
"""A detection as ``records.flat`` makes it (its time, key, signature's fields, role)."""


@pytest.mark.parametrize(
    ("answer", "pickled"),
    [
        (([(b"raw", 1)], [], [RECORD], None), False),
        (([], [], [({"evidence": Unmarshallable(3)},)], {"alerts": 1}), True),
    ],
    ids=["plain: marshalled", "anything else: pickled"],
)
def test_the_backs_answers_cross_marshalled_or_pickled(answer: tuple[Any, ...], pickled: bool) -> None:
    """The back's answers go in ``marshal``'s format where they hold plain data (as ``records`` makes
    them), pickled otherwise; the front tells them apart and reads both."""
    a2b_r, a2b_w = os.pipe()
    b2a_r, b2a_w = os.pipe()
    front = Channel(b2a_r, a2b_w, patient=False)
    back = Channel(a2b_r, b2a_w, patient=True)
    back.send(answer)
    got = front.receive()
    assert got == answer
    assert [type(v) for v in got[2][0]] == [type(v) for v in answer[2][0]]
    assert (channel._answer(answer)[:1] == pickle.PROTO) is pickled
    for fd in (a2b_r, a2b_w, b2a_r, b2a_w):
        os.close(fd)
