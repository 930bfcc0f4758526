"""Tests for poolsniff.report."""
