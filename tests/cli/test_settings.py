"""Tests for poolsniff.cli.settings: YAML with file:line errors, the sources file, and poolsniff.yaml."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from poolsniff.cli.settings import (
    SETTINGS,
    Config,
    config_candidates,
    default_sources_path,
    find_config,
    load_config,
    load_sources,
    load_yaml,
    parse_config,
    parse_sources,
    parse_yaml,
)
from poolsniff.errors import ConfigError
from poolsniff.intel.update.upstream import SourceSpec

GOOD = """\
# comment
sources:
  - name: maltrail
    url: https://example.org/crypto_mining.txt
    format: maltrail
    category: pool
  - {name: nocoin, url: "http://example.org/hosts.txt", format: hosts, category: browser}
public_suffix_list: https://example.org/psl.dat
"""


def test_parse_good_sources() -> None:
    doc = parse_sources(parse_yaml(GOOD, "s.yaml"), "s.yaml")
    assert doc.sources == (
        SourceSpec("maltrail", "https://example.org/crypto_mining.txt", "maltrail", "pool", "s.yaml:3"),
        SourceSpec("nocoin", "http://example.org/hosts.txt", "hosts", "browser", "s.yaml:7"),
    )
    assert doc.public_suffix_list == "https://example.org/psl.dat"
    assert doc.origin == "s.yaml"


def test_public_suffix_list_is_optional() -> None:
    doc = parse_sources(parse_yaml("sources: []\n", "s.yaml"), "s.yaml")
    assert doc.sources == ()
    assert doc.public_suffix_list is None


SOURCE = "  - {{name: {name}, url: {url}, format: {fmt}, category: {cat}}}\n"


def one(name: str = "x", url: str = "https://e.org/l", fmt: str = "domains", cat: str = "pool") -> str:
    """A sources document with one source on line 2."""
    return "sources:\n" + SOURCE.format(name=name, url=url, fmt=fmt, cat=cat)


BAD = [
    ("", "s.yaml:1: expected a mapping with the keys sources, public_suffix_list"),
    ("- a\n- b\n", "s.yaml:1: expected a mapping with the keys sources, public_suffix_list"),
    ("public_suffix_list: https://e.org/p\n", "s.yaml:1: missing key 'sources' (required: sources)"),
    ("sources: []\nsauces: 1\n", "s.yaml:2: unknown key 'sauces' (valid keys: sources, public_suffix_list)"),
    ("sources: {a: 1}\n", "s.yaml:1: 'sources' must be a list of sources"),
    ("sources:\n  - maltrail\n", "s.yaml:2: a source is a mapping with the keys name, url, format, category"),
    (
        "sources:\n  - name: a\n    url: https://e.org/l\n    format: domains\n",
        "s.yaml:2: a source missing key 'category' (required: name, url, format, category)",
    ),
    (
        "sources:\n  - name: a\n    url: https://e.org/l\n    format: domains\n    category: pool\n"
        "    urls: 1\n",
        "s.yaml:6: unknown key 'urls' (valid keys: name, url, format, category)",
    ),
    (one(fmt="csv"), "s.yaml:2: bad format 'csv' (valid: domains, hosts, adblock, maltrail)"),
    (one(cat="allow"), "s.yaml:2: bad category 'allow' (valid: pool, proxy, browser, donation)"),
    (one(cat="12"), "s.yaml:2: 'category' must be a non-empty string, not int 12"),
    (one(name="Mal Trail"), "s.yaml:2: bad name 'Mal Trail' (use a-z, 0-9, '-', '_'"),
    (one(url="ftp://e.org/l"),
     "s.yaml:2: bad url 'ftp://e.org/l' (use an https:// URL; http:// needs --allow-http)"),
    (one(url="'https:///nohost'"), "s.yaml:2: bad url 'https:///nohost'"),
    (one(url="[a, b]"), "s.yaml:2: 'url' must be a non-empty string, not a list"),
    (one(url="''"), "s.yaml:2: 'url' must be a non-empty string, not str ''"),
    (one() + SOURCE.format(name="x", url="https://e.org/l", fmt="hosts", cat="pool"),
     "s.yaml:3: source 'x' with url https://e.org/l is already defined on line 2"),
    ("sources: []\npublic_suffix_list: 5\n",
     "s.yaml:2: 'public_suffix_list' must be a non-empty string, not int 5"),
    ("sources: []\npublic_suffix_list: http//x\n", "s.yaml:2: bad public_suffix_list 'http//x'"),
    # YAML-level problems
    ("sources:\n  - name: a\n    name: b\n", "s.yaml:3: duplicate key 'name'"),
    ("sources: [\n", "s.yaml:2: expected the node content"),
    ("sources:\n  - {name: a\n  url: b}\n", "s.yaml:"),
    ("a: b\n\tc: d\n", "s.yaml:2: "),
    ("? [a, b]\n: 1\n", "s.yaml:1: a mapping key must be a plain value"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_documents_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sources(parse_yaml(text, "s.yaml"), "s.yaml")
    assert str(caught.value).startswith(message), str(caught.value)
    assert re.match(r"s\.yaml:\d+: ", str(caught.value))


def test_load_yaml_reads_files_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(GOOD)
    assert load_sources(path).sources[0].origin == f"{path}:3"
    assert load_yaml(path)["public_suffix_list"] == "https://example.org/psl.dat"
    path.write_text("sources:\n  - name: a\n  bad indent\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:")):
        load_sources(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read YAML: No such file or directory"),
        (b"sources: []\n\xff\n", "not UTF-8 text (byte 12)"),
    ],
)
def test_load_yaml_unreadable(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "s.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert str(caught.value) == f"{path}: {message}"


def test_yaml_is_safe() -> None:
    with pytest.raises(ConfigError, match="s.yaml:1: could not determine a constructor"):
        parse_yaml("!!python/object/apply:os.system ['true']\n", "s.yaml")


def test_default_sources_file_is_valid_and_permissive() -> None:
    doc = load_sources(default_sources_path())
    assert doc.sources
    assert {s.name for s in doc.sources} <= {"maltrail", "nocoin"}  # MIT lists of SOURCES.md
    assert all(s.url.startswith("https://") for s in doc.sources)
    assert doc.public_suffix_list == "https://publicsuffix.org/list/public_suffix_list.dat"


# --------------------------------------------------------------------------- poolsniff.yaml

FULL = """\
output: alerts.json
blocklist: [extra.txt, /srv/lists/more.txt]
redact: true
pool-side-alerts: true
quiet: yes
strict: true
jobs: 2
interface: [eth1, eth2]
bpf: not port 22
duration: 1h
count: 1000
buffer: 256
stats-interval: 30
user: poolsniff
suppress: 1h
syslog: tcp://logs.example:601
redis: redis://127.0.0.1:6379/0?maxlen=5000
redis-stream: alerts
spool-size: 128M
metrics: /var/lib/node_exporter/poolsniff.prom
metrics-interval: 15s
confirm: true
"""


def test_every_key_of_a_full_config(tmp_path: Path) -> None:
    path = tmp_path / "poolsniff.yaml"
    path.write_text(FULL)
    config = load_config(path)
    assert config == Config(
        output=str(tmp_path / "alerts.json"),
        blocklist=(str(tmp_path / "extra.txt"), "/srv/lists/more.txt"),
        redact=True, pool_side_alerts=True, quiet=True, strict=True, jobs=2, interface=("eth1", "eth2"),
        bpf="not port 22",
        duration=3600,
        count=1000,
        buffer=256,
        stats_interval=30, user="poolsniff", confirm=True,
        outputs=(
            ("suppress", 3600), ("syslog", "tcp://logs.example:601"),
            ("redis", "redis://127.0.0.1:6379/0?maxlen=5000"), ("redis-stream", "alerts"),
            ("spool-size", 128 << 20), ("metrics", "/var/lib/node_exporter/poolsniff.prom"),
            ("metrics-interval", 15),
        ),
        origin=str(path), given=tuple(s.key for s in SETTINGS),
    )  # fmt: skip


def test_settings_and_config_fields_match() -> None:
    fields = {f.name for f in dataclasses.fields(Config)} - {"origin", "given", "outputs"}
    assert fields == {s.key.replace("-", "_") for s in SETTINGS if s.option is None}


def test_the_output_stage_keys_are_the_options_it_declares() -> None:
    """One declaration: a key of the file, an option of scan and sniff, a keyword of open_outputs."""
    import inspect

    from poolsniff.cli.app import main
    from poolsniff.output.stage import OPTIONS, open_outputs

    keywords = set(inspect.signature(open_outputs).parameters)
    for option in OPTIONS:
        assert [s.option for s in SETTINGS if s.key == option.key] == [option]
        assert option.name in keywords
        for command in ("scan", "sniff"):
            params = [p for p in main.commands[command].params if option.flag in p.opts]
            assert len(params) == 1 and params[0].help == option.help


def test_settings_of_a_command() -> None:
    config = parse_config(parse_yaml("quiet: true\ninterface: eth0\nredact: true\n", "c.yaml"), "c.yaml")
    assert config.settings("scan") == {"quiet": True, "redact": True}
    assert config.settings("sniff") == {"interface": ("eth0",), "redact": True}
    assert config.settings() == {"quiet": True, "interface": ("eth0",), "redact": True}


@pytest.mark.parametrize("text", ["", "# nothing set\n", "---\n"])
def test_empty_config_sets_nothing(text: str) -> None:
    config = parse_config(parse_yaml(text, "c.yaml"), "c.yaml")
    assert config == Config(origin="c.yaml") and config.settings() == {}


@pytest.mark.parametrize(
    "line, message",
    [
        ("redis_stream: x", "c.yaml:3: unknown key 'redis_stream'; did you mean 'redis-stream'?"),
        ("colour: red", "c.yaml:3: unknown key 'colour' (valid keys: output, blocklist,"),
        ("1: x", "c.yaml:3: unknown key 1"),
        ("redact: 1", "c.yaml:3: redact: must be true or false, not int 1"),
        ("count: 0", "c.yaml:3: count: must be a whole number of at least 1"),
        ("count: true", "c.yaml:3: count: must be a whole number"),
        ("suppress: 1x", "c.yaml:3: suppress: bad duration '1x'"),
        ("suppress: -5", "c.yaml:3: suppress: bad duration '-5'"),
        ("suppress: [1, 2]", "c.yaml:3: suppress: must be duration"),
        ("metrics-interval: 0", "c.yaml:3: metrics-interval: must be at least 1s"),
        ("stats-interval: [1]", "c.yaml:3: stats-interval: must be seconds"),
        ("syslog: http://x", "c.yaml:3: syslog: bad syslog target"),
        ("redis: redis://h/x", "c.yaml:3: redis: bad Redis URL"),
        ("blocklist: [a.txt, 3]", "c.yaml:3: 'blocklist' must be a non-empty string, not int 3"),
        ("interface: []", "c.yaml:3: interface: must be a string or a list of strings"),
        ("output: ''", "c.yaml:3: 'output' must be a non-empty string"),
        ("user: {name: x}", "c.yaml:3: 'user' must be a non-empty string, not a mapping"),
        ("quiet: true", "c.yaml:3: duplicate key 'quiet'"),
    ],
)
def test_bad_config_names_file_and_line(line: str, message: str) -> None:
    text = "# poolsniff\nquiet: true\n" + line + "\n"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(parse_yaml(text, "c.yaml"), "c.yaml")


def test_config_that_is_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=re.escape("c.yaml:2: expected a mapping of settings")):
        parse_config(parse_yaml("# list\n- quiet\n", "c.yaml"), "c.yaml")


@pytest.mark.parametrize(
    "environ, candidates",
    [
        ({"XDG_CONFIG_HOME": "/x", "HOME": "/home/u"},
         ["/etc/poolsniff/poolsniff.yaml", "/x/poolsniff/poolsniff.yaml"]),
        ({"XDG_CONFIG_HOME": "rel", "HOME": "/home/u"},
         ["/etc/poolsniff/poolsniff.yaml", "/home/u/.config/poolsniff/poolsniff.yaml"]),
        ({"HOME": "/home/u"}, ["/etc/poolsniff/poolsniff.yaml", "/home/u/.config/poolsniff/poolsniff.yaml"]),
        ({}, ["/etc/poolsniff/poolsniff.yaml"]),
    ],
)  # fmt: skip
def test_config_candidates(environ: dict[str, str], candidates: list[str]) -> None:
    assert config_candidates(environ) == candidates


def test_find_config(tmp_path: Path) -> None:
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert find_config("given.yaml", environ) == "given.yaml"  # --config wins, even if missing
    system = "/etc/poolsniff/poolsniff.yaml"
    expected = system if Path(system).is_file() else None
    assert find_config(None, environ) == expected
    user = tmp_path / "poolsniff" / "poolsniff.yaml"
    user.parent.mkdir()
    user.write_text("quiet: true\n")
    assert find_config(None, environ) == (expected or str(user))


def test_jobs_setting(tmp_path: Path) -> None:
    from poolsniff.cli.settings import load_config

    good = tmp_path / "a.yaml"
    good.write_text("jobs: 0\n")
    assert load_config(good).jobs == 0
    bad = tmp_path / "b.yaml"
    bad.write_text("jobs: -2\n")
    with pytest.raises(ConfigError, match=r"b.yaml:1: jobs: must be a whole number"):
        load_config(bad)


@pytest.mark.parametrize(
    ("code", "loaded"),
    [
        ("import poolsniff.cli.settings as c; c.find_config(None, {})", []),
        ("import poolsniff.cli.settings as c; c.parse_yaml('a: 1', 'x.yaml')", ["yaml"]),
        ("import poolsniff.cli.settings as c; c.parse_sources(c.parse_yaml('sources: []', 'x'), 'x')",
         ["poolsniff.intel.update.upstream", "yaml"]),
    ],
)  # fmt: skip
def test_yaml_and_the_sources_schema_are_imported_when_used(code: str, loaded: list[str]) -> None:
    """Every scan looks for a settings file; only one that finds a file (or updates) pays for PyYAML."""
    watched = "{'yaml', 'poolsniff.intel.update.upstream', 'difflib'}"
    probe = f"{code}; import sys; print(*sorted({watched} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == loaded
