"""Tests for poolsniff.enrich."""
