"""The cyclic garbage collector, tuned for a scan or a capture (composition layer).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks, all in this process's
memory, which ``settle`` tunes before the first packet

Every stage makes containers per packet and per flow (packets, events, items for the split's back,
records) and keeps many of them for a while (a flow, its directions, a held alert), but none of them
in reference cycles: the collections that run during a scan find nothing to free (the pipeline itself
is one cycle, through its bound methods, freed after its scan). With CPython's default (look at the
youngest generation every 700 net allocations) that fruitless search cost 0.41 s of the split front's
and 0.33 s of its back's CPU time (6-7 %) on the real mix joined ten times; collecting every ``YOUNG``
net allocations it costs 0.04 s and 0.03 s. A cycle that does arise is still collected, after at most
``YOUNG`` more allocations, so memory stays bounded.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG: Final = 50_000
"""Net allocations of tracked objects between two collections of the youngest generation (CPython: 700)."""


def settle() -> None:
    """Collect the youngest generation every ``YOUNG`` net allocations; the older generations as before.

    Called once start-up is over, before any worker process is forked (they inherit it)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
