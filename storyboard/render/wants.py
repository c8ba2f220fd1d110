"""What a shot asks of a model beyond its prompt: sound, a last frame, a seed.

Read here once so every backend answers the same way: a shot with dialogue or sound effects asks
for sound where the model can make it (ambience and music alone do not: the edit lays the music
bed, and a silent render is cheaper); an end frame and a seed are sent when the shot has them.
"""

from __future__ import annotations

from pathlib import Path

from storyboard.format.model import Shot
from storyboard.render.base import RenderJob

__all__ = ["end_frame", "seed", "wants_audio"]


def wants_audio(shot: Shot) -> bool:
    return bool(shot.audio.dialogue or shot.audio.sfx)


def end_frame(job: RenderJob) -> Path | None:
    """The shot's end frame (``end_frame:``), if it has one."""
    return job.shot.end_frame


def seed(job: RenderJob) -> int | None:
    """The take's seed; None (take 1) lets the model choose."""
    return job.seed
