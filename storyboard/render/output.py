"""Where a render is written before it counts, and the check that makes it count.

Local and hosted renders alike write to a file named for the running process, probe it, and
only then rename it into place; a file of a process that died is never taken for a render.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from storyboard.errors import MediaError, RenderError
from storyboard.media import probe
from storyboard.render.base import RenderJob

__all__ = ["check_probe", "partial_path", "verify_render"]


def partial_path(path: Path, kind: str = "partial") -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.{kind}.mp4")


def verify_render(path: Path, job: RenderJob) -> None:
    try:
        info = probe(path)
    except MediaError as exc:
        raise RenderError(f"the render is not a playable video: {exc}") from None
    check_probe(info, job)


def check_probe(info: Any, job: RenderJob) -> None:
    """The probed video has the job's size and rendered length (within a frame)."""
    frame = 1.0 / job.output.fps
    if (info.width, info.height) != (job.output.width, job.output.height):
        raise RenderError(f"rendered {info.width}x{info.height}, expected {job.output.size}")
    if abs(info.duration - job.render_seconds) > frame + 0.05:  # AAC framing adds a few ms
        raise RenderError(f"rendered {info.duration:.3f} s, expected {job.render_seconds:g} s")
