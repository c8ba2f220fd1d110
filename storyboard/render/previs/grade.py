"""A light colour grade read from the shot's lighting words, applied once to the source picture.

Each rule matches words and nudges the grade; rules add up in table order. The README shows
this table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Grade", "GRADE_RULES", "grade_for", "apply_grade"]


@dataclass(frozen=True)
class Grade:
    warmth: float = 0.0  # + warmer (more red, less blue), - cooler
    exposure: float = 1.0  # multiplies light
    saturation: float = 1.0
    contrast: float = 1.0
    lift: float = 0.0  # raises the blacks (haze)

    def is_neutral(self) -> bool:
        return self == Grade()


# (words, change): the first matching word of a row applies that row once.
GRADE_RULES: tuple[tuple[tuple[str, ...], dict[str, float]], ...] = (
    (
        ("golden hour", "sunset", "sunrise", "warm", "tungsten", "candle", "firelight"),
        {"warmth": 0.12},
    ),
    (("blue hour", "twilight", "dusk"), {"warmth": -0.08, "exposure": 0.85}),
    (("night", "moonlight", "dark"), {"warmth": -0.1, "exposure": 0.6, "saturation": 0.8}),
    (("overcast", "cloudy", "grey", "gray", "flat light"), {"saturation": 0.6, "contrast": 0.9}),
    (("neon",), {"saturation": 1.35, "contrast": 1.1}),
    (("haze", "mist", "fog", "smoke", "dust"), {"lift": 0.08, "contrast": 0.9}),
    (("noon", "midday", "harsh", "hard light", "high contrast"), {"contrast": 1.15}),
    (("rain", "wet"), {"warmth": -0.04, "saturation": 0.85}),
    (("desaturated", "muted", "bleach"), {"saturation": 0.7}),
)


def grade_for(words: str) -> Grade:
    grade = Grade()
    text = words.lower()
    for keys, change in GRADE_RULES:
        if any(k in text for k in keys):
            grade = replace(
                grade,
                **{
                    name: getattr(grade, name) + value
                    if name in ("warmth", "lift")
                    else getattr(grade, name) * value
                    for name, value in change.items()
                },
            )
    return grade


def apply_grade(rgb: np.ndarray, grade: Grade) -> np.ndarray:
    """Grade an HxWx3 uint8 picture; returns a new uint8 array."""
    if grade.is_neutral():
        return rgb
    x = rgb.astype(np.float32) / 255.0
    x *= np.array([1 + grade.warmth, 1 + grade.warmth * 0.2, 1 - grade.warmth], np.float32)
    x *= grade.exposure
    luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = luma[..., None] + (x - luma[..., None]) * grade.saturation
    x = (x - 0.5) * grade.contrast + 0.5
    x = grade.lift + x * (1 - grade.lift)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
