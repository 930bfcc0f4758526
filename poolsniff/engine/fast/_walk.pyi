"""Type stub for the C record walks (``_walk.c`` here); ``walk.py`` beside it holds their references."""

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

class KeyMap:
    """The flow table's ``fast`` map in C (``_keymap.h``): bytes keys, looked up by the walks in place."""

    def __init__(self, items: dict[bytes, Any] = ..., /) -> None: ...
    def __getitem__(self, key: bytes, /) -> Any: ...
    def __setitem__(self, key: bytes, value: Any, /) -> None: ...
    def __delitem__(self, key: bytes, /) -> None: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def get(self, key: bytes, default: Any = None, /) -> Any: ...
    def pop(self, key: bytes, default: Any = ..., /) -> Any: ...
    def keys(self) -> list[bytes]: ...
    def values(self) -> list[Any]: ...
    def items(self) -> list[tuple[bytes, Any]]: ...

def skip(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    frac_div: int,
    limit: int,
    fast: dict[bytes, Any] | KeyMap,
    budget: int,
    next_check: int,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int]: ...
def skip_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[tuple[int, int, int, int, int]],
    fast: dict[bytes, Any] | KeyMap,
    budget: int,
    next_check: int,
    last_ts: int,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int, int, int]: ...
def step(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    frac_div: int,
    limit: int,
    fast: dict[bytes, Any] | KeyMap,
    budget: int,
    next_check: int,
    packet_type: type,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int, tuple[int, int, int, Any] | None]: ...
def fast_lane(packet_type: type, ts: int, frame: bytes, /) -> Any: ...
def step_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[tuple[int, int, int, int, int]],
    fast: dict[bytes, Any] | KeyMap,
    budget: int,
    next_check: int,
    last_ts: int,
    packet_type: type,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int, int, int, tuple[int, int, int, Any] | None]: ...
def decide(
    fast: dict[bytes, Any] | KeyMap, frame: bytes, ts: int, dns_names: AbstractSet[bytes] | None = None, /
) -> int: ...
def shape_quiet(
    state: bytearray, records: bytearray, from_client: bool, ts: int, seq: int, payload: bytes, /
) -> bool: ...
def web_hello(payload: bytes, /) -> bool: ...
