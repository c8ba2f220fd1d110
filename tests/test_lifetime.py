"""Render workers die with the main process (issue 9, item 4), through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyboard.render.lifetime import die_with_parent

BOARD = """\
version: 1
title: Long
output: {size: 160x90, fps: 24}
shots:
  - {id: one, seconds: 40, action: a long pan, beats: [{camera: pan-left, seconds: 40}]}
  - {id: two, seconds: 40, action: a long tilt, beats: [{camera: tilt-up, seconds: 40}]}
  - {id: three, seconds: 40, action: a long zoom, beats: [{camera: zoom-in, seconds: 40}]}
"""


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (zombies count as gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_main_process_ends_its_workers(tmp_path: Path, sig: int) -> None:
    board = tmp_path / "long.yaml"
    board.write_text(BOARD)
    main = subprocess.Popen(
        [sys.executable, "-m", "storyboard", "render", str(board), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    takes = tmp_path / "renders" / "long" / "takes"
    shots = tmp_path / "renders" / "long" / "shots"
    workers: list[int] = []
    try:
        assert wait_for(lambda: len(list(takes.glob(".*.partial.mp4"))) >= 2, 120), (
            "two workers never started rendering"
        )
        workers = children(main.pid)  # the pool's workers and multiprocessing's helper
        assert len(workers) >= 2
        before = {p.name: p.stat().st_mtime_ns for p in shots.glob("*")}
        main.send_signal(sig)
        main.wait(30)
        assert wait_for(lambda: not any(alive(w) for w in workers), 2.0), (
            "a worker outlived the main process by more than 2 s"
        )
        assert {p.name: p.stat().st_mtime_ns for p in shots.glob("*")} == before
    finally:  # a failing run leaves nothing behind
        if main.poll() is None:
            main.kill()
        for pid in workers + children(main.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_whose_parent_is_gone_exits_at_once() -> None:
    code = (
        "import os, sys; from storyboard.render.lifetime import die_with_parent; "
        "die_with_parent(os.getppid() + 999999); print('still here')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "still here" not in result.stdout
    assert callable(die_with_parent)
