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

FEED: Final = 0
SKIP_NOT_IP: Final = 3
"""Dealt with here: a frame the decoder counts as "not-ip" (it does not count towards the idle sweep)."""
SKIP_OTHER_PROTO: Final = 4
"""Dealt with here: an IP packet neither TCP nor UDP, which the decoder counts as "other-proto"."""
REASONS: Final = ("not-ip", "other-proto")
"""The decoder's reasons (``decode.REASONS``) for SKIP_NOT_IP and SKIP_OTHER_PROTO, in that order."""
Dropped = bytearray
"""Two native 64-bit counts, "not-ip" then "other-proto", as the walks add to them."""
_COUNTS: Final = struct.Struct("=qq")
_ETHERNET_IP: Final = frozenset({0x0800, 0x86DD, 0x8100, 0x88A8, 0x9100, 0x9200, 0x8864})
"""IPv4, IPv6, the decoder's VLAN tags (``decode.VLAN_TYPES``) and PPPoE's session stage: the decoder
reads on behind these."""
_IPV6_EXTENSIONS: Final = frozenset({0, 43, 60, 135, 44, 51})
"""``decode.IPV6_EXT_ALL``: next headers the decoder steps over."""
_TCP: Final = 6
_UDP: Final = 17


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
    if etype == 0x0800:
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
        if 14 + ihl > end or buf[f + 23] in (_TCP, _UDP):
            return FEED
        return SKIP_OTHER_PROTO
    if etype == 0x86DD:
        if size < 54 or buf[f + 14] >> 4 != 6:
            return FEED
        nxt = buf[f + 20]
        if nxt == _TCP or nxt == _UDP or nxt in _IPV6_EXTENSIONS:
            return FEED
        return SKIP_OTHER_PROTO
    return FEED if etype in _ETHERNET_IP else SKIP_NOT_IP


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
