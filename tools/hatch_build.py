"""Build hook: compile the optional C record walk, ``poolsniff/engine/fast/_walk.c``, at install time.

hatchling runs this for every wheel it builds, including the editable install that ``make``
does. The extension speeds up the prefilter's walk over pcap records (issue 6, throughput);
``poolsniff.engine.fast.walk.skip`` is the same function in Python and is used when the extension is
missing, so a machine without a C compiler or Python's headers still gets a working
poolsniff: the build prints why it skipped the extension and goes on.

Set ``POOLSNIFF_NO_EXTENSION=1`` to build without it (the tests cover both walks).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "poolsniff/engine/fast/_walk.c"
FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]


class WalkExtensionHook(BuildHookInterface):  # type: ignore[misc]
    """Compile ``_walk.c`` into ``poolsniff/engine/fast/_walk<EXT_SUFFIX>`` when a compiler is there."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the extension; in place for an editable install, else into the wheel."""
        if os.environ.get("POOLSNIFF_NO_EXTENSION"):
            _say("POOLSNIFF_NO_EXTENSION is set: building without the C record walk")
            return
        root = Path(self.root)
        name = "_walk" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        if version == "editable":
            target = root / "poolsniff" / "engine" / "fast" / name
        else:
            target = Path(tempfile.mkdtemp(prefix="poolsniff-build-")) / name
        if not _compile(root / SOURCE, target):
            return
        if version != "editable":
            build_data["force_include"][str(target)] = f"poolsniff/engine/fast/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True


def _compile(source: Path, target: Path) -> bool:
    """Compile ``source`` into the shared object ``target``; False (with a note) on failure."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        _say(f"no C compiler ({cc[0] if cc else 'cc'}): using the pure-Python record walk")
        return False
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        _say(f"no Python.h in {include} (install python3-dev): using the pure-Python record walk")
        return False
    command = [*cc, *FLAGS, f"-I{include}", str(source), "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _say(f"compiling {source.name} failed: using the pure-Python record walk\n{done.stderr}")
        return False
    return True


def _say(message: str) -> None:
    print(f"poolsniff build: {message}", file=sys.stderr)
