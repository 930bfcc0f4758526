"""The HTML report: self-contained, escaped, a timeline per host, and it renders in a real browser."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from poolsniff.output.suppress import Suppressor
from poolsniff.report.formats.html import ROLE_COLOURS, to_html
from poolsniff.report.summary import HostReport, summarise

from ...factories_eve import eve

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1200, 900


def reports() -> list[HostReport]:
    s = Suppressor(600)
    records = []
    for i in range(60):
        records += s.feed(eve(60 * i, sport=1000 + i, pool_host="xmr.pool.example", agent="XMRig/6.22.2"))
        if i % 20 == 0:
            records += s.feed(eve(60 * i + 5, "dns", pool_host="xmr.pool.example"))
    records += s.feed(eve(30, host="192.0.2.99", flavour="stratum-v1"))
    records += s.finish()
    return summarise(records)


def test_page_is_self_contained() -> None:
    page = to_html(reports(), inputs=["eve.json"])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for external in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import", 'href="http'):
        assert external not in page, external
    assert set(re.findall(r'href="([^"]*)"', page)) == {"#h1", "#h2"}


def test_a_section_and_a_timeline_per_host() -> None:
    hosts = reports()
    page = to_html(hosts)
    assert page.count("<section") == page.count("<svg") == len(hosts) == 2
    assert page.count("<circle") == sum(h.lines for h in hosts)
    folded = sum(1 for h in hosts for a in h.activity if a.count > 1)
    assert folded > 0 and page.count("<rect") == folded  # a bar for every line that stands for several
    assert "xmr.pool.example (miner)" in page and "xmr.pool.example (client)" in page


def test_the_header_counts_hosts_and_alerts() -> None:
    assert "<div>1 host, 1 alert\n from " in to_html(summarise([eve(0)]))
    hosts = reports()
    alerts = sum(h.alerts for h in hosts)
    assert f"<div>2 hosts, {alerts} alerts\n from " in to_html(hosts)


def test_alert_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    page = to_html(summarise([eve(0, agent=evil, pool_host='"><img src=x>')]), title="<b>t</b>")
    assert "<script" not in page and "<img" not in page and "<b>t</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_empty_report() -> None:
    page = to_html([])
    assert "No mining alerts" in page and "<svg" not in page


def read_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Width, height, unfiltered rows and bytes per pixel of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        rows.append(
            bytes(prev := _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, bpp))
        )
    return width, height, rows, bpp


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    if kind == 2:
        return bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
    for i in range(len(line)) if kind else ():
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
        if kind == 1:
            line[i] = (line[i] + a) & 255
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return line


def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium chromium-driver)")
    page, png = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(to_html(reports()), encoding="utf-8")
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}", page.as_uri()]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert png.exists(), proc.stderr[-2000:]
    width, height, rows, bpp = read_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    pixels = [row[i : i + 3] for row in rows for i in range(0, len(row), bpp)]
    drawn = sum(p != b"\xff\xff\xff" for p in pixels)
    assert drawn > 0.05 * width * height, f"only {drawn} non-white pixels: blank page?"
    assert max(rows[10][30 * bpp : 30 * bpp + 3]) < 0x60, "the dark header band is missing: CSS not applied?"
    # a lane of the timeline: a row crossing several dots in the miner colour, each at least
    # DOT_RUN pixels wide (the role badges of that colour give short runs between their letters)
    miner = bytes.fromhex(ROLE_COLOURS["miner"][1:])
    runs = max(_runs([row[i : i + 3] == miner for i in range(0, len(row), bpp)]) for row in rows)
    assert runs >= 5, f"at most {runs} miner-coloured dots in a row: is the SVG timeline drawn?"


DOT_RUN = 7


def _runs(flags: list[bool]) -> int:
    """How many runs of at least DOT_RUN True values ``flags`` holds."""
    count = length = 0
    for flag in [*flags, False]:
        if flag:
            length += 1
            continue
        count += length >= DOT_RUN
        length = 0
    return count
