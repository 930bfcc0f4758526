"""The demo captures, one module per family of scenarios."""
