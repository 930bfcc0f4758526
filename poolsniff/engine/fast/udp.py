"""The UDP datagrams the prefilter deals with itself: the references of the UDP tests in ``_walk.c``.

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

The flow table reads UDP on port 53 only (``flows.DNS_PORT``); the decoder makes a UDP packet of
any other datagram and the table drops it, so the walk counts those itself (``udp_skip``). Most
DNS datagrams are queries for names no list holds, and of such a query the pipeline makes a
``DnsMessage`` that changes nothing: the name detector matches nothing, the DNS memory learns only
from answers, a DNS detection is never held (it is complete at once), and the parse counts nothing.
``dns_quiet`` finds those queries from the raw bytes, conservatively: a query (QR 0, one question,
no answers) whose name is plain labels of letters, digits, '-' and '_' (so its text is the bytes
lower-cased, whatever the parser) none of whose label suffixes is a listed name (the names as
``Blocklist.wire_names`` gives them). Anything else goes to the pipeline as before.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any, Final

from poolsniff.dissect.flows import DNS_PORT
from poolsniff.engine.decode import VLAN_TYPES
from poolsniff.model import PROTO_UDP

_IPV4: Final = 0x0800
_IPV6: Final = 0x86DD
MAX_TAGS: Final = 2
"""VLAN tags the walks look behind, for TCP and UDP (the decoder peels more; those frames go to it)."""
MAX_NAME: Final = 200
"""Longest question name (wire bytes) ``dns_quiet`` reads; longer ones go to the pipeline."""
NAME_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
"""The bytes of a label whose text is the same in every parser (no escapes, no decoding)."""
DnsForward = tuple[list[tuple[Any, ...]], int]
"""Where the split's front records DNS datagrams (``FlowTable.dns_forward``): its item list and the
item's kind (``recorder.DNS``). Given it, the walk appends a DNS datagram the decoder reads whole as the
recorder would, ``(kind, *packet)``, and counts it as a UDP datagram dealt with."""
FORWARD_LIMIT: Final = 1024
"""Items the split's front lets wait in its list before a walk stops (``forward_full``). The DNS datagrams
a walk records do not count against its budget (which counts TCP packets, for the idle sweep), so
without this a run of them (a DNS flood, a resolver's own capture) would grow the list without bound
before the front got to send it: the frame the walk stops at is fed, and the front sends its items."""


def behind_tags(buf: bytes, f: int, stop: int) -> tuple[int, int]:
    """The EtherType and the network header's place of the Ethernet frame ``buf[f:stop]`` (14 bytes or
    more), behind up to ``MAX_TAGS`` VLAN tags (``decode.VLAN_TYPES``) that the frame holds whole."""
    et = (buf[f + 12] << 8) | buf[f + 13]
    l3 = f + 14
    for _ in range(MAX_TAGS):
        if et not in VLAN_TYPES or stop - l3 < 4:
            break
        et = (buf[l3 + 2] << 8) | buf[l3 + 3]
        l3 += 4
    return et, l3


def udp_datagram(buf: bytes, f: int, stop: int) -> tuple[int, int, int, int, int] | None:
    """``(sport, dport, payload start, payload end, IP header start)`` of the UDP datagram that the
    decoder reads in the Ethernet frame ``buf[f:stop]``, or None where the walk leaves the frame to it.

    IPv4 without options or IPv6 without extension headers, behind at most ``MAX_TAGS`` VLAN tags
    (``decode.VLAN_TYPES``), not a fragment; bounded as the decoder bounds it: by the IP length, or
    by the frame where the capture cut the packet short (a snap length) or the IPv4 length is 0
    (segmentation offload), then by the UDP length where that is shorter; the UDP header whole.
    """
    if stop - f < 42:
        return None
    et, l3 = behind_tags(buf, f, stop)
    room = stop - l3
    if et == _IPV4:
        if room < 28 or buf[l3] != 0x45 or buf[l3 + 9] != 17 or ((buf[l3 + 6] << 8) | buf[l3 + 7]) & 0x1FFF:
            return None
        total = (buf[l3 + 2] << 8) | buf[l3 + 3]
        end = min(total, room) if total else room  # an IP length of 1-19 (a bad header) is under 28 too
        udp = l3 + 20
    elif et == _IPV6:
        if room < 48 or buf[l3] >> 4 != 6 or buf[l3 + 6] != 17:
            return None
        length = (buf[l3 + 4] << 8) | buf[l3 + 5]
        end = 40 + length if length and 40 + length < room else room
        udp = l3 + 40
    else:
        return None
    end += l3
    if end - udp < 8:
        return None
    length = (buf[udp + 4] << 8) | buf[udp + 5]
    if 8 <= length < end - udp:  # the UDP length trims further; 0 is a jumbogram
        end = udp + length
    return (buf[udp] << 8) | buf[udp + 1], (buf[udp + 2] << 8) | buf[udp + 3], udp + 8, end, l3


def udp_skip(
    buf: bytes,
    f: int,
    stop: int,
    dns_names: Set[bytes] | None,
    ts: int = 0,
    dns_forward: DnsForward | None = None,
) -> bool:
    """Whether the walk counts the frame as a UDP datagram it deals with: one with neither port 53
    (``udp_datagram``), which the pipeline drops; given the listed names, a DNS query ``dns_quiet`` finds
    quiet; given ``dns_forward``, any other DNS datagram, appended there (``dns_item``, time ``ts``)."""
    found = udp_datagram(buf, f, stop)
    if found is None:
        return False
    sport, dport, start, end, l3 = found
    if sport != DNS_PORT and dport != DNS_PORT:
        return True
    if dns_names is not None and dns_quiet(buf[start:end], dns_names):
        return True
    if dns_forward is None:
        return False
    items, kind = dns_forward
    items.append(dns_item(buf, l3, start, end, ts, sport, dport, kind))
    return True


def forward_full(dns_forward: DnsForward | None) -> bool:
    """Whether the split's front has ``FORWARD_LIMIT`` items waiting (``forward_full`` in _walk.c): the
    walks stop there, leaving the frame to the caller."""
    return dns_forward is not None and len(dns_forward[0]) >= FORWARD_LIMIT


def dns_item(
    buf: bytes, l3: int, start: int, end: int, ts: int, sport: int, dport: int, kind: int
) -> tuple[Any, ...]:
    """The recorder's item of the UDP datagram ``udp_datagram`` found (its IP header at ``l3``, its
    payload ``buf[start:end]``): ``(kind, ts, src, dst, 17, sport, dport, 0, 0, payload)``, the decoder's
    packet behind the kind."""
    if buf[l3] >> 4 == 4:
        src, dst = buf[l3 + 12 : l3 + 16], buf[l3 + 16 : l3 + 20]
    else:
        src, dst = buf[l3 + 8 : l3 + 24], buf[l3 + 24 : l3 + 40]
    return (kind, ts, src, dst, PROTO_UDP, sport, dport, 0, 0, buf[start:end])


def dns_quiet(message: bytes, names: Set[bytes]) -> bool:
    """Whether the DNS message is a query the pipeline makes nothing of (see the module's docstring)."""
    if len(message) < 12 or message[2] & 0x80 or message[4:8] != b"\x00\x01\x00\x00":
        return False
    labels: list[bytes] = []
    off = 12
    while True:
        if off >= len(message):
            return False
        n = message[off]
        if n == 0:
            break
        if n > 63 or off + 1 + n - 12 > MAX_NAME or off + 1 + n > len(message):
            return False
        label = message[off + 1 : off + 1 + n]
        if not NAME_BYTES.issuperset(label):
            return False
        labels.append(label.lower())
        off += 1 + n
    if not labels or off + 5 > len(message):  # the root, or no room for the type and class
        return False
    return not any(b".".join(labels[i:]) in names for i in range(len(labels)))
