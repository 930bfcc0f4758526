"""Tests for poolsniff.engine.split."""
