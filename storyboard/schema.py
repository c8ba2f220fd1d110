"""The JSON Schema of the format, and its errors turned into located, actionable Problems."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .load import JsonPath
from .model import Problem

__all__ = ["schema_text", "schema_problems", "format_path", "did_you_mean"]


def schema_text() -> str:
    """The schema as shipped in the package."""
    return resources.files("storyboard").joinpath("data/storyboard.schema.json").read_text("utf-8")


@cache
def _validator() -> Draft202012Validator:
    # The schema is self-contained: $refs resolve inside it, never over the network.
    return Draft202012Validator(json.loads(schema_text()))


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
        problems.extend(_explain(error))
    return problems


def _explain(error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    where = format_path(path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            hint = did_you_mean(key, allowed) or f"; allowed keys: {', '.join(allowed)}"
            yield Problem((*path, key), f"{where}: unknown key '{key}'{hint}")
    elif kind == "required":
        yield Problem(path, f"{where}: {_required_message(error)}")
    elif kind == "enum":
        title = schema.get("title", "value")
        choices = [str(c) for c in error.validator_value]
        hint = did_you_mean(str(error.instance), choices)
        yield Problem(path, f"{where}: {error.instance!r} is not a known {title}{hint}; "
                      f"use one of: {', '.join(choices)}")
    elif kind == "pattern":
        title = schema.get("title", "value")
        hint = schema.get("errorMessage", f"it must match {error.validator_value}")
        yield Problem(path, f"{where}: {error.instance!r} is not a valid {title}: {hint}")
    elif kind == "type":
        yield Problem(path, f"{where}: expected {_types(error.validator_value)}, "
                      f"got {_type_of(error.instance)}")
    elif kind == "const":
        yield Problem(path, f"{where}: must be {error.validator_value!r}, not {error.instance!r}")
    else:
        yield Problem(path, f"{where}: {error.message}")


def _required_message(error: ValidationError) -> str:
    # jsonschema reports one error per missing key, naming it only in the message
    match = re.fullmatch(r"'(.+)' is a required property", error.message)
    return f"missing required key '{match[1]}'" if match else error.message


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
