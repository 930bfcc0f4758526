"""Tests for poolsniff.engine.fast."""
