from __future__ import annotations

from pathlib import Path

from storyboard import __version__

from conftest import EXAMPLES, run_cli


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"storyboard {__version__}")


def test_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("compile", EXAMPLES / "portrait.yaml", "--format", "xml").returncode == 2
    unknown_shot = run_cli("compile", EXAMPLES / "portrait.yaml", "--shot", "portrit")
    assert unknown_shot.returncode == 2 and "did you mean 'portrait'" in unknown_shot.stderr
    bad_backend = run_cli("validate", EXAMPLES / "portrait.yaml", "--backend", "nope")
    assert bad_backend.returncode == 2
    assert "installed backends: fal, gemini, openai, previs" in bad_backend.stderr


def test_missing_file_exits_1() -> None:
    result = run_cli("compile", "no/such.yaml")
    assert result.returncode == 1 and "no such file" in result.stderr


def test_compile_one_shot_text() -> None:
    result = run_cli("compile", EXAMPLES / "harbor-short.yaml", "--shot", "reunion")
    assert result.returncode == 0
    assert result.stdout.startswith("# 4. reunion (3 s)\nClose-up")


def test_init_writes_a_valid_storyboard(tmp_path: Path) -> None:
    result = run_cli("init", tmp_path / "new")
    assert result.returncode == 0, result.stderr
    board = tmp_path / "new" / "new.yaml"  # named after its folder, so is its edit
    assert result.stdout.strip() == str(board)
    assert board.read_text().startswith("# yaml-language-server: $schema=storyboard.schema.json")
    assert (tmp_path / "new" / "storyboard.schema.json").is_file()
    assert "renders/" in (tmp_path / "new" / ".gitignore").read_text()
    assert run_cli("validate", board).returncode == 0
    again = run_cli("init", tmp_path / "new")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_pre_commit_hook_points_at_validate() -> None:
    hooks = (EXAMPLES.parent / ".pre-commit-hooks.yaml").read_text()
    assert "entry: storyboard validate" in hooks
