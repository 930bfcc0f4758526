"""Passive DNS memory: which name an address was resolved from (reference data, layer 1).

flows -> DnsMessage responses -> **DnsMemory.observe** ... FlowStart / detections -> **lookup**

Every A/AAAA answer is remembered as address -> (question name, expiry), for as long as
its TTL says (plus a short grace for clocks that differ). A later connection to that
address can then be named after the pool, even when it carries no SNI and no readable
Stratum (TLS-wrapped Stratum). The memory is bounded: past ``max_entries`` the oldest
entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from poolsniff.model import DnsMessage

MAX_ENTRIES: Final = 100_000
GRACE_US: Final = 5 * 1_000_000
MIN_TTL_S: Final = 30
"""Resolvers hand out TTL 0 or a few seconds for pools behind load balancers; keep at least this."""
_ADDRESS_TYPES: Final = (1, 28)


class DnsMemory:
    """Bounded address -> name memory with per-entry expiry."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """Create an empty memory holding at most ``max_entries`` addresses."""
        self.max_entries = max_entries
        self._map: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        """Return how many addresses are remembered."""
        return len(self._map)

    def observe(self, msg: DnsMessage) -> None:
        """Remember the addresses in a DNS response."""
        if not msg.is_response or not msg.answers or not msg.questions:
            return
        qname = msg.questions[0][0]
        for _rrname, rrtype, rdata, ttl in msg.answers:
            if rrtype not in _ADDRESS_TYPES:
                continue
            expiry = msg.ts_us + max(ttl, MIN_TTL_S) * 1_000_000 + GRACE_US
            self._map[rdata] = (qname, expiry)
            self._map.move_to_end(rdata)
        while len(self._map) > self.max_entries:
            self._map.popitem(last=False)
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
