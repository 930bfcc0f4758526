"""Threat intelligence: the pool block lists, the Public Suffix List, and where they are kept.

Reference data for the enrichment stage (source -> decode -> flows/dissectors -> detectors ->
**enrichment** -> output). ``lists`` parses and matches the lists, ``psl`` normalises names and
finds registrable domains, ``store`` keeps the data directory, ``query`` answers ``blocklist
check/list``, ``export`` writes resolver and IDS formats; ``update/`` refreshes them from upstream.
Nothing here imports the packet stages.
"""
