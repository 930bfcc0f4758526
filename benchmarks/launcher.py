"""A small, long-lived process that starts the benchmark's timed commands and waits for them.

Why: Linux keeps a process's peak RSS (``ru_maxrss``) across ``exec``, taken from the memory of
the process that forked it. A command started straight from the benchmark, once the benchmark
has grown (it converts and reads captures), reports the benchmark's own peak as its own: the
pcapng rows once showed 560 MiB for both tools that, started alone, peak at 37 and 52 MiB. The
launcher is started first, while the benchmark is small, and starts every command itself, so a
command's ``ru_maxrss`` is its own (the launcher's ~10 MiB is the floor).

Protocol, one JSON line each way per command: the request ``{"cmd": [...], "env": {...}}``;
the answers ``{"pid": N}`` once the command runs, then ``{"wall": s, "maxrss": KiB, "status": n}``
(``status`` as ``subprocess`` gives it) or ``{"error": "..."}`` if it could not start.
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
from typing import IO, Any

_SERVER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    req = json.loads(line)
    try:
        start = time.perf_counter()
        null = subprocess.DEVNULL
        proc = subprocess.Popen(req["cmd"], stdout=null, stderr=null, env=req["env"])
    except OSError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        continue
    print(json.dumps({"pid": proc.pid}), flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: else Popen warns it still runs
    print(json.dumps({"wall": wall, "maxrss": usage.ru_maxrss, "status": proc.returncode}), flush=True)
"""


class Launcher:
    """The launcher process; ``start`` it before the benchmark grows."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the launcher process (once); it is closed when this process exits (``close``)."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            atexit.register(self.close)

    def close(self) -> None:
        """End the launcher process: its input closes, it leaves its loop, it is waited for."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin and proc.stdout
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def begin(self, cmd: list[str], env: dict[str, str]) -> int:
        """Start ``cmd`` (stdout and stderr to /dev/null); its pid."""
        self.start()
        stdin, stdout = self._pipes()
        stdin.write(json.dumps({"cmd": cmd, "env": env}) + "\n")
        stdin.flush()
        answer = self._answer(stdout)
        if "error" in answer:
            raise OSError(f"{cmd[0]}: {answer['error']}")
        return int(answer["pid"])

    def end(self) -> tuple[float, int, int]:
        """Wait for the command ``begin`` started: wall seconds, peak RSS (KiB), exit status."""
        answer = self._answer(self._pipes()[1])
        return float(answer["wall"]), int(answer["maxrss"]), int(answer["status"])

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        return self._proc.stdin, self._proc.stdout

    @staticmethod
    def _answer(stdout: IO[str]) -> dict[str, Any]:
        line = stdout.readline()
        if not line:
            raise SystemExit("the benchmark's launcher process died")
        answer: dict[str, Any] = json.loads(line)
        return answer
