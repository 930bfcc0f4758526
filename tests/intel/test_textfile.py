"""read_text: a user file's text, or one ConfigError naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from poolsniff.errors import ConfigError
from poolsniff.intel.textfile import read_text


def test_reads_utf8(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("pool.example.net  # ü\n", encoding="utf-8")
    assert read_text(f, "blocklist") == "pool.example.net  # ü\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read blocklist: No such file or directory"),
        (b"\xff\xfe\x00", "not UTF-8 text (byte 0)"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    f = tmp_path / "bad.txt"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        read_text(f, "blocklist")
    assert str(info.value) == f"{f}: {message}"
