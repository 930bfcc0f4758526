"""poolsniff: find cryptocurrency miners by their network traffic."""

from poolsniff import native

__version__ = "0.1.0"

native.choose()  # compiled hot modules, or their sources (before any of them is imported)
