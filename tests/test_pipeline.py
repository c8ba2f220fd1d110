"""The library API (storyboard.pipeline) and the backend contract, without the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyboard import pipeline
from storyboard.errors import UsageError
from storyboard.events import Event
from storyboard.render.registry import available, load_backend

from conftest import run_cli


def small_board(tmp_path: Path) -> Path:
    board = Path(run_cli("init", tmp_path / "film", "-q").stdout.strip())
    board.write_text(board.read_text().replace("1280x720", "160x90"))
    return board


def test_build_through_the_library_returns_typed_results(tmp_path: Path) -> None:
    board = small_board(tmp_path)
    events: list[Event] = []
    result = pipeline.build(board, pipeline.Options(jobs=1), on_event=events.append)
    assert result.edit is not None and result.edit.path.is_file()
    assert [r.status for r in result.rendered.shots] == ["rendered", "rendered"]
    assert result.compiled.settings.folder.root == board.parent / "renders" / "film"
    kinds = [e.kind for e in events]
    assert kinds[0] == "begin" and events[0].count == 2 and kinds.count("rendered") == 2
    again = pipeline.build(board)
    assert [r.status for r in again.rendered.shots] == ["reused", "reused"]
    assert again.edit is not None and again.edit.status == "up-to-date"
    states = pipeline.status(again.compiled)
    assert {s.state for s in states} == {"rendered"}


def test_compiled_storyboard_pairs_shots_with_prompts_and_keys(tmp_path: Path) -> None:
    compiled = pipeline.compile(small_board(tmp_path), pipeline.Options(shots=("portrait",)))
    assert [c.shot.id for c in compiled.chosen] == ["portrait"]
    assert len(compiled.shots) == 2 and all(len(c.key) == 64 for c in compiled.shots)
    assert compiled.shots[0].prompt.text.startswith("Wide shot")
    with pytest.raises(UsageError, match="no shot 'portait'"):
        pipeline.compile(compiled.board.path, pipeline.Options(shots=("portait",)))


def test_settings_are_resolved_once(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "version: 1\ntitle: T\noutput: {size: 1280x720}\n"
        "shots:\n  - {id: one, seconds: 4, action: a gull lands}\n"
    )
    compiled = pipeline.compile(
        board, pipeline.Options(backend="openai", out=tmp_path / "o", jobs=100_000)
    )
    s = compiled.settings
    assert (s.backend_name, s.backend.kind, s.folder.root) == ("openai", "hosted", tmp_path / "o")
    assert s.jobs == pipeline.MAX_HOSTED_JOBS and "--jobs 100000" in s.notes[0]


@pytest.mark.parametrize("name", available())
def test_every_backend_declares_the_contract(name: str, tmp_path: Path) -> None:
    backend = load_backend(name)
    assert backend.kind in ("local", "hosted")
    caps = backend.capabilities(None)
    assert caps.price_per_second is None or caps.price_per_second >= 0
    compiled = pipeline.compile(small_board(tmp_path))
    c = compiled.shots[0]
    from storyboard.render.base import RenderJob

    job = RenderJob(c.shot, c.prompt, compiled.board.output, None, c.key)
    material = backend.key_material(job)  # pure: no key in the environment, no network
    json.dumps(material)
    assert backend.key_material(job) == material


def test_the_api_example_builds_the_harbor_short(examples_copy: Path) -> None:
    import subprocess
    import sys

    harbor = examples_copy / "harbor-short.yaml"
    harbor.write_text(harbor.read_text().replace("1280x720", "160x90"))
    result = subprocess.run(
        [sys.executable, str(examples_copy / "build_api.py"), str(harbor), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip())
    assert edit == examples_copy / "renders" / "harbor-short" / "harbor-short.mp4"
    from storyboard.media import probe

    assert (probe(edit).width, probe(edit).height) == (160, 90)
    assert "rendered" in result.stderr


def test_a_plugin_backend_missing_part_of_the_contract_is_named(tmp_path: Path) -> None:
    """A third-party backend found through the entry point, lacking key_material."""
    (tmp_path / "halfway.py").write_text(
        "class Halfway:\n    name = 'halfway'\n    version = '1'\n    kind = 'local'\n"
        "    @classmethod\n    def from_config(cls, config): return cls()\n"
        "    @classmethod\n    def capabilities(cls, model=None): ...\n"
    )
    dist = tmp_path / "halfway-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: halfway\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[storyboard.backends]\nhalfway = halfway:Halfway\n")
    board = tmp_path / "b.yaml"
    board.write_text("version: 1\ntitle: t\nshots: [{id: a, action: waves}]\n")
    result = run_cli("render", board, "--backend", "halfway", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "lacks key_material, price_per_second" in result.stderr


def test_the_format_imports_no_backend() -> None:
    """storyboard.format is the format alone: the backend preflight is the pipeline's."""
    import ast

    folder = Path(__file__).parent.parent / "storyboard" / "format"
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(
                    (
                        "storyboard.render",
                        "storyboard.edit",
                        "storyboard.review",
                        "storyboard.pipeline",
                    )
                ), f"{path.name} imports {name}"


def test_backend_preflight_problems_point_at_the_file(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "version: 1\ntitle: T\noutput: {size: 160x90}\n"
        "shots:\n  - {id: one, seconds: 4, action: a gull lands}\n"
    )
    [ok] = pipeline.validate([board])
    assert not ok.problems
    [report] = pipeline.validate([board], pipeline.Options(backend="openai"))
    (problem,) = report.errors
    assert "backend 'openai'" in problem.message and "160x90" in problem.message
    assert (problem.location.file, problem.location.line) == (str(board), 3)


@pytest.mark.parametrize("name", available())
def test_prices_come_from_the_backend_declared_method(name: str) -> None:
    backend = load_backend(name)
    for size in ("1280x720", "1920x1080"):
        for audio in (False, True):
            price = backend.price_per_second(None, size, audio=audio)
            assert price is None or price >= 0
    if name == "previs":
        assert backend.price_per_second(None, "1280x720") == 0.0
