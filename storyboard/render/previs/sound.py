"""Placeholder sound that makes a previs shot's timing audible.

An ambient bed (soft noise) when ``ambient`` is set, a quiet pad when ``music`` is set, a tick
at each sfx, and each dialogue line spoken by eSpeak NG in its speaker's voice (tone bursts as
long as the line would take, when eSpeak cannot load); or the user's own ``audio.file``, kept
stereo when it is. Deterministic: the same shot gives the same samples. Written one second at a
time, so memory does not grow with the shot's length.
"""

from __future__ import annotations

import hashlib
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from storyboard.errors import MediaError
from storyboard.format.model import CastMember, Shot
from storyboard.media import AUDIO_RATE as RATE
from storyboard.media import audio_channels, ffmpeg_exe
from storyboard.render.previs.dialogue import WORDS_PER_SECOND, spoken_lines

__all__ = ["RATE", "shot_audio", "shot_channels", "write_shot_audio"]

_SPEECH_GAIN = 0.5
_CHUNK = RATE  # one second
_SMOOTH = 24  # taps of the moving average that softens the noise bed's hiss
_NOISE_PEAK = 4.5 / np.sqrt(_SMOOTH)  # about the peak of that average over unit white noise


def shot_channels(shot: Shot) -> int:
    """2 when the shot's own audio file is stereo, else 1."""
    return audio_channels(shot.audio.file) if shot.audio.file is not None else 1


def write_shot_audio(
    shot: Shot, seconds: float, dest: Path, cast: tuple[CastMember, ...] = (), seed: int = 0
) -> None:
    """Write the shot's sound, exactly ``seconds`` long, to a 16-bit WAV (stereo when the
    shot's own audio file is; ``seed``, a take's, varies the placeholder sounds)."""
    channels = shot_channels(shot)
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for chunk in _chunks(shot, round(seconds * RATE), cast, channels, seed):
            w.writeframes((np.clip(chunk, -1, 1) * 32767).astype("<i2").tobytes())


def shot_audio(shot: Shot, seconds: float, cast: tuple[CastMember, ...] = ()) -> np.ndarray:
    """The same sound as one array (for tests and small uses); (n, 2) when stereo."""
    channels = shot_channels(shot)
    parts = list(_chunks(shot, round(seconds * RATE), cast, channels))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _chunks(
    shot: Shot, total: int, cast: tuple[CastMember, ...] = (), channels: int = 1, seed: int = 0
) -> Iterator[np.ndarray]:
    if shot.audio.file is not None:
        yield from _file_chunks(shot.audio.file, total, channels)
        return
    rng = np.random.default_rng(int(hashlib.sha256(shot.id.encode()).hexdigest()[:8], 16) + seed)
    cues = [(round(c.at * RATE), _tick()) for c in shot.audio.sfx]
    for spoken in spoken_lines(shot, cast, RATE):
        sound = (
            spoken.samples * np.float32(_SPEECH_GAIN)
            if spoken.samples is not None
            else _speech(len(spoken.line.line.split()), rng)
        )
        cues.append((round(spoken.line.at * RATE), sound))
    ambient = bool(shot.audio.ambient or shot.audio.text)
    carry = rng.standard_normal(_SMOOTH - 1, dtype=np.float32)
    for start in range(0, total, _CHUNK):
        n = min(_CHUNK, total - start)
        out = np.zeros(n, np.float32)
        if ambient:
            noise = np.concatenate([carry, rng.standard_normal(n, dtype=np.float32)])
            carry = noise[-(_SMOOTH - 1) :]
            smooth = np.convolve(noise, np.full(_SMOOTH, 1 / _SMOOTH, np.float32), "valid")
            out += smooth / _NOISE_PEAK * 0.05 * _edges(start, n, total, RATE // 20)
        if shot.audio.music:
            out += _pad(start, n) * 0.04 * _edges(start, n, total, RATE // 10)
        for at, sound in cues:
            _mix_at(out, sound, at - start)
        yield out


def _edges(start: int, n: int, total: int, fade: int) -> np.ndarray:
    """Gain ramping up over the first ``fade`` samples of the shot and down over the last."""
    index = np.arange(start, start + n, dtype=np.float32)
    return np.clip(np.minimum(index / fade, (total - 1 - index) / fade), 0, 1)


def _pad(start: int, n: int) -> np.ndarray:
    t = np.arange(start, start + n, dtype=np.float64) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) / 3
    return (chord * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)


def _tick() -> np.ndarray:
    t = np.arange(int(0.05 * RATE), dtype=np.float32) / RATE
    return (0.5 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 90)).astype(np.float32)


def _speech(words: int, rng: np.random.Generator) -> np.ndarray:
    n = int(max(1, words) / WORDS_PER_SECOND * RATE)
    t = np.arange(n, dtype=np.float32) / RATE
    pitch = 180 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t) * 1.5, 0, 1)  # ~4 syllables a second
    tone = np.sin(2 * np.pi * np.cumsum(pitch) / RATE)
    return (0.15 * tone * syllables * _edges(0, n, n, RATE // 50)).astype(np.float32)


def _mix_at(out: np.ndarray, sound: np.ndarray, offset: int) -> None:
    """Add ``sound`` starting ``offset`` samples into ``out`` (either may stick out)."""
    first, last = max(offset, 0), min(len(out), offset + len(sound))
    if first < last:
        out[first:last] += sound[first - offset : last - offset]


def _file_chunks(path: Path, total: int, channels: int = 1) -> Iterator[np.ndarray]:
    process = subprocess.Popen(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "apad",
            "-t",
            f"{total / RATE:.6f}",
            "-f",
            "f32le",
            "-ac",
            str(channels),
            "-ar",
            str(RATE),
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    sent = 0
    try:
        while sent < total:
            data = process.stdout.read(min(_CHUNK, total - sent) * 4 * channels)
            data = data[: len(data) // (4 * channels) * 4 * channels]
            if not data:
                break
            chunk = np.frombuffer(data, dtype="<f4")
            chunk = chunk.reshape(-1, channels) if channels > 1 else chunk
            sent += len(chunk)
            yield chunk
    finally:
        process.stdout.close()
        code = process.wait()
    if code != 0 and not sent:
        raise MediaError(f"cannot read the audio file {path}")
    if sent < total:
        yield np.zeros((total - sent, channels) if channels > 1 else total - sent, np.float32)
