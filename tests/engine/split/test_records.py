"""engine.split.records: what the back releases crosses the pipe as plain tuples and comes back the same."""

from __future__ import annotations

import marshal
from dataclasses import replace
from typing import Any

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.engine.split.records import flat, rebuilt
from poolsniff.intel.lists import Blocklist
from poolsniff.model import Alert, Detection, FlowEnd, FlowKey, FlowSummary, Released, Role, Signature
from poolsniff.run import scan as scanning
from poolsniff.run.scan import scan_file
from poolsniff.sources.pcap import expand_paths
from tests import factories_mixes as mixes

from ...conftest import PCAPS

DEMO = expand_paths([str(PCAPS)])


def releases(path: str, lists: Blocklist, jobs: int = 1) -> list[Released]:
    """What a scan of ``path`` releases, in order (what its records are made of)."""
    found: list[Released] = []

    def keep(alert: Alert) -> dict[str, Any]:
        found.append(alert.detection)
        return {}

    scan_file(path, lists, emit=lambda record: None, to_record=keep, jobs=jobs)
    return found


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A generated mix with plenty of mining."""
    return str(mixes.mix(tmp_path_factory.mktemp("mix") / "mix.pcap", 10_000, seed=7, mining_every=500))


@pytest.fixture(scope="module")
def released(mix: str, lists: Blocklist) -> list[Released]:
    """What one process releases over the demo captures and the mix."""
    return [r for path in [*DEMO, mix] for r in releases(path, lists)]


def test_every_kind_is_there(released: list[Released]) -> None:
    assert {type(r) for r in released} == {Detection, FlowSummary}
    assert {r.role for r in released if isinstance(r, Detection)} >= {Role.MINER, Role.POOL, Role.CLIENT}


def test_rebuilt_gives_back_what_flat_was_given(released: list[Released]) -> None:
    """Through ``marshal``, as the back's answers cross the pipe (``marshal`` refuses anything but plain
    data: a ``ValueError`` here is a record the channel would have to pickle)."""
    for r in released:
        back = rebuilt(marshal.loads(marshal.dumps(flat(r), 4)))
        assert back == r
        assert type(back) is type(r)
        if isinstance(back, Detection):
            assert isinstance(r, Detection)
            assert type(back.flow) is FlowKey and type(back.role) is Role
            assert back.signature == r.signature and type(back.signature) is type(r.signature)
        else:
            assert isinstance(back, FlowSummary)
            assert type(back.end) is FlowEnd and type(back.end.flow) is FlowKey
            assert all(type(role) is Role for role in back.roles)


def test_a_signature_crosses_as_its_id_or_its_fields(released: list[Released]) -> None:
    """A catalogue signature crosses as its id and comes back as the catalogue's own object; one the
    catalogue does not hold (made elsewhere) crosses as its fields and comes back equal."""
    found = [r for r in released if isinstance(r, Detection)]
    assert found
    for r in found:
        values = flat(r)
        assert values[2] == r.signature.sid
        back = rebuilt(marshal.loads(marshal.dumps(values, 4)))
        assert isinstance(back, Detection) and back.signature is sigs.BY_SID[r.signature.sid]
    odd = replace(found[0], signature=Signature(1, "made elsewhere", 3, "tls", True))
    back = rebuilt(marshal.loads(marshal.dumps(flat(odd), 4)))
    assert back == odd and back.signature == odd.signature


def test_flat_holds_plain_values_only(released: list[Released]) -> None:
    """No FlowKey, role or event object crosses the pipe (their pickling costs Python calls each)."""
    for r in released:
        values = flat(r)
        assert type(values) is tuple
        for value in values:
            assert type(value) not in (FlowKey, Role, FlowEnd), value
            if type(value) is tuple:
                assert all(type(v) is not Role for v in value)


def test_a_scan_over_two_processes_releases_as_one(
    mix: str, lists: Blocklist, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split's front makes its records of the rebuilt detections: the same, in the same order."""
    one = releases(mix, lists)
    monkeypatch.setattr(scanning, "SPLIT_MIN_BYTES", 0)
    assert one and releases(mix, lists, jobs=2) == one


def test_the_fields_crossing_are_the_models() -> None:
    """``flat`` and ``rebuilt`` name the fields they carry: a field the model gains must be carried too."""
    from dataclasses import fields

    from poolsniff.engine.split import records

    assert records.DETECTION_FIELDS == tuple(f.name for f in fields(Detection))
    assert records.END_FIELDS == tuple(f.name for f in fields(FlowEnd))
