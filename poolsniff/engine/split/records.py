"""The back's released detections as plain tuples for the pipe, and back (engine, the split).

dissectors -> detectors -> enrichment (back) **=> flat tuples =>** EVE records (front)

The back of a two-process scan sends every ``Detection`` and ``FlowSummary`` it releases to the
front, which makes their EVE records. Pickled as they are, each costs Python calls on both sides
(a slotted dataclass's ``__getstate__``/``__setstate__``, which list the class's fields every time;
a ``FlowKey``'s ``__getnewargs__`` and ``__new__``; an enum member's ``__reduce_ex__`` and lookup):
on the mining part of the real mix, 71,000 records took 0.30 s to pickle and 0.29 s to load. As
tuples of plain values (the key a plain tuple, a role its number) they took 0.13 s and 0.20 s, rebuilt.
The ``Signature`` goes as its id (the front takes the same one from the catalogue, ``signatures.BY_SID``;
one not in it goes as the tuple of its fields), so that a record is nothing but numbers, strings,
tuples, lists and dicts, which ``marshal`` writes (``channel``: cheaper than pickle both ways, 9.5 % of
the back's instructions on the real mix were pickle's and ``flat``'s). ``flat`` and ``rebuilt`` are
exact inverses (a test says so field by field).
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any, Final

from poolsniff.detect.signatures import BY_SID
from poolsniff.model import Detection, FlowEnd, FlowKey, FlowSummary, Released, Role, Signature

Flat = tuple[Any, ...]
_new = tuple.__new__
_SIGNATURE: Final = attrgetter(*(f.name for f in fields(Signature)))
"""A signature's fields in order: sid, msg, severity, app_proto, probe (one not in the catalogue)."""
_ROLES: Final = {int(role): role for role in Role}
DETECTION_FIELDS: Final = (
    "ts_us", "flow", "signature", "role", "miner_is_client", "evidence", "names", "app", "hits",
)  # fmt: skip
END_FIELDS: Final = ("ts_us", "flow", "from_client", "start_us", "counts", "reason", "closed")
"""The fields of a ``Detection`` and of a ``FlowEnd`` in the order ``flat`` writes them and ``rebuilt``
reads them, each by its name (compiled, an attribute read by name is a load; a getter of all the fields
and a starred unpacking were two calls and a list: 6,200 instructions a detection). A test holds these
to the model's fields: one added there must be added here."""


def flat(released: Released) -> Flat:
    """``released`` as a tuple of plain values: a detection's fields, or a summary's roles, its other two
    fields and its end's fields (told apart by the first value: a number, or the roles' tuple)."""
    if type(released) is Detection:
        d = released
        signature = d.signature
        sid = signature.sid
        sent = sid if BY_SID.get(sid) is signature else _SIGNATURE(signature)
        return (
            d.ts_us, tuple(d.flow), sent, int(d.role), d.miner_is_client, d.evidence, d.names, d.app, d.hits,
        )  # fmt: skip
    assert isinstance(released, FlowSummary)
    end = released.end
    roles = tuple([int(role) for role in released.roles])
    return (
        roles, released.miner_is_client, released.app_proto,
        end.ts_us, tuple(end.flow), end.from_client, end.start_us, end.counts, end.reason, end.closed,
    )  # fmt: skip


def rebuilt(values: Flat) -> Released:
    """The detection or summary that ``flat`` made ``values`` of."""
    first = values[0]
    if type(first) is not tuple:
        sent = values[2]
        signature = BY_SID[sent] if type(sent) is int else Signature(*sent)
        return Detection(
            first, _new(FlowKey, values[1]), signature, _ROLES[values[3]],
            values[4], values[5], values[6], values[7], values[8],
        )  # fmt: skip
    end = FlowEnd(values[3], _new(FlowKey, values[4]), values[5], values[6], values[7], values[8], values[9])
    return FlowSummary(end, tuple([_ROLES[role] for role in first]), values[1], values[2])
