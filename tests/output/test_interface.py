"""poolsniff.output.interface: one JSON form of a record, encoded once by the stage for every writer."""

from __future__ import annotations

import json

from poolsniff.output.interface import Record, encode
from poolsniff.output.stage import Outputs

from ..factories_eve import eve


class Writer:
    def __init__(self) -> None:
        self.got: list[tuple[Record, str | None]] = []
        self.name, self.dropped, self.pending = "w", 0, 0

    def write(self, record: Record, text: str | None = None) -> None:
        self.got.append((record, text))

    def close(self) -> None:
        pass


def test_encode_is_compact_utf8_json_that_reads_back() -> None:
    record = {"a": "ü", "b": [1, 2]}
    text = encode(record)
    assert text == '{"a":"ü","b":[1,2]}' and json.loads(text) == record


def test_the_stage_encodes_once_and_hands_the_same_text_to_every_writer() -> None:
    primary, forwarder = Writer(), Writer()
    stage = Outputs(primary, forwarders=[forwarder])
    record = eve(0)
    stage.write(record)
    [(got, text)] = primary.got
    assert text == encode(record) and got == record
    assert forwarder.got[0][1] is text, "the forwarder gets the very same string, not a second encoding"
