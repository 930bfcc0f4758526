"""The dissect stage's shared contract: how a dissector says "not yet".

flows -> per-direction bytes -> **dissectors** (http, tls, ...) -> events -> detectors

A dissector of a message that may span segments answers with the message, ``NEED_MORE`` (call
again when more bytes have arrived) or ``None`` (not this protocol, or malformed: stop looking).
``NEED_MORE`` is one value of a one-member enum so that type checkers can tell it apart
(``Literal[Incomplete.NEED_MORE]``).
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class Incomplete(Enum):
    """The marker type of ``NEED_MORE``."""

    NEED_MORE = "need_more"


NEED_MORE: Final = Incomplete.NEED_MORE
"""Returned while the buffer holds a plausible but unfinished message."""
