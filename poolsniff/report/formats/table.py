"""The terminal form of ``poolsniff report``: a plain-text table that fits the screen (report renderer).

sinks -> EVE alert files -> report (``report.py``: read, group per host) -> **to_table**

One row per host, each cell a few lines: the host, its roles (what its alerts say it did; the
``pool`` role of an alert, whose *destination* spoke the pool side, shows as ``miner (pool
side)``), first seen and last activity (UTC) with how long and how much it mined (from the ``flow``
records), alert counts (total, then per signature, by name), pools (with the endpoints they were
reached at), flavours, wallets and agents. Columns take their natural width; when the table is
wider than ``width``, the widest of the text columns are narrowed (long values are cut with
``...``, a wallet in its middle so both ends stay recognisable). Below the width the narrowed columns
need, each host becomes a block of ``label  value`` lines instead. A cell lists at most
``MAX_VALUES`` values and says how many more there are. Alert text is attacker-chosen (an
agent string), so control characters are replaced before anything reaches a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from poolsniff.report.summary import HostReport, ranked, ranked_pools

MAX_VALUES: Final = 4
"""Values listed per cell; the rest are summed up as ``+N more``."""
GAP: Final = "  "
"""Between two columns."""
CUT: Final = "..."
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Column:
    """A table column: header, narrowest width it may be cut to, weight, how its values are cut.

    When the table is too wide, the column that is widest for its ``weight`` is narrowed first.
    """

    header: str
    min_width: int
    weight: float
    cut: Callable[[str, int], str]


def cut_end(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - len(CUT))] + CUT[:width]


def cut_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by dropping its middle (for wallets and hashes)."""
    if len(text) <= width:
        return text
    if width <= len(CUT) + 2:
        return cut_end(text, width)
    keep = width - len(CUT)
    head = (keep + 1) // 2
    return text[:head] + CUT + text[len(text) - (keep - head) :]


COLUMNS: Final = (
    Column("HOST", 9, 3.0, cut_end),
    Column("ROLES", 5, 1.0, cut_end),
    Column("SEEN (UTC)", 19, 1.0, cut_end),
    Column("ALERTS", 10, 2.0, cut_end),
    Column("POOLS", 10, 3.0, cut_end),
    Column("FLAVOURS", 8, 1.5, cut_end),
    Column("WALLETS", 9, 1.0, cut_middle),
    Column("AGENTS", 8, 1.0, cut_end),
)


def clean(text: str) -> str:
    """Replace control characters (terminal escapes) by ``?``."""
    return _CONTROL.sub("?", text)


def when(ts_us: int) -> str:
    """A capture time as ``2024-05-01 12:00:00`` (UTC, whole seconds)."""
    return (_EPOCH + timedelta(microseconds=ts_us)).strftime("%Y-%m-%d %H:%M:%S")


ROLE_SHOWN: Final = {"pool": "miner (pool side)"}
"""Roles as the table words them: a ``pool`` alert's source is the miner whose pool answered."""
SIGNATURE_PREFIX: Final = "POOLSNIFF COINMINER "
"""What every poolsniff signature starts with; the table leaves it out."""


def signature_name(sid: int, msg: str) -> str:
    """A signature as the table names it: its message without the common prefix (else its id)."""
    name = msg.removeprefix(SIGNATURE_PREFIX).strip()
    return name or str(sid)


def duration(us: int) -> str:
    """A length of time as ``45s``, ``12m 5s``, ``3h 20m`` or ``2d 4h``."""
    s = us // 1_000_000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def volume(n: int) -> str:
    """A byte count as ``512 B``, ``1.5 kB``, ``12.3 MB`` or ``4.0 GB`` (powers of 1000)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def mining(report: HostReport) -> list[str]:
    """Under first and last seen: how long and how much it mined (nothing without flow records)."""
    if not report.spans:
        return []
    flows = sum(1 for _ in report.spans)
    return [
        f"mined {duration(report.mining_us)}",
        f"in {flows} flow{'s' if flows != 1 else ''}",
        f"{volume(report.bytes_sent)} out",
        f"{volume(report.bytes_received)} in",
    ]


def _listed(values: list[str]) -> list[str]:
    if len(values) <= MAX_VALUES:
        return values
    return [*values[: MAX_VALUES - 1], f"+{len(values) - MAX_VALUES + 1} more"]


def cells(report: HostReport) -> list[list[str]]:
    """The lines of each cell of ``report``'s row, in column order."""
    sigs = sorted(report.signatures.items(), key=lambda kv: (-kv[1], kv[0]))
    pools: list[str] = []
    for name in _listed([name for name, _ in ranked_pools(report)]):
        pools.append(name)
        use = report.pools.get(name)  # None for the "+N more" line
        pools.extend(f"  {e}" for e in sorted(use.endpoints if use else ()) if e != name)
    row = [
        [report.host],
        [ROLE_SHOWN.get(role, role) for role, _ in ranked(report.roles)],
        [when(report.first_us), when(report.last_us), *mining(report)],
        [str(report.alerts), *_listed([f"{n} {signature_name(sid, msg)}" for (sid, msg), n in sigs])],
        pools,
        _listed([v for v, _ in ranked(report.flavours)]),
        _listed([v for v, _ in ranked(report.wallets)]),
        _listed([v for v, _ in ranked(report.agents)]),
    ]
    return [[clean(line) for line in cell] or ["-"] for cell in row]


def fit(natural: list[int], floor: list[int], width: int) -> list[int] | None:
    """Column widths that fit ``width``, never below ``floor``; None when even that is too wide."""
    widths = list(natural)
    total = sum(widths) + len(GAP) * (len(widths) - 1)
    while total > width:
        cuttable = [k for k in range(len(widths)) if widths[k] > floor[k]]
        if not cuttable:
            return None
        i = max(cuttable, key=lambda k: widths[k] / COLUMNS[k].weight)
        widths[i] -= 1
        total -= 1
    return widths


def to_table(reports: list[HostReport], width: int = 100) -> str:
    """The hosts as a plain-text table no wider than ``width`` (a block per host when too narrow)."""
    if not reports:
        return "no mining alerts\n"
    rows = [cells(r) for r in reports]
    natural = [
        max([len(c.header)] + [len(line) for row in rows for line in row[i]]) for i, c in enumerate(COLUMNS)
    ]
    floor = [min(n, c.min_width) for n, c in zip(natural, COLUMNS, strict=True)]
    floor[0] = max(len(row[0][0]) for row in rows)  # never cut an address
    widths = fit(natural, floor, width)
    if widths is None:
        return _blocks(rows, width)
    out = [_line([c.header for c in COLUMNS], widths), _line(["-" * w for w in widths], widths)]
    for n, row in enumerate(rows):
        if n:
            out.append("")
        for k in range(max(len(cell) for cell in row)):
            parts = [
                COLUMNS[i].cut(cell[k], widths[i]) if k < len(cell) else "" for i, cell in enumerate(row)
            ]
            out.append(_line(parts, widths))
    return "\n".join(out) + "\n"


def _line(parts: list[str], widths: list[int]) -> str:
    return GAP.join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip()


def _blocks(rows: list[list[list[str]]], width: int) -> str:
    """The narrow form: one block of ``label  value`` lines per host."""
    labels = [c.header.split()[0].lower() for c in COLUMNS[1:]]
    pad = max(len(label) for label in labels) + 2
    out: list[str] = []
    for row in rows:
        if out:
            out.append("")
        out.append(cut_end(" ".join(row[0]), width))
        for label, cell, column in zip(labels, row[1:], COLUMNS[1:], strict=True):
            for k, line in enumerate(cell):
                head = (label if k == 0 else "").ljust(pad)
                out.append(head + column.cut(line, max(1, width - pad)))
    return "\n".join(out) + "\n"
