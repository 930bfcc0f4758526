"""The engine: frames become packets (``decode``), flows, events and detections (``pipeline``).

source -> **decode -> flows/dissectors -> detectors -> enrichment** -> output

``decode`` is the stage right after the sources; ``pipeline`` runs the dissectors, the detectors
and the enricher for one capture or interface. ``fast/`` is the prefilter that deals with most
packets before any object is built (a C walk and its Python reference); ``split/`` runs one
capture over two processes. The engine does no I/O of its own beyond what ``fast/`` reads.
"""
