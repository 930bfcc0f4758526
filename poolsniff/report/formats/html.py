"""The HTML form of ``poolsniff report``: one self-contained page with a timeline per host (renderer).

sinks -> EVE alert files -> report (``report.py``: read, group per host) -> **to_html**

The page needs nothing but itself: CSS is inline, the timelines are inline SVG, there is no
script, and a Content-Security-Policy forbids loading anything, so it can be mailed or
attached to a ticket and opened offline. It holds an overview table (one row per host, linking
to its section) and, per host, a timeline on the time axis shared by all hosts (one lane per
pool and role; a dot per alert line coloured by role, a bar from ``suppressed_since`` to the
line for alerts that suppression folded into it; hovering shows the details) followed by the
pools, wallets, agents, signatures and captures with their counts. Every piece of alert text is
attacker-chosen and is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Final

from poolsniff.counted import counted
from poolsniff.report.summary import Activity, HostReport, ranked, ranked_pools

ROLE_COLOURS: Final = {
    "miner": "#c62828",
    "pool": "#ef6c00",
    "client": "#1565c0",
    "infrastructure": "#546e7a",
}
OTHER_COLOUR: Final = "#6a1b9a"
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'"
"""Nothing may be loaded: no script, image, font or frame; only the inline style."""
MAX_LANES: Final = 10
"""Lanes (pool and role) drawn on their own; the rest share an ``other pools`` lane."""
OVERVIEW_VALUES: Final = 5
"""Values listed per cell of the overview table (the host's section lists them all)."""
SVG_WIDTH: Final = 1100
LABEL_WIDTH: Final = 230
LANE_HEIGHT: Final = 24
AXIS_HEIGHT: Final = 30
TICKS: Final = 5
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)

CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#212121;background:#fff}
header{background:#263238;color:#eceff1;padding:16px 24px}
header h1{margin:0 0 4px;font-size:22px}
main{padding:8px 24px 24px}
table{border-collapse:collapse;width:100%;margin:12px 0}
th,td{border:1px solid #cfd8dc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eceff1}
td.n{text-align:right}
.w{font-family:monospace;word-break:break-all}
.nw{white-space:nowrap}
section{border-top:2px solid #263238;margin-top:20px;padding-top:8px}
section h2{margin:4px 0;font-family:monospace}
.role{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;margin-right:4px;font-size:12px}
svg{display:block;margin:8px 0;background:#fafafa;border:1px solid #cfd8dc}
svg text{font:11px monospace;fill:#37474f}
dl{display:grid;grid-template-columns:120px 1fr;gap:2px 12px;margin:8px 0}
dt{font-weight:bold}dd{margin:0}
ul{margin:0;padding-left:18px}
"""


def to_html(reports: list[HostReport], *, title: str = "poolsniff report", inputs: Iterable[str] = ()) -> str:
    """The whole page for ``reports`` (``inputs`` names the alert files it was made from)."""
    span = _span(reports)
    alerts = sum(r.alerts for r in reports)
    files = ", ".join(inputs)
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><div>{counted(len(reports), 'host')}, {counted(alerts, 'alert')}",
        f" from {_when(span[0])} to {_when(span[1])} UTC" if reports else "",
        f"<br>from {escape(files)}" if files else "",
        "</div></header><main>",
        _legend(),
    ]
    body = [_overview(reports)] + [_section(n, r, span) for n, r in enumerate(reports, 1)]
    if not reports:
        body = ["<p>No mining alerts.</p>"]
    return "\n".join(head + body + ["</main></body></html>", ""])


def _when(ts_us: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return (_EPOCH + timedelta(microseconds=ts_us)).strftime(fmt)


def _span(reports: list[HostReport]) -> tuple[int, int]:
    if not reports:
        return (0, 0)
    return (min(r.first_us for r in reports), max(r.last_us for r in reports))


def _colour(role: str) -> str:
    return ROLE_COLOURS.get(role, OTHER_COLOUR)


def _badge(role: str) -> str:
    return f'<span class="role" style="background:{_colour(role)}">{escape(role)}</span>'


def _legend() -> str:
    roles = "".join(_badge(role) for role in ROLE_COLOURS)
    return f"<p>Roles: {roles} &#8212; a bar before a dot spans alerts folded into it by suppression.</p>"


def _list(values: Iterable[tuple[str, int]], css: str = "", limit: int = 0) -> str:
    """An HTML list of ``value (count)``; with ``limit``, the values past it are only counted."""
    items = [f"<li{css}>{escape(v)} <small>({n})</small></li>" for v, n in values]
    if limit and len(items) > limit:
        items = [*items[: limit - 1], f"<li>+{len(items) - limit + 1} more</li>"]
    return f"<ul>{''.join(items)}</ul>" if items else "&#8212;"


def _overview(reports: list[HostReport]) -> str:
    rows = [
        "<table><tr><th>host</th><th>first seen (UTC)</th><th>last seen (UTC)</th><th>alerts</th>"
        "<th>pools</th><th>flavours</th><th>wallets</th><th>agents</th></tr>"
    ]
    for n, r in enumerate(reports, 1):
        pools = [(name, use.alerts) for name, use in ranked_pools(r)]
        rows.append(
            f'<tr><td class="nw"><a href="#h{n}" class="w">{escape(r.host)}</a></td>'
            f'<td class="nw">{_when(r.first_us)}</td><td class="nw">{_when(r.last_us)}</td>'
            f'<td class="n">{r.alerts}</td><td>{_list(pools, "", OVERVIEW_VALUES)}</td>'
            f"<td>{_list(ranked(r.flavours), '', OVERVIEW_VALUES)}</td>"
            f"<td>{_list(ranked(r.wallets), ' class=w', OVERVIEW_VALUES)}</td>"
            f"<td>{_list(ranked(r.agents), '', OVERVIEW_VALUES)}</td></tr>"
        )
    return "\n".join(rows) + "</table>"


def _section(n: int, r: HostReport, span: tuple[int, int]) -> str:
    roles = "".join(_badge(role) for role, _ in ranked(r.roles))
    pools = [(_with_endpoints(name, use.endpoints), use.alerts) for name, use in ranked_pools(r)]
    sigs = [(f"{sid} {msg}", k) for (sid, msg), k in sorted(r.signatures.items(), key=lambda kv: -kv[1])]
    details = [
        ("seen", f"{_when(r.first_us)} to {_when(r.last_us)} UTC, {r.alerts} alerts in {r.lines} lines"),
        ("pools", _list(pools)),
        ("flavours", _list(ranked(r.flavours))),
        ("wallets", _list(ranked(r.wallets), " class=w")),
        ("agents", _list(ranked(r.agents))),
        ("signatures", _list(sigs)),
        ("seen by", _list(ranked(r.sources))),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in details)
    return (
        f'<section id="h{n}"><h2>{escape(r.host)}</h2><div>{roles}</div>'
        f"{timeline(r, span)}<dl>{dl}</dl></section>"
    )


def _with_endpoints(name: str, endpoints: set[str]) -> str:
    others = sorted(endpoints - {name})
    return f"{name} ({', '.join(others)})" if others else name


def _lanes(r: HostReport) -> dict[tuple[str, str], int]:
    """A lane per pool and role (the DNS lookups of a pool apart from its sessions), busiest first."""
    busy: dict[tuple[str, str], int] = {}
    for act in r.activity:
        busy[act.pool, act.role] = busy.get((act.pool, act.role), 0) + act.count
    keys = sorted(busy, key=lambda k: (-r.pools[k[0]].alerts, k[0], -busy[k], k[1]))
    return {key: min(i, MAX_LANES) for i, key in enumerate(keys)}


def timeline(r: HostReport, span: tuple[int, int]) -> str:
    """An inline SVG timeline of one host: a lane per pool, a dot per alert line, on ``span``."""
    lanes = _lanes(r)
    count = max(lanes.values(), default=0) + 1
    height = count * LANE_HEIGHT + AXIS_HEIGHT
    start, end = span
    if end - start < 2_000_000:
        start, end = start - 60_000_000, end + 60_000_000
    pad = (end - start) // 50
    start, end = start - pad, end + pad
    plot = SVG_WIDTH - LABEL_WIDTH - 10

    def x(ts: int) -> float:
        return LABEL_WIDTH + (ts - start) * plot / (end - start)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{height}" '
        f'viewBox="0 0 {SVG_WIDTH} {height}" role="img" aria-label="timeline of {escape(r.host)}">'
    ]
    labels = {i: f"{pool} ({role})" for (pool, role), i in lanes.items()}
    for i in range(count):
        y = i * LANE_HEIGHT + LANE_HEIGHT / 2
        label = labels[i] if i < MAX_LANES else "other pools"
        shown = label if len(label) <= 30 else label[:29] + "\u2026"
        parts.append(
            f'<line x1="{LABEL_WIDTH}" x2="{SVG_WIDTH - 10}" y1="{y}" y2="{y}" stroke="#cfd8dc"/>'
            f'<text x="6" y="{y + 4}"><title>{escape(label)}</title>{escape(shown)}</text>'
        )
    for act in r.activity:
        parts.append(_mark(act, x, lanes[act.pool, act.role] * LANE_HEIGHT + LANE_HEIGHT / 2))  # noqa: PERF401
    parts.append(_axis(start, end, x, count * LANE_HEIGHT))
    parts.append("</svg>")
    return "".join(parts)


def _mark(act: Activity, x: Callable[[int], float], y: float) -> str:
    colour = _colour(act.role)
    tip = f"{_when(act.ts_us)} UTC, {act.role}, signature {act.sid}, {act.pool}"
    if act.count > 1:
        tip += f", {act.count} alerts (since {_when(act.since_us or act.ts_us)})"
    bar = ""
    if act.since_us is not None and act.count > 1:
        x0, x1 = x(act.since_us), x(act.ts_us)
        bar = (
            f'<rect x="{x0:.1f}" y="{y - 4}" width="{max(x1 - x0, 1):.1f}" height="8" '
            f'fill="{colour}" fill-opacity="0.35"/>'
        )
    return (
        f'{bar}<circle cx="{x(act.ts_us):.1f}" cy="{y}" r="5" fill="{colour}">'
        f"<title>{escape(tip)}</title></circle>"
    )


def _axis(start: int, end: int, x: Callable[[int], float], y: int) -> str:
    fmt = "%H:%M:%S" if end - start < 86_400_000_000 else "%m-%d %H:%M"
    parts = [f'<line x1="{LABEL_WIDTH}" x2="{SVG_WIDTH - 10}" y1="{y}" y2="{y}" stroke="#37474f"/>']
    for k in range(TICKS):
        ts = start + (end - start) * k // (TICKS - 1)
        anchor = "start" if k == 0 else "end" if k == TICKS - 1 else "middle"
        parts.append(
            f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{y}" y2="{y + 5}" stroke="#37474f"/>'
            f'<text x="{x(ts):.1f}" y="{y + 18}" text-anchor="{anchor}">{_when(ts, fmt)}</text>'
        )
    return "".join(parts)
