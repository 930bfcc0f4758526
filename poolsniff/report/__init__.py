"""``poolsniff report``: who has been mining, per host, read back from EVE files (after the output).

output -> EVE files -> **report.summary** (read and summarise) -> formats/ (table, html; json and csv
in ``summary``)
"""
