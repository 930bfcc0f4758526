"""Several capture sockets on one interface, one per worker process: the source stage of ``sniff --jobs``.

source (this module, over ``sources.live``) -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

``open_group(name, bpf, jobs)`` opens, for each of ``jobs`` workers, two ``LiveCapture`` sockets:

- a *flow* socket whose kernel filter is the usual one without DNS; the ``jobs`` flow sockets join
  one ``PACKET_FANOUT`` group in hash mode, so the kernel hands each frame to one of them by a hash of
  its flow. That hash is symmetric (``__skb_get_hash_symmetric``): both directions of a connection
  reach the same socket, so one worker sees the whole flow. ``PACKET_FANOUT_FLAG_DEFRAG`` has the
  kernel reassemble IPv4 fragments before it hashes, so a fragment goes where its flow goes;
- a *DNS* socket, outside the group, whose filter keeps only DNS (UDP and TCP port 53): every worker
  reads every DNS message, so a pool name's answer reaches the worker of the later connection to
  that address (``engine.dnsshare`` says which worker alerts on the message itself).

The group's id is chosen by the kernel (``PACKET_FANOUT_FLAG_UNIQUEID``), so two sensors on one
host never join each other's group. Must be called while the process may still open packet
sockets (before ``--user``). A kernel without ``PACKET_FANOUT`` is a ``CaptureError``.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass
from typing import Final

from poolsniff.errors import CaptureError
from poolsniff.sources.live import DNS_DROP, DNS_ONLY, RCVBUF, SOL_PACKET, LiveCapture

# linux/if_packet.h
PACKET_FANOUT: Final = 18
PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_FLAG_UNIQUEID: Final = 0x2000
PACKET_FANOUT_FLAG_DEFRAG: Final = 0x8000


@dataclass
class WorkerSockets:
    """The two sockets of one worker on one interface."""

    flows: LiveCapture
    """Member of the interface's fanout group: the worker's share of the flows (no DNS)."""
    dns: LiveCapture
    """Every DNS message of the interface (each worker has its own)."""

    def close(self) -> None:
        """Close both sockets."""
        self.flows.close()
        self.dns.close()


def open_group(name: str, bpf: str | None, jobs: int, rcvbuf: int = RCVBUF) -> list[WorkerSockets]:
    """Open ``jobs`` pairs of sockets on ``name``, each with a receive buffer of ``rcvbuf`` bytes;
    CaptureError (all closed) if any cannot be."""
    if jobs < 2:
        raise ValueError("a fanout group needs two sockets or more")
    opened: list[WorkerSockets] = []
    try:
        group: int | None = None
        for _ in range(jobs):
            flows = LiveCapture.open(name, bpf, rcvbuf, dns=DNS_DROP)
            try:
                group = join(flows, name, group)
                dns = LiveCapture.open(name, bpf, rcvbuf, dns=DNS_ONLY)
            except BaseException:
                flows.close()
                raise
            opened.append(WorkerSockets(flows, dns))
    except BaseException:
        for pair in opened:
            pair.close()
        raise
    return opened


def join(capture: LiveCapture, name: str, group: int | None) -> int:
    """Make ``capture`` a member of fanout ``group`` (None: a new one); return the group's id."""
    new = group is None
    flags = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG | (PACKET_FANOUT_FLAG_UNIQUEID if new else 0)
    sock = socket.socket(fileno=socket.dup(capture.fileno()))  # the same socket, through a second descriptor
    try:
        sock.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("I", (flags << 16) | (group or 0)))
        if group is not None:
            return group
        raw = sock.getsockopt(SOL_PACKET, PACKET_FANOUT, 4)
        found: int = struct.unpack("I", raw)[0] & 0xFFFF
        return found
    except OSError as e:
        if e.errno in (errno.ENOPROTOOPT, errno.EINVAL) and new:
            raise CaptureError(
                f"{name}: this kernel cannot spread a capture over sockets (PACKET_FANOUT with a "
                f"kernel-chosen group id needs Linux 4.4 or later: {e.strerror}); run with --jobs 1"
            ) from e
        raise CaptureError(f"{name}: a socket cannot join fanout group {group}: {e.strerror}") from e
    finally:
        sock.close()
