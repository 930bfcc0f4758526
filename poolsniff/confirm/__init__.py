"""Opt-in active confirmation: ask a suspected pool for work (after the output stage).

detectors -> enrichment -> output -> **confirm** (probe the endpoint of a "possible" alert)

Everything here sends traffic to the server an alert names, so nothing runs unless the user
asks (``poolsniff probe``, ``scan --confirm``, ``sniff --confirm``). ``hello`` and ``x509``
are sans-I/O (the hellos, the reply classifier, the certificate names); ``limits`` is the
rate-limit policy; ``ledger`` keeps it on disk; ``probe`` holds the sockets; ``escalate``
turns a probe's answer into a confirmed alert; ``worker`` runs probes off the capture loop.
"""
