"""poolsniff.detect.interface: the detectors and the DNS memory fit the protocols the stage declares."""

from __future__ import annotations

import inspect

from poolsniff.detect.interface import AddressNames, Detector
from poolsniff.engine.pipeline import build_detectors
from poolsniff.enrich.dnsmemory import DnsMemory
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Event


def test_every_built_detector_is_a_detector() -> None:
    detectors: list[Detector] = build_detectors(Blocklist(), DnsMemory())
    assert {d.name for d in detectors} == {"stratum", "protocol", "names", "behaviour"}
    for detector in detectors:
        assert isinstance(detector.name, str) and detector.name
        assert detector.events and all(issubclass(kind, Event) for kind in detector.events)
        assert list(inspect.signature(detector.inspect).parameters) == ["event"]


def test_dns_memory_answers_as_address_names() -> None:
    memory: AddressNames = DnsMemory()
    assert memory.lookup("192.0.2.1", 0) is None
    wanted = list(inspect.signature(AddressNames.lookup).parameters)
    assert list(inspect.signature(DnsMemory.lookup).parameters) == wanted
