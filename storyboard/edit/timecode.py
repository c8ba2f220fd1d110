"""SMPTE timecode at the storyboard's frame rate.

Non-drop-frame (``HH:MM:SS:FF``) at every rate except 29.97 and 59.94, which use drop-frame
(``HH:MM:SS;FF``: frame numbers 0-1, or 0-3 at 59.94, are skipped at the start of every minute
except each tenth, so the timecode keeps to the clock). 23.976 counts 24 frames a second
without dropping any, as editors expect.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["frame_rate", "is_drop_frame", "timecode", "timecode_frames"]

_DROP_RATES = {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}


def frame_rate(fps: float) -> Fraction:
    """24 → 24; 23.976 → 24000/1001; 29.97 → 30000/1001 (the rate NLEs and ffmpeg use)."""
    exact = Fraction(fps).limit_denominator(1001)
    ntsc = Fraction(round(fps * 1.001)) * Fraction(1000, 1001)
    return ntsc if abs(float(ntsc) - fps) < 0.005 and ntsc.denominator == 1001 else exact


def is_drop_frame(fps: float) -> bool:
    return frame_rate(fps) in _DROP_RATES


def _base(fps: float) -> int:
    return max(1, round(float(frame_rate(fps))))


def timecode(frame: int, fps: float) -> str:
    """The SMPTE timecode of ``frame`` (0 is 00:00:00:00)."""
    base, drop = _base(fps), _DROP_RATES.get(frame_rate(fps), 0)
    if drop:
        per_minute = base * 60 - drop
        per_ten = per_minute * 10 + drop
        tens, rest = divmod(frame, per_ten)
        frame += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    seconds, ff = divmod(frame, base)
    minutes, ss = divmod(seconds, 60)
    hours, mm = divmod(minutes, 60)
    return f"{hours:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:02d}"


def timecode_frames(text: str, fps: float) -> int:
    """The frame a timecode names (the inverse of :func:`timecode`)."""
    hh, mm, ss, ff = (int(p) for p in text.replace(";", ":").split(":"))
    base, drop = _base(fps), _DROP_RATES.get(frame_rate(fps), 0)
    minutes = hh * 60 + mm
    dropped = drop * (minutes - minutes // 10)
    return ((minutes * 60) + ss) * base + ff - dropped
