"""The benchmark's generated mixes (``benchmarks/mixcap.py``, ``benchmarks/shortmix.py``) as test captures.

``mix(path, packets, seed, mining_every=N)`` writes the bulk-heavy mix, ``short_mix(...)`` the
short-flow one, with a mining session of each kind every ``mining_every`` packets when given
(the generators' default is one per 25,000 or 40,000, too rare for a test of 20,000 packets).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import mixcap  # noqa: E402
import shortmix  # noqa: E402


def _generate(module: ModuleType, generate: Callable[..., object], path: Path, packets: int, seed: int,
              mining_every: int | None) -> Path:  # fmt: skip
    saved = module.MINING_EVERY
    if mining_every is not None:
        module.MINING_EVERY = mining_every
    try:
        generate(str(path), packets, seed=seed)
    finally:
        module.MINING_EVERY = saved
    return path


def mix(path: Path, packets: int, seed: int, mining_every: int | None = None) -> Path:
    """The bulk-heavy mix at ``path``."""
    return _generate(mixcap, mixcap.generate, path, packets, seed, mining_every)


def short_mix(path: Path, packets: int, seed: int, mining_every: int | None = None) -> Path:
    """The short-flow mix at ``path``."""
    return _generate(shortmix, shortmix.generate, path, packets, seed, mining_every)
