"""YAML configuration files: loading with line numbers, and the sources file (adapter layer).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Configuration feeds the stages from the side: the sources file says where ``poolsniff blocklist
update`` fetches the upstream lists that the enrichment stage's block lists are re-curated from.
This is the only module that imports PyYAML. :func:`load_yaml` parses with ``yaml.SafeLoader``
and records the line of every mapping key and sequence item, so that :func:`parse_sources` can
name ``file:line`` for an unknown key, a wrong type or a bad value, listing the valid choices.
Every problem is a :class:`~poolsniff.errors.ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from importlib.resources import files
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from poolsniff.blocklist import CATEGORIES
from poolsniff.errors import ConfigError
from poolsniff.upstream import FORMATS, SOURCE_ID_RE, SourcesDoc, SourceSpec

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


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building :class:`LineDict` and :class:`LineList` and refusing duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
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
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str, origin: str) -> Any:
    """Parse YAML ``text`` read from ``origin`` (mappings and sequences carry line numbers).

    Raises :class:`ConfigError` ``origin:line: problem`` for a syntax error or duplicate key.
    """
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
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
    try:
        text = Path(origin).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{origin}: not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise ConfigError(f"{origin}: cannot read: {e.strerror}") from e
    return parse_yaml(text, origin)


def default_sources_path() -> str:
    """The sources file shipped in the package (``poolsniff/data/sources.yaml``)."""
    return str(files("poolsniff") / "data" / "sources.yaml")


def load_sources(path: str | os.PathLike[str]) -> SourcesDoc:
    """Read and validate a sources file."""
    return parse_sources(load_yaml(path), os.fspath(path))


def parse_sources(data: Any, origin: str) -> SourcesDoc:
    """Validate a parsed sources document; problems raise ``ConfigError`` naming file:line.

    The shape is ``{sources: [{name, url, format, category}, ...], public_suffix_list: URL}``
    (``public_suffix_list`` is optional; without it the run leaves the suffix list alone).
    """
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
