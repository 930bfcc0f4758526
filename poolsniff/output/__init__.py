"""The output stage: alerts become EVE records and go where the user said.

enrichment -> Alert -> **eve** (one record builder) -> stage (suppression, metrics) -> transports/

``eve`` builds the Suricata EVE record, ``evefields`` reads facts back out of one, ``suppress``
folds repeats, ``metrics`` writes Prometheus counters, ``stage`` wires them for ``scan`` and
``sniff``; ``transports/`` holds the writers and forwarders (JSON lines, syslog, Redis).
"""
