"""Running poolsniff as ``nobody``, for the tests that drop privileges (``setpriv``, ``sniff --user``).

A clone may sit where only root can enter (a ``mktemp -d`` folder is mode 700), and so may the
virtualenv in it: ``nobody`` then cannot import poolsniff from it. :func:`install_for_nobody` checks
what ``nobody`` can reach. When it can import poolsniff where it is, the tests run it as they are;
when it cannot, poolsniff and its runtime dependencies are copied into a world-readable
temporary folder (under ``/tmp``, not pytest's own temporary folder, which is private to root)
and run from there through ``PYTHONPATH``; when ``nobody`` cannot even run this Python (an
interpreter under ``/root``, as pyenv installs it), the caller skips, saying so. Every path it
runs from is checked by actually running it as ``nobody``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import poolsniff

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
"""The prefix that runs a command as ``nobody`` (uid and gid 65534), without supplementary groups."""
PROBE = "import poolsniff.cli.app, poolsniff.run.sniff, poolsniff.sources.live"
"""What a run as nobody imports, eagerly or after dropping privileges."""


@dataclass
class Install:
    """How to run ``python -m poolsniff`` as ``nobody``: the environment to add, the copy to delete."""

    env: dict[str, str] = field(default_factory=dict)
    copy: Path | None = None

    def environ(self) -> dict[str, str]:
        """This process's environment with ``env`` added."""
        return {**os.environ, **self.env}

    def remove(self) -> None:
        """Delete the copy, if one was made."""
        if self.copy is not None:
            shutil.rmtree(self.copy, ignore_errors=True)


def as_nobody(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as nobody from ``/`` (so that the clone need not be reachable).

    Through ``env``: setpriv still holds root's capabilities when it executes its command, so it can
    start a Python that ``nobody`` cannot reach (one under ``/root``, mode 700), which then quietly
    falls back to the system's standard library; ``env`` runs as ``nobody`` without capabilities,
    as the tests' own commands and ``sniff --user`` do, so the probe sees what they will see.
    """
    return subprocess.run(
        [*NOBODY, "env", *argv], capture_output=True, text=True, timeout=120, cwd="/", env=env
    )  # fmt: skip


def install_for_nobody() -> Install | str:
    """An :class:`Install` that nobody can run, or the reason there is none."""
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    python = sys.executable
    if as_nobody(python, "-c", PROBE).returncode == 0:
        return Install()
    bare = as_nobody(python, "-I", "-c", "import json")
    if bare.returncode:
        real = os.path.realpath(python)
        return f"nobody cannot run this Python ({python}, that is {real}): {_last_line(bare.stderr)}"
    copy = Path(tempfile.mkdtemp(prefix="poolsniff-nobody-", dir="/tmp"))
    install = Install({"PYTHONPATH": str(copy)}, copy)
    _copy_install(copy)
    probe = as_nobody(python, "-c", PROBE, env=install.environ())
    if probe.returncode:
        install.remove()
        return f"nobody cannot import a copy of poolsniff in {copy}: {_last_line(probe.stderr)}"
    return install


def _copy_install(root: Path) -> None:
    """poolsniff's package and every file of its runtime dependencies, readable by all."""
    package = Path(poolsniff.__file__).parent
    shutil.copytree(package, root / "poolsniff", ignore=shutil.ignore_patterns("__pycache__"))
    for dist in _runtime_distributions("poolsniff"):
        for file in dist.files or ():
            source = Path(str(dist.locate_file(file)))
            target = root / file
            if source.is_file() and not str(file).startswith(".."):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _runtime_distributions(name: str) -> Iterator[importlib.metadata.Distribution]:
    """The installed distributions ``name`` needs to run (its requirements without extras, recursively)."""
    seen: set[str] = {name.lower()}
    todo = [name]
    while todo:
        for requirement in importlib.metadata.requires(todo.pop()) or ():
            if "extra ==" in requirement:
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if match is None or match.group(0).lower() in seen:
                continue
            seen.add(match.group(0).lower())
            try:
                dist = importlib.metadata.distribution(match.group(0))
            except importlib.metadata.PackageNotFoundError:
                continue  # an environment marker left it out
            todo.append(match.group(0))
            yield dist


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
