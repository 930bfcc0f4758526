"""The records that flow through the pipeline behave as plain values."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from poolsniff import model
from poolsniff.detect import signatures as sigs
from poolsniff.model import Detection, FlowKey, FlowStart, Packet, Role

RECORDS = {c for c in vars(model).values() if dataclasses.is_dataclass(c) and c.__module__ == model.__name__}
"""Every dataclass the model defines."""

VALUE_RECORDS = sorted(RECORDS - {Detection}, key=lambda c: c.__name__)
"""All but ``Detection``, which enrichment adds to."""


def test_flow_key_is_hashable_and_ordered_from_the_client() -> None:
    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    assert {key: 1}[FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)] == 1
    assert key.client_port == 50000 and key.server_port == 3333


def test_events_are_read_only_to_the_type_checker(tmp_path: Path) -> None:
    """Events, alerts and flow summaries are frozen dataclasses to mypy: an assignment to a field is an
    error (not at run time, where the model's ``__init__``s set them: ``model.VALUE_RECORDS``)."""
    pytest.importorskip("mypy", reason="mypy (the lint extra) is not installed")
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from poolsniff.model import Alert, FlowEnd, FlowKey, FlowSummary, JsonMessage\n"
        "ev = JsonMessage(1, FlowKey('a', 1, 'b', 2, 6), True, {'id': 1})\n"
        "print(ev.from_client)\n"
        "ev.from_client = False\n"
        "summary = FlowSummary(FlowEnd(1, ev.flow, True), (), True)\n"
        "summary.app_proto = 'x'\n"
        "alert = Alert(summary, 'x.pcap')\n"
        "alert.live = True\n"
    )
    # in a process of its own: mypy raises the interpreter's recursion limit for good
    command = [sys.executable, "-m", "mypy", str(probe), "--cache-dir", str(tmp_path / "cache")]
    run = subprocess.run([*command, "--no-error-summary"], capture_output=True, text=True, check=False)
    out, status = run.stdout, run.returncode
    assert status == 1 and out.count("error:") == 3 and out.count("read-only") == 3, out
    assert all(f"probe.py:{line}:" in out for line in (4, 6, 8)), out


def test_events_keep_the_equality_and_hash_of_their_fields() -> None:
    key = FlowKey("a", 1, "b", 2, 6)
    one, two = FlowStart(1, key, True), FlowStart(1, key, True)
    assert one == two and hash(one) == hash(two) and one != FlowStart(2, key, True)


def test_detection_collects_evidence_without_sharing_state() -> None:
    key = FlowKey("a", 1, "b", 2, 6)
    one = Detection(1, key, sigs.DNS_POOL, Role.CLIENT, True)
    two = Detection(1, key, sigs.DNS_POOL, Role.CLIENT, True)
    one.evidence["x"] = "y"
    one.names.append("n")
    assert two.evidence == {} and two.names == []


def test_packet_fields() -> None:
    p = Packet(5, b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", 6, 1, 2, 0x18, 100, b"{}")
    assert (p.proto, p.sport, p.dport, p.payload) == (6, 1, 2, b"{}")


def test_a_detection_is_made_as_the_dataclass_made_it() -> None:
    """``Detection`` writes its ``__init__`` out (compiled with the model, where the generated one ran
    interpreted): the same fields in the same order, by position or by name, a fresh empty default each,
    the dataclass's equality and ``replace``."""
    import dataclasses

    key = FlowKey("192.0.2.1", 50000, "198.51.100.1", 3333, 6)
    sig = next(iter(sigs.MINER.values()))
    names = [f.name for f in dataclasses.fields(Detection)]
    assert names == "ts_us flow signature role miner_is_client evidence names app hits".split()
    a, b = Detection(1, key, sig, Role.MINER, True), Detection(1, key, sig, Role.MINER, True)
    assert a == b and (a.evidence, a.names, a.app, a.hits) == ({}, [], {}, [])
    a.evidence["x"] = "1"
    a.names.append("pool.example")
    assert b.evidence == {} and b.names == [] and a != b
    full = Detection(
        ts_us=2, flow=key, signature=sig, role=Role.POOL, miner_is_client=False,
        evidence={"e": "1"}, names=["n"], app={"app_proto": "stratum"}, hits=[{"blocklist": "x"}],
    )  # fmt: skip
    assert [getattr(full, n) for n in names] == [
        2, key, sig, Role.POOL, False, {"e": "1"}, ["n"], {"app_proto": "stratum"}, [{"blocklist": "x"}]
    ]
    assert dataclasses.replace(full, ts_us=3).hits == [{"blocklist": "x"}]
    with pytest.raises(TypeError):
        Detection(1, key, sig)  # type: ignore[call-arg]


def test_the_model_defines_its_records() -> None:
    names = {cls.__name__ for cls in VALUE_RECORDS}
    assert {"Event", "FlowStart", "FlowEnd", "DnsMessage", "JsonMessage", "Signature", "Alert"} <= names
    assert len(names) == 15 and Detection in RECORDS and set(model.VALUE_RECORDS) == set(VALUE_RECORDS)


def _sample(hint: Any, n: int) -> Any:
    """A value of type ``hint``, told apart by ``n`` where the type allows."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return n % 2 == 0
    if hint is int or hint is Any:
        return 1000 + n
    if hint is str:
        return f"s{n}"
    if hint is bytes:
        return b"b%d" % n
    if hint is FlowKey:
        return FlowKey("192.0.2.1", n, "198.51.100.1", 3333, 6)
    if hint is model.Role:
        return model.Role.POOL
    if origin is tuple:
        return () if ... in args else tuple(_sample(a, n) for a in args)
    if origin is Mapping:
        return {"k": f"v{n}"}
    if args:  # a union: its first member
        return _sample(args[0], n)
    return _make(hint, n)


def _make(cls: type, n: int) -> Any:
    hints = typing.get_type_hints(cls, vars(model))
    return cls(*(_sample(hints[f.name], n + i) for i, f in enumerate(dataclasses.fields(cls))))


@pytest.mark.parametrize("cls", VALUE_RECORDS, ids=lambda cls: cls.__name__)
def test_every_value_record_is_frozen_and_made_as_generated(cls: type) -> None:
    """Each writes its ``__init__`` out (``model``: compiled, where the generated one was interpreted):
    it takes the fields in order, by position or by name, with the fields' defaults; the dataclass's
    equality, hash and ``replace`` hold; it is frozen to mypy (``test_events_are_read_only_to_the_...``)."""
    if not model.__file__.endswith(".py"):  # POOLSNIFF_TEST_COMPILED: its annotations are all ``type``
        pytest.skip("the compiled model keeps no annotations to make values of; checked as Python")
    fields = dataclasses.fields(cls)
    hints = typing.get_type_hints(cls, vars(model))
    values = [_sample(hints[f.name], i) for i, f in enumerate(fields)]
    made = cls(*values)
    assert [getattr(made, f.name) for f in fields] == values
    assert cls(**{f.name: v for f, v in zip(fields, values, strict=True)}) == made
    assert dataclasses.replace(made) == made
    holds_dict = (isinstance(v, dict | Detection) or hasattr(v, "headers") for v in values)
    if not any(holds_dict):  # else unhashable, as the generated one's
        assert hash(cls(*values)) == hash(made)
    assert cls.__dataclass_params__.frozen and cls in model.VALUE_RECORDS  # type: ignore[attr-defined]
    missing = dataclasses.MISSING
    required = [f for f in fields if f.default is missing and f.default_factory is missing]
    bare = cls(*values[: len(required)])
    for f in fields[len(required) :]:
        expected = f.default if f.default_factory is missing else f.default_factory()
        assert getattr(bare, f.name) == expected, f.name
    with pytest.raises(TypeError):
        cls(*values, values[0])
    if required:
        with pytest.raises(TypeError):
            cls(*values[: len(required) - 1])


def test_where_the_model_is_compiled_so_are_its_records_inits() -> None:
    # in a program of its own (this process runs the sources)
    probe = (
        "import dataclasses, poolsniff.model as m\n"
        "records = {c for c in vars(m).values() if dataclasses.is_dataclass(c)}\n"
        "print(m.__file__.endswith('.py'), len(records), *{hasattr(c.__init__, '__code__') for c in records})"
    )
    env = {k: v for k, v in os.environ.items() if k != "POOLSNIFF_PURE"}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    source, count, interpreted = run.stdout.split()
    assert interpreted == source and int(count) == len(RECORDS), run.stdout
