"""Types of the C extension ``_flowline.c`` (an alerted flow's EVE line and id; its reference is
``poolsniff.output.eveflow``)."""

from typing import Protocol, TypeVar

_T_co = TypeVar("_T_co", covariant=True)

class _FromFlow(Protocol[_T_co]):
    """What ``line`` and ``line_text`` take (the same arguments, read in C)."""

    def __call__(
        self,
        client_ip: str,
        client_port: int,
        server_ip: str,
        server_port: int,
        proto: int,
        proto_name: str,
        start_us: int,
        end_us: int,
        pkts_c: int,
        pkts_s: int,
        bytes_c: int,
        bytes_s: int,
        closed: bool,
        reason: str,
        app_proto: str,
        flowbits: tuple[str, ...],
        source: str,
        live: bool,
        /,
    ) -> _T_co: ...

line: _FromFlow[tuple[int, str, str, str, str, str] | None]
"""``(flow_id, community_id, start, end, event_id, line)``, or None for what only the Python way writes."""
line_text: _FromFlow[str | None]
"""The line of ``line`` alone."""

def hashes(data: bytes, /) -> tuple[bytes, bytes | None]: ...
def sha_ni(on: bool | None = None, /) -> bool: ...
