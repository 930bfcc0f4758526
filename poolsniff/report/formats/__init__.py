"""The renderers of ``poolsniff report``: a terminal table (``table``) and one HTML page (``html``)."""
