"""poolsniff: find cryptocurrency miners by their network traffic."""

__version__ = "0.1.0"
