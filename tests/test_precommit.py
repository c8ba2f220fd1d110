"""The pre-commit hook, run by pre-commit itself in a throwaway repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli

HOOK = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]


def picked(path: str) -> bool:
    """Whether pre-commit hands ``path`` to the hook (it applies files/exclude with re.search)."""
    return bool(re.search(HOOK["files"], path)) and not re.search(HOOK["exclude"], path)


def test_hook_picks_boards_by_name_and_leaves_workflows_alone() -> None:
    assert picked("harbor.storyboard.yaml") and picked("films/storyboard-ad.yml")
    assert not picked(".github/workflows/storyboard.yml")
    assert not picked("films/.github/storyboard.yaml")
    assert not picked("notes.yaml")


def test_only_storyboards_skips_other_yaml_and_says_so(tmp_path: Path) -> None:
    other = tmp_path / "storyboard-config.yaml"
    other.write_text("name: not a board\nsteps: []\n")
    result = run_cli("validate", "--only-storyboards", other)
    assert result.returncode == 0
    assert "skipped: not a storyboard" in result.stderr


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


def hook_repo(tmp_path: Path) -> Path:
    """A copy of this repository's hook manifest, run with the storyboard under test.

    pre-commit would otherwise pip-install the whole tool into a new environment on every
    run (441 MB, about 25 s on an idle machine): the same install .ci/run already makes. Only
    the language changes; the hook's files, exclude and arguments are the shipped ones."""
    repo = tmp_path / "hooks"
    repo.mkdir()
    hook = {
        **HOOK,
        "language": "system",
        "entry": HOOK["entry"].replace(
            "storyboard", str(Path(sys.executable).parent / "storyboard"), 1
        ),
    }
    (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump([hook]))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hooks")
    return repo


def test_pre_commit_blocks_an_invalid_board(tmp_path: Path) -> None:
    tool = Path(sys.executable).parent / "pre-commit"
    if not tool.exists() or shutil.which("git") is None:
        pytest.skip("pre-commit (from the test extra) and git are needed")
    repo = tmp_path / "film"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "storyboard.yml").write_text("on: push\njobs: {}\n")
    (repo / "storyboard-settings.yaml").write_text("name: x\n")
    (repo / "ok.storyboard.yaml").write_text(
        "version: 1\ntitle: t\nshots: [{id: a, action: waves roll in}]\n"
    )
    (repo / "bad.storyboard.yaml").write_text("version: 1\ntitle: t\nshots: []\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [tool, "try-repo", str(hook_repo(tmp_path)), "storyboard-validate", "--all-files"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "bad.storyboard.yaml:3:8: error: shots: the list is empty" in out
    assert "storyboard-settings.yaml: skipped: not a storyboard" in out
    assert "ok.storyboard.yaml: ok (1 shot)" in out
    assert "workflows" not in out
