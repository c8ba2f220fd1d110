from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from storyboard.format.schema import schema_text

from conftest import ROOT, run_cli


def walk_properties(schema: dict, defs: dict, trail: str = ""):
    for name, prop in schema.get("properties", {}).items():
        yield f"{trail}.{name}", prop
        yield from walk_properties(prop, defs, f"{trail}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from walk_properties(schema[key], defs, f"{trail}[]")


def resolved(prop: dict, defs: dict) -> dict:
    ref = prop.get("$ref", "")
    return {**defs[ref.rsplit("/", 1)[-1]], **prop} if ref else prop


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(json.loads(schema_text()))


def test_every_property_has_a_description() -> None:
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    missing = [trail for root in (schema, *defs.values())
               for trail, prop in walk_properties(root, defs)
               if not resolved(prop, defs).get("description")]
    assert missing == []


def test_repo_schema_is_the_shipped_schema() -> None:
    assert (ROOT / "schemas" / "storyboard.schema.json").read_text() == schema_text()


def test_schema_command_prints_it() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "storyboard"
