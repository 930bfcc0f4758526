"""``poolsniff report``: who has been mining, per host, from EVE alert files (after the sinks).

source -> ... -> sinks -> EVE alert files -> **report** -> table / JSON / CSV / HTML (``report_html``)

:func:`read_alerts` reads EVE lines (a file, a gzip file, stdin), keeps the mining alerts and
poolsniff's ``flow`` records (those whose ``metadata.flowbits`` carry a ``poolsniff.`` bit, see
``output/eveflow.py``), and skips everything else (``stats``, other flows and event types; alerts
of other categories, so a whole Suricata ``eve.json`` can be given); a line that is not a JSON
object, or a mining alert without its timestamp, source, destination or signature, is an ``InputError`` naming
``file:line``. A mining alert is one of poolsniff's signatures (9300000-9300999) or any alert in
the ``coin-mining`` category, so Suricata's own ET COINMINER alerts count too.

:class:`Summary` groups the alerts per *host*, the ``src_ip``: poolsniff writes the miner (or the
DNS/TLS/HTTP client) as the source for every role, so an alert raised because the destination
spoke the pool side (role ``pool``) is attributed to the miner that talked to it, never to the
pool. Per host: first and last seen, roles, pools (``pool_host``, else ``pool``, else the
destination ``ip:port``; with the endpoints where it was reached, resolver addresses of DNS
alerts left out), flavours, wallets, miner agents, alert counts per signature, and the
capture files or interfaces. A line carrying ``suppressed_count`` (see ``suppress.py``) counts
for ``1 + suppressed_count`` alerts and its ``suppressed_since`` extends first seen. The flow
records of alerted flows add, per host, how many flows mined, for how long (the union of their
start-to-end spans; coin-daemon RPC is not mining and is left out) and how many bytes the host
sent and received in them; their ends extend last seen to the last activity.

Renderers return text and do no I/O: :func:`to_json` and :func:`to_csv` here,
``formats.table.to_table`` (plain text that fits the terminal) and ``formats.html.to_html``;
``render.render`` picks one by name.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

from poolsniff.detect.signatures import CATEGORY
from poolsniff.errors import UNREADABLE, InputError
from poolsniff.output.evefields import (
    dest_of,
    format_ts,
    host_of,
    meta,
    parse_ts,
    pool_of,
    record_ts,
    signature_of,
    suppressed_count,
)
from poolsniff.output.eveflow import FLOWBIT_PREFIX, MINER_IS_SERVER

SID_RANGE: Final = range(9_300_000, 9_301_000)
"""poolsniff's signature ids."""
SOURCE_KEYS: Final = ("pcap_filename", "in_iface")
"""EVE fields that say where an alert was seen."""


@dataclass
class ReadStats:
    """What :func:`read_alerts` saw."""

    lines: int = 0
    alerts: int = 0
    flows: int = 0
    """poolsniff ``flow`` records kept."""
    skipped: Counter[str] = field(default_factory=Counter)


_HINTS: Final[dict[type[OSError], str]] = {
    FileNotFoundError: "; check the path (an EVE file that scan or sniff wrote, or - for stdin)",
    IsADirectoryError: "; name the EVE file inside it",
    PermissionError: f"; {UNREADABLE}",
}
"""How to mend the commonest reasons an EVE file cannot be opened, after the reason."""


def open_alerts(path: str) -> IO[str]:
    """Open an EVE file for reading as text; ``-`` is stdin; gzip files are read transparently."""
    if path == "-":
        return sys.stdin
    try:
        raw = open(path, "rb")  # noqa: SIM115 - handed to the caller, who closes it
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}{_HINTS.get(type(e), '')}") from e
    if raw.peek(2)[:2] != b"\x1f\x8b":
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    raw.close()  # reopened through gzip, which then owns (and closes) the file
    return gzip.open(path, "rt", encoding="utf-8", errors="replace")


def read_alerts(
    lines: Iterable[str], origin: str, stats: ReadStats | None = None
) -> Iterator[dict[str, Any]]:
    """Yield the mining alert records of EVE ``lines``; InputError ``origin:line: why`` for a bad line."""
    stats = stats if stats is not None else ReadStats()
    number = 0
    try:
        for number, line in enumerate(lines, 1):  # noqa: B007 - number is used after the loop
            stats.lines += 1
            record = _parse_line(line, origin, number)
            if record is None:
                stats.skipped["blank"] += 1
            elif record.get("event_type") == "flow" and _poolsniff_bits(record):
                _check_flow(record, origin, number)
                stats.flows += 1
                yield record
            elif record.get("event_type") != "alert":
                stats.skipped[f"event_type {record.get('event_type')}"] += 1
            elif not _is_mining(record):
                stats.skipped["alerts of other categories"] += 1
            else:
                _check(record, origin, number)
                stats.alerts += 1
                yield record
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise InputError(f"{origin}:{number + 1}: cannot read: {e}") from e


def _parse_line(line: str, origin: str, number: int) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError as e:
        raise InputError(f"{origin}:{number}: not a JSON line ({e}); is this an EVE file?") from e
    if not isinstance(record, dict):
        raise InputError(f"{origin}:{number}: not a JSON object; is this an EVE file?")
    return record


def _is_mining(record: dict[str, Any]) -> bool:
    alert = record.get("alert")
    if not isinstance(alert, dict):
        return True  # an alert without its alert object: _check reports it
    return alert.get("signature_id") in SID_RANGE or alert.get("category") == CATEGORY


def _poolsniff_bits(record: dict[str, Any]) -> list[str]:
    """The ``poolsniff.`` flowbits of a flow record (none for a flow Suricata or anything else wrote)."""
    metadata = record.get("metadata")
    bits = metadata.get("flowbits") if isinstance(metadata, dict) else None
    if not isinstance(bits, list):
        return []
    return [b for b in bits if isinstance(b, str) and b.startswith(FLOWBIT_PREFIX)]


def _check_flow(record: dict[str, Any], origin: str, number: int) -> None:
    try:
        flow_span(record)
        host_of(record)
        dest_of(record)
    except ValueError as e:
        raise InputError(f"{origin}:{number}: bad flow record: {e}") from e


def flow_span(record: dict[str, Any]) -> tuple[int, int, int, int]:
    """A flow record's start and end (µs), bytes to the server and to the client; ValueError if bad."""
    flow = record.get("flow")
    if not isinstance(flow, dict):
        raise ValueError("no flow object")
    start, end = parse_ts(str(flow.get("start"))), parse_ts(str(flow.get("end")))
    up, down = flow.get("bytes_toserver", 0), flow.get("bytes_toclient", 0)
    if not isinstance(up, int) or not isinstance(down, int) or isinstance(up, bool) or isinstance(down, bool):
        raise ValueError("bytes_toserver and bytes_toclient must be whole numbers")
    return start, max(start, end), up, down


def _check(record: dict[str, Any], origin: str, number: int) -> None:
    try:
        record_ts(record)
        host_of(record)
        dest_of(record)
        signature_of(record)
        suppressed_count(record)
    except ValueError as e:
        raise InputError(f"{origin}:{number}: bad alert: {e}") from e


@dataclass
class PoolUse:
    """A pool a host used: its registrable domain, the endpoints it was reached at, alert count."""

    domain: str = ""
    endpoints: set[str] = field(default_factory=set)
    alerts: int = 0


@dataclass
class Activity:
    """One alert line on a host's timeline; ``count`` alerts from ``since_us`` to ``ts_us``."""

    ts_us: int
    pool: str
    role: str
    sid: int
    count: int
    since_us: int | None


@dataclass
class HostReport:
    """Everything the alerts say about one host."""

    host: str
    first_us: int
    last_us: int
    alerts: int = 0
    """Alerts the lines stand for (each line is 1 + its ``suppressed_count``)."""
    lines: int = 0
    roles: Counter[str] = field(default_factory=Counter)
    pools: dict[str, PoolUse] = field(default_factory=dict)
    flavours: Counter[str] = field(default_factory=Counter)
    wallets: Counter[str] = field(default_factory=Counter)
    agents: Counter[str] = field(default_factory=Counter)
    signatures: Counter[tuple[int, str]] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    activity: list[Activity] = field(default_factory=list)
    flows: int = 0
    """Alerted flows (from ``flow`` records)."""
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Start and end of each mining flow (coin-daemon RPC left out)."""
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def mining_us(self) -> int:
        """How long the host mined: the union of its mining flows' spans."""
        total, reach = 0, None
        for start, end in sorted(self.spans):
            if reach is None or start > reach:
                total += end - start
                reach = end
            elif end > reach:
                total += end - reach
                reach = end
        return total

    def add_flow(self, record: dict[str, Any], host_is_client: bool) -> None:
        """Count one ``flow`` record of this host."""
        start, end, up, down = flow_span(record)
        self.flows += 1
        self.first_us = min(self.first_us, start)
        self.last_us = max(self.last_us, end)
        if _poolsniff_bits(record) == [FLOWBIT_PREFIX + "infrastructure"]:
            return  # a pool asking its coin daemon for work: not mining time
        self.spans.append((start, end))
        self.bytes_sent += up if host_is_client else down
        self.bytes_received += down if host_is_client else up

    def add(self, record: dict[str, Any]) -> None:
        """Count one alert record of this host."""
        ts = record_ts(record)
        count = 1 + suppressed_count(record)
        since_text = meta(record, "suppressed_since")
        since = _since(since_text, ts) if count > 1 else None
        self.first_us = min(self.first_us, ts if since is None else since)
        self.last_us = max(self.last_us, ts)
        self.alerts += count
        self.lines += 1
        role = meta(record, "role") or "-"
        pool = pool_of(record)
        self.roles[role] += count
        use = self.pools.setdefault(pool, PoolUse())
        use.alerts += count
        use.domain = use.domain or meta(record, "pool") or ""
        if record.get("app_proto") != "dns":
            use.endpoints.add(dest_of(record))
        for counter, key in ((self.flavours, "flavour"), (self.wallets, "wallet"), (self.agents, "agent")):
            value = meta(record, key)
            if value is not None:
                counter[value] += count
        self.signatures[signature_of(record)] += count
        self.sources[next((str(record[k]) for k in SOURCE_KEYS if k in record), "-")] += count
        self.activity.append(Activity(ts, pool, role, signature_of(record)[0], count, since))

    def fold_endpoints(self) -> None:
        """Merge a pool known only by its endpoint into the named pool reached at that endpoint.

        The pool-side alert of a session often has no ``pool_host`` while the miner-side alert
        of the same session has; both then describe one pool.
        """
        named = {e: name for name, use in sorted(self.pools.items()) for e in use.endpoints if e != name}
        for name in list(self.pools):
            target = named.get(name)
            if target is None or target not in self.pools:
                continue
            use = self.pools.pop(name)
            self.pools[target].alerts += use.alerts
            for act in self.activity:
                if act.pool == name:
                    act.pool = target


def _since(text: str | None, ts: int) -> int | None:
    if text is None:
        return None
    try:
        return min(parse_ts(text), ts)
    except ValueError:
        return None


class Summary:
    """Alerts grouped per host; ``hosts()`` lists them, most alerts first."""

    def __init__(self) -> None:
        """Start empty."""
        self._hosts: dict[str, HostReport] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Count one mining alert or poolsniff flow record (as :func:`read_alerts` yields them)."""
        if record.get("event_type") == "flow":
            miner_is_server = MINER_IS_SERVER in _poolsniff_bits(record)
            host = str(record["dest_ip"]) if miner_is_server else host_of(record)
            self._host(host, flow_span(record)[0]).add_flow(record, not miner_is_server)
            return
        self._host(host_of(record), record_ts(record)).add(record)

    def _host(self, host: str, ts: int) -> HostReport:
        report = self._hosts.get(host)
        if report is None:
            report = self._hosts[host] = HostReport(host, ts, ts)
        return report

    def hosts(self) -> list[HostReport]:
        """The hosts, most alerts first, then by address (pools known by name and endpoint merged)."""
        for report in self._hosts.values():
            report.fold_endpoints()
        return sorted(self._hosts.values(), key=lambda h: (-h.alerts, _ip_key(h.host)))


def summarise(records: Iterable[dict[str, Any]]) -> list[HostReport]:
    """Group ``records`` per host (see :class:`Summary`)."""
    summary = Summary()
    for record in records:
        summary.add(record)
    return summary.hosts()


def summarise_files(paths: Iterable[str], stats: ReadStats | None = None) -> list[HostReport]:
    """Read every EVE file of ``paths`` (``-`` is stdin) and group their mining alerts per host."""
    summary = Summary()
    for path in paths:
        stream = open_alerts(path)
        try:
            for record in read_alerts(stream, "stdin" if path == "-" else path, stats):
                summary.add(record)
        finally:
            if stream is not sys.stdin:
                stream.close()
    return summary.hosts()


def _ip_key(text: str) -> tuple[int, int, str]:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return (9, 0, text)
    return (ip.version, int(ip), "")


def ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    """Values with their counts, most frequent first, then alphabetical."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def ranked_pools(report: HostReport) -> list[tuple[str, PoolUse]]:
    """A host's pools, most alerts first."""
    return sorted(report.pools.items(), key=lambda kv: (-kv[1].alerts, kv[0]))


def host_dict(report: HostReport) -> dict[str, Any]:
    """The JSON form of one host."""
    return {
        "host": report.host,
        "first_seen": format_ts(report.first_us),
        "last_seen": format_ts(report.last_us),
        "alerts": report.alerts,
        "suppressed": report.alerts - report.lines,
        "roles": dict(ranked(report.roles)),
        "pools": [
            {"pool": name, "domain": use.domain, "endpoints": sorted(use.endpoints), "alerts": use.alerts}
            for name, use in ranked_pools(report)
        ],
        "flavours": dict(ranked(report.flavours)),
        "wallets": dict(ranked(report.wallets)),
        "agents": dict(ranked(report.agents)),
        "signatures": [
            {"signature_id": sid, "signature": msg, "alerts": n}
            for (sid, msg), n in sorted(report.signatures.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "sources": dict(ranked(report.sources)),
        "flows": report.flows,
        "mining_seconds": round(report.mining_us / 1e6, 3),
        "bytes_sent": report.bytes_sent,
        "bytes_received": report.bytes_received,
    }


def to_json(reports: list[HostReport]) -> str:
    """The hosts as a JSON document ``{"hosts": [...]}`` (indented, one trailing newline)."""
    return json.dumps({"hosts": [host_dict(r) for r in reports]}, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS: Final = (
    "host", "first_seen", "last_seen", "alerts", "suppressed", "roles", "pools", "flavours", "wallets",
    "agents", "signatures", "sources", "flows", "mining_seconds", "bytes_sent", "bytes_received",
)  # fmt: skip
CSV_JOIN: Final = " | "
"""Separator of several values in one CSV cell."""


def to_csv(reports: list[HostReport]) -> str:
    """One CSV row per host; several values in a cell are joined by `` | `` as ``value (count)``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in reports:
        d = host_dict(r)
        pools = [f"{p['pool']} ({p['alerts']})" for p in d["pools"]]
        sigs = [f"{s['signature_id']} ({s['alerts']})" for s in d["signatures"]]
        cells: list[object] = [d["host"], d["first_seen"], d["last_seen"], d["alerts"], d["suppressed"]]
        cells += [_joined(d["roles"]), CSV_JOIN.join(pools), _joined(d["flavours"]), _joined(d["wallets"])]
        cells += [_joined(d["agents"]), CSV_JOIN.join(sigs), _joined(d["sources"])]
        cells += [d["flows"], d["mining_seconds"], d["bytes_sent"], d["bytes_received"]]
        writer.writerow([_defuse(c) for c in cells])
    return out.getvalue()


def _joined(values: dict[str, int]) -> str:
    return CSV_JOIN.join(f"{v} ({n})" for v, n in values.items())


def _defuse(cell: object) -> object:
    """Keep a spreadsheet from running attacker-chosen text (an agent string) as a formula."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell
