"""The edit's sound, mixed in one streaming pass: shot audio with its transitions, plus music.

Shot audio is decoded by one ffmpeg process reading the shots one after another (the concat
demuxer, each shot cut at its exact length, aresample holding every shot to its timestamps);
the music bed by another (looped with ``-stream_loop``). Python applies the
transitions and the bed's level shot by shot and hands the result on as float32 PCM, so memory
does not grow with the number of shots.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from storyboard.edit.layout import EditPlan, Span
from storyboard.edit.plan import MUSIC_FADE_IN, MUSIC_FADE_OUT
from storyboard.errors import StitchError
from storyboard.format.model import Music
from storyboard.media import AUDIO_RATE, audio_channels, ffmpeg_exe

__all__ = ["edit_channels", "mixed_audio"]

CUT_FADE = round(0.005 * AUDIO_RATE)  # a few milliseconds at every hard cut, so cuts never click


def edit_channels(files: list[Path], music: Music | None) -> int:
    """2 when the music bed or any shot's sound is stereo (or more), else 1."""
    sources = [*files, *([music.file] if music is not None and music.file else [])]
    return 2 if any(audio_channels(path) > 1 for path in sources) else 1


def mixed_audio(
    plan: EditPlan, files: list[Path], music: Music | None, listing: Path, channels: int = 1
) -> Iterator[np.ndarray]:
    """Yield the edit's audio as consecutive float32 chunks of shape (samples, channels).

    ``listing`` is where the decoder's concat list is written.
    """
    sizes = [_sample(plan, s.end) - _sample(plan, s.start) for s in plan.spans]
    total = _sample(plan, plan.frames)
    listing.write_text(_shot_list(plan, files), encoding="utf-8")
    decoder = _Decoder(
        [
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-map",
            "0:a:0",
            "-af",
            "aresample=async=1:min_hard_comp=0.005:first_pts=0",
        ],
        channels,
    )
    with decoder as shots, _music(music, total, channels) as bed:
        position = 0
        pending = np.zeros((0, channels), np.float32)
        for span, size in zip(plan.spans, sizes, strict=True):
            samples = _with_fades(shots.read(size), span, plan)
            overlap = len(pending)
            if overlap:
                samples[:overlap] = _crossfade(pending, samples[:overlap])
            keep = _sample(plan, span.end) - _sample(plan, span.end - span.dissolve_out)
            out, pending = samples[: size - keep], samples[size - keep :].copy()
            if len(out):
                yield _add_music(out, bed, position, total, music)
                position += len(out)


def _sample(plan: EditPlan, frame: int) -> int:
    return round(frame * AUDIO_RATE / plan.fps)


def _with_fades(samples: np.ndarray, span: Span, plan: EditPlan) -> np.ndarray:
    samples = samples.copy()
    n = len(samples)
    fade_in = _sample(plan, span.fade_in) if span.fade_in else (CUT_FADE if span.cut_in else 0)
    fade_out = (
        _sample(plan, span.fade_out)
        if span.fade_out
        else (CUT_FADE if span.cut_out or span.index == len(plan.spans) - 1 else 0)
    )
    if fade_in:
        k = min(fade_in, n)
        samples[:k] *= np.linspace(0, 1, k, dtype=np.float32)[:, None]
    if fade_out:
        k = min(fade_out, n)
        samples[n - k :] *= np.linspace(1, 0, k, dtype=np.float32)[:, None]
    return samples


def _crossfade(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal-power crossfade from ``a`` to ``b`` (same length)."""
    t = np.linspace(0, np.pi / 2, len(a), dtype=np.float32)[:, None]
    return a * np.cos(t) + b * np.sin(t)


def _add_music(
    chunk: np.ndarray, bed: _Decoder | None, position: int, total: int, music: Music | None
) -> np.ndarray:
    if bed is None or music is None:
        return chunk
    layer = bed.read(len(chunk)) * np.float32(music.volume)
    where = np.arange(position, position + len(chunk), dtype=np.float32) / AUDIO_RATE
    end = total / AUDIO_RATE
    gain = np.minimum(1.0, np.minimum(where / MUSIC_FADE_IN, (end - where) / MUSIC_FADE_OUT))
    return chunk + layer * np.clip(gain, 0, 1)[:, None]


def _shot_list(plan: EditPlan, files: list[Path]) -> str:
    lines = ["ffconcat version 1.0"]
    for span, path in zip(plan.spans, files, strict=True):
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"outpoint {span.frames / plan.fps:.6f}"]
    return "\n".join(lines) + "\n"


def _music(music: Music | None, total: int, channels: int) -> _Decoder | _Nothing:
    if music is None or music.file is None:
        return _Nothing()
    return _Decoder(
        [
            "-stream_loop",
            "-1",
            "-i",
            str(music.file),
            "-map",
            "0:a:0",
            "-ar",
            str(AUDIO_RATE),
            "-t",
            f"{total / AUDIO_RATE:.6f}",
        ],
        channels,
    )


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Decoder:
    """An ffmpeg process writing float32 PCM to a pipe, read in exact sample counts (a mono
    source comes out on both channels of a stereo edit)."""

    def __init__(self, args: list[str], channels: int = 1) -> None:
        self.channels = channels
        self.args = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            *args,
            "-f",
            "f32le",
            "-ac",
            str(channels),
            "-ar",
            str(AUDIO_RATE),
            "pipe:1",
        ]

    def __enter__(self) -> _Decoder:
        self.errors = tempfile.TemporaryFile()  # a file, not a pipe: it can never fill and block
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.errors)
        return self

    def read(self, samples: int) -> np.ndarray:
        stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        width = 4 * self.channels
        data = stdout.read(samples * width)
        got = np.frombuffer(data[: len(data) // width * width], dtype="<f4")
        got = got.reshape(-1, self.channels)
        if len(got) < samples:  # the source ran short: pad with silence, never fail the edit
            got = np.concatenate([got, np.zeros((samples - len(got), self.channels), np.float32)])
        return got

    def __exit__(self, kind: object, *rest: object) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        if kind is None:
            while stdout.read(1 << 16):  # the last AAC frame may pad past the edit: drain it
                pass
        else:
            self.process.kill()
        stdout.close()
        code = self.process.wait()
        self.errors.seek(0)
        error = self.errors.read().decode(errors="replace")
        self.errors.close()
        if kind is None and code != 0:
            raise StitchError(f"ffmpeg could not decode the audio: {error.strip()[-300:]}")
