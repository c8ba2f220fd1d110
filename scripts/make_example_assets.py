"""Regenerate the examples' reference images and music bed (deterministic; run from the repo root).

python scripts/make_example_assets.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from storyboard.samples import draw_scene

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RATE = 44_100


def guitar_bed(seconds: float = 8.0) -> np.ndarray:
    """A soft plucked arpeggio (A minor, F, C, G), two seconds a chord: loops cleanly."""
    chords = [
        (220.0, 261.63, 329.63),
        (174.61, 220.0, 261.63),
        (130.81, 196.0, 261.63),
        (196.0, 246.94, 293.66),
    ]
    out = np.zeros(int(seconds * RATE))
    step = int(0.25 * RATE)
    for n in range(int(seconds / 0.25)):
        freq = chords[(n // 8) % 4][n % 3]
        t = np.arange(int(1.2 * RATE)) / RATE
        note = np.sin(2 * np.pi * freq * t) * np.exp(-3.5 * t) * 0.25
        start = n * step
        end = min(start + len(note), len(out))
        out[start:end] += note[: end - start]
    return out / max(1.0, np.abs(out).max())


def write_audio(samples: np.ndarray, dest: Path) -> None:
    pcm = (samples * 32767).astype("<i2").tobytes()
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            "-i",
            "-",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(dest),
        ],
        input=pcm,
        check=True,
    )


def main() -> None:
    for name in ("harbor-dusk", "street-night", "field-morning"):
        draw_scene(name, 960, 540).save(EXAMPLES / "images" / f"{name}.jpg", quality=85)
    write_audio(guitar_bed(), EXAMPLES / "audio" / "guitar-bed.mp3")


if __name__ == "__main__":
    main()
