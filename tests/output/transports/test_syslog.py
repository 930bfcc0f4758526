"""Syslog sink: RFC 5424 messages, UDP datagrams and TCP octet-counting frames to loopback receivers."""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from poolsniff.output.transports.syslog import (
    FACILITIES,
    SyslogSink,
    SyslogTarget,
    format_message,
    level,
    octet_frame,
    parse_syslog_url,
)

from ...factories_eve import eve

RFC5424 = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+)"
    rb" (?P<sd>-) (?P<msg>.*)",
    re.S,
)


def parse(message: bytes) -> dict[str, Any]:
    """Split an RFC 5424 message into its fields (MSG decoded as JSON)."""
    match = RFC5424.fullmatch(message)
    assert match, message[:120]
    fields: dict[str, Any] = {k: v.decode("ascii") for k, v in match.groupdict().items()}
    fields["pri"] = int(fields["pri"])
    fields["msg"] = json.loads(fields["msg"])
    return fields


@pytest.mark.parametrize(
    "url, target",
    [
        ("udp://127.0.0.1:514", SyslogTarget("udp", "127.0.0.1", 514, 21)),
        ("udp://logs.example", SyslogTarget("udp", "logs.example", 514, 21)),
        ("tcp://logs.example", SyslogTarget("tcp", "logs.example", 601, 21)),
        ("tcp://[2001:db8::1]:6514", SyslogTarget("tcp", "2001:db8::1", 6514, 21)),
        ("tcp://h:601/?facility=auth", SyslogTarget("tcp", "h", 601, 4)),
        ("udp://h:5140?facility=local0", SyslogTarget("udp", "h", 5140, 16)),
    ],
)
def test_parse_url(url: str, target: SyslogTarget) -> None:
    assert parse_syslog_url(url) == target


@pytest.mark.parametrize(
    "url, message",
    [
        ("syslog://h", "bad syslog target"),
        ("h:514", "bad syslog target"),
        ("udp://", "bad syslog target"),
        ("udp://h:99999", "bad syslog target"),
        ("udp://h/path", "only a host, a port"),
        ("tcp://h?level=3", "unknown parameter 'level'"),
        ("tcp://h?facility=local9", "bad syslog facility 'local9'"),
    ],
)
def test_parse_url_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_syslog_url(url)


@pytest.mark.parametrize("severity, expected", [(1, 3), (2, 4), (3, 5), (4, 6), ("1", 6), (None, 6)])
def test_level_from_alert_severity(severity: object, expected: int) -> None:
    record = eve(0)
    record["alert"]["severity"] = severity
    assert level(record) == expected


@pytest.mark.parametrize("kind, pri", [("miner", 21 * 8 + 3), ("dns", 21 * 8 + 4)])
def test_message_fields(kind: str, pri: int) -> None:
    record = eve(0.25, kind, agent="XMRig/6.22 «dev»\nsecond line")
    message = format_message(record, facility=FACILITIES["local5"], hostname="gw 1.example", procid=42)
    assert message.isascii() and b"\n" not in message
    fields = parse(message)
    assert fields["pri"] == pri
    assert fields["ts"] == "2024-05-01T12:00:00.250000Z"
    assert (fields["host"], fields["app"], fields["procid"], fields["msgid"]) == (
        "gw1.example",
        "poolsniff",
        "42",
        "alert",
    )
    assert fields["msg"] == record


def test_message_without_a_timestamp_has_the_nil_value() -> None:
    record = eve(0)
    del record["timestamp"]
    assert parse(format_message(record, facility=1, hostname="", procid=1))["ts"] == "-"


def test_octet_frame() -> None:
    assert octet_frame(b"<14>1 - - - - - - hi") == b"20 <14>1 - - - - - - hi"


def test_udp_receiver_gets_one_datagram_per_alert() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        records = [eve(i, sport=1000 + i) for i in range(3)]
        sink = SyslogSink.open_url(f"udp://127.0.0.1:{port}?facility=local0")
        for record in records:
            sink.write(record)
        sink.close()
        got = [parse(receiver.recv(65535)) for _ in records]
    assert [g["msg"] for g in got] == records
    assert {g["pri"] for g in got} == {16 * 8 + 3}
    assert sink.sent == 3 and sink.dropped == 0


def read_frames(data: bytes) -> list[bytes]:
    """Split an RFC 6587 octet-counted stream into messages."""
    frames = []
    while data:
        length, _, rest = data.partition(b" ")
        frames.append(rest[: int(length)])
        data = rest[int(length) :]
    return frames


def test_tcp_receiver_gets_octet_counted_frames(tmp_path: Path) -> None:
    received = bytearray()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def receive() -> None:
            conn, _ = listener.accept()
            with conn:
                while chunk := conn.recv(65536):
                    received.extend(chunk)

        thread = threading.Thread(target=receive, daemon=True)
        thread.start()
        records = [eve(i, sport=1000 + i, agent="a\nb") for i in range(5)]
        sink = SyslogSink.open_url(f"tcp://127.0.0.1:{port}", data_dir=tmp_path)
        for record in records:
            sink.write(record)
        sink.close()
        thread.join(5)
    assert [parse(f)["msg"] for f in read_frames(bytes(received))] == records


def test_tcp_receiver_absent_at_open_only_warns_and_the_spool_waits(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warnings: list[str] = []
    sink = SyslogSink.open_url(f"tcp://127.0.0.1:{port}", data_dir=tmp_path, warn=warnings.append)
    sink.write(eve(0))
    assert sink.pending == 1
    sink.close()
    assert warnings[0].startswith(f"poolsniff: warning: syslog tcp://127.0.0.1:{port}: Connection refused")


def test_tcp_without_a_data_directory_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a data directory"):
        SyslogSink.open_url("tcp://127.0.0.1:1")


def test_udp_receiver_absent_costs_alerts_not_the_sensor() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warnings: list[str] = []
    sink = SyslogSink.open_url(f"udp://127.0.0.1:{port}", warn=warnings.append)
    for i in range(4):  # ICMP port unreachable makes a later send on the connected socket fail
        sink.write(eve(i))
    sink.close()
    assert sink.sent + sink.dropped == 4 and sink.dropped >= 1
    assert len(warnings) == 1 and "not forwarded" in warnings[0] and "best effort" in warnings[0]
    assert sink.pending == 0
