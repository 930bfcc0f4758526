"""The per-host report: reading EVE files, grouping per host, JSON and CSV."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from poolsniff.errors import InputError
from poolsniff.intel.lists import load_shipped
from poolsniff.output.eve import to_eve
from poolsniff.output.evefields import format_ts, parse_ts, suppressed_count
from poolsniff.output.suppress import Suppressor
from poolsniff.report.summary import (
    CSV_COLUMNS,
    ReadStats,
    host_dict,
    open_alerts,
    read_alerts,
    summarise,
    summarise_files,
    to_csv,
    to_json,
)
from poolsniff.run.scan import scan_file

from .. import factories_captures as captures
from ..conftest import PCAPS
from ..factories_eve import T0, eve

SECOND = 1_000_000
WALLET = "43tmeJ4TyczMGQyoQmMTFaVyv9PbCHsBQ8ffhV4C2qf3UunVdtu5FdzBoEQCS9jCZbEegMWXUUhpSbKRbrCd4CtoKhzGki5"


def lines(*records: object) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r) for r in records]


def test_reads_mining_alerts_and_skips_the_rest() -> None:
    other = eve(0)
    other["alert"] = {**other["alert"], "signature_id": 2000001, "category": "Attempted Information Leak"}
    et_miner = eve(0)
    et_miner["alert"] = {**et_miner["alert"], "signature_id": 2024792}  # ET COINMINER: same category
    text = lines(eve(0), {"event_type": "stats", "stats": {}}, "", "  ", other, et_miner, eve(1, "pool"))
    stats = ReadStats()
    got = list(read_alerts(text, "eve.json", stats))
    assert [r["alert"]["signature_id"] for r in got] == [9300101, 2024792, 9300102]
    assert stats.lines == 7 and stats.alerts == 3
    assert stats.skipped == Counter({"blank": 2, "event_type stats": 1, "alerts of other categories": 1})


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", "eve.json:2: not a JSON line"),
        ("[1, 2]", "eve.json:2: not a JSON object"),
        (
            json.dumps({k: v for k, v in eve(0).items() if k != "src_ip"}),
            "eve.json:2: bad alert: no 'src_ip'",
        ),
        (json.dumps({**eve(0), "timestamp": "noon"}), "eve.json:2: bad alert: bad timestamp"),
        (json.dumps({"event_type": "alert", "src_ip": "192.0.2.1"}), "eve.json:2: bad alert"),
    ],
)
def test_bad_line_names_file_and_line(bad: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(read_alerts([json.dumps(eve(0)), bad, json.dumps(eve(1))], "eve.json"))


@pytest.mark.parametrize("compress", [False, True])
def test_open_alerts_reads_plain_and_gzip(tmp_path: Path, compress: bool) -> None:
    data = ("\n".join(lines(eve(0), eve(1))) + "\n").encode()
    path = tmp_path / "eve.json.gz"
    path.write_bytes(gzip.compress(data) if compress else data)
    with open_alerts(str(path)) as stream:
        assert len(list(read_alerts(stream, str(path)))) == 2


def test_open_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.json: cannot open: No such file"):
        open_alerts(str(tmp_path / "missing.json"))


def test_truncated_gzip_is_input_error_naming_the_line(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(lines(*[eve(i) for i in range(200)])) + "\n").encode())
    path = tmp_path / "eve.json.gz"
    path.write_bytes(data[: len(data) // 2])
    with open_alerts(str(path)) as stream, pytest.raises(InputError, match=r"eve.json.gz:\d+: cannot read"):
        list(read_alerts(stream, str(path)))


def test_one_host_in_detail() -> None:
    records = [
        eve(0, "dns", pool_host="xmr.pool.example", pool="pool.example"),
        eve(1, pool_host="xmr.pool.example", pool="pool.example", flavour="cryptonote", wallet=WALLET,
            agent="XMRig/6.22.2"),
        eve(1, "pool", flavour="cryptonote"),  # the pool side of the same session: no pool_host
        eve(90, pool_host="xmr.pool.example", pool="pool.example", flavour="cryptonote", wallet=WALLET,
            agent="XMRig/6.22.2", source="later.pcap"),
    ]  # fmt: skip
    [host] = summarise(records)
    d = host_dict(host)
    assert d["host"] == "192.0.2.10"
    assert (d["first_seen"], d["last_seen"]) == (records[0]["timestamp"], records[3]["timestamp"])
    assert d["alerts"] == 4 and d["suppressed"] == 0
    assert d["roles"] == {"miner": 2, "client": 1, "pool": 1}
    # the endpoint-only pool of the pool-side alert is folded into the named pool reached there
    assert d["pools"] == [
        {
            "pool": "xmr.pool.example",
            "domain": "pool.example",
            "endpoints": ["198.51.100.10:3333"],
            "alerts": 4,
        }
    ]
    assert d["flavours"] == {"cryptonote": 3}
    assert d["wallets"] == {WALLET: 2}
    assert d["agents"] == {"XMRig/6.22.2": 2}
    assert [(s["signature_id"], s["alerts"]) for s in d["signatures"]] == [
        (9300101, 2),
        (9300102, 1),
        (9300201, 1),
    ]
    assert d["sources"] == {"capture.pcap": 3, "later.pcap": 1}


def test_hosts_sorted_by_alerts_then_address() -> None:
    records = [eve(0, host="192.0.2.9"), eve(0, host="2001:db8::1"), eve(0, host="192.0.2.10"),
               eve(1, host="192.0.2.10"), eve(0, host="192.0.2.100")]  # fmt: skip
    assert [h.host for h in summarise(records)] == ["192.0.2.10", "192.0.2.9", "192.0.2.100", "2001:db8::1"]


def test_suppressed_lines_count_for_what_they_stand_for() -> None:
    raw = [eve(60 * i, sport=1000 + i, pool_host="xmr.pool.example") for i in range(100)]
    s = Suppressor(3600)
    kept = [r for rec in raw for r in s.feed(rec)] + s.finish()
    assert len(kept) < len(raw)
    full, folded = host_dict(summarise(raw)[0]), host_dict(summarise(kept)[0])
    assert folded["alerts"] == full["alerts"] == len(raw)
    assert folded["suppressed"] == sum(suppressed_count(r) for r in kept) > 0
    assert (folded["first_seen"], folded["last_seen"]) == (full["first_seen"], full["last_seen"])
    assert folded["signatures"] == full["signatures"]


def test_suppressed_since_extends_first_seen() -> None:
    record = eve(100)
    record["alert"]["metadata"].update(
        suppressed_count=["3"], suppressed_since=[format_ts((T0 + 40) * 10**6)]
    )
    [host] = summarise([record])
    assert host.alerts == 4 and host.first_us == (T0 + 40) * 10**6


def scanned(name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    scan_file(str(PCAPS / name), load_shipped(), emit=out.append, to_record=to_eve)
    return out


@pytest.mark.parametrize(
    "capture",
    ["stratum-v1-cgminer.pcap", "dns-then-tls-stratum.pcap", "coin-daemon-rpc.pcap", "getwork-http.pcap"],
)
def test_report_of_a_scan_accounts_for_every_alert(capture: str) -> None:
    records = scanned(capture)
    text = lines(*records)
    reports = summarise(read_alerts(text, capture))
    alerts = [r for r in records if r["event_type"] == "alert"]
    assert {h.host for h in reports} == {r["src_ip"] for r in alerts}
    assert sum(h.alerts for h in reports) == len(alerts)
    assert sum(h.flows for h in reports) == len(records) - len(alerts) > 0
    wallets = {r["alert"]["metadata"]["wallet"][0] for r in alerts if "wallet" in r["alert"]["metadata"]}
    assert {w for h in reports for w in h.wallets} == wallets


def test_json_is_a_document_of_hosts() -> None:
    reports = summarise([eve(0), eve(5, host="192.0.2.11", agent="cgminer/4.11.1")])
    doc = json.loads(to_json(reports))
    assert [h["host"] for h in doc["hosts"]] == ["192.0.2.10", "192.0.2.11"]
    assert doc["hosts"][1]["agents"] == {"cgminer/4.11.1": 1}
    assert to_json([]) == '{\n  "hosts": []\n}\n'


def test_csv_has_a_row_per_host_and_defuses_formulas() -> None:
    reports = summarise([eve(0, agent='=HYPERLINK("http://x")', wallet=WALLET), eve(0, host="192.0.2.11")])
    rows = list(csv.reader(io.StringIO(to_csv(reports))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    row = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert row["host"] == "192.0.2.10" and row["alerts"] == "1"
    assert row["agents"].startswith("'=HYPERLINK")
    assert row["wallets"] == f"{WALLET} (1)"
    assert row["pools"] == "198.51.100.10:3333 (1)"


def test_summarise_files_reads_several_files_and_names_the_bad_one(tmp_path: Path) -> None:
    one, two, bad = tmp_path / "a.json", tmp_path / "b.json.gz", tmp_path / "bad.json"
    one.write_text("\n".join(lines(eve(0), eve(1, host="192.0.2.11"))) + "\n")
    two.write_bytes(gzip.compress((json.dumps(eve(2)) + "\n").encode()))
    bad.write_text(json.dumps(eve(0)) + "\n{oops\n")
    stats = ReadStats()
    hosts = summarise_files([str(one), str(two)], stats)
    assert [(h.host, h.alerts) for h in hosts] == [("192.0.2.10", 2), ("192.0.2.11", 1)]
    assert stats.alerts == 3
    with pytest.raises(InputError, match=f"{bad}:2: not a JSON line"):
        summarise_files([str(one), str(bad)])


# --------------------------------------------------------------------------- flow records: how long, how much


def test_flow_records_give_mining_time_volume_and_last_activity(tmp_path: Path) -> None:
    """XMRig --daemon, suppressed to two alert lines: its 20 flows still say how long and how much."""
    capture = tmp_path / "daemon.pcap"
    capture.write_bytes(captures.capture(captures.xmrig_daemon_polls(20)))
    records: list[dict[str, Any]] = []
    scan_file(str(capture), load_shipped(), emit=records.append, to_record=to_eve)
    flows = [r for r in records if r["event_type"] == "flow"]
    kept = [r for r in records if r["event_type"] == "alert"][:1]  # as if suppression kept only the first
    [host] = summarise(read_alerts(lines(*kept, *flows), "x"))
    assert (host.host, host.alerts, host.flows) == ("192.0.2.20", 1, 20)
    assert host.last_us == max(parse_ts(f["flow"]["end"]) for f in flows)
    assert host.last_us > parse_ts(kept[0]["timestamp"]) + 19 * SECOND
    assert host.mining_us == sum(parse_ts(f["flow"]["end"]) - parse_ts(f["flow"]["start"]) for f in flows)
    assert host.bytes_sent == sum(f["flow"]["bytes_toserver"] for f in flows)
    assert host.bytes_received == sum(f["flow"]["bytes_toclient"] for f in flows)


def flow(start: int, end: int, *, bits: list[str] | None = None, host: str = "192.0.2.10") -> dict[str, Any]:
    """A poolsniff flow record of ``host`` (the client) from ``start`` to ``end`` (seconds after T0)."""
    return {
        "timestamp": format_ts(T0 + end * SECOND), "event_type": "flow", "src_ip": host, "src_port": 50000,
        "dest_ip": "198.51.100.10", "dest_port": 3333, "proto": "TCP",
        "flow": {"pkts_toserver": 1, "pkts_toclient": 1, "bytes_toserver": 100, "bytes_toclient": 1000,
                 "start": format_ts(T0 + start * SECOND), "end": format_ts(T0 + end * SECOND),
                 "age": end - start, "state": "closed", "reason": "timeout", "alerted": True},
        "metadata": {"flowbits": bits if bits is not None else ["poolsniff.miner"]},
    }  # fmt: skip


def test_mining_time_is_the_union_of_the_flows() -> None:
    [host] = summarise(read_alerts(lines(flow(0, 60), flow(30, 90), flow(200, 210)), "x"))
    assert host.mining_us == 100 * SECOND and host.flows == 3


def test_the_miner_is_the_server_when_the_flowbit_says_so() -> None:
    record = flow(0, 10, bits=["poolsniff.pool", "poolsniff.miner_is_server"])
    [host] = summarise(read_alerts(lines(record), "x"))
    assert (host.host, host.bytes_sent, host.bytes_received) == ("198.51.100.10", 1000, 100)


def test_coin_daemon_rpc_is_no_mining_time() -> None:
    [host] = summarise(read_alerts(lines(flow(0, 10, bits=["poolsniff.infrastructure"])), "x"))
    assert (host.flows, host.mining_us, host.bytes_sent) == (1, 0, 0)


def test_flows_of_others_are_skipped_and_bad_flows_are_errors() -> None:
    stats = ReadStats()
    suricata = {**flow(0, 1), "metadata": {"flowbits": ["ET.coinminer"]}}
    assert list(read_alerts(lines(suricata, {**flow(0, 1), "metadata": {}}), "x", stats)) == []
    assert stats.skipped["event_type flow"] == 2
    bad = flow(0, 1)
    bad["flow"]["start"] = "yesterday"
    with pytest.raises(InputError, match="x:1: bad flow record"):
        list(read_alerts(lines(bad), "x"))


def test_the_coin_daemons_client_is_not_called_a_miner() -> None:
    records = scanned("coin-daemon-rpc.pcap")
    hosts = {h.host: h for h in summarise(read_alerts(lines(*records), "x"))}
    assert set(hosts["10.0.0.13"].roles) == {"infrastructure"}
    assert hosts["10.0.0.13"].mining_us == 0
