"""Types of the C extension ``_httphead.c`` (an HTTP/1.x head parsed; its reference is
``poolsniff.dissect.http.parse_head_py``)."""

from typing import Any

def parse_head(buf: bytes, /) -> Any: ...
def setup(head_type: type, need_more: object, /) -> None: ...
