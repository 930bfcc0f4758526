"""Where EVE records go: a JSON-lines file (``jsonl``), syslog (``syslog``) and a Redis stream
(``redis``), the two forwarders over one reconnecting ``connection``.

... -> output stage -> **transports** -> files, SIEM pipelines
"""
