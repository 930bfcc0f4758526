"""``python -m poolsniff``: the same as the ``poolsniff`` command."""

from poolsniff.cli import main

main()
