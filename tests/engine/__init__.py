"""Tests for poolsniff.engine."""
