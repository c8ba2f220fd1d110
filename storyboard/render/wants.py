"""What a shot asks of a model beyond its prompt: sound, a last frame, a seed.

Read here once so every backend answers the same way: a shot with dialogue or sound effects asks
for sound where the model can make it (ambience and music alone do not: the edit lays the music
bed, and a silent render is cheaper); an end frame and a seed are sent when the shot has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storyboard.format.model import Shot

__all__ = ["end_frame", "seed", "wants_audio"]


def wants_audio(shot: Shot) -> bool:
    return bool(shot.audio.dialogue or shot.audio.sfx)


def end_frame(job: Any) -> Path | None:
    """The shot's end frame, where the format has one (``shot.end_frame``)."""
    value = getattr(job.shot, "end_frame", None)
    return value if isinstance(value, Path) else None


def seed(job: Any) -> int | None:
    """The take's seed: on the job (a take), else on the shot; None lets the model choose."""
    for owner in (job, job.shot):
        value = getattr(owner, "seed", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
