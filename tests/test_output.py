"""What the commands print: one JSON envelope for every --format json, progress lines on
stderr that a CI log can read, nothing but results with --quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli

CASES = Path(__file__).parent / "cases"
JSON_COMMANDS = ("validate", "compile", "plan", "status", "estimate", "shotlist", "takes")


def tiny_board(tmp_path: Path) -> Path:
    board = tmp_path / "tiny.yaml"
    board.write_text(
        "version: 1\ntitle: Tiny\noutput: {size: 160x90, fps: 24}\nshots:\n"
        "  - {id: one, seconds: 1, action: a gull lands,"
        " transition: {type: dissolve, seconds: 0.5}}\n"
        "  - {id: two, seconds: 1, action: the gull leaves}\n"
    )
    return board


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_every_json_output_is_one_versioned_envelope(command: str, tmp_path: Path) -> None:
    board = tiny_board(tmp_path)
    for flags in (["--format", "json"], ["--json"]):
        result = run_cli(command, board, *flags)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert (data["version"], data["command"], data["ok"]) == (1, command, True)
        assert data["storyboard"] == str(board) and data["problems"] == []


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_every_json_failure_is_an_object_with_the_problems(command: str) -> None:
    result = run_cli(command, CASES / "unknown-cast.yaml", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert (data["version"], data["command"], data["ok"]) == (1, command, False)
    assert [(p["line"], p["severity"]) for p in data["problems"]] == [(7, "error")]


def test_a_usage_error_in_json_is_an_object_too(tmp_path: Path) -> None:
    result = run_cli("takes", tiny_board(tmp_path), "--shot", "onee", "--json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and "did you mean 'one'" in data["error"]


def test_build_logs_a_line_per_shot_and_for_the_stitch(tmp_path: Path) -> None:
    board = tiny_board(tmp_path)
    result = run_cli("build", board, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    rendered = [line for line in lines if line.startswith("rendered ")]
    assert [line.split()[1] for line in rendered] == ["one", "two"]
    assert rendered[0].endswith("[1/2]") and rendered[1].endswith("[2/2]")
    assert any(line.startswith("stitching tiny.mp4 (1.50 s of edit)") for line in lines)
    assert result.stdout.strip().endswith("tiny.mp4")
    again = run_cli("build", board)
    assert "rendered " not in again.stderr and "stitching" not in again.stderr
    assert "0 rendered, 2 reused" in again.stderr


def test_quiet_prints_only_the_result(tmp_path: Path) -> None:
    result = run_cli("build", tiny_board(tmp_path), "-q")
    assert result.returncode == 0 and result.stderr == ""
    assert Path(result.stdout.strip()).is_file()


def test_stitch_warns_about_renders_older_than_the_storyboard(tmp_path: Path) -> None:
    board = tiny_board(tmp_path)
    assert run_cli("build", board, "-q").returncode == 0
    board.write_text(board.read_text().replace("a gull lands", "a gull lands twice"))
    result = run_cli("stitch", board)
    assert result.returncode == 0
    assert "warning  stitching renders older than the storyboard: one" in result.stderr


def test_scratch_folders_of_killed_runs_are_removed(tmp_path: Path) -> None:
    """A stitch or previs render killed mid-way leaves its scratch folder; the next run removes
    it, and only when its process is gone."""
    import os

    board = tiny_board(tmp_path)
    assert run_cli("build", board, "-q").returncode == 0
    folder = tmp_path / "renders" / "tiny"
    dead, living = 4_194_999, os.getpid()  # above Linux's largest pid: no such process
    leftovers = {
        "dead stitch": folder / f".stitch-{dead}-abc",
        "live stitch": folder / f".stitch-{living}-abc",
        "dead audio": folder / "takes" / f".audio-{dead}-abc",
    }
    for path in leftovers.values():
        path.mkdir()
        (path / "half.mp4").write_bytes(b"\0" * 1000)
    board.write_text(board.read_text().replace("a gull lands", "a gull lands twice"))
    assert run_cli("build", board, "-q").returncode == 0
    assert not leftovers["dead stitch"].exists() and not leftovers["dead audio"].exists()
    assert leftovers["live stitch"].is_dir()


def test_a_dot_named_storyboard_reads_but_needs_out_to_write(tmp_path: Path) -> None:
    board = tiny_board(tmp_path).rename(tmp_path / ".hidden.yaml")
    assert run_cli("compile", board).returncode == 0
    assert run_cli("shotlist", board, "--format", "csv").returncode == 0
    refused = run_cli("render", board)
    assert refused.returncode == 2 and "pass --out DIR" in refused.stderr
    assert not (tmp_path / "renders").exists()
    assert run_cli("render", board, "--out", tmp_path / "r", "-q").returncode == 0


def test_build_refuses_shot_instead_of_stitching_a_partial_edit(tmp_path: Path) -> None:
    result = run_cli("build", tiny_board(tmp_path), "--shot", "one")
    assert result.returncode == 2 and "storyboard render --shot one" in result.stderr
    assert not (tmp_path / "renders").exists()  # nothing rendered, nothing paid for


def test_export_never_writes_over_the_edit_or_the_manifest(tmp_path: Path) -> None:
    from storyboard.manifest import file_sha256

    board = tiny_board(tmp_path)
    edit = Path(run_cli("build", board, "-q").stdout.strip())
    folder = edit.parent
    kept = {p: file_sha256(p) for p in (edit, folder / "manifest.json")}
    for dest in kept:
        result = run_cli("export", board, "--format", "edl", "--out", dest)
        assert result.returncode == 2 and "name a new file" in result.stderr
    assert {p: file_sha256(p) for p in kept} == kept
    fresh = run_cli("export", board, "--format", "edl", "--out", tmp_path / "cut.edl")
    assert fresh.returncode == 0 and (tmp_path / "cut.edl").is_file()


def test_no_api_key_in_the_repr_of_what_the_library_returns(tmp_path: Path) -> None:
    from storyboard import pipeline

    key = "sk-do-not-print-me-12345"
    options = pipeline.Options(backend="openai", env={"OPENAI_API_KEY": key})
    board = tiny_board(tmp_path)
    board.write_text(board.read_text().replace("160x90", "1280x720"))  # a size openai renders
    compiled = pipeline.compile(board, options)
    assert compiled.settings.config.env["OPENAI_API_KEY"] == key
    assert key not in repr(compiled) and key not in repr(options)


def test_an_export_that_cannot_be_written_says_where(tmp_path: Path) -> None:
    result = run_cli("export", tiny_board(tmp_path), "--out", "/proc/no/cut.otio")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot write /proc/no/cut.otio" in result.stderr


def test_a_closed_pipe_while_failing_is_no_traceback(tmp_path: Path) -> None:
    """`storyboard compile x.yaml --json | head -1` that fails: the JSON meets a closed pipe."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    result = subprocess.run(
        [sys.executable, "-m", "storyboard", "compile", str(tiny_board(tmp_path)),
         "--templates", str(tmp_path / "none"), "--json"],
        stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
    )  # fmt: skip
    os.close(write)
    assert "Traceback" not in result.stderr and "no such folder" in result.stderr
