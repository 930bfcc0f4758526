"""The command line (entry layer, above every stage): ``poolsniff`` and its command groups.

``app`` is the root group and the one place that turns errors into exit statuses; each command
group has its module; ``settings`` reads the YAML files (``poolsniff.yaml`` and the sources file).
"""

from poolsniff.cli.app import main

__all__ = ["main"]
