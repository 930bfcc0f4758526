"""The `poolsniff blocklist` commands, run as a user runs them (a subprocess per command).

Every run gets its own data directory through ``POOLSNIFF_DATA_DIR`` (or ``--data-dir``), and
`blocklist update` only ever talks to a loopback server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import PCAPS
from ..factories_eve import alert_lines
from ..listserver import ListServer, Route, running, without_proxies

MALTRAIL = b"# maltrail test copy\nfresh-pool-one.example-mining.net\n2miners.com\n94.23.251.99:3333\n"


def run(*args: str, data: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``poolsniff ARGS`` with ``data`` as the data directory."""
    environ = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environ.update({"POOLSNIFF_DATA_DIR": str(data), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "poolsniff", *args], capture_output=True, text=True, timeout=120, env=environ
    )


def one_line_error(proc: subprocess.CompletedProcess[str], status: int) -> str:
    """The single ``poolsniff: error: ...`` line of a failed run (no traceback)."""
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("poolsniff: error: "), proc.stderr
    return lines[0].removeprefix("poolsniff: error: ")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)


@pytest.fixture
def server() -> Iterator[ListServer]:
    with running() as srv:
        yield srv


def sources(tmp_path: Path, server: ListServer, *paths: str) -> Path:
    path = tmp_path / "sources.yaml"
    items = "".join(
        f"  - {{name: maltrail, url: '{server.url(p)}', format: maltrail, category: pool}}\n" for p in paths
    )
    path.write_text(f"sources:\n{items}")
    return path


@pytest.mark.parametrize("command", [[], ["check"], ["list"], ["update"], ["export"]])
def test_help(tmp_path: Path, command: list[str]) -> None:
    proc = run("blocklist", *command, "--help", data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "poolsniff blocklist" in proc.stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("names", "status", "first_line"),
    [
        (["pool.supportxmr.com", "94.23.251.22:3333"], 0, "pool.supportxmr.com: listed by supportxmr.com"),
        (["pool.supportxmr.com", "example.org"], 1, "pool.supportxmr.com: listed by supportxmr.com"),
        (["pool.binance.com"], 1, "pool.binance.com: not listed: allowed by binance.com"),
        (["bad..name"], 1, "bad..name: not listed (not a valid host name or ip:port)"),
    ],
)
def test_check_exit_status(tmp_path: Path, names: list[str], status: int, first_line: str) -> None:
    proc = run("blocklist", "check", *names, data=tmp_path)
    assert proc.returncode == status, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(names)
    assert lines[0].startswith(first_line)


def test_check_uses_data_dir_lists_and_user_lists(tmp_path: Path) -> None:
    lists = tmp_path / "data" / "lists"
    lists.mkdir(parents=True)
    (lists / "pool.txt").write_text("fresh-pool-one.example-mining.net maltrail\n")
    mine = tmp_path / "mine.txt"
    mine.write_text("# category: proxy\nmy-proxy.mining-test-zz.net\n")
    proc = run("blocklist", "check", "a.fresh-pool-one.example-mining.net", "my-proxy.mining-test-zz.net",
               "--blocklist", str(mine), data=tmp_path / "data")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{lists / 'pool.txt'}:1" in proc.stdout and f"{mine}:2" in proc.stdout
    assert run("blocklist", "check", "pool.supportxmr.com", data=tmp_path / "data").returncode == 1
    assert run("blocklist", "check", "pool.supportxmr.com", "--data-dir", str(tmp_path / "none"),
               data=tmp_path / "data").returncode == 0  # fmt: skip


@pytest.mark.parametrize(
    ("where", "text", "message"),
    [
        ("user", "ok.example-mining.net\nco.uk\n", "mine.txt:2: co.uk is a public suffix"),
        ("data", "ok.example-mining.net\nco.uk\n", "lists/pool.txt:2: co.uk is a public suffix"),
    ],
)
def test_bad_list_line_is_a_usage_error(tmp_path: Path, where: str, text: str, message: str) -> None:
    data = tmp_path / "data"
    args = ["blocklist", "check", "pool.supportxmr.com"]
    if where == "user":
        (tmp_path / "mine.txt").write_text(text)
        args += ["--blocklist", str(tmp_path / "mine.txt")]
    else:
        (data / "lists").mkdir(parents=True)
        (data / "lists" / "pool.txt").write_text(text)
    error = one_line_error(run(*args, data=data), 2)
    assert message in error
    hint = "run `poolsniff blocklist update` again" if where == "data" else "drop the file from --blocklist"
    assert hint in error


def test_a_missing_list_file_is_a_usage_error_that_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    error = one_line_error(run("blocklist", "check", "pool.supportxmr.com", "--blocklist", str(missing),
                               data=tmp_path / "data"), 2)  # fmt: skip
    assert f"{missing}: cannot read blocklist: No such file or directory" in error
    assert "check the path, or drop the file from --blocklist" in error
    assert "fix the line" not in error  # a file that is not there has no line to fix


def test_list(tmp_path: Path) -> None:
    proc = run("blocklist", "list", data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"data directory: {tmp_path}\n")
    assert "shipped with poolsniff" in proc.stdout
    assert "allowlist    allow" in proc.stdout
    assert "  pool       btc-pools" in proc.stdout
    assert "public suffix list: tldextract's bundled snapshot" in proc.stdout


def test_update_then_list_check_and_offline(tmp_path: Path, server: ListServer) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL, etag='"1"')
    src = sources(tmp_path, server, "/m.txt")
    data = tmp_path / "data"
    proc = run("blocklist", "update", "--sources", str(src), "--allow-http", data=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:2] == ["maltrail", "updated"]
    assert f"lists written to {data / 'lists'}" in proc.stdout
    assert proc.stderr == ""
    check = run("blocklist", "check", "x.fresh-pool-one.example-mining.net", "2miners.ru", data=data)
    assert check.returncode == 1
    assert f"sources maltrail; {data / 'lists' / 'pool.txt'}:" in check.stdout  # the updated list
    assert "2miners.ru: not listed" in check.stdout  # maltrail no longer lists it
    listing = run("blocklist", "list", data=data).stdout
    assert f"{data / 'lists' / 'pool.txt'} (written" in listing and server.url("/m.txt") in listing
    again = run("blocklist", "update", "--sources", str(src), "--allow-http", data=data)
    assert again.stdout.splitlines()[0].split()[:2] == ["maltrail", "unchanged"]
    server.stop()
    offline = run("blocklist", "update", "--sources", str(src), "--offline", data=data)
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.splitlines()[0].split()[:2] == ["maltrail", "offline"]


def test_update_failures_are_report_lines_not_errors(tmp_path: Path, server: ListServer) -> None:
    server.routes["/m.txt"] = Route(b"<html><body>blocked</body></html>")
    src = sources(tmp_path, server, "/m.txt", "/missing.txt")
    proc = run("blocklist", "update", "--sources", str(src), "--allow-http", data=tmp_path / "d")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "failed" in lines[0] and "an HTML page, not a list" in lines[0]
    assert "failed" in lines[1] and "HTTP 404" in lines[1]
    assert "no usable source copy: the lists in use were left as they are" in proc.stdout
    assert proc.stderr == "poolsniff: warning: 2 source(s) failed; see above\n"
    http = run("blocklist", "update", "--sources", str(src), data=tmp_path / "d")
    assert "plain http refused: use an https:// URL, or pass --allow-http" in http.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources:\n  - name: m\n    url: [\n", "sources.yaml:4: "),
        ("sources: []\nmirrors: []\n",
         "sources.yaml:2: unknown key 'mirrors' (valid keys: sources, public_suffix_list)"),
        ("sources:\n  - {name: m, url: 'https://e.org/l', format: csv, category: pool}\n",
         "sources.yaml:2: bad format 'csv' (valid: domains, hosts, adblock, maltrail)"),
    ],
)  # fmt: skip
def test_update_bad_sources_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    error = one_line_error(run("blocklist", "update", "--sources", str(path), data=tmp_path / "d"), 2)
    assert error.startswith(str(tmp_path / message.split(":")[0]))
    assert message in error


def test_update_unwritable_data_dir(tmp_path: Path, server: ListServer) -> None:
    server.routes["/m.txt"] = Route(MALTRAIL)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    src = sources(tmp_path, server, "/m.txt")
    error = one_line_error(run("blocklist", "update", "--sources", str(src), "--allow-http",
                               "--data-dir", str(blocker / "data"), data=tmp_path), 4)  # fmt: skip
    assert "cannot write the data directory" in error


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("hosts", "0.0.0.0 supportxmr.com\n"),
        ("dnsmasq", "address=/supportxmr.com/\n"),
        ("unbound", '    local-zone: "supportxmr.com." always_nxdomain\n'),
        ("rpz", "*.supportxmr.com CNAME .\n"),
        ("zeek-intel", "supportxmr.com\tIntel::DOMAIN\tpoolsniff\t"),
        ("suricata-dataset", "LnN1cHBvcnR4bXIuY29t\n"),
        ("adblock", "||supportxmr.com^\n"),
    ],
)
def test_export_to_stdout(tmp_path: Path, fmt: str, marker: str) -> None:
    proc = run("blocklist", "export", "--format", fmt, data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout
    if fmt == "suricata-dataset":
        assert "dataset:isset,poolsniff-pools" in proc.stderr  # the rules, for a human
    else:
        assert proc.stderr == ""


def test_export_to_files(tmp_path: Path) -> None:
    out = tmp_path / "poolsniff-pools.lst"
    args = ["--format", "suricata-dataset", "--category", "donation", "-o", str(out)]
    proc = run("blocklist", "export", *args, data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    values = out.read_text().split()
    assert "LmRvbmF0ZS52Mi54bXJpZy5jb20=" in values  # .donate.v2.xmrig.com
    assert len(values) < 20  # the donation list only
    rules = (tmp_path / "poolsniff-pools.rules").read_text()
    assert rules.count("load poolsniff-pools.lst;") == 3
    deep = tmp_path / "a" / "b" / "x"
    assert run("blocklist", "export", "--format", "hosts", "-o", str(deep), data=tmp_path).returncode == 0
    assert deep.read_text().startswith("# Title: poolsniff mining pools")
    unwritable = run("blocklist", "export", "--format", "hosts", "-o", str(out / "x"), data=tmp_path)
    assert "cannot write" in one_line_error(unwritable, 4)
    wrong = run("blocklist", "export", "--format", "bind", data=tmp_path)
    assert wrong.returncode == 2 and "Invalid value for '--format'" in wrong.stderr


def test_scan_uses_the_data_dir_lists(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "pool.txt").write_text("notsupportxmr.com testsrc\nwww.example.org testsrc\n")
    proc = run("scan", "-q", str(PCAPS / "dns-pool-lookup.pcap"), data=tmp_path)
    assert proc.returncode == 1, proc.stderr
    alerts = [r["alert"] for r in alert_lines(proc.stdout)]
    entries = [alert["metadata"].get("blocklist_entry") for alert in alerts]
    assert ["notsupportxmr.com"] in entries  # listed by the data dir's pool list
    assert ["supportxmr.com"] not in entries  # the shipped pool list is replaced
    assert ["www.example.org"] not in entries  # the shipped allowlist still wins
