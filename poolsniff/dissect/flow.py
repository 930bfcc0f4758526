"""One TCP flow's state, and the prefilter's view of it (dissection layer, the flow table's records).

decode -> **flows** (``FlowTable``: a ``Flow`` per TCP flow, a ``fast`` entry per direction) -> dissectors

A ``Flow`` holds what tracking and dissection know of one flow. The prefilter (``engine.fast``) reads
the flow table's ``fast`` map, raw key of a direction -> ``Entry``, and deals with many packets itself:
it counts them in the direction's *tally* (:func:`tally`, the same bytes in C), may append segments
to a ``Forward`` list or advance a ``Lane``, and hands a SYN or a flow's end to the table's ``Hook``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol

from poolsniff.dissect.opaque import MessageShape
from poolsniff.dissect.shape import RecordShape
from poolsniff.dissect.streams import Direction
from poolsniff.model import FlowKey

Key = tuple[bytes, int, bytes, int]
"""A direction's addresses and ports as the flow table looks them up: (src, sport, dst, dport)."""
_PORTS = struct.Struct("!HH").pack
TALLY: Final = struct.Struct("=QQ")
"""A direction's tally, as the prefilter keeps it: packets and bytes, native 64-bit (``_walk.c``)."""
_UNPACK: Final = TALLY.unpack
"""``TALLY.unpack``, bound once: read at every flow's end (``Flow.totals``), where looking the method up
and unpacking an untyped tuple took 3,600 instructions a call."""


def tally(counts: bytearray, size: int) -> None:
    """Add one packet of ``size`` bytes to a direction's tally (``_walk.c`` does the same in C)."""
    packets, total = TALLY.unpack(counts)
    TALLY.pack_into(counts, 0, packets + 1, total + size)


def raw_key(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    """The bytes a packet carries for its addresses and ports: ``src + dst + sport + dport``."""
    return src + dst + _PORTS(sport, dport)


class Flow:
    """State of one TCP flow: its key and bookkeeping (tracking), its two directions (dissection)."""

    __slots__ = (
        "key", "ckey", "skey", "raw", "fid", "c", "s", "last_ts", "bypass", "fins", "sv2_done", "closed",
        "client_next", "shape", "first_ts", "counts", "tallies",
    )  # fmt: skip
    c: Direction
    s: Direction

    def __init__(
        self, key: FlowKey, ckey: Key | None, skey: Key | None, raw: tuple[bytes, bytes], fid: int
    ) -> None:
        """Create a flow; ``raw`` holds the raw keys of (client, server) packets; ``fid`` numbers it."""
        self.key = key
        self.ckey = ckey
        self.skey = skey
        self.raw = raw
        self.fid = fid
        self.last_ts = 0
        self.bypass = False
        self.fins = 0
        self.sv2_done = False
        self.closed = 0
        """Directions known to have nothing more to read: bit 1 the client's, bit 2 the server's."""
        self.client_next = -1
        """Where the client's first segment starts (its SYN's sequence number + 1) while it has sent nothing
        (-1: no SYN seen; -2: it has sent data), for the split's front (``engine.split.recorder``)."""
        self.shape: RecordShape | MessageShape | None = None
        """The TLS record shape (``dissect/shape``, from the ClientHello on) or the message shape of an
        opaque session (``dissect/opaque``, from the client's first bytes on) being read."""
        self.first_ts = 0
        self.counts = [0, 0, 0, 0]
        """Packets from the client, from the server, bytes from the client, from the server (those the
        table saw; the prefilter counts the others in ``tallies``)."""
        self.tallies = (bytearray(TALLY.size), bytearray(TALLY.size))
        """The client's and the server's direction's tally (see :func:`tally`)."""

    def totals(self) -> tuple[int, int, int, int]:
        """Packets and bytes each way, as ``FlowEnd.counts`` gives them."""
        client: tuple[int, int] = _UNPACK(self.tallies[0])
        server: tuple[int, int] = _UNPACK(self.tallies[1])
        cp, cb = client
        sp, sb = server
        c = self.counts
        return c[0] + cp, c[1] + sp, c[2] + cb, c[3] + sb


Lane = tuple[bytearray, bytearray]
"""What the prefilter needs to read a direction's TLS record headers itself: the shape's state and records."""
Items = list[tuple[Any, ...]]
Forward = tuple[Items, int, int, bool] | tuple[Items, int, int, bool, bytearray]
"""Where the prefilter puts the segments of a direction the split's front forwards as they are: the
item list, the item kind, the flow's number, whether the direction is the client's; for a server whose
ServerHello is all the back will read of it, also its ``Hello``."""
Hello = bytearray
"""A forwarded server direction's wait for its ServerHello (``engine.split.recorder``): its state
(``HELLO_OFF``, ``HELLO_DUE`` or ``HELLO_READ``), then the sequence number, 4 bytes big-endian, its
first segment starts at. Its first segment is forwarded; if it starts there and holds the whole
ServerHello (``tls.holds_server_hello``), the back reads nothing after it: the state goes to
``HELLO_READ`` and the prefilter drops the direction's later segments as a closed direction's, counted
and stamped; otherwise to ``HELLO_OFF``, and they are forwarded as any others."""
HELLO_OFF, HELLO_DUE, HELLO_READ = 0, 1, 2
"""A ``Hello``'s states."""
Entry = (
    tuple[Flow, bool, bytearray]
    | tuple[Flow, bool, bytearray, Forward]
    | tuple[Flow, bool, bytearray, int, int]
    | tuple[Flow, bool, bytearray, bytearray, bytearray, bool]
)
"""A ``FlowTable.fast`` value: the flow, whether this direction is closed, this direction's tally; for an
open direction with bytes ahead that nobody reads (``Direction.unread``), also their first sequence
number and length: the prefilter skips a segment wholly inside them; for an open direction of a TLS
session being shaped (``dissect/shape``), also the shape's state and records and whether the direction
is the client's, so the prefilter can read the record headers of its in-order segments itself
(``shape.quiet``); for an open direction of the split's front that nothing in the front reads any
more, where its segments go (``Forward``: the prefilter appends each as the item ``Recorder.data``
would make)."""


class FastMap(Protocol):
    """``FlowTable.fast``: raw key of a direction -> its ``Entry``. A dict, or where the C walks are built
    the engine's table has their ``KeyMap``, which they look up without making a key object per packet
    (``engine.fast.walk.new_fast_map``)."""

    def __getitem__(self, key: bytes, /) -> Entry: ...
    def __setitem__(self, key: bytes, value: Entry, /) -> None: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def get(self, key: bytes, /) -> Entry | None: ...
    def pop(self, key: bytes, default: None, /) -> Entry | None: ...


Unread = tuple[Flow, bool, int, int]
"""A direction's bytes ahead that nobody reads: the flow, whether it is the client's side, the first
sequence number and the length (``Dissector.unread``)."""


Hook = Callable[[Flow, bool, int], None]
"""A flow table's hook for a packet without data of a known flow, which the prefilter calls once it has
stamped and counted the packet, with the flow, whether its client sent it and its sequence number
(``on_syn``: a SYN or SYN-ACK) or its time (``on_end``: the packet that ends the flow, its last FIN or
an RST); ``FlowTable.on_syn`` and ``on_end`` say which the table has. None: the packet goes to the
table's ``process``."""
