"""Tests for poolsniff.intel.update."""
