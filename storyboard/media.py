"""ffmpeg, from the imageio-ffmpeg wheel: where it is, what a file holds, and reading audio back.

There is no ffprobe in that wheel, so probing reads ``ffmpeg -i``'s stream summary and counts
frames with a stream copy (fast: nothing is decoded).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

from storyboard.errors import MediaError

__all__ = ["AUDIO_ARGS", "AUDIO_RATE", "Probe", "X264_PARAMS", "ffmpeg_exe", "fps_fraction",
           "keyframe_interval", "probe", "read_audio", "video_args"]

# One encoding for everything we write, so shots, transitions and the edit can be joined by
# stream copy. A keyframe every second (and none elsewhere) lets the stitch copy shot bodies
# and re-encode only near transitions. No B-frames: with them decode order differs from display
# order and the concat demuxer's outpoint keeps a frame or two past the cut.
X264_PARAMS = ["-crf", "20", "-pix_fmt", "yuv420p", "-sc_threshold", "0", "-bf", "0",
               "-colorspace", "smpte170m", "-color_primaries", "smpte170m",
               "-color_trc", "smpte170m", "-color_range", "tv"]
X264_PRESET = "veryfast"
AUDIO_RATE = 48_000
AUDIO_ARGS = ["-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE)]


def keyframe_interval(fps: float) -> int:
    """Frames between keyframes: one second's worth."""
    return max(1, round(fps))


def video_args(fps: float) -> list[str]:
    """ffmpeg output options for the project's H.264 encoding at ``fps``."""
    return ["-c:v", "libx264", "-preset", X264_PRESET, *X264_PARAMS,
            "-g", str(keyframe_interval(fps))]


@cache
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise MediaError("imageio-ffmpeg is not installed; reinstall storyboard") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def fps_fraction(fps: float) -> Fraction:
    """24 → 24, 29.97 → 30000/1001: the rate ffmpeg should be told."""
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class Probe:
    duration: float  # the container's
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    sample_rate: int | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"([\d.]+) fps")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: (\w+).*?, (\d+) Hz")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def probe(path: Path) -> Probe:
    """What ``path`` holds, read by ffmpeg itself; MediaError when it is not a playable video."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy",
         "-f", "null", "-"],
        capture_output=True, text=True, errors="replace",
    )
    head = result.stderr
    duration, video = _DURATION.search(head), _VIDEO.search(head)
    if result.returncode != 0 or not duration or not video:
        last = head.strip().splitlines()[-1:] or ["no output"]
        raise MediaError(f"{path} is not a playable video: {last[0]}")
    h, m, s = duration.groups()
    fps = _FPS.search(head[video.start():])
    audio = _AUDIO.search(head)
    frames = _FRAMES.findall(head)
    return Probe(
        duration=int(h) * 3600 + int(m) * 60 + float(s),
        width=int(video[3]),
        height=int(video[4]),
        fps=float(fps[1]) if fps else 0.0,
        frames=int(frames[-1]) if frames else 0,
        video_codec=video[1],
        pix_fmt=video[2],
        audio_codec=audio[1] if audio else None,
        sample_rate=int(audio[2]) if audio else None,
    )


def read_audio(path: Path, rate: int = 48_000):  # -> ndarray; numpy is imported lazily
    """The audio of ``path`` as mono float32 samples in [-1, 1] (empty when it has none)."""
    import numpy as np

    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:a:0?", "-f", "f32le", "-ac", "1", "-ar", str(rate), "-"],
        capture_output=True,
    )
    if result.returncode != 0:
        raise MediaError(f"cannot read the audio of {path}: {result.stderr.decode()[-200:]}")
    return np.frombuffer(result.stdout, dtype="<f4")
