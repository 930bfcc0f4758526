"""Read facts back out of EVE alert records (after the sinks' serialiser; used by suppression and reports).

source -> decode -> flows/dissectors -> detectors -> enrichment -> to_eve -> **(suppression, report)**

Suppression (``suppress.py``) and ``poolsniff report`` (``report.py``) both work on EVE
records, the form alerts keep across processes, files and sensors. They need the same few
facts from a record, defined once here:

* its capture time in microseconds (``timestamp`` in Suricata's format, ``+0000`` or any offset),
  read by :func:`parse_ts` and written by :func:`format_ts`, the one timestamp codec;
* the *host* it is about: ``src_ip``. poolsniff orients every alert so that ``src`` is the miner
  (or the DNS/TLS/HTTP client) whatever the role: a ``pool`` role alert says the *destination*
  spoke the pool side, and its source is still the miner talking to it;
* the *pool*: ``alert.metadata.pool_host``, else ``pool``, else the ``dest_ip:dest_port``
  endpoint (``[v6]:port`` for IPv6);
* the first value of a metadata key (Suricata-style arrays of strings).

A record that lacks what is asked for raises ``ValueError`` naming the field; the caller, which
knows the file and line, wraps it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US: Final = timedelta(microseconds=1)
_TS_FORMATS: Final = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")


def parse_ts(text: str) -> int:
    """Microseconds since the epoch of an EVE ``timestamp`` (``2024-05-01T12:00:00.010060+0000``).

    A text :func:`format_ts` wrote a moment ago is looked up (the output stage reads back the
    timestamp of each record it writes, for suppression's clock). The form :func:`format_ts`
    writes is read by slicing, with the minute's start cached (a scan writes thousands of records
    within a few minutes); any other form goes to ``strptime``.
    """
    known = _FORMATTED.get(text)
    if known is not None:
        return known
    if len(text) == 31 and text[16] == ":" and text[19] == "." and text[26:] == "+0000":
        digits = text[17:19] + text[20:26]
        if digits.isascii() and digits.isdigit() and digits < "60":
            minute = _MINUTES.get(text[:16])
            if minute is None:
                minute = _minute_us(text[:16])
            if minute is not None:
                return minute + int(digits[:2]) * 1_000_000 + int(digits[2:])
    return _parse_slow(text)


def _minute_us(prefix: str) -> int | None:
    """Microseconds of ``YYYY-MM-DDTHH:MM`` (UTC), cached; None if it is not such a time."""
    try:
        moment = datetime.strptime(prefix + "+0000", "%Y-%m-%dT%H:%M%z")
    except ValueError:
        return None
    if len(_MINUTES) >= _CACHE_SIZE:
        _MINUTES.clear()
    value = _MINUTES[prefix] = (moment - EPOCH) // _US
    return value


def _parse_slow(text: str) -> int:
    for fmt in _TS_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return (moment - EPOCH) // _US
    raise ValueError(f"bad timestamp {text!r} (expected e.g. 2024-05-01T12:00:00.000000+0000)")


_CACHE_SIZE: Final = 4096
_MINUTES: dict[str, int] = {}
"""``YYYY-MM-DDTHH:MM`` -> its microseconds, for :func:`parse_ts` (bounded: cleared when full)."""
_SECONDS: dict[int, str] = {}
"""Whole seconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS``, for :func:`format_ts` (bounded)."""
_FORMATTED: dict[str, int] = {}
"""The texts :func:`format_ts` wrote last -> their microseconds, for :func:`parse_ts` (bounded)."""


MAX_TS_US: Final = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc) - EPOCH) // _US
"""The last instant a four-digit year can write; a later capture time (a pcapng block can carry
one) is written as this, never as a crash."""


def format_ts(ts_us: int) -> str:
    """Microseconds since the epoch as Suricata writes them: ``2024-05-01T12:00:00.000000+0000``.

    The one timestamp writer of the EVE records, the reports and the syslog header; times
    before the epoch or after year 9999 are clamped to those bounds.
    """
    ts_us = clamp_ts(ts_us)
    seconds, micros = divmod(ts_us, 1_000_000)
    prefix = _SECONDS.get(seconds)
    if prefix is None:
        if len(_SECONDS) >= _CACHE_SIZE:
            _SECONDS.clear()
        moment = EPOCH + timedelta(seconds=seconds)
        prefix = _SECONDS[seconds] = moment.strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{prefix}.{micros:06d}+0000"
    if len(_FORMATTED) >= _CACHE_SIZE:
        _FORMATTED.clear()
    _FORMATTED[text] = ts_us
    return text


def clamp_ts(ts_us: int) -> int:
    """``ts_us`` within what :func:`format_ts` can write (the time :func:`parse_ts` reads back)."""
    return ts_us if 0 <= ts_us <= MAX_TS_US else min(max(ts_us, 0), MAX_TS_US)


def record_ts(record: dict[str, Any]) -> int:
    """The capture time of ``record`` in microseconds."""
    text = record.get("timestamp")
    if not isinstance(text, str):
        raise ValueError("no 'timestamp'")
    return parse_ts(text)


def alert_of(record: dict[str, Any]) -> dict[str, Any]:
    """The ``alert`` object of an alert record."""
    alert = record.get("alert")
    if not isinstance(alert, dict):
        raise ValueError("no 'alert' object")
    return alert


def meta(record: dict[str, Any], key: str) -> str | None:
    """The first value of ``alert.metadata[key]`` (a string), or None."""
    metadata = alert_of(record).get("metadata")
    if not isinstance(metadata, dict):
        return None
    value = metadata.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None or value == "" else str(value)


def host_of(record: dict[str, Any]) -> str:
    """The host an alert is about: its ``src_ip`` (the miner or client in poolsniff's orientation)."""
    src = record.get("src_ip")
    if not isinstance(src, str) or not src:
        raise ValueError("no 'src_ip'")
    return src


def endpoint(ip: str, port: object) -> str:
    """``ip:port``, with brackets around an IPv6 address; the bare address when there is no port."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port}" if isinstance(port, int) else host


def dest_of(record: dict[str, Any]) -> str:
    """The destination endpoint of a record (``dest_ip:dest_port``)."""
    dest = record.get("dest_ip")
    if not isinstance(dest, str) or not dest:
        raise ValueError("no 'dest_ip'")
    return endpoint(dest, record.get("dest_port"))


def pool_of(record: dict[str, Any]) -> str:
    """The pool an alert is about: ``pool_host``, else ``pool``, else the destination endpoint."""
    return meta(record, "pool_host") or meta(record, "pool") or dest_of(record)


def signature_of(record: dict[str, Any]) -> tuple[int, str]:
    """``(signature_id, signature)`` of an alert record."""
    alert = alert_of(record)
    sid = alert.get("signature_id")
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise ValueError("no 'alert.signature_id'")
    return sid, str(alert.get("signature", ""))


def suppressed_count(record: dict[str, Any]) -> int:
    """How many alerts this record stands for besides itself (``metadata.suppressed_count``; 0 if none)."""
    value = meta(record, "suppressed_count")
    if value is None:
        return 0
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"bad alert.metadata.suppressed_count {value!r}") from None
    if count < 0:
        raise ValueError(f"bad alert.metadata.suppressed_count {value!r}")
    return count
