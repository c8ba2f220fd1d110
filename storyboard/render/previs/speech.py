"""Temp dialogue spoken by eSpeak NG, through its C API (ctypes) from the espeakng-loader wheel.

The wheel ships ``libespeak-ng`` and its voice data, so a plain install brings speech; when
the library cannot be loaded, ``speak`` returns None and previs falls back to tone bursts
(``speech_status`` says why, once). eSpeak keeps global state, so one process synthesises one
line at a time (a lock); lines are cached by (text, voice), so validation and rendering of the
same board share the work.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["Voice", "parse_voice", "speak", "speech_status", "voice_for", "VARIANTS"]

# eSpeak NG's voice variants shipped in the wheel that sound like people (not robots/effects).
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4  # espeak_PARAMETER
_LOCK = threading.Lock()
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """An eSpeak voice: language, variant, words per minute and pitch (0-99)."""

    language: str = "en"
    variant: str = "m3"
    rate: int = 165
    pitch: int = 50

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}"

    def __str__(self) -> str:
        return f"{self.name} rate {self.rate} pitch {self.pitch}"


def voice_for(name: str, override: str | None = None) -> Voice:
    """The voice of cast member ``name``: chosen from a hash of the name, or the override."""
    digest = hashlib.sha256(name.strip().lower().encode()).digest()
    voice = Voice(
        variant=VARIANTS[digest[0] % len(VARIANTS)],
        rate=150 + digest[1] % 31,
        pitch=35 + digest[2] % 31,
    )
    return parse_voice(override, voice) if override else voice


def parse_voice(text: str, base: Voice = Voice()) -> Voice:
    """``voice:`` as written: ``en+f3``, ``en-gb+m2 rate 170 pitch 40``, or just ``f2``."""
    words = text.split()
    name = words[0] if words else base.name
    language, _, variant = name.partition("+")
    if not variant and language in VARIANTS:
        language, variant = base.language, language
    settings = dict(zip(words[1::2], words[2::2], strict=False))
    return Voice(
        language or base.language,
        variant or base.variant,
        int(settings.get("rate", base.rate)),
        int(settings.get("pitch", base.pitch)),
    )


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib: Any = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        self.rate = int(self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data, 0))
        if self.rate <= 0:
            raise OSError("espeak_Initialize failed")
        self.buffer: list[np.ndarray] = []

        def collect(wav: Any, count: int, events: Any) -> int:
            if count > 0:
                self.buffer.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        self.callback = _CALLBACK(collect)  # kept alive as long as the engine
        self.lib.espeak_SetSynthCallback(self.callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]

    def say(self, text: str, voice: Voice) -> np.ndarray:
        if (
            self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0
            and self.lib.espeak_SetVoiceByName(voice.language.encode()) != 0
        ):
            self.lib.espeak_SetVoiceByName(b"en")
        self.lib.espeak_SetParameter(_RATE, max(80, min(450, voice.rate)), 0)
        self.lib.espeak_SetParameter(_PITCH, max(0, min(99, voice.pitch)), 0)
        self.lib.espeak_SetParameter(_VOLUME, 100, 0)
        self.buffer = []
        data = text.encode()
        self.lib.espeak_Synth(
            ctypes.c_char_p(data), len(data) + 1, 0, 1, 0, _CHARS_UTF8, None, None
        )
        self.lib.espeak_Synchronize()
        samples = np.concatenate(self.buffer) if self.buffer else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0


@lru_cache(maxsize=1)
def _engine() -> _Engine | str:
    """The engine, or why there is none (a sentence)."""
    try:
        return _Engine()
    except Exception as exc:  # ImportError, OSError from ctypes, a broken wheel: all fall back
        return f"eSpeak NG is not available ({exc}); temp dialogue falls back to tone bursts"


def speech_status() -> str | None:
    """None when eSpeak works, else one sentence saying why dialogue will be tones."""
    engine = _engine()
    return engine if isinstance(engine, str) else None


def speak(text: str, voice: Voice, rate: int) -> np.ndarray | None:
    """``text`` spoken in ``voice`` as mono float32 at ``rate`` Hz, trimmed; None without eSpeak."""
    return _spoken(text, voice, rate)


@lru_cache(maxsize=256)
def _spoken(text: str, voice: Voice, rate: int) -> np.ndarray | None:
    engine = _engine()
    if isinstance(engine, str):
        return None
    with _LOCK:
        samples = engine.say(text, voice)
    samples = _trim(samples)
    if rate != engine.rate and len(samples):
        n = round(len(samples) * rate / engine.rate)
        samples = np.interp(
            np.arange(n) * engine.rate / rate, np.arange(len(samples)), samples
        ).astype(np.float32)
    samples.flags.writeable = False
    return samples


def _trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop the silence eSpeak leaves around a line, so the line starts at its time."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]
