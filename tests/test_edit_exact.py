"""The edit starts at 0 and lasts exactly the plan, read from the MP4 boxes players read."""

from __future__ import annotations

import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from mp4boxes import read_movie
from PIL import Image

from storyboard.edit.audiomix import edit_channels
from storyboard.edit.timecode import frame_rate
from storyboard.media import ffmpeg_exe

from conftest import run_cli


def write_bed(path: Path, seconds: float, channels: int) -> None:
    t = np.arange(int(48_000 * seconds)) / 48_000
    left = 0.3 * np.sin(2 * np.pi * 220 * t)
    right = 0.3 * np.sin(2 * np.pi * 330 * t)
    frames = np.stack([left, right][:channels], axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes((frames * 32767).astype("<i2").tobytes())


def board(folder: Path, fps: float, bed_channels: int) -> Path:
    Image.new("RGB", (32, 18), "red").save(folder / "red.png")
    write_bed(folder / "bed.wav", 1.3, bed_channels)
    path = folder / "edit.yaml"
    path.write_text(f"""\
version: 1
title: Exact
output: {{size: 160x90, fps: {fps}}}
render: {{overlays: false}}
music: {{file: bed.wav, volume: 0.5}}
shots:
  - id: a
    seconds: 1.5
    action: x
    reference: red.png
    transition: {{type: dissolve, seconds: 0.5}}
  - {{id: b, seconds: 1, action: y, transition: {{type: fade-white, seconds: 0.4}}}}
  - {{id: c, seconds: 1.25, action: z, transition: {{type: fade-black, seconds: 0.5}}}}
""")
    return path


@pytest.mark.parametrize(("fps", "channels"), [(24, 2), (25, 1), (29.97, 2)])
def test_edit_starts_at_zero_and_lasts_the_plan(tmp_path: Path, fps: float, channels: int) -> None:
    import json

    path = board(tmp_path, fps, channels)
    result = run_cli("build", path, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip())
    frames = json.loads(run_cli("plan", path, "--json").stdout)["plan"]["frames"]
    length = frames / frame_rate(fps)
    movie = read_movie(edit)
    assert Fraction(movie.duration, movie.timescale) == length  # ± 0 frames: exactly
    video, audio = (next(t for t in movie.tracks if t.handler == kind) for kind in ("vide", "soun"))
    # no empty edit delaying the picture: its first frame is shown at 0
    assert video.edits == [(movie.duration, 0)]
    # the sound's one edit skips only the AAC encoder's priming and ends with the picture
    [(audio_length, audio_start)] = audio.edits
    assert audio_start == 1024
    assert abs(audio_length - movie.duration) * 48_000 < movie.timescale  # within a sample
    assert audio.channels == channels
    head = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(edit)], capture_output=True, text=True
    ).stderr
    assert "start 0.0" not in head  # ffmpeg reports no stream starting late either


def test_a_stereo_shot_makes_the_edit_stereo(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=red:s=160x90:d=1",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:d=1",
            "-ac",
            "2",
            "-shortest",
            str(stereo),
        ],
        check=True,
    )
    mono = tmp_path / "mono.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(stereo), "-c:v", "copy", "-ac", "1", str(mono)],
        check=True,
    )
    assert edit_channels([mono, mono], None) == 1
    assert edit_channels([mono, stereo], None) == 2
