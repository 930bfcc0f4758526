"""Tests for poolsniff.output."""
