"""Tests for poolsniff.intel."""
