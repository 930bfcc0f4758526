"""The flow table's ``fast`` map in C (``KeyMap``, ``engine/fast/_keymap.h``) against a dict.

Every operation the flow table and the split make on their ``fast`` map is drawn at random and made on a
``KeyMap`` and on a dict; the two must answer the same and hold the same. The walks' own differential
tests (``test_walk.py``) look frames up in a ``KeyMap`` as well as in a dict.
"""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    from poolsniff.engine.fast._walk import KeyMap
except ImportError:  # not built here (no compiler)
    KeyMap = None

pytestmark = pytest.mark.skipif(KeyMap is None, reason="the C walk (engine/fast/_walk.c) is not built here")

KEYS = st.one_of(
    st.sampled_from([b"", b"a", b"ab", b"\x00" * 12, b"\x00" * 36, b"\x01" * 12]),
    st.binary(min_size=12, max_size=12),  # IPv4 addresses and ports
    st.binary(min_size=36, max_size=36),  # IPv6
    st.binary(max_size=40),
)
OPS = st.lists(
    st.tuples(st.sampled_from(["set", "get", "get_default", "pop", "pop_missing", "del", "in", "[]"]), KEYS),
    max_size=300,
)


def apply(table: Any, op: str, key: bytes, value: object) -> object:
    """One operation on a map; its answer, or the type of the exception it raised."""
    try:
        if op == "set":
            table[key] = value
            return None
        if op == "get":
            return table.get(key)
        if op == "get_default":
            return table.get(key, "default")
        if op == "pop":
            return table.pop(key, None)
        if op == "pop_missing":
            return table.pop(key)
        if op == "del":
            del table[key]
            return None
        if op == "in":
            return key in table
        return table[key]
    except KeyError as e:
        return ("KeyError", e.args)


@settings(max_examples=400, deadline=None)
@given(ops=OPS, start=st.dictionaries(KEYS, st.integers(), max_size=20))
def test_a_keymap_answers_and_holds_what_a_dict_does(
    ops: list[tuple[str, bytes]], start: dict[bytes, int]
) -> None:
    model = dict(start)
    table = KeyMap(start)
    for n, (op, key) in enumerate(ops):
        value = (n, key)
        assert apply(table, op, key, value) == apply(model, op, key, value), (op, key)
        assert len(table) == len(model)
    assert sorted(table) == sorted(table.keys()) == sorted(model)
    assert sorted(table.items(), key=repr) == sorted(model.items(), key=repr)
    assert sorted(table.values(), key=repr) == sorted(model.values(), key=repr)
    assert all(table[k] is model[k] for k in model)
    assert bool(table) == bool(model)


def test_a_keymap_grows_and_reuses_deleted_slots_without_losing_a_key() -> None:
    """Many keys in, most out, more in: the map resizes past its deleted slots (a flow table's life)."""
    table = KeyMap()
    model: dict[bytes, int] = {}
    for round_ in range(6):
        for i in range(5000):
            key = round_.to_bytes(2, "big") + i.to_bytes(10, "big")
            table[key] = model[key] = i
        for key in list(model)[: len(model) * 9 // 10]:
            assert table.pop(key, None) == model.pop(key)
        assert len(table) == len(model)
    assert all(table[k] == v for k, v in model.items())
    assert sorted(table) == sorted(model)


def test_keys_that_are_not_bytes_are_in_no_keymap() -> None:
    table = KeyMap({b"k": 1})
    for key in ("k", bytearray(b"k"), memoryview(b"k"), 1, None):
        assert key not in table
        assert table.get(key) is None and table.get(key, 2) == 2
        assert table.pop(key, 3) == 3
        with pytest.raises(TypeError, match="KeyMap keys are bytes"):
            table[key] = 1
        with pytest.raises(TypeError, match="KeyMap keys are bytes"):
            table[key]
    with pytest.raises(TypeError):
        KeyMap({"k": 1})
    with pytest.raises(TypeError):
        KeyMap([(b"k", 1)])
    with pytest.raises(TypeError):
        table.get()
    with pytest.raises(TypeError):
        table.pop(b"k", 1, 2)
    assert len(table) == 1 and table[b"k"] == 1


class Held:
    """A value whose release the test can see."""

    map: Any = None


def test_a_keymap_lets_go_of_its_values_and_is_collected_in_a_cycle() -> None:
    table = KeyMap()
    values = [Held() for _ in range(4)]
    refs = [weakref.ref(v) for v in values]
    for i, value in enumerate(values):
        table[bytes([i])] = value
    table[b"\x00"] = "replaced"
    del table[b"\x01"]
    table.pop(b"\x02")
    del values, value
    gc.collect()
    assert [r() is None for r in refs] == [True, True, True, False]
    key = b"\x03" * 36
    before = sys.getrefcount(key)
    table[key] = table
    assert sys.getrefcount(key) == before + 1
    held = refs[3]()
    assert held is not None
    held.map = table  # a cycle through the map, as a flow's entry may make
    probe = weakref.ref(held)
    del table, held
    gc.collect()
    assert probe() is None and refs[3]() is None


def test_the_engines_flow_tables_have_the_map_of_the_walks_in_use() -> None:
    """The pipeline's table (and so the split's front, a pipeline) is made with ``walk.new_fast_map``: a
    ``KeyMap`` where the C walks run, so the prefilter makes no key object per packet there."""
    from poolsniff.engine.fast import walk
    from poolsniff.engine.pipeline import Pipeline
    from poolsniff.intel.lists import load_shipped

    assert walk.ACCELERATED  # the C walks are built wherever KeyMap is (the same extension)
    assert type(Pipeline(load_shipped()).flows.fast) is KeyMap
    assert type(walk.new_fast_map()) is KeyMap
