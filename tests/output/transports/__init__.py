"""Tests for poolsniff.output.transports."""
