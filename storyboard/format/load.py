"""YAML → Document: plain data plus the line and column of every key and value.

Only safe YAML is accepted: any tag outside plain data (``!!python/...`` and friends) is an
error and is never constructed. Duplicate keys are errors, and alias expansion is bounded so a
"billion laughs" file fails fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storyboard.errors import LoadError, Location

__all__ = ["CONTROL", "Document", "JsonPath", "load", "load_text", "shown_path"]

JsonPath = tuple[str | int, ...]

# Nodes reached again through aliases; far above any real storyboard, far below a bomb.
MAX_ALIAS_EXPANSION = 100_000
MAX_FILE_BYTES = 16 * 2**20  # a storyboard is text: far above any real one, far below /dev/zero
MAX_DEPTH = 64  # mappings and lists inside each other; a real storyboard needs about 8

# Control characters have no business in a storyboard (tab and line breaks aside): a NUL breaks
# every path and argument it reaches, an escape sequence rewrites the user's terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # in a file name not even a line break

_PLAIN_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_PLAIN_TAG}{t}" for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP_TAG = f"{_PLAIN_TAG}timestamp"
_MERGE_TAG = f"{_PLAIN_TAG}merge"


# libyaml's parser is about ten times faster than the pure-Python one; both keep marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data and where each part of it stands."""

    path: Path
    data: dict[str, Any]
    text: str
    values: dict[JsonPath, tuple[int, int]] = field(repr=False)
    keys: dict[JsonPath, tuple[int, int]] = field(repr=False)

    def location(self, path: JsonPath, *, key: bool = False) -> Location:
        """The location of the value (or its key) at ``path``, else of its nearest ancestor."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            mark = table.get(path[:end]) or self.values.get(path[:end])
            if mark:
                return Location(str(self.path), *mark)
        return Location(str(self.path), 1, 1)


def load(path: Path) -> Document:
    """Read and parse a storyboard file (at most MAX_FILE_BYTES of it)."""
    where = Location(shown_path(path))
    if _NAME_CONTROL.search(str(path)):
        raise LoadError(
            "the file name contains a control character (a line break?); rename the file", where
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise LoadError("no such file", where) from None
    except OSError as exc:
        raise LoadError(f"cannot read the file: {exc.strerror or exc}", where) from None
    except ValueError as exc:  # e.g. an embedded NUL
        raise LoadError(f"cannot read the file: {exc}", where) from None
    if len(raw) > MAX_FILE_BYTES:
        raise LoadError(
            f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB; a storyboard "
            "is a text file (is this the right file?)",
            where,
        )
    return load_text(_decode(raw, path), path)


def shown_path(path: Path | str) -> str:
    """``path`` as text that is safe to print: control characters written as escapes."""
    return _NAME_CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode(), str(path))


def load_text(text: str, path: Path) -> Document:
    """Parse YAML text that came from ``path``."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise LoadError(
                "the file is empty; a storyboard needs at least 'version', 'title' and 'shots'",
                Location(str(path), 1, 1),
            )
        builder = _Builder(loader, str(path))
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(str(path), mark.line + 1, mark.column + 1) if mark else Location(str(path))
        raise LoadError(f"invalid YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML: {exc}", Location(str(path))) from None
    except RecursionError:  # the pure-Python parser, when libyaml is missing
        raise LoadError(
            f"mappings and lists are nested too deeply (at most {MAX_DEPTH})",
            Location(str(path), 1, 1),
        ) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise LoadError(
            f"the top level must be a mapping (version:, title:, shots: ...), not a {_kind(node)}",
            Location(str(path), node.start_mark.line + 1, node.start_mark.column + 1),
        )
    return Document(path, data, text, builder.values, builder.keys)


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            Location(str(path), line, col),
        ) from None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "list"
    if isinstance(node, yaml.ScalarNode):
        return "plain value"
    return "mapping"


class _Builder:
    """Walks composed YAML nodes into Python data, recording positions on the way."""

    def __init__(self, loader: Any, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.seen: set[int] = set()
        self.expanded = 0

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self._count(node)
        if len(path) > MAX_DEPTH:
            raise LoadError(
                f"mappings and lists are nested more than {MAX_DEPTH} deep here; "
                "a storyboard needs far fewer levels",
                self._location(node),
            )
        self.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, "seq")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _count(self, node: yaml.Node) -> None:
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise LoadError(
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} nodes; "
                    "this looks like an alias bomb — write the repeated parts out or use defaults:",
                    self._location(node),
                )
        else:
            self.seen.add(id(node))

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        self._check_tag(node, "map")
        own: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self._key(key_node)
            if key == "<<":
                continue
            if key in own:
                first = _mark(own[key])
                raise LoadError(
                    f"duplicate key '{key}' (first defined at line {first[0]}); "
                    "YAML would silently keep only the last one — remove or rename one",
                    self._location(key_node),
                )
            own[key] = key_node
        self.loader.flatten_mapping(node)  # resolves '<<' merge keys; own keys still win
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            self.keys[(*path, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise LoadError(
                "a key must be a plain word, not a list or mapping", self._location(node)
            )
        if node.tag == _MERGE_TAG:
            return "<<"
        self._check_scalar_tag(node)
        return self._text(node, str(node.value))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        self._check_scalar_tag(node)
        if node.tag == _TIMESTAMP_TAG:
            return self._text(node, node.value)  # a date in a note is text to us, not a datetime
        try:
            value = self.loader.construct_object(node)
        except (ValueError, KeyError, TypeError, OverflowError):
            kind = node.tag.replace(_PLAIN_TAG, "")
            raise LoadError(
                f"{_clip(node.value)!r} is not a valid {kind}; write a plain {kind} "
                "or quote the value to make it text",
                self._location(node),
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise LoadError(
                f"{node.value!r} is not a finite number; numbers in a storyboard "
                "are finite (quote it to make it text)",
                self._location(node),
            )
        return self._text(node, value) if isinstance(value, str) else value

    def _text(self, node: yaml.Node, value: str) -> str:
        bad = CONTROL.search(value)
        if bad:
            raise LoadError(
                f"the text contains the control character U+{ord(bad[0]):04X}; remove it",
                self._location(node),
            )
        return value

    def _check_scalar_tag(self, node: yaml.Node) -> None:
        if node.tag not in _SCALAR_TAGS and node.tag != _TIMESTAMP_TAG:
            self._reject_tag(node)

    def _check_tag(self, node: yaml.Node, kind: str) -> None:
        if node.tag != f"{_PLAIN_TAG}{kind}":
            self._reject_tag(node)

    def _reject_tag(self, node: yaml.Node) -> None:
        raise LoadError(
            f"the tag '{node.tag.replace(_PLAIN_TAG, '!!')}' is not allowed: "
            "a storyboard is plain data (strings, numbers, lists, mappings); remove the tag",
            self._location(node),
        )

    def _location(self, node: yaml.Node) -> Location:
        return Location(self.filename, *_mark(node))


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
