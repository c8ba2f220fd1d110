from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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
    for branch in schema.get("anyOf", []):  # a value of several forms: its mapping form's keys
        yield from walk_properties(branch, defs, trail)


def resolved(prop: dict, defs: dict) -> dict:
    ref = prop.get("$ref", "")
    if not ref:
        return prop
    target = json.loads(schema_text())  # a local JSON pointer: #/$defs/x, #/properties/...
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **prop}


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(json.loads(schema_text()))


def test_every_property_has_a_description() -> None:
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    missing = [
        trail
        for root in (schema, *defs.values())
        for trail, prop in walk_properties(root, defs)
        if not resolved(prop, defs).get("description")
    ]
    assert missing == []


def test_repo_schema_is_the_shipped_schema() -> None:
    assert (ROOT / "schemas" / "storyboard.schema.json").read_text() == schema_text()


def test_schema_command_prints_it() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "storyboard"


def nodes(node: object):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from nodes(item)


def test_schema_keeps_to_plain_json_schema() -> None:
    """No type lists and no home-made keywords: strict validators (ajv) reject both."""
    schema = json.loads(schema_text())
    assert [n["type"] for n in nodes(schema) if isinstance(n.get("type"), list)] == []
    assert [n for n in nodes(schema) if "errorMessage" in n] == []


def test_closed_vocabularies_are_completable_and_described() -> None:
    """Editors complete consts and enums, not patterns; each value says what it means."""
    defs = json.loads(schema_text())["$defs"]
    for name in ("cameraMove", "shotType", "ease", "transitionType", "fit"):
        values = defs[name]["oneOf"]
        assert values and all(v.get("const") and v.get("description") for v in values), name
    string_form = defs["transition"]["anyOf"][0]
    assert string_form == {"$ref": "#/$defs/transitionType"}
    assert all(
        "pattern" not in n
        or n.get("title")
        in {"name", "frame size", "base URL", "environment variable name", "shot number", "voice"}
        for n in nodes(defs)
    )


def test_check_jsonschema_accepts_schema_and_examples() -> None:
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        pytest.skip("check-jsonschema is not installed (it comes with the test extra)")
    schema = ROOT / "schemas" / "storyboard.schema.json"
    meta = subprocess.run([tool, "--check-metaschema", schema], capture_output=True, text=True)
    assert meta.returncode == 0, meta.stdout + meta.stderr
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    run = subprocess.run([tool, "--schemafile", schema, *examples], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def ajv() -> Path:
    """ajv-cli 5, installed once from the npm registry into a cache folder."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so ajv (the strict JSON Schema validator) cannot be")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "storyboard-tests"
    binary = cache / "ajv" / "node_modules" / ".bin" / "ajv"
    if not binary.exists():
        (cache / "ajv").mkdir(parents=True, exist_ok=True)
        install = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                cache / "ajv",
                "--no-audit",
                "--no-fund",
                "--silent",
                "ajv-cli@5",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if install.returncode != 0:
            pytest.skip(f"npm could not install ajv-cli: {install.stderr.strip()[-300:]}")
    return binary


def test_ajv_strict_2020_12_compiles_the_schema() -> None:
    result = subprocess.run(
        [
            ajv(),
            "compile",
            "--spec=draft2020",
            "--strict=true",
            "-s",
            ROOT / "schemas" / "storyboard.schema.json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_write_refreshes_a_stale_copy(tmp_path: Path) -> None:
    stale = tmp_path / "storyboard.schema.json"
    stale.write_text("{}")
    result = run_cli("schema", "--write", tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(stale)
    assert stale.read_text() == schema_text()
    assert run_cli("schema", "--write", tmp_path / "nope").returncode == 2
