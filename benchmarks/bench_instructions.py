"""Instructions a scan executes, counted by valgrind's callgrind: an exact figure where times are noisy.

    python benchmarks/bench_instructions.py CAPTURE [--jobs 1] [--tree DIR]... [--keep DIR]

Each tree (a checkout with its ``.venv`` built, by default this one) scans ``CAPTURE`` under
``valgrind --tool=callgrind``; the instructions of each process and their total are printed, one line
per process and one per tree. Before that, each tree's byte code is brought up to date
(``compileall``, as ``make`` does: a stale ``.pyc`` is parsed again at every start) and a plain scan
fills its list cache (``parsed-lists.marshal`` in a data directory of its own, so the counted run
reads it, as every later start does).

With ``--jobs 1`` the count is the same from run to run within a few thousand instructions (the hash
seed is fixed), so a change of 0.1 % shows where wall and CPU times on a shared host vary by 10 %.
The split's two processes share their work by timing (the back's word that a direction is closed),
so their counts move a little from run to run. Instructions are not time: cache misses, system calls
and the pipe between the processes count for nothing here, so a change this shows is timed too
before it is kept. A scan runs about 50 times slower under callgrind; a capture of 100,000 packets
takes a minute (``editcap -r`` cuts one out of a larger capture). ``--keep DIR`` keeps callgrind's
files (``DIR/run-N/<tree>/callgrind.<pid>``) for ``callgrind_annotate --inclusive=yes``, which says
where the instructions go.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^summary:\s+(\d+)", re.M)


def scan_command(tree: Path, capture: Path, jobs: str) -> list[str]:
    """The tree's own ``poolsniff scan`` of ``capture``, its records thrown away."""
    python = str(tree / ".venv" / "bin" / "python")
    return [python, "-m", "poolsniff", "scan", "-q", "--jobs", jobs, str(capture), "-o", os.devnull]


def prepare(tree: Path, capture: Path, data_dir: Path, jobs: str) -> None:
    """Bring the tree's byte code up to date and fill its list cache with one plain scan."""
    python = str(tree / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "compileall", "-q", str(tree / "poolsniff")], check=True)
    env = {**os.environ, "POOLSNIFF_DATA_DIR": str(data_dir)}
    scan = scan_command(tree, capture, jobs)
    subprocess.run(scan, env=env, check=False, stdout=subprocess.DEVNULL, cwd=tree)


def count(tree: Path, capture: Path, data_dir: Path, jobs: str, work: Path) -> list[tuple[int, int]]:
    """[(pid, instructions)] of each process of one scan of ``capture`` by ``tree``, under callgrind."""
    out = work / tree.name
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "POOLSNIFF_DATA_DIR": str(data_dir), "PYTHONHASHSEED": "0"}
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p"]
    command += scan_command(tree, capture, jobs)
    done = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=False)
    counted = []
    for path in sorted(out.glob("callgrind.*")):
        found = SUMMARY.search(path.read_text(errors="replace"))
        if found:
            counted.append((int(path.name.rsplit(".", 1)[1]), int(found[1])))
    if not counted:
        raise SystemExit(f"callgrind counted nothing for {tree}:\n{done.stderr[-2000:]}")
    return counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--jobs", default="1", help="as scan's --jobs (default 1: one process, exact)")
    parser.add_argument("--tree", type=Path, action="append", help="a checkout with a built .venv (repeat)")
    parser.add_argument("--keep", type=Path, help="keep callgrind's files in this (new or empty) folder")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    capture = args.capture.resolve()
    trees = [tree.resolve() for tree in (args.tree or [ROOT])]
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        print(f"{args.keep}: not empty; name a new or empty folder for --keep", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="poolsniff-instructions-") as scratch:
        work = args.keep.resolve() if args.keep is not None else Path(scratch)
        print(f"instructions of `poolsniff scan --jobs {args.jobs} {capture.name}` (callgrind)")
        for i, tree in enumerate(trees):
            data_dir = Path(scratch) / f"data-{i}"
            prepare(tree, capture, data_dir, args.jobs)
            counted = count(tree, capture, data_dir, args.jobs, work / f"run-{i}")
            for pid, instructions in counted:
                print(f"  {tree}  process {pid}: {instructions:,}")
            print(f"{tree}  total: {sum(n for _, n in counted):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
