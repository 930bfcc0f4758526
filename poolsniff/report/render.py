"""``poolsniff report --format``: pick the renderer by name (after the summary, before the output).

EVE files -> summary (HostReport per host) -> **render** -> table / JSON / CSV / HTML text

The renderers import the summary's model; the summary imports none of them, so there is no cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from poolsniff.report.summary import HostReport

FORMATS: Final = ("table", "json", "csv", "html")


def render(reports: list[HostReport], fmt: str, *, width: int = 100, inputs: Iterable[str] = ()) -> str:
    """The report in ``fmt`` (one of ``FORMATS``); ``width`` is for the table, ``inputs`` for HTML."""
    # imported here: the command line reads FORMATS when it starts, for every command
    from poolsniff.report.formats.html import to_html
    from poolsniff.report.formats.table import to_table
    from poolsniff.report.summary import to_csv, to_json

    if fmt == "table":
        return to_table(reports, width)
    if fmt == "json":
        return to_json(reports)
    if fmt == "csv":
        return to_csv(reports)
    if fmt == "html":
        return to_html(reports, inputs=list(inputs))
    raise ValueError(f"unknown report format {fmt!r} (valid: {', '.join(FORMATS)})")
