"""Every invalid case in tests/cases/ gives exactly its pinned problem, through the real CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CASES, run_cli

CASE_FILES = sorted(CASES.glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    match = re.fullmatch(r"# expect: (.+)", first)
    assert match, f"{path.name} needs a '# expect: LINE:COL: severity: message' first line"
    return f"{path.name}:{match[1]}"


def test_there_are_cases() -> None:
    assert len(CASE_FILES) >= 40


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.stem)
def test_case_reports_its_problem(case: Path) -> None:
    result = run_cli("validate", case.name, cwd=CASES)
    assert result.stdout.splitlines() == [expected(case)]
    assert "Traceback" not in result.stderr
    is_warning = ": warning: " in expected(case)
    assert result.returncode == (0 if is_warning else 1)


def test_warnings_fail_under_strict() -> None:
    assert run_cli("validate", "--strict", "no-action.yaml", cwd=CASES).returncode == 1


def test_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    board = tmp_path / "evil.yaml"
    board.write_text(
        f"version: 1\ntitle: !!python/object/apply:os.system ['touch {marker}']\n"
        "shots: [{id: a, action: x}]\n"
    )
    result = run_cli("validate", board)
    assert result.returncode == 1
    assert "is not allowed" in result.stdout
    assert not marker.exists()


def test_alias_bomb_fails_fast() -> None:
    start = time.perf_counter()
    result = run_cli("validate", "alias-bomb.yaml", cwd=CASES)
    assert result.returncode == 1
    assert time.perf_counter() - start < 5  # a whole process; the expansion stops at 100k nodes


def test_truly_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_bytes(b"")
    result = run_cli("validate", "empty.yaml", cwd=tmp_path)
    assert result.stdout.strip() == (
        "empty.yaml:1:1: error: the file is empty; a storyboard "
        "needs at least 'version', 'title' and 'shots'"
    )


def test_outside_paths_allowed_on_request() -> None:
    result = run_cli("validate", "--allow-outside-paths", "reference-outside.yaml", cwd=CASES)
    assert result.returncode == 0, result.stdout


def test_many_files_at_once_report_all() -> None:
    result = run_cli(
        "validate", "beats-overrun.yaml", "unknown-cast.yaml", "no-action.yaml", cwd=CASES
    )
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "beats-overrun.yaml",
        "unknown-cast.yaml",
        "no-action.yaml",
    ]


def test_github_format() -> None:
    result = run_cli("validate", "--format", "github", "beats-overrun.yaml", cwd=CASES)
    assert result.stdout.startswith("::error file=beats-overrun.yaml,line=10,col=9::shot 'a': ")


def test_json_format() -> None:
    import json

    result = run_cli("validate", "--format", "json", "unknown-cast.yaml", cwd=CASES)
    data = json.loads(result.stdout)
    assert (data["version"], data["command"], data["ok"]) == (1, "validate", False)
    [report] = data["files"]
    assert (report["file"], report["ok"], report["errors"]) == ("unknown-cast.yaml", False, 1)
    assert data["problems"][0]["line"] == 7
    assert data["problems"][0]["file"].endswith("unknown-cast.yaml")
    assert json.loads(run_cli("validate", "--json", "unknown-cast.yaml", cwd=CASES).stdout) == data


def test_an_endless_file_is_refused_after_16_mib() -> None:
    result = run_cli("validate", "/dev/zero")
    assert result.returncode == 1
    assert result.stdout.startswith("/dev/zero: error: the file is larger than 16 MiB")
    assert "Traceback" not in result.stderr


def test_a_file_name_with_a_line_break_is_refused_and_shown_escaped(tmp_path: Path) -> None:
    (tmp_path / "new\nline.yaml").write_text("version: 1\ntitle: T\nshots: [{id: a, action: x}]\n")
    result = run_cli("validate", "new\nline.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "new\\nline.yaml: error: the file name contains a control character (a line break?); "
        "rename the file"
    ]


@pytest.mark.parametrize("case", ["image-bomb.yaml", "image-bomb-warning.yaml"])
def test_decompression_bombs_are_refused_without_decoding(case: str) -> None:
    script = (
        "import resource, sys\nfrom storyboard.cli import main\ncode = main(sys.argv[1:])\n"
        "print('peak-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "file=sys.stderr)\nsys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, "validate", case],
        cwd=CASES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "too many pixels" in result.stdout
    assert int(result.stderr.split("peak-kb ")[1].split()[0]) < 200 * 1024
