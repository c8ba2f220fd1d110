from __future__ import annotations

from pathlib import Path

import pytest

from storyboard.errors import LoadError
from storyboard.format.load import load_text


def test_positions_of_keys_and_values() -> None:
    doc = load_text("version: 1\nshots:\n  - id: a\n    seconds: 3\n", Path("b.yaml"))
    assert doc.values[("shots", 0, "seconds")] == (4, 14)
    assert doc.keys[("shots", 0, "seconds")] == (4, 5)
    assert str(doc.location(("shots", 0, "missing"))) == "b.yaml:3:5"


def test_merge_keys_work_and_own_keys_win() -> None:
    doc = load_text("base: &b {a: 1, c: 1}\nd:\n  <<: *b\n  c: 2\n", Path("b.yaml"))
    assert doc.data["d"] == {"a": 1, "c": 2}


def test_dates_stay_text() -> None:
    assert load_text("notes: 2026-11-21\n", Path("b.yaml")).data["notes"] == "2026-11-21"


@pytest.mark.parametrize("text", ["a: !!set {x}\n", "a: !custom x\n", "? [a, b]\n: 1\n"])
def test_non_plain_yaml_is_rejected(text: str) -> None:
    with pytest.raises(LoadError):
        load_text(text, Path("b.yaml"))


def test_more_than_one_document_is_an_error() -> None:
    with pytest.raises(LoadError, match="invalid YAML"):
        load_text("a: 1\n---\nb: 2\n", Path("b.yaml"))
