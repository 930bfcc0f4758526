"""The output stage's options: declared once, and each parser takes its own output again."""

from __future__ import annotations

import pytest

from poolsniff.output.options import Option, checked, nonempty
from poolsniff.output.stage import OPTIONS
from poolsniff.output.transports.syslog import parse_syslog_url

SAMPLES = {
    "suppress": ["10m", "0", "1h30m", "45"],
    "syslog": ["udp://127.0.0.1:514", "tcp://logs.example:601?facility=local3"],
    "redis": ["redis://:pw@127.0.0.1:6379/0?maxlen=5000"],
    "redis-stream": ["alerts"],
    "spool-size": ["64M", "1GiB", "65536", "512k"],
    "metrics": ["/var/lib/node_exporter/poolsniff.prom"],
    "metrics-interval": ["60s", "15"],
}
"""Good values of each option, as a user writes them."""


def test_every_option_has_samples_and_a_unique_key() -> None:
    keys = [option.key for option in OPTIONS]
    assert len(set(keys)) == len(keys) and set(keys) == set(SAMPLES)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.key)
def test_a_parsed_value_parses_again_to_itself(option: Option) -> None:
    """A settings-file value is converted when read, then again as the option's default."""
    for text in SAMPLES[option.key]:
        value = option.parse(text)
        assert option.parse(str(value)) == value


@pytest.mark.parametrize(
    ("key", "bad", "words"),
    [
        ("suppress", "soon", "bad duration 'soon'"),
        ("syslog", "syslog://x", "bad syslog target"),
        ("redis", "rediss://x", "TLS"),
        ("redis-stream", "  ", "must not be empty"),
        ("metrics-interval", "0", "must be at least 1s"),
        ("spool-size", "lots", "bad size 'lots'"),
        ("spool-size", "1K", "must be at least 64K"),
    ],
)
def test_a_bad_value_says_why(key: str, bad: str, words: str) -> None:
    option = next(o for o in OPTIONS if o.key == key)
    with pytest.raises(ValueError, match=words):
        option.parse(bad)


def test_checked_keeps_the_text_and_nonempty_strips() -> None:
    assert checked(parse_syslog_url)(" udp://h:514 ") == "udp://h:514"
    assert nonempty(" x ") == "x"
    assert Option("redis-stream", "NAME", "", nonempty, "").name == "redis_stream"
