"""Every YAML block in README.md validates as written, through the real CLI.

A block with ``version`` and ``shots`` is a whole storyboard; a block whose top-level keys are
all storyboard keys (``render: ...``) is a fragment, checked on a minimal storyboard; any other
block (a pre-commit config) must at least parse. Files a block refers to are made for it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, ROOT, run_cli

README = ROOT / "README.md"
BLOCKS = re.findall(r"^```yaml\n(.*?)^```", README.read_text("utf-8"), re.S | re.M)
BASE = {"version": 1, "title": "README fragment", "shots": [{"id": "a", "action": "a door opens"}]}


def _storyboard_keys() -> set[str]:
    import json

    schema = json.loads((ROOT / "schemas" / "storyboard.schema.json").read_text("utf-8"))
    return set(schema["properties"])


def _referenced(node: Any) -> list[str]:
    """Every ``reference`` and ``file`` path in a storyboard."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("reference", "file") and isinstance(v, str)]
        return found + [p for v in node.values() for p in _referenced(v)]
    if isinstance(node, list):
        return [p for v in node for p in _referenced(v)]
    return []


def _make_file(folder: Path, relative: str) -> None:
    from PIL import Image

    dest = folder / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    suffix = dest.suffix.lower()
    if suffix in (".mp3", ".wav", ".m4a", ".ogg", ".flac"):
        shutil.copy(EXAMPLES / "audio" / "guitar-bed.mp3", dest)
    else:
        with Image.open(EXAMPLES / "images" / "harbor-dusk.jpg") as image:
            image.convert("RGB").save(dest, {".png": "PNG", ".webp": "WEBP"}.get(suffix, "JPEG"))


def test_readme_has_yaml_blocks() -> None:
    assert len(BLOCKS) >= 5
    assert any("shots:" in b and "version:" in b for b in BLOCKS)


@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=lambda n: f"block{n + 1}")
def test_readme_yaml_block_validates(number: int, tmp_path: Path) -> None:
    data = yaml.safe_load(BLOCKS[number])
    assert isinstance(data, dict)
    if not set(data) <= _storyboard_keys():
        return  # not a storyboard (e.g. .pre-commit-config.yaml): parsing it was the check
    whole = "version" in data and "shots" in data
    board = tmp_path / "board.yaml"
    if whole:
        board.write_text(BLOCKS[number], encoding="utf-8")
    else:
        board.write_text(yaml.safe_dump({**BASE, **data}, sort_keys=False), encoding="utf-8")
    for relative in _referenced(data):
        _make_file(tmp_path, relative)
    result = run_cli("validate", "--strict", board)
    assert result.returncode == 0, f"README block {number + 1}:\n{result.stdout}{result.stderr}"
