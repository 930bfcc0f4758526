"""The probe ledger: the rate-limit state in the data directory, shared by every poolsniff process (adapter).

confirm request -> **ledger (probes.json, under a lock)** -> limits -> probe

``<data dir>/probes.json`` holds :class:`~poolsniff.confirm.limits.LimitState` as JSON, so a
restart, a second sensor or ``poolsniff probe`` run by hand all see the same probes of the day.
Each read-check-claim runs under an exclusive ``flock`` on ``probes.lock`` (released by the kernel
if the process dies) and the file is replaced atomically. A missing or damaged file is an empty
ledger; one that cannot be written is an ``OutputError`` naming it: probing without a ledger
would lose the one-per-day rule, so the probe does not happen.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from poolsniff.confirm.limits import LimitState
from poolsniff.errors import OutputError
from poolsniff.files import write_atomic

FILE: Final = "probes.json"
LOCK: Final = "probes.lock"


class Ledger:
    """The probes of the last day, kept in ``folder``."""

    def __init__(self, folder: Path, *, per_endpoint_s: float | None = None, max_per_hour: int | None = None):
        """Use ``folder`` (the data directory); the limits default to those of ``limits``."""
        self.folder = folder
        self.path = folder / FILE
        self.limits = LimitState()
        if per_endpoint_s is not None:
            self.limits.per_endpoint_s = per_endpoint_s
        if max_per_hour is not None:
            self.limits.max_per_hour = max_per_hour

    @contextmanager
    def state(self) -> Iterator[LimitState]:
        """The state, read under the lock; what the caller changes is written back before the lock goes."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"{self.folder / LOCK}: cannot open the probe ledger: {e.strerror}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = LimitState(self.limits.per_endpoint_s, self.limits.max_per_hour)
            state.load_json(self._read())
            yield state
            try:
                write_atomic(self.path, json.dumps(state.to_json(), indent=1) + "\n", parents=True)
            except OSError as e:
                raise OutputError(f"{self.path}: cannot write the probe ledger: {e.strerror}") from e
        finally:
            os.close(fd)

    def _read(self) -> object:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
