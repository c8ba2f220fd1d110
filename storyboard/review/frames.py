"""Still frames out of rendered shots, for thumbnails and contact sheets (ffmpeg, no decode lib).

Each frame is read by its own ffmpeg call that seeks to the time asked for, so a long take costs
no more than a short one. Pillow is imported inside the functions that need it.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.errors import MediaError
from storyboard.media import ffmpeg_exe

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["frame_image", "jpeg_bytes", "key_frame_times"]


def key_frame_times(seconds: float, fps: float) -> tuple[float, float, float]:
    """First, middle and last frame of a shot ``seconds`` long, as times of those frames."""
    frames = max(1, round(seconds * fps))
    return 0.0, (frames // 2) / fps, (frames - 1) / fps


def frame_image(video: Path, at: float, width: int | None = None) -> Image:
    """The frame of ``video`` shown at ``at`` seconds, scaled to ``width`` (height follows)."""
    from PIL import Image

    scale = ["-vf", f"scale={width}:-2"] if width else []
    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-ss",
            f"{at:.6f}",
            "-i",
            str(video),
            "-frames:v",
            "1",
            *scale,
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "-",
        ],
        capture_output=True,
    )
    if result.returncode != 0 or not result.stdout:
        reason = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frame"]
        raise MediaError(f"cannot read a frame of {video} at {at:.3f} s: {reason[0]}")
    image = Image.open(io.BytesIO(result.stdout))
    image.load()
    return image.convert("RGB")


def jpeg_bytes(image: Image, quality: int = 82) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
