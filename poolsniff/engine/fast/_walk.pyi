"""Type stub for the C record walks (``_walk.c`` here); ``walk.py`` beside it holds their references."""

from collections.abc import Set as AbstractSet
from typing import Any

def skip(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    frac_div: int,
    limit: int,
    fast: dict[bytes, tuple[Any, bool]],
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
    fast: dict[bytes, tuple[Any, bool]],
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
    fast: dict[bytes, tuple[Any, bool]],
    budget: int,
    next_check: int,
    packet_type: type,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int, tuple[int, int, Any] | None]: ...
def fast_lane(packet_type: type, ts: int, frame: bytes, /) -> Any: ...
def step_ng(
    buf: bytes,
    pos: int,
    end: int,
    big_endian: bool,
    ifaces: list[tuple[int, int, int, int, int]],
    fast: dict[bytes, tuple[Any, bool]],
    budget: int,
    next_check: int,
    last_ts: int,
    packet_type: type,
    dns_names: AbstractSet[bytes] | None = None,
    /,
) -> tuple[int, int, int, int, int, tuple[int, int, Any] | None]: ...
def decide(
    fast: dict[bytes, Any], frame: bytes, ts: int, dns_names: AbstractSet[bytes] | None = None, /
) -> int: ...
def shape_quiet(
    state: bytearray, records: bytearray, from_client: bool, ts: int, seq: int, payload: bytes, /
) -> bool: ...
