"""Tests for poolsniff.run."""
