"""Types of the C extension ``_flowline.c`` (an alerted flow's EVE line and id; its reference is
``poolsniff.output.eveflow``)."""

def line(
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
) -> tuple[int, str, str, str, str, str] | None: ...

def line_text(
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
) -> str | None: ...
def sha_ni(on: bool | None = None, /) -> bool: ...
def hashes(data: bytes, /) -> tuple[bytes, bytes | None]: ...
