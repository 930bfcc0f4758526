"""The enrichment stage: list matches, pool names and redaction added to each detection.

detectors -> Detection -> **enricher** (blocklists from ``intel``, names from ``dnsmemory``) -> output

``dnsmemory`` remembers which name each address was resolved from (passive DNS); the name
detector asks it through ``detect.interface.AddressNames``.
"""
