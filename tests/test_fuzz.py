"""Property-based: mutated examples and random YAML-ish text never crash a command.

Every command that reads a storyboard without rendering runs in-process on each mutation and
must end with an exit code of the contract (0, 1, 2 or 3) and no exception; the process may not
grow by more than a few hundred MiB over the whole run (the bombs this hunts took GBs).
Fixed seed (derandomize) and a small budget, so CI runs the same cases in about a minute.
"""

from __future__ import annotations

import contextlib
import io
import resource
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard.cli import main

from conftest import EXAMPLES

COMMANDS = (
    ["validate"],
    ["compile"],
    ["compile", "--format", "json"],
    ["shotlist"],
    ["shotlist", "--format", "csv"],
    ["shotlist", "--format", "html"],
    ["estimate"],
    ["plan"],
)
FUZZ = dict(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXAMPLE_DATA = {p.name: yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))}

weird_text = st.sampled_from(
    [
        "",
        " ",
        "a\nb",
        "\t",
        "x" * 300,
        "../../etc/passwd",
        "/dev/zero",
        "images/mara.jpg",
        "%0A::error file=x::y",
        "=1+1",
        "{{ 7*7 }}",
        "é",
        "\u202e",
        "null",
        "0x10",
        "1e999",
        "0",
        "-1",
        "NaN",
        "a,b:c",
        "💥",
    ]
) | st.text(max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | weird_text
    | st.sampled_from([0, -1, 0.001, 1e300, 10**30, 2**63])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(weird_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated_example(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    data = _copy(EXAMPLE_DATA[name])
    for _ in range(draw(st.integers(1, 4))):
        data = _mutate(draw, data)
    return name, data


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mutate(draw: st.DrawFn, node: Any) -> Any:
    """Replace, delete or add at a random place inside ``node``."""
    if not isinstance(node, (dict, list)) or not node or draw(st.integers(0, 3)) == 0:
        return draw(values)
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = draw(st.sampled_from(keys))
    action = draw(st.sampled_from(["descend", "descend", "delete", "add"]))
    if action == "delete":
        del node[key]
    elif action == "add" and isinstance(node, dict):
        node[draw(weird_text)] = draw(values)
    elif action == "add":
        node.append(draw(values))
    else:
        node[key] = _mutate(draw, node[key])
    return node


def run_all(board: Path) -> None:
    for command in COMMANDS:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([*command, str(board)])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        assert code in (0, 1, 2, 3), (command, code, err.getvalue()[-500:])
        assert "Traceback" not in err.getvalue(), (command, err.getvalue()[-2000:])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("fuzz") / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("renders"))
    return dest


@pytest.fixture(scope="module")
def peak_before() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@settings(max_examples=60, **FUZZ)
@given(case=mutated_example())
def test_mutated_examples_never_crash(
    folder: Path, peak_before: int, case: tuple[str, Any]
) -> None:
    name, data = case
    board = folder / f"fuzz-{name}"
    board.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    run_all(board)


@settings(max_examples=60, **FUZZ)
@given(
    name=st.sampled_from(sorted(EXAMPLE_DATA)),
    cut=st.integers(0, 10**6),
    junk=st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
)
def test_yamlish_text_never_crashes(
    folder: Path, peak_before: int, name: str, cut: int, junk: str
) -> None:
    text = (EXAMPLES / name).read_text()
    at = cut % (len(text) + 1)
    board = folder / f"text-{name}"
    board.write_text(text[:at] + junk + text[at:])
    run_all(board)


def test_memory_stayed_bounded(peak_before: int, folder: Path) -> None:
    """Runs after the fuzz tests (file order): the whole session peak, in KiB on Linux."""
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 600 * 1024, f"the fuzz run grew the process by {grown // 1024} MiB"
