"""Frames the decoder only counts, told apart by the walk (prefilter stage; the C walk's reference).

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Real links carry frames that are not IP at all (ARP, STP, LLDP, Ethernet flow control) and IP
packets that are neither TCP nor UDP (ICMP, ICMPv6, IGMP, PIM): on the real mix, 1,230 of every
119,000 frames. The decoder makes nothing of them but a count by reason ("not-ip", "other-proto"), yet
each stopped the C walk and went through the prefilter's loop and the decoder in Python. ``dropped``
says, for an Ethernet frame, SKIP_NOT_IP or SKIP_OTHER_PROTO where the decoder would count it so at
once, and FEED for anything else (a VLAN tag, PPPoE, an IPv6 extension header, a fragment, a header
cut short or unsound: the decoder decides those). The walks count such a frame in a ``Dropped``
buffer (two native 64-bit counts, one per reason) that ``take`` hands to the decoder's counter, so the
counts stay those of the decoder. ``poolsniff.engine.fast._walk`` does the same in C.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Final

from poolsniff.engine.decode import ETH_IPV4, ETH_IPV6, ETH_PPPOE, IPV6_EXT_ALL, VLAN_TYPES
from poolsniff.model import PROTO_TCP, PROTO_UDP

FEED: Final = 0
"""The walks' kind of a frame they leave to the pipeline (``walk.FEED``, which is this one)."""
SKIP_NOT_IP: Final = 3
"""Dealt with here: a frame the decoder counts as "not-ip" (it does not count towards the idle sweep)."""
SKIP_OTHER_PROTO: Final = 4
"""Dealt with here: an IP packet neither TCP nor UDP, which the decoder counts as "other-proto"."""
REASONS: Final = ("not-ip", "other-proto")
"""The decoder's reasons (``decode.REASONS``) for SKIP_NOT_IP and SKIP_OTHER_PROTO, in that order."""
Dropped = bytearray
"""Two native 64-bit counts, "not-ip" then "other-proto", as the walks add to them."""
_COUNTS: Final = struct.Struct("=qq")
_READ_ON: Final = VLAN_TYPES | {ETH_IPV4, ETH_IPV6, ETH_PPPOE}
"""EtherTypes the decoder reads on behind: IP, its VLAN tags, PPPoE's session stage."""


def new_dropped() -> Dropped:
    """A fresh buffer of counts, both zero."""
    return bytearray(_COUNTS.size)


def dropped(buf: bytes, f: int, stop: int) -> int:
    """SKIP_NOT_IP or SKIP_OTHER_PROTO for the Ethernet frame ``buf[f:stop]`` if the decoder counts it so
    without reading further, else FEED."""
    size = stop - f
    if size < 14:
        return FEED
    etype = (buf[f + 12] << 8) | buf[f + 13]
    if etype == ETH_IPV4:
        if size < 34 or buf[f + 14] >> 4 != 4:
            return FEED
        ihl = (buf[f + 14] & 0x0F) << 2
        if ihl < 20 or ((buf[f + 20] << 8) | buf[f + 21]) & 0x1FFF:
            return FEED
        total = (buf[f + 16] << 8) | buf[f + 17]
        if total >= ihl:
            end = 14 + total if 14 + total < size else size
        elif total == 0:  # segmentation offload: the capture holds the real length
            end = size
        else:
            return FEED
        if 14 + ihl > end or buf[f + 23] == PROTO_TCP or buf[f + 23] == PROTO_UDP:
            return FEED
        return SKIP_OTHER_PROTO
    if etype == ETH_IPV6:
        if size < 54 or buf[f + 14] >> 4 != 6:
            return FEED
        nxt = buf[f + 20]
        if nxt == PROTO_TCP or nxt == PROTO_UDP or nxt in IPV6_EXT_ALL:
            return FEED
        return SKIP_OTHER_PROTO
    return FEED if etype in _READ_ON else SKIP_NOT_IP


def taken(kind: int, counts: Dropped | None) -> bool:
    """Whether a walk steps over a frame ``decide`` gave ``kind``: anything but FEED, a frame the decoder
    only counts given ``counts`` (where it is counted); ``counted`` in ``_walk.c`` is the same."""
    if kind == FEED:
        return False
    if kind >= SKIP_NOT_IP:
        if counts is None:
            return False
        count(counts, kind)
    return True


def count(counts: Dropped, kind: int) -> None:
    """Add one frame of ``kind`` (SKIP_NOT_IP or SKIP_OTHER_PROTO) to ``counts``."""
    values = list(_COUNTS.unpack(counts))
    values[kind - SKIP_NOT_IP] += 1
    _COUNTS.pack_into(counts, 0, *values)


def take(counts: Dropped, skipped: Counter[str]) -> None:
    """Add ``counts`` to the decoder's ``skipped`` (reasons with none are not added) and zero them."""
    for reason, n in zip(REASONS, _COUNTS.unpack(counts), strict=True):
        if n:
            skipped[reason] += n
    _COUNTS.pack_into(counts, 0, 0, 0)
