"""The demo-capture generator: one module per layer, one per scenario family (tools/make_pcaps.py)."""
