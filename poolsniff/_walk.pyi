"""Type stub for the C record walk (poolsniff/_walk.c); ``poolsniff.prefilter._skip`` is its reference."""

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
    /,
) -> tuple[int, int]: ...
