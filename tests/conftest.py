from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CASES = Path(__file__).resolve().parent / "cases"


def run_cli(
    *args: str | os.PathLike, cwd: Path | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real entry point (``python -m storyboard``) in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "storyboard", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def raw_frame(path: Path, t: float, pix_fmt: str, *filters: str) -> bytes:
    """One decoded frame of ``path`` at ``t`` seconds as raw ``pix_fmt`` bytes (through
    ``filters`` first, if any): what tests compare pixels on."""
    from storyboard.media import ffmpeg_exe

    vf = ["-vf", ",".join(filters)] if filters else []
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-ss", f"{t}", "-i", str(path), "-frames:v", "1", *vf,
         "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def wait_until(condition: Callable[[], object], timeout: float = 30) -> None:
    """Wait for an observable state (never a fixed time); fail when it does not come."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s")
        time.sleep(0.02)


def polled_jobs(api: object, pattern: str) -> int:
    """How many distinct jobs a fake server has been polled for (GET on ``pattern``)."""
    return len({r.path for r in api.calls("GET", pattern)})  # type: ignore[attr-defined]


@pytest.fixture
def examples_copy(tmp_path: Path) -> Path:
    """A private copy of examples/, so renders land under tmp_path only."""
    dest = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("renders"))
    return dest
