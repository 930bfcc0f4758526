"""The fast path: the prefilter (``prefilter``) and its record walks, in C (``_walk.c``) and in
Python (``walk``, the reference the differential tests hold the C walk to).

source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> output
"""
