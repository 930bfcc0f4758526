"""Tests for poolsniff.report.formats."""
