"""The real servers' start-up: one that finds its port taken says so, and is not a test failure."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.ports import PortTaken

from . import services


def test_mosquitto_on_a_port_another_program_holds_raises_port_taken(tmp_path: Path) -> None:
    binary = services.program("mosquitto", "mosquitto")
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        config = tmp_path / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n")
        with pytest.raises(PortTaken):
            services._start([binary, "-c", str(config)], port, tmp_path / "mosquitto.log")
