"""Placeholder sound that makes a previs shot's timing audible.

An ambient bed (soft noise) when ``ambient`` is set, a quiet pad when ``music`` is set, a tick
at each sfx, and tone bursts under each dialogue line for as long as it takes to say; or the
user's own ``audio.file``. Deterministic: the same shot gives the same samples.
"""

from __future__ import annotations

import hashlib
import subprocess
import wave
from pathlib import Path

import numpy as np

from ...errors import MediaError
from ...media import ffmpeg_exe
from ...model import Shot

__all__ = ["RATE", "shot_audio", "write_wav"]

RATE = 48_000
_WORDS_PER_SECOND = 2.8


def shot_audio(shot: Shot, seconds: float) -> np.ndarray:
    """Mono float32 samples, exactly ``seconds`` long."""
    n = round(seconds * RATE)
    if shot.audio.file is not None:
        return _fit_length(_decode(shot.audio.file), n)
    out = np.zeros(n, np.float32)
    rng = np.random.default_rng(int(hashlib.sha256(shot.id.encode()).hexdigest()[:8], 16))
    if shot.audio.ambient or shot.audio.text:
        out += _ambient(n, rng) * 0.05
    if shot.audio.music:
        out += _pad(n) * 0.04
    for cue in shot.audio.sfx:
        _mix_at(out, _tick(), cue.at)
    for line in shot.audio.dialogue:
        _mix_at(out, _speech(len(line.line.split()), rng), line.at)
    return np.clip(out, -1, 1)


def write_wav(samples: np.ndarray, dest: Path) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def _fade(n: int, edge: int) -> np.ndarray:
    env = np.ones(n, np.float32)
    edge = min(edge, n // 2)
    if edge:
        ramp = np.linspace(0, 1, edge, dtype=np.float32)
        env[:edge], env[n - edge:] = ramp, ramp[::-1]
    return env


def _ambient(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    smooth = np.convolve(white, np.ones(24, np.float32) / 24, mode="same")  # soften the hiss
    return smooth / (np.abs(smooth).max() or 1) * _fade(n, RATE // 20)


def _pad(n: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float32) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    tremolo = 0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t)
    return (chord / 3 * tremolo * _fade(n, RATE // 10)).astype(np.float32)


def _tick() -> np.ndarray:
    t = np.arange(int(0.05 * RATE), dtype=np.float32) / RATE
    return (0.5 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 90)).astype(np.float32)


def _speech(words: int, rng: np.random.Generator) -> np.ndarray:
    n = int(max(1, words) / _WORDS_PER_SECOND * RATE)
    t = np.arange(n, dtype=np.float32) / RATE
    pitch = 180 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t) * 1.5, 0, 1)  # ~4 syllables a second
    tone = np.sin(2 * np.pi * np.cumsum(pitch) / RATE)
    return (0.15 * tone * syllables * _fade(n, RATE // 50)).astype(np.float32)


def _mix_at(out: np.ndarray, sound: np.ndarray, at: float) -> None:
    start = round(at * RATE)
    end = min(len(out), start + len(sound))
    if start < end:
        out[start:end] += sound[: end - start]


def _fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros(n - len(samples), np.float32)])


def _decode(path: Path) -> np.ndarray:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-f", "f32le", "-ac", "1", "-ar", str(RATE), "-"], capture_output=True)
    if result.returncode != 0:
        raise MediaError(f"cannot read the audio file {path}: "
                         f"{result.stderr.decode(errors='replace').strip()[-200:]}")
    return np.frombuffer(result.stdout, dtype="<f4").copy()
