"""Passive DNS memory: which name an address was resolved from (reference data, layer 1).

flows -> DnsMessage responses -> **DnsMemory.observe** ... FlowStart / detections -> **lookup**

Every A/AAAA answer is remembered as address -> (question name, expiry), for as long as
its TTL says (plus a short grace for clocks that differ). A later connection to that
address can then be named after the pool, even when it carries no SNI and no readable
Stratum (TLS-wrapped Stratum). The memory is bounded: past ``max_entries`` the oldest
entries go first.

Every answer of every response passes through ``observe``, so the memory is a plain dict
(cheaper per answer) until it first fills up; from then on it is an ``OrderedDict`` in the
same order, which drops its oldest entry in constant time.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, cast

from poolsniff.model import DnsMessage

MAX_ENTRIES: Final = 100_000
GRACE_US: Final = 5 * 1_000_000
MIN_TTL_S: Final = 30
"""Resolvers hand out TTL 0 or a few seconds for pools behind load balancers; keep at least this."""
TYPE_A: Final = 1
TYPE_AAAA: Final = 28


class DnsMemory:
    """Bounded address -> name memory with per-entry expiry."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """Create an empty memory holding at most ``max_entries`` addresses."""
        self.max_entries = max_entries
        self._map: dict[str, tuple[str, int]] = {}
        """Address -> (name, expiry), oldest answer first: a plain dict until the memory is full."""
        self._full = False
        """Once full, ``_map`` is an OrderedDict, which drops its oldest entry in constant time."""
        self.evicted = 0

    def __len__(self) -> int:
        """Return how many addresses are remembered."""
        return len(self._map)

    def observe(self, msg: DnsMessage) -> None:
        """Remember the addresses in a DNS response (a repeated address moves to the newest end)."""
        if not msg.is_response or not msg.answers or not msg.questions:
            return
        qname = msg.questions[0][0]
        remembered = self._map
        base = msg.ts_us + GRACE_US
        for _rrname, rrtype, rdata, ttl in msg.answers:
            if rrtype != TYPE_A and rrtype != TYPE_AAAA:
                continue
            entry = (qname, base + (ttl if ttl > MIN_TTL_S else MIN_TTL_S) * 1_000_000)
            if not self._full:
                remembered.pop(rdata, None)  # re-inserted: a plain dict keeps insertion order
                remembered[rdata] = entry
            elif rdata in remembered:
                remembered[rdata] = entry
                cast(OrderedDict[str, tuple[str, int]], remembered).move_to_end(rdata)
            else:
                remembered[rdata] = entry
        if len(remembered) > self.max_entries:
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries until the memory holds ``max_entries`` (counted)."""
        if not self._full:
            # a plain dict's oldest entry is found by a scan past the ones deleted before it;
            # an OrderedDict (same order) finds it at once
            self._map = OrderedDict(self._map)
            self._full = True
        ordered = cast(OrderedDict[str, tuple[str, int]], self._map)
        while len(ordered) > self.max_entries:
            ordered.popitem(last=False)
            self.evicted += 1

    def lookup(self, address: str, ts_us: int) -> str | None:
        """Return the name ``address`` was resolved from, if that answer is still valid."""
        hit = self._map.get(address)
        if hit is None:
            return None
        name, expiry = hit
        if ts_us > expiry:
            return None
        return name
