"""Scratch folders inside a render folder, named for the process that made them.

A run that is killed (SIGKILL, a power cut) cannot remove its scratch folder; the next run
removes those whose process is gone, so a render folder never fills with dead half-edits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["alive", "remove_dead_scratch", "scratch_dir"]


def scratch_dir(folder: Path, kind: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder ``.<kind>-<pid>-…`` in ``folder``, removed when the block ends."""
    return tempfile.TemporaryDirectory(dir=folder, prefix=f".{kind}-{os.getpid()}-")


def remove_dead_scratch(folder: Path, kind: str) -> None:
    """Remove the ``kind`` scratch folders of processes that no longer run."""
    for leftover in folder.glob(f".{kind}-*-*"):
        pid = leftover.name.split("-")[1]
        if leftover.is_dir() and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
