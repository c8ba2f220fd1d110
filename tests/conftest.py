from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CASES = Path(__file__).resolve().parent / "cases"


def run_cli(*args: str | os.PathLike, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real entry point (``python -m storyboard``) in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "storyboard", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A private copy of examples/, so renders land under tmp_path only."""
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("renders"))
    return dest
