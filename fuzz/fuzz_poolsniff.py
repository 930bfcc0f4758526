"""atheris fuzz harness for poolsniff's parsers (decode, capture, prefilter, DNS, TLS, HTTP, tunnels, JSON).

Run one target for a bounded time, as CI does:

    python fuzz/fuzz_poolsniff.py TARGET -atheris_runs=20000
    python fuzz/fuzz_poolsniff.py all -max_total_time=30

A target may raise only the exceptions poolsniff documents (``InputError`` and its
subclass ``CaptureDamaged`` from the capture reader); anything else is a crash.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports():
    from poolsniff.detect.jsonrpc import classify
    from poolsniff.dissect import dns, http, tls, tlsfp, tunnels
    from poolsniff.dissect.websocket import WsFrames
    from poolsniff.engine.decode import Decoder
    from poolsniff.engine.fast.prefilter import detections
    from poolsniff.engine.pipeline import Pipeline
    from poolsniff.errors import InputError
    from poolsniff.intel.lists import Blocklist
    from poolsniff.sources.pcap import read_frames

LINKTYPES = (0, 1, 12, 101, 108, 113, 228, 229, 276)
_decoder = Decoder()
_lists = Blocklist()
_lists.add_lines(["supportxmr.com fuzz"], "fuzz", "pool")

PCAP_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
PCAPNG_HEAD = (
    bytes.fromhex("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000")  # section header
    + bytes.fromhex("0100000014000000010000000000000014000000")  # Ethernet, µs
    + bytes.fromhex("010000001c000000010000000000000009010000090000001c000000")  # Ethernet, if_tsresol 9 (ns)
)
"""A pcapng section header and two Ethernet interface blocks (µs, ns)."""


def fuzz_decode(data: bytes) -> None:
    """Any frame, any link type: a Packet or None, never an exception."""
    if data:
        _decoder.decode(0, LINKTYPES[data[0] % len(LINKTYPES)], data[1:])


def fuzz_capture(data: bytes) -> None:
    """Any file: frames, then at most an InputError/CaptureDamaged."""
    try:
        for _ in read_frames(io.BytesIO(data), "fuzz.pcap"):
            pass
    except InputError:
        pass


def fuzz_pipeline(data: bytes) -> None:
    """Random records after a valid pcap header, through the whole pipeline."""
    pipe = Pipeline(_lists)
    try:
        for frame in read_frames(io.BytesIO(PCAP_HEADER + data), "fuzz.pcap"):
            pipe.feed(frame)
    except InputError:
        pass
    pipe.finish()


def fuzz_prefilter(data: bytes) -> None:
    """Random records after a valid pcap header, or random blocks after a pcapng section header
    and two Ethernet interfaces (µs and ns; the first input byte chooses): the prefilter (the C
    record walks where they are built) must release what feeding every frame releases, and
    fail at the same place."""
    if data[:1] == b"n":
        head = PCAPNG_HEAD
        data = data[1:]
    else:
        head = PCAP_HEADER
    outcomes = []
    for skipping in (False, True):
        pipe = Pipeline(_lists)
        found: list[tuple[object, ...]] = []
        error = None
        try:
            if skipping:
                released = detections(io.BytesIO(head + data), "fuzz.pcap", pipe)
                found.extend((d.ts_us, d.flow, d.signature.sid) for d in released)
            else:
                for frame in read_frames(io.BytesIO(head + data), "fuzz.pcap"):
                    found += [(d.ts_us, d.flow, d.signature.sid) for d in pipe.feed(frame)]
        except InputError as e:
            error = str(e)
        found += [(d.ts_us, d.flow, d.signature.sid) for d in pipe.finish()]
        outcomes.append((found, error, pipe.stats.packets))
    if outcomes[0] != outcomes[1]:
        raise AssertionError(f"the prefilter changed the outcome: {outcomes[0]} != {outcomes[1]}")


def fuzz_parsers(data: bytes) -> None:
    """DNS, TLS hellos, HTTP head (C and Python alike), tunnels, WebSocket frames on the same bytes."""
    dns.parse_dns(data)
    dns.split_tcp_dns(data)
    tls.parse_client_hello(data)
    message = tls.server_hello_message(data)
    if isinstance(message, bytes):
        try:
            tlsfp.server_fingerprint(message)
        except ValueError:
            pass
    if http.parse_head(data) != http.parse_head_py(data):  # the C parse, where built, and its reference
        raise AssertionError("the C HTTP head parse differs from parse_head_py")
    for kind in tunnels.KINDS:
        tunnels.parse_client(kind, data)
        tunnels.parse_server(kind, data)
    WsFrames().feed(data)


def fuzz_jsonrpc(data: bytes) -> None:
    """Any JSON document through the classifier."""
    try:
        value = json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return
    if isinstance(value, dict):
        classify(value)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "decode": fuzz_decode,
    "capture": fuzz_capture,
    "pipeline": fuzz_pipeline,
    "prefilter": fuzz_prefilter,
    "parsers": fuzz_parsers,
    "jsonrpc": fuzz_jsonrpc,
}


def fuzz_all(data: bytes) -> None:
    """Every target on the same input."""
    for target in TARGETS.values():
        target(data)


def main() -> None:
    """Pick the target named by the first argument and hand the rest to libFuzzer."""
    name = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "all"
    target = fuzz_all if name == "all" else TARGETS[name]
    args = [sys.argv[0]] + [a for a in sys.argv[1:] if a.startswith("-")]
    atheris.Setup(args, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
