"""gather: each path on its own; folders skip non-captures, named files must be captures, - is stdin."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from poolsniff.errors import ConfigError
from poolsniff.sources.inputs import Inputs, gather

from .test_pcap import NG, PCAP


def test_each_path_in_order_errors_apart(tmp_path: Path) -> None:
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "b.pcap").write_bytes(PCAP)
    (tmp_path / "dir" / "a.pcapng.gz").write_bytes(gzip.compress(NG))
    (tmp_path / "dir" / "notes.txt").write_text("not a capture\n")
    named = tmp_path / "named.pcap"
    named.write_bytes(PCAP)
    text = tmp_path / "text.pcap"
    text.write_text("hello\n")
    found = gather([str(tmp_path / "missing.pcap"), str(named), "-", str(tmp_path / "dir"), str(text)])
    assert found.files == [
        str(named),
        "-",
        str(tmp_path / "dir" / "a.pcapng.gz"),
        str(tmp_path / "dir" / "sub" / "b.pcap"),
    ]
    assert [str(e) for e in found.errors] == [
        f"{tmp_path / 'missing.pcap'}: no such file or directory; check the path (a capture file, a folder "
        "of captures, or - for stdin)",
        f"{text}: not a pcap or pcapng file (first bytes 68 65 6c 6c); "
        "expected a capture written by tcpdump, tshark or Wireshark",
    ]


def test_a_file_cut_in_its_header_is_caught_before_the_scan(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(PCAP[:10])
    found = gather([str(cut)])
    assert found.files == [] and "file ends inside the pcap file header (10 of 24 bytes)" in str(
        found.errors[0]
    )


def test_a_fifo_is_not_read_ahead(tmp_path: Path) -> None:
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    result: list[Inputs] = []
    worker = threading.Thread(target=lambda: result.append(gather([str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():  # it waits for a writer: give it one, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("gather opened the FIFO")
    assert result[0].files == [str(fifo)] and result[0].errors == []


def test_stdin_only_once() -> None:
    with pytest.raises(ConfigError, match="only once"):
        gather(["-", "x.pcap", "-"])
