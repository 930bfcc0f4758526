"""``poolsniff blocklist update``: fetch upstream lists (``fetch``), read their formats
(``upstream``), apply the curation rules (``curation``) and write the refreshed lists (``refresh``).

The only part of poolsniff that uses the network on its own (besides the opt-in probe).
"""
