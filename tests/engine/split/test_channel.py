"""The split's pipes: messages of any size cross both ways without either process waiting forever."""

from __future__ import annotations

import os

import pytest

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
    os.close(a2b_w)
    got = []
    while (message := front.receive()) is not None:
        got.append(message)
    os.close(b2a_r)
    os.waitpid(pid, 0)
    assert got == [m[::-1] for m in sent]
