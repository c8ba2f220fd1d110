"""The JSON Schema of the format, and its errors turned into located, actionable Problems."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from storyboard.format.load import JsonPath
from storyboard.format.model import Problem

__all__ = ["schema_text", "schema_problems", "format_path", "did_you_mean"]


def schema_text() -> str:
    """The schema as shipped in the package."""
    return resources.files("storyboard").joinpath("data/storyboard.schema.json").read_text("utf-8")


@cache
def _validator() -> Draft202012Validator:
    # The schema's $refs all point inside it (never to the network). Inlining them once makes
    # validating a 1,000-shot storyboard about a third faster than resolving them per node.
    schema = json.loads(schema_text())
    return _Validator(_inline_refs(schema, schema))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``pattern`` as JSON Schema means it (ECMA-262): ``$`` is the very end of the string.

    Python's ``$`` also matches before a final newline, so ``"a\n"`` passed as an id.
    """
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


def _inline_refs(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = root  # a local JSON pointer, e.g. #/$defs/seconds
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline_refs(merged, root)
    return {k: _inline_refs(v, root) for k, v in node.items() if k != "$defs"}


def format_path(path: JsonPath) -> str:
    """('shots', 2, 'seconds') → 'shots[2].seconds'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the top level"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def schema_problems(data: Any) -> list[Problem]:
    """Every schema violation in ``data``, one Problem each, worded for people."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(data):
        if not _misspelled_required(error):
            problems.extend(_explain(error))
    return problems


def _misspelled_required(error: ValidationError) -> bool:
    """A missing key that a misspelled one stands in for: the unknown-key problem says it all."""
    if error.validator != "required" or not isinstance(error.instance, dict):
        return False
    match = re.fullmatch(r"'(.+)' is a required property", error.message)
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    unknown = [k for k in error.instance if k not in known]
    return bool(match and did_you_mean(match[1], unknown))


def _explain(error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    where = format_path(path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            hint = did_you_mean(key, allowed) or f"; allowed keys: {', '.join(allowed)}"
            if error.instance[key] is None and " " in key:
                hint += (
                    "; inside {...} a comma starts a new key: quote text that has commas "
                    '(ambient: "waves, gulls")'
                )
            yield Problem((*path, key), f"{where}: unknown key '{key}'{hint}", at_key=True)
    elif kind == "required":
        yield Problem(path, f"{where}: {_required_message(error)}")
    elif kind == "enum" or _consts(schema):
        title = schema.get("title", "value")
        choices = [str(c) for c in (_consts(schema) or error.validator_value)]
        hint = did_you_mean(str(error.instance), choices)
        yield Problem(
            path,
            f"{where}: {error.instance!r} is not a known {title}{hint}; "
            f"use one of: {', '.join(choices)}",
        )
    elif kind == "anyOf":
        yield from _explain_branch(error, path, where)
    elif kind == "pattern":
        title = schema.get("title", "value")
        hint = _PATTERN_HINTS.get(title, f"it must match {error.validator_value}")
        yield Problem(path, f"{where}: {error.instance!r} is not a valid {title}: {hint}")
    elif kind == "type":
        yield Problem(
            path,
            f"{where}: expected {_types(error.validator_value)}, got {_type_of(error.instance)}",
        )
    elif kind in _BOUNDS:
        yield Problem(
            path,
            f"{where}: {error.instance!r} is too {_BOUNDS[kind][0]}; it must be "
            f"{_BOUNDS[kind][1]} {error.validator_value!r}",
        )
    elif kind == "maxLength" and isinstance(error.instance, str):
        yield Problem(
            path,
            f"{where}: {_clip(error.instance)!r} is {len(error.instance)} "
            f"characters long; it may have at most {error.validator_value}",
        )
    elif kind == "minItems":
        yield Problem(path, f"{where}: the list is empty; add at least {error.validator_value}")
    elif kind == "const":
        yield Problem(path, f"{where}: must be {error.validator_value!r}, not {error.instance!r}")
    else:
        yield Problem(path, f"{where}: {error.message}")


def _clip(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _consts(schema: dict[str, Any]) -> list[Any]:
    """The values of a closed vocabulary written as oneOf [{const, description}, ...]."""
    branches = schema.get("oneOf") or []
    if branches and all(isinstance(b, dict) and "const" in b for b in branches):
        return [b["const"] for b in branches]
    return []


def _explain_branch(error: ValidationError, path: JsonPath, where: str) -> Iterator[Problem]:
    """A value that may take several forms (a string or a mapping...): explain it against the
    form its type matches, as if that form were the only one."""
    branches = error.validator_value
    matching = [i for i, b in enumerate(branches) if _branch_accepts(b, error.instance)]
    if len(matching) != 1:
        # null (which clears an inherited value) goes without saying
        names = [
            _TYPE_WORDS.get(n, n) for b in branches for n in _branch_types(b) if n != "null"
        ] or ["nothing"]
        yield Problem(
            path,
            f"{where}: expected {' or '.join(dict.fromkeys(names))}, "
            f"got {_type_of(error.instance)}",
        )
        return
    for sub_error in error.context or ():
        if sub_error.relative_schema_path and sub_error.relative_schema_path[0] == matching[0]:
            yield from _explain(sub_error)


def _branch_types(branch: dict[str, Any]) -> list[str]:
    if "type" in branch:
        return [branch["type"]]
    if "anyOf" in branch:  # a form that is itself several (a nullable framing: string or mapping)
        return sorted({t for b in branch["anyOf"] for t in _branch_types(b)})
    return sorted({_json_type(c) for c in _consts(branch)})


def _branch_accepts(branch: dict[str, Any], instance: Any) -> bool:
    return _json_type(instance) in _branch_types(branch) or (
        isinstance(instance, int)
        and not isinstance(instance, bool)
        and "number" in _branch_types(branch)
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", dict: "object", list: "array"}.get(type(value), "?")


# Hints for values that must match a pattern, by the schema's title for them. They live here,
# not in the schema, so the schema stays plain JSON Schema that strict validators accept.
_PATTERN_HINTS = {
    "name": "use lowercase letters, digits, '-' and '_', starting with a letter or digit",
    "frame size": "write it as WIDTHxHEIGHT, e.g. 1280x720",
    "base URL": "start it with http:// or https://",
    "environment variable name": "use letters, digits and '_'",
    "voice": "write it as LANGUAGE+VARIANT, e.g. en+f3 or en-gb+m2, optionally followed by "
    "'rate 170 pitch 40'",
}


def _required_message(error: ValidationError) -> str:
    # jsonschema reports one error per missing key, naming it only in the message
    match = re.fullmatch(r"'(.+)' is a required property", error.message)
    return f"missing required key '{match[1]}'" if match else error.message


_BOUNDS = {
    "minimum": ("small", "at least"), "exclusiveMinimum": ("small", "greater than"),
    "maximum": ("large", "at most"), "exclusiveMaximum": ("large", "less than"),
}  # fmt: skip

_TYPE_WORDS = {
    "string": "a string", "object": "a mapping", "array": "a list", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "nothing",
}  # fmt: skip


def _types(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(_TYPE_WORDS.get(n, n) for n in names)


def _type_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"{value!r}"
