"""The detect stage's protocols: what a detector is, and what it may ask of the stages around it.

flows/dissectors -> Event -> **Detector.inspect** -> Detection -> enrichment

The pipeline (``engine/pipeline.py``) holds detectors only through :class:`Detector`; the name
detector asks a DNS memory (``enrich/dnsmemory.py`` implements it) through :class:`AddressNames`,
so no detector imports a stage above it.
"""

from __future__ import annotations

from typing import Protocol

from poolsniff.model import Detection, Event


class Detector(Protocol):
    """A detector turns events into detections; it never does I/O."""

    name: str
    events: tuple[type[Event], ...]
    """The event types it inspects: the pipeline hands it no others."""

    def inspect(self, event: Event) -> list[Detection]:
        """The detections ``event`` raises (a list, usually empty: the pipeline calls this for every
        event a detector takes, and a generator would cost two objects and two calls each time)."""


class AddressNames(Protocol):
    """Which name an address was resolved from (passive DNS)."""

    def lookup(self, address: str, ts_us: int) -> str | None:
        """The name ``address`` was resolved from, if that answer is still valid at ``ts_us``."""
