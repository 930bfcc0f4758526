"""YAML configuration files: loading with line numbers, and the sources file (adapter layer).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Configuration feeds the stages from the side: the sources file says where ``poolsniff blocklist
update`` fetches the upstream lists that the enrichment stage's block lists are re-curated from.
This is the only module that imports PyYAML. :func:`load_yaml` parses with ``yaml.SafeLoader``
and records the line of every mapping key and sequence item, so that :func:`parse_sources` can
name ``file:line`` for an unknown key, a wrong type or a bad value, listing the valid choices.
Every problem is a :class:`~poolsniff.errors.ConfigError`.

``poolsniff.yaml`` (:class:`Config`, :func:`load_config`) holds what can be set on the command
line of ``scan`` and ``sniff``, one key per long option (``redis-stream: alerts`` is
``--redis-stream alerts``). It is read from ``--config FILE``, else ``/etc/poolsniff/poolsniff.yaml``,
else ``$XDG_CONFIG_HOME/poolsniff/poolsniff.yaml`` (:func:`find_config`); options given on the
command line win over it.

PyYAML, difflib and :mod:`poolsniff.intel.update.upstream` are imported where they are first needed: every
``scan`` imports this module to look for a settings file, and most find none.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from poolsniff.errors import ConfigError
from poolsniff.intel.lists import CATEGORIES
from poolsniff.intel.textfile import read_text
from poolsniff.output.options import Option
from poolsniff.output.stage import OPTIONS as OUTPUT_OPTIONS
from poolsniff.output.suppress import parse_duration

if TYPE_CHECKING:
    import yaml

    from poolsniff.intel.update.upstream import SourcesDoc, SourceSpec

TOP_KEYS: Final = ("sources", "public_suffix_list")
"""Keys of a sources file."""

SOURCE_KEYS: Final = ("name", "url", "format", "category")
"""Keys of one source; all are required."""

URL_SCHEMES: Final = ("https", "http")
"""Schemes a source URL may use (``http`` only works with ``--allow-http``)."""


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Hashable, int]


class LineList(list[Any]):
    """A YAML sequence that remembers its line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


@cache
def _line_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader building :class:`LineDict` and :class:`LineList` and refusing duplicate keys."""
    import yaml

    class LineLoader(yaml.SafeLoader):
        """SafeLoader with :func:`_construct_mapping` and :func:`_construct_sequence`."""

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    return LineLoader


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    import yaml

    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


def parse_yaml(text: str, origin: str) -> Any:
    """Parse YAML ``text`` read from ``origin`` (mappings and sequences carry line numbers).

    Raises :class:`ConfigError` ``origin:line: problem`` for a syntax error or duplicate key.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_line_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "invalid YAML"
        raise ConfigError(f"{origin}{line}: {problem}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{origin}: invalid YAML: {e}") from e


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """Read and parse a YAML file; errors name the file and line."""
    origin = os.fspath(path)
    return parse_yaml(read_text(origin, "YAML"), origin)


def default_sources_path() -> str:
    """The sources file shipped in the package (``poolsniff/data/sources.yaml``)."""
    from importlib.resources import files

    return str(files("poolsniff") / "data" / "sources.yaml")


def load_sources(path: str | os.PathLike[str]) -> SourcesDoc:
    """Read and validate a sources file."""
    return parse_sources(load_yaml(path), os.fspath(path))


def parse_sources(data: Any, origin: str) -> SourcesDoc:
    """Validate a parsed sources document; problems raise ``ConfigError`` naming file:line.

    The shape is ``{sources: [{name, url, format, category}, ...], public_suffix_list: URL}``
    (``public_suffix_list`` is optional; without it the run leaves the suffix list alone).
    """
    from poolsniff.intel.update.upstream import SourcesDoc

    if not isinstance(data, LineDict):
        raise ConfigError(f"{origin}:1: expected a mapping with the keys {', '.join(TOP_KEYS)}")
    _check_keys(data, TOP_KEYS, TOP_KEYS[:1], origin, "")
    items = data["sources"]
    if not isinstance(items, LineList):
        raise ConfigError(f"{origin}:{data.key_lines['sources']}: 'sources' must be a list of sources")
    specs: list[SourceSpec] = []
    seen: dict[tuple[str, str], int] = {}
    for item, line in zip(items, items.item_lines, strict=True):
        spec = _parse_source(item, f"{origin}:{line}")
        if (spec.name, spec.url) in seen:
            raise ConfigError(
                f"{spec.origin}: source {spec.name!r} with url {spec.url} is already defined "
                f"on line {seen[spec.name, spec.url]}"
            )
        seen[spec.name, spec.url] = line
        specs.append(spec)
    psl = data.get("public_suffix_list")
    if psl is not None:
        psl = _check_url(psl, f"{origin}:{data.key_lines['public_suffix_list']}", "public_suffix_list")
    return SourcesDoc(tuple(specs), psl, origin)


def _parse_source(item: Any, where: str) -> SourceSpec:
    from poolsniff.intel.update.upstream import FORMATS, SOURCE_ID_RE, SourceSpec

    if not isinstance(item, LineDict):
        raise ConfigError(f"{where}: a source is a mapping with the keys {', '.join(SOURCE_KEYS)}")
    file = where.rpartition(":")[0]
    _check_keys(item, SOURCE_KEYS, SOURCE_KEYS, file, "a source ")
    at = {key: f"{file}:{item.key_lines[key]}" for key in SOURCE_KEYS}
    values = {key: _string(item[key], at[key], key) for key in SOURCE_KEYS}
    if SOURCE_ID_RE.fullmatch(values["name"]) is None:
        raise ConfigError(
            f"{at['name']}: bad name {values['name']!r} (use a-z, 0-9, '-', '_'; it is the source id "
            "recorded with each entry)"
        )
    _check_choice(values["format"], FORMATS, at["format"], "format")
    _check_choice(values["category"], CATEGORIES, at["category"], "category")
    url = _check_url(values["url"], at["url"], "url")
    return SourceSpec(values["name"], url, values["format"], values["category"], where)


def _check_keys(
    mapping: LineDict, valid: tuple[str, ...], required: tuple[str, ...], origin: str, what: str
) -> None:
    for key, line in mapping.key_lines.items():
        if key not in valid:
            raise ConfigError(f"{origin}:{line}: unknown key {key!r} (valid keys: {', '.join(valid)})")
    for key in required:
        if key not in mapping:
            needed = ", ".join(required)
            raise ConfigError(f"{origin}:{mapping.line}: {what}missing key {key!r} (required: {needed})")


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key!r} must be a non-empty string, not {_kind(value)}")
    return value.strip()


def _check_choice(value: str, valid: tuple[str, ...], where: str, key: str) -> None:
    if value not in valid:
        raise ConfigError(f"{where}: bad {key} {value!r} (valid: {', '.join(valid)})")


def _check_url(value: Any, where: str, key: str) -> str:
    text = _string(value, where, key)
    parts = urlsplit(text)
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        raise ConfigError(f"{where}: bad {key} {text!r} (use an https:// URL; http:// needs --allow-http)")
    return text


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- poolsniff.yaml

SYSTEM_CONFIG: Final = "/etc/poolsniff/poolsniff.yaml"
"""The system-wide configuration file, read when there is no ``--config``."""
USER_CONFIG: Final = "poolsniff/poolsniff.yaml"
"""The user's file, under ``$XDG_CONFIG_HOME`` (default ``~/.config``), read when there is no other."""


@dataclass(frozen=True)
class Setting:
    """A key of ``poolsniff.yaml``: the option ``--<key>`` it sets, the kind of value, its commands.

    The output stage's keys are not written here: they come from the options that stage declares
    (``option``, :data:`poolsniff.output.stage.OPTIONS`), which check and convert their values.
    """

    key: str
    kind: str
    commands: tuple[str, ...]
    words: str = ""
    """What the value is, for the table in docs/operations.md (``make docs``)."""
    option: Option | None = None

    @property
    def value_words(self) -> str:
        """What the value is, in words."""
        return self.option.kind if self.option is not None else self.words


_BOTH: Final = ("scan", "sniff")
_SINKS: Final = ("scan", "sniff")
"""The commands that take the outputs beyond the EVE file (sniff will, once it can be given them)."""
SETTINGS: Final = (
    Setting("output", "path", _BOTH, "path"),
    Setting("blocklist", "paths", _BOTH, "path or list of paths"),
    Setting("redact", "bool", _BOTH, "`true` / `false`"),
    Setting("pool-side-alerts", "bool", _BOTH, "`true` / `false`"),
    Setting("quiet", "bool", ("scan",), "`true` / `false`"),
    Setting("strict", "bool", ("scan",), "`true` / `false`"),
    Setting("jobs", "jobs", _BOTH, "a whole number, 0 = one per CPU"),
    Setting("interface", "names", ("sniff",), "name or list of names"),
    Setting("bpf", "text", ("sniff",), "filter expression"),
    Setting("duration", "seconds", ("sniff",), "seconds or duration"),
    Setting("count", "count", ("sniff",), "whole number >= 1"),
    Setting("buffer", "count", ("sniff",), "MiB, whole number >= 1"),
    Setting("stats-interval", "seconds", ("sniff",), "seconds or duration"),
    Setting("user", "text", ("sniff",), "user name"),
    *(Setting(option.key, "output", _SINKS, option=option) for option in OUTPUT_OPTIONS),
    Setting("confirm", "bool", _BOTH, "`true` / `false` (active traffic, see [probing](probe.md))"),
)
"""Every key, in the order the reference lists them."""


@dataclass(frozen=True)
class Config:
    """Everything settable on the command line of ``scan`` and ``sniff``, as a config file sets it.

    Fields are the keys with ``-`` as ``_``; ``given`` lists the keys the file set, in its order.
    Paths are resolved against the file's folder; durations are seconds.
    """

    output: str | None = None
    blocklist: tuple[str, ...] = ()
    redact: bool = False
    pool_side_alerts: bool = False
    quiet: bool = False
    strict: bool = False
    interface: tuple[str, ...] = ()
    bpf: str | None = None
    duration: float | None = None
    count: int | None = None
    buffer: int | None = None
    jobs: int | None = None
    stats_interval: float | None = None
    user: str | None = None
    confirm: bool = False
    outputs: tuple[tuple[str, Any], ...] = ()
    """The output stage's keys the file set, with their values as its options convert them."""
    origin: str = ""
    given: tuple[str, ...] = ()

    def settings(self, command: str | None = None) -> dict[str, Any]:
        """``{key: value}`` of the keys the file set (only those ``command`` uses, if given)."""
        used = {s.key for s in SETTINGS if command is None or command in s.commands}
        outputs = dict(self.outputs)
        return {
            key: outputs[key] if key in outputs else getattr(self, key.replace("-", "_"))
            for key in self.given
            if key in used
        }


def config_candidates(environ: Mapping[str, str]) -> list[str]:
    """The files read when there is no ``--config``, first found wins: /etc, then the XDG folder."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(xdg):  # the XDG spec says to ignore a relative value
        home = environ.get("HOME", "")
        xdg = os.path.join(home, ".config") if home else ""
    return [SYSTEM_CONFIG] + ([os.path.join(xdg, USER_CONFIG)] if xdg else [])


def find_config(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """``--config FILE`` if given, else the first of :func:`config_candidates` that exists, else None."""
    if explicit:
        return explicit
    return next((path for path in config_candidates(environ) if os.path.isfile(path)), None)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a ``poolsniff.yaml``; problems raise ``ConfigError`` naming file:line."""
    return parse_config(load_yaml(path), os.fspath(path))


def parse_config(data: Any, origin: str) -> Config:
    """Validate a parsed config document (an empty document sets nothing)."""
    if data is None:
        return Config(origin=origin)
    if not isinstance(data, LineDict):
        line = getattr(data, "line", 1)
        raise ConfigError(f"{origin}:{line}: expected a mapping of settings (key: value), not {_kind(data)}")
    by_key = {s.key: s for s in SETTINGS}
    folder = os.path.dirname(os.path.abspath(origin))
    values: dict[str, Any] = {}
    outputs: list[tuple[str, Any]] = []
    for key, line in data.key_lines.items():
        if not isinstance(key, str) or key not in by_key:
            raise ConfigError(f"{origin}:{line}: unknown key {key!r}{_did_you_mean(key)}")
        setting, where = by_key[key], f"{origin}:{line}: {key}"
        if setting.option is not None:
            outputs.append((key, _option_value(setting.option, data[key], where, folder)))
        else:
            values[key.replace("-", "_")] = _setting(setting.kind, data[key], where, folder)
    given = tuple(str(key) for key in data.key_lines)
    return Config(**values, outputs=tuple(outputs), origin=origin, given=given)


def _option_value(option: Option, value: Any, where: str, folder: str) -> Any:
    """An output stage setting: text (or a number) that the option's own parser checks and converts."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{where}: must be {option.kind}, not {_kind(value)}")
    text = str(value)
    if option.kind == "path":
        text = _path(text, folder)
    try:
        return option.parse(text)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from e


def _did_you_mean(key: object) -> str:
    import difflib

    valid = [s.key for s in SETTINGS]
    close = difflib.get_close_matches(str(key).replace("_", "-"), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid keys: {', '.join(valid)})"


def _setting(kind: str, value: Any, where: str, folder: str) -> Any:
    """Check and convert one value; ``where`` is ``file:line: key``."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, not {_kind(value)}")
        return value
    if kind in ("paths", "names"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{where}: must be a string or a list of strings, not {_kind(value)}")
        texts = [_string(item, where.rpartition(": ")[0], where.rpartition(": ")[2]) for item in items]
        return tuple(_path(t, folder) for t in texts) if kind == "paths" else tuple(texts)
    if kind == "count":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{where}: must be a whole number of at least 1, not {_kind(value)}")
        return value
    if kind == "jobs":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: must be a whole number (0: one process per CPU), not {_kind(value)}")
        return value
    if kind == "seconds":
        return _seconds(value, where)
    text = _string(value, where.rpartition(": ")[0], where.rpartition(": ")[2])
    if kind == "path":
        return _path(text, folder)
    return text


def _seconds(value: Any, where: str) -> float | int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from e
    raise ConfigError(f"{where}: must be seconds or a duration like 30s, 10m, 1h, not {_kind(value)}")


def _path(text: str, folder: str) -> str:
    """A path from the file: ``~`` expanded; relative paths are relative to the file's folder."""
    path = os.path.expanduser(text)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(folder, path))
