"""The card a shot without a reference gets: its words laid out to fit any frame.

The text (number, type and framing, action, lighting) is wrapped to the title-safe area and
shrunk until it fits, so nothing is clipped at 16:9, 9:16 or 1:1. The card's background is
drawn over the whole (padded) source, so camera moves past the frame show more card, never
mirrored text. Cast members with a reference image appear as small labelled insets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from storyboard.errors import MediaError
from storyboard.format.model import CastMember, Shot

__all__ = [
    "CardText",
    "card_background",
    "card_text",
    "draw_card",
    "composite_over",
    "given_number",
]

_SAFE_X, _SAFE_TOP, _SAFE_BOTTOM = 0.08, 0.10, 0.22  # title-safe, minus room for the subtitles
_INK = (240, 240, 240)
_DIM = (200, 205, 215)


@dataclass(frozen=True)
class CardText:
    heading: str  # number · type · lens
    action: str
    lighting: str


def given_number(shot: Shot) -> str:
    """The shot's production number when the board gives one (``number: 12A``), else "".

    The default numbers (1, 2, 3... in order) come from the shot's position, and a render must
    not depend on where its shot sits, so cards and overlays show only numbers written down.
    """
    return shot.number if "number" in shot.origin else ""


def card_text(shot: Shot, number: str = "") -> CardText:
    f = shot.framing
    kind = (f.type.replace("-", " ").upper() if f.type else "") or f.text
    heading = " · ".join(t for t in (number, kind or "SHOT", f.lens) if t)
    lighting = shot.lighting.text or ", ".join(
        v
        for v in (
            shot.lighting.time,
            shot.lighting.key,
            shot.lighting.atmosphere,
            shot.lighting.palette,
        )
        if v
    )
    action = shot.action or (f"EDIT: {shot.edit}" if shot.edit else "")
    return CardText(heading, action, lighting)


def card_background(seed_text: str, width: int, height: int) -> Image.Image:
    """A neutral, textured grey with a grid: motion stays visible without a picture."""
    seed = int(hashlib.sha256(seed_text.encode()).hexdigest()[:8], 16)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    base = 58 + 26 * y + 8 * np.sin(x * 6.283 * 3 + seed % 7)
    texture = 5 * np.sin((x * width + 2 * y * height) / max(width, 1) * 60)
    gray = np.clip(base + texture, 0, 255).astype(np.uint8)
    card = Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    draw = ImageDraw.Draw(card)
    step = max(8, max(width, height) // 24)
    line = max(1, min(width, height) // 480)
    for gx in range(width // 2 % step, width, step):
        draw.line([(gx, 0), (gx, height)], fill=(78, 78, 84), width=line)
    for gy in range(height // 2 % step, height, step):
        draw.line([(0, gy), (width, gy)], fill=(78, 78, 84), width=line)
    return card


def draw_card(
    shot: Shot,
    text: CardText,
    cast: tuple[CastMember, ...],
    size: tuple[int, int],
    canvas: tuple[int, int, int, int],
) -> Image.Image:
    """The card as an RGB image of ``size``; ``canvas`` = (x, y, w, h) of the frame inside it."""
    card = card_background(shot.id, *size)
    x, y, w, h = canvas
    top = y + round(h * _SAFE_TOP)
    insets = [m for m in cast if m.reference is not None]
    if insets:
        top = _draw_insets(card, insets, x + round(w * _SAFE_X), top, w, h) + round(h * 0.03)
    box = (
        x + round(w * _SAFE_X),
        top,
        round(w * (1 - 2 * _SAFE_X)),
        y + round(h * (1 - _SAFE_BOTTOM)) - top,
    )
    _draw_text(card, text, box, h)
    return card


def composite_over(image: Image.Image, background: Image.Image) -> Image.Image:
    """A picture with transparency laid over the card background (both the same size)."""
    rgba = image.convert("RGBA")
    under = background.convert("RGBA")
    under.alpha_composite(rgba)
    return under.convert("RGB")


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _draw_text(
    card: Image.Image, text: CardText, box: tuple[int, int, int, int], frame_h: int
) -> None:
    bx, by, bw, bh = box
    if bw < 8 or bh < 8:
        return
    size = max(6, round(frame_h / 12))
    while True:
        blocks = _layout(text, size, bw)
        total = sum(height for _, _, height, _ in blocks)
        if total <= bh or size <= 6:
            break
        size = max(6, int(size * 0.9))
    draw = ImageDraw.Draw(card)
    cy = by + max(0, (bh - total) // 2)
    for lines, font, height, color in blocks:
        step = height / max(1, len(lines))
        for n, line in enumerate(lines):
            draw.text(
                (bx + bw / 2, cy + step * (n + 0.5)), line, font=font, fill=color, anchor="mm"
            )
        cy += height


def _layout(text: CardText, size: int, width: int):
    """[(lines, font, height, colour)] for heading, action and lighting at body size ``size``."""
    parts = [
        (text.heading, round(size * 1.15), _INK),
        (text.action, size, _INK),
        (text.lighting, round(size * 0.8), _DIM),
    ]
    blocks = []
    for words, px, color in parts:
        if not words:
            continue
        font = _font(max(6, px))
        lines = _wrap(words, font, width)
        blocks.append((lines, font, round(len(lines) * px * 1.3 + px * 0.5), color))
    return blocks


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        while font.getlength(word) > width and len(word) > 1:  # a word wider than the box
            cut = len(word)
            while cut > 1 and font.getlength(word[:cut] + "-") > width:
                cut -= 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut] + "-")
            word = word[cut:]
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


def _draw_insets(
    card: Image.Image, members: list[CastMember], x: int, y: int, w: int, h: int
) -> int:
    """Each cast member's reference as a small labelled thumbnail; returns their bottom edge."""
    side = max(16, round(min(w, h) * 0.2))
    font = _font(max(6, side // 6))
    bottom = y
    for member in members[:4]:
        assert member.reference is not None
        thumb = _thumbnail(member.reference, side)
        frame = Image.new("RGB", (side + 4, side + 4), (235, 235, 235))
        frame.paste(thumb, (2, 2))
        card.paste(frame, (x, y))
        label_y = y + side + 4 + max(2, side // 16)
        ImageDraw.Draw(card).text(
            (x + (side + 4) // 2, label_y), member.name.upper(), font=font, fill=_INK, anchor="ma"
        )
        bottom = max(bottom, label_y + round(font.size * 1.2))
        x += side + 4 + max(4, side // 4)
    return bottom


def _thumbnail(path: Path, side: int) -> Image.Image:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        if has_alpha(image):
            image = composite_over(image, card_background(path.name, *image.size))
        return ImageOps.fit(image.convert("RGB"), (side, side), Image.Resampling.LANCZOS)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
        raise MediaError("previs needs Pillow with FreeType support to draw its cards")
    return font
