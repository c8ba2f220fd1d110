"""Deterministic sample pictures: the reference images of the examples and of ``init``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["SCENES", "draw_scene"]

# name → (sky top, sky bottom, sea, accent)
SCENES = {
    "harbor-dusk": ((38, 52, 96), (242, 160, 92), (34, 66, 84), (250, 214, 64)),
    "street-night": ((10, 12, 30), (60, 40, 90), (28, 28, 36), (255, 60, 160)),
    "field-morning": ((120, 170, 230), (230, 236, 240), (90, 130, 60), (200, 60, 40)),
}


def draw_scene(name: str, width: int = 640, height: int = 360) -> Image:
    """A simple landscape with a horizon, a lighthouse and a figure: enough shape to see moves."""
    from PIL import Image, ImageDraw

    top, bottom, ground, accent = SCENES[name]
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.62)
    for y in range(horizon):
        draw.line([(0, y), (width, y)], fill=_mix(top, bottom, y / max(horizon - 1, 1)))
    for y in range(horizon, height):
        shade = 1.0 - 0.35 * (y - horizon) / max(height - horizon, 1)
        draw.line([(0, y), (width, y)], fill=tuple(round(c * shade) for c in ground))
    for i in range(24):  # texture so pans and tilts are visible everywhere
        x = (i * 97) % width
        y = horizon + 6 + (i * 53) % max(height - horizon - 12, 1)
        draw.line([(x, y), (x + width // 20, y)], fill=tuple(min(255, c + 40) for c in ground))
    sun = (int(width * 0.72), int(horizon - height * 0.08))
    r = int(height * 0.07)
    draw.ellipse([sun[0] - r, sun[1] - r, sun[0] + r, sun[1] + r], fill=(255, 236, 190))
    _lighthouse(draw, int(width * 0.18), horizon, height)
    _figure(draw, int(width * 0.52), height, accent)
    return image


def _lighthouse(draw, x: int, horizon: int, height: int) -> None:
    w, h = max(height // 24, 4), int(height * 0.3)
    draw.polygon(
        [
            (x - w, horizon),
            (x + w, horizon),
            (x + w * 0.6, horizon - h),
            (x - w * 0.6, horizon - h),
        ],
        fill=(235, 235, 228),
    )
    for k in range(1, 4):
        y = horizon - h * k / 4
        draw.rectangle([x - w * 0.9, y - h / 16, x + w * 0.9, y], fill=(190, 40, 40))
    lamp = [x - w * 0.7, horizon - h - h / 8, x + w * 0.7, horizon - h]
    draw.rectangle(lamp, fill=(255, 240, 150))


def _figure(draw, x: int, height: int, accent: tuple[int, int, int]) -> None:
    head = height // 14
    top = int(height * 0.38)
    draw.ellipse([x - head, top, x + head, top + 2 * head], fill=(225, 190, 160))
    draw.ellipse([x - head, top - head // 3, x + head, top + head], fill=(200, 200, 210))
    coat = [
        (x - head * 2.2, height),
        (x + head * 2.2, height),
        (x + head * 1.3, top + 2 * head),
        (x - head * 1.3, top + 2 * head),
    ]
    draw.polygon(coat, fill=accent)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
