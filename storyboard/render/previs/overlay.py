"""Burned-in previs overlays: PREVIS mark, shot, beat, timecode, thirds, subtitles and cues.

Text is rasterised once (by Pillow) into small RGBA patches; each frame only blends the ones
it needs into the frame array and draws its timecode.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from storyboard.errors import MediaError
from storyboard.format.model import CastMember, Shot

__all__ = ["OverlayPainter", "label_size", "shot_title", "EDIT_TIMECODE_SAMPLE", "text_patch"]

_BG = (0, 0, 0, 150)


class OverlayPainter:
    """Everything burned into one shot's frames; nothing here depends on where the shot sits
    in the edit (the edit's own timecode is burned in by ``previs.burnin`` at the stitch)."""

    def __init__(
        self, shot: Shot, width: int, height: int, fps: float, cast: tuple[CastMember, ...] = ()
    ) -> None:
        from storyboard.media import AUDIO_RATE
        from storyboard.render.previs.dialogue import spoken_lines

        self.shot, self.width, self.height, self.fps = shot, width, height, fps
        self.size = label_size(height)
        self.pad = max(2, self.size // 3)
        self.previs = _label("PREVIS", self.size, (255, 255, 255), (200, 30, 30, 220))
        self.title = _label(shot_title(shot), self.size, max_width=width // 2)
        self.edit = (
            _label(f"EDIT: {shot.edit}", self.size, max_width=width - 2 * self.pad)
            if shot.edit
            else None
        )
        self.grid = _thirds(width, height)
        self.spoken = spoken_lines(shot, cast, AUDIO_RATE)
        self.cues = self._cues()
        # the slot at the bottom right that the edit's timecode takes
        self.slot = _label(EDIT_TIMECODE_SAMPLE, self.size).width + self.pad
        dissolve = shot.transition.seconds if shot.transition.type == "dissolve" else 0.0
        self.sit_out = shot.seconds - dissolve if dissolve > 0 else None

    def paint(self, frame: np.ndarray, t: float) -> None:
        """Blend the overlays for time ``t`` into ``frame`` (HxWx3 uint8) in place."""
        level = self._level(t)
        if level <= 0:
            return
        blend = _blend if level >= 1 else lambda f, patch, xy: _blend_faded(f, patch, xy, level)
        for strip, xy in self.grid:
            blend(frame, strip, xy)
        p, w, h = self.pad, self.width, self.height
        blend(frame, self.previs, (p, p))
        blend(frame, self.title, (w - self.title.width - p, p))
        if self.edit:
            blend(frame, self.edit, (p, 2 * p + self.previs.height))
        beat = self._beat_label(t)
        blend(frame, beat, (p, h - beat.height - p))
        # the shot's own time, left of the edit timecode's slot: two cached patches
        clock, frames = self._timecode(t)
        right = _label(frames, self.size, pad_left=False)
        left = _label(clock, self.size, pad_right=False)
        x = w - self.slot - p - right.width
        if x - left.width > beat.width + 2 * p:
            blend(frame, right, (x, h - right.height - p))
            blend(frame, left, (x - left.width, h - left.height - p))
        lines = [patch for start, end, patch in self.cues if start <= t < end]
        y = h - 2 * (beat.height + p)
        for patch in reversed(lines):
            blend(frame, patch, ((w - patch.width) // 2, y))
            y -= patch.height + p

    def _level(self, t: float) -> float:
        """1, or less as the shot's overlays fade out before a dissolve into the next shot:
        they sit the dissolve out, so two shots' labels never show on top of each other."""
        if self.sit_out is None:
            return 1.0
        return min(1.0, max(0.0, (self.sit_out - t) * self.fps / _SIT_OUT_FRAMES))

    def _cues(self) -> list[tuple[float, float, Image.Image]]:
        """(start, end, patch) for beat actions, dialogue lines and sound effects."""
        limit = self.width - 2 * self.pad
        cues = [
            (b.start, b.end, _label(b.action, self.size, max_width=limit))
            for b in self.shot.beats
            if b.action
        ]
        starts = sorted(s.line.at for s in self.spoken)
        for spoken in self.spoken:
            line = spoken.line
            following = [a for a in starts if a > line.at + 1e-9]
            end = min([spoken.end + _LINGER, *following])  # up as long as it takes to say
            who = f"{line.who.upper()}: " if line.who else ""
            cues.append(
                (
                    line.at,
                    end,
                    _label(f"{who}“{line.line}”", self.size, (255, 240, 160), max_width=limit),
                )
            )
        for sfx in self.shot.audio.sfx:
            cues.append(
                (
                    sfx.at,
                    sfx.at + 1.0,
                    _label(f"SFX: {sfx.cue}", self.size, (160, 220, 255), max_width=limit),
                )
            )
        return cues

    def _beat_label(self, t: float) -> Image.Image:
        beats = self.shot.beats
        for n, beat in enumerate(beats, 1):
            if beat.start <= t < beat.end:
                text = f"beat {n}/{len(beats)} · {beat.camera} {beat.seconds:g} s"
                return _label(text, self.size)
        rest = self.shot.seconds - (beats[-1].end if beats else 0.0)
        return _label(f"hold {rest:.3g} s", self.size)

    def _timecode(self, t: float) -> tuple[str, str]:
        fps = round(self.fps)
        seconds, frame = divmod(round(t * self.fps), fps)
        return f"shot {seconds:02d}", f":{frame:02d}"


def label_size(height: int) -> int:
    return max(8, round(height / 30))


def shot_title(shot: Shot) -> str:
    """The shot's name on screen: its production number when the board gives one, and its id."""
    from storyboard.render.previs.cards import given_number

    number = given_number(shot)
    return f"{number} · {shot.id}" if number else shot.id


EDIT_TIMECODE_SAMPLE = "00:00:00:00"
_SIT_OUT_FRAMES = 3
_LINGER = 0.25  # a subtitle stays this much longer than the line takes to say


def _blend(frame: np.ndarray, patch: Image.Image, xy: tuple[int, int]) -> None:
    """Alpha-blend an RGBA patch into the frame at (x, y), clipped to the frame."""
    x, y = xy
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + patch.width, w), min(y + patch.height, h)
    if x0 >= x1 or y0 >= y1:
        return
    premultiplied, keep = _blend_parts(patch)
    rows, cols = slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)
    region = frame[y0:y1, x0:x1]
    # integer blend: (under * (255 - a) + over * a) / 256, with both products precomputed
    region[:] = (region * keep[rows, cols] + premultiplied[rows, cols]) >> 8


def _blend_faded(frame: np.ndarray, patch: Image.Image, xy: tuple[int, int], level: float) -> None:
    faded = patch.copy()
    faded.putalpha(patch.getchannel("A").point(lambda a: round(a * level)))
    _blend(frame, faded, xy)


def text_patch(text: str, size: int) -> Image.Image:
    """A white-on-dark label patch (RGBA), as every overlay is drawn."""
    return _label(text, size)


def _blend_parts(patch: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    parts = patch.info.get("blend")
    if parts is None:
        rgba = np.asarray(patch).astype(np.uint16)
        alpha = rgba[..., 3:4]
        parts = patch.info["blend"] = (rgba[..., :3] * alpha, 255 - alpha)
    return parts


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType
        raise MediaError("previs needs Pillow with FreeType support to draw its overlays")
    return font


@lru_cache(maxsize=512)  # bounded: timecodes add one entry a second
def _label(
    text: str,
    size: int,
    fg: tuple[int, int, int] = (255, 255, 255),
    bg: tuple[int, int, int, int] = _BG,
    max_width: int = 0,
    pad_left: bool = True,
    pad_right: bool = True,
) -> Image.Image:
    font = _font(size)
    if max_width:
        text = _fit(text, font, max_width - size)
    _, top, _, bottom = font.getbbox("0:Ag")  # one height for every label
    width = round(font.getlength(text))
    pad = max(1, size // 4)
    before, after = pad if pad_left else 0, pad if pad_right else 0
    patch = Image.new("RGBA", (width + before + after, round(bottom - top) + 2 * pad), bg)
    ImageDraw.Draw(patch).text((before, pad - top), text, font=font, fill=(*fg, 255))
    return patch


def _fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _thirds(width: int, height: int) -> list[tuple[Image.Image, tuple[int, int]]]:
    """The rule-of-thirds guide as four thin translucent strips and where they go."""
    line = max(1, height // 360)
    upright = Image.new("RGBA", (line, height), (255, 255, 255, 70))
    across = Image.new("RGBA", (width, line), (255, 255, 255, 70))
    return [(upright, (width * k // 3, 0)) for k in (1, 2)] + [
        (across, (0, height * k // 3)) for k in (1, 2)
    ]
