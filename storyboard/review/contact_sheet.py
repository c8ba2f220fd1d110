"""The contact sheet: first, middle and last frame of every shot's circled take, in a grid.

One row per shot: number, id, duration and action line beside its three frames. The PDF has
A4 landscape pages at 150 dpi (as many rows as fit on each); the PNG is the same rows on one
long sheet. Pillow draws it; ffmpeg reads the frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.compile import ShotPrompt
from storyboard.errors import MediaError
from storyboard.format.model import Shot, Storyboard
from storyboard.render.takes import Take, shot_takes
from storyboard.review.frames import frame_image, key_frame_times

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["ContactSheet", "write_contact_sheet"]

DPI = 150
PAGE = (1754, 1240)  # A4 landscape at 150 dpi
MARGIN = 60  # 10 mm
TEXT_WIDTH = 430
GAP = 16
HEADER = 70
INK, MUTED, RULE, EMPTY = (20, 20, 20), (90, 90, 90), (200, 200, 200), (232, 232, 228)


@dataclass(frozen=True)
class ContactSheet:
    path: Path
    shots: int
    pages: int
    missing: tuple[str, ...]  # shots with no playable circled take (drawn as empty frames)


@dataclass(frozen=True)
class _Row:
    shot: Shot
    frames: tuple[Image | None, ...]
    note: str  # why there are no frames


def write_contact_sheet(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend: str,
    out_dir: Path,
    dest: Path,
    fmt: str = "png",
) -> ContactSheet:
    """Write the sheet to ``dest`` as ``png`` or ``pdf``."""
    takes = shot_takes(board, prompts, backend, out_dir)
    layout = _Layout(board)
    rows = [_row(shot, takes[shot.id], layout.frame_size, board.output.fps) for shot in board.shots]
    per_page = layout.rows_per_page if fmt == "pdf" else len(rows)
    chunks = [rows[i : i + per_page] for i in range(0, len(rows), per_page)] or [[]]
    pages = [
        layout.page(chunk, n + 1, len(chunks), fixed=fmt == "pdf") for n, chunk in enumerate(chunks)
    ]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        if fmt == "pdf":
            pages[0].save(partial, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
        else:
            pages[0].save(partial, "PNG", dpi=(DPI, DPI))
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    missing = tuple(r.shot.id for r in rows if r.note)
    return ContactSheet(dest, len(rows), len(pages), missing)


def _row(shot: Shot, takes: Sequence[Take], size: tuple[int, int], fps: float) -> _Row:
    take = next((t for t in takes if t.circled), None)
    if take is None or not take.playable:
        state = take.state if take else "missing"
        note = f"failed: {take.error}" if take and take.error else f"{state}: no frames"
        return _Row(shot, (None, None, None), note)
    try:
        frames = tuple(
            frame_image(take.path, t, size[0]) for t in key_frame_times(take.seconds, fps)
        )
    except MediaError as exc:
        return _Row(shot, (None, None, None), str(exc))
    return _Row(shot, frames, "")


class _Layout:
    """Where everything goes on a page, from the page size and the edit's aspect ratio."""

    def __init__(self, board: Storyboard) -> None:
        from PIL import ImageFont

        self.board = board
        width = (PAGE[0] - 2 * MARGIN - TEXT_WIDTH - 3 * GAP) // 3
        self.frame_size = (width, round(width * board.output.height / board.output.width))
        self.row_height = self.frame_size[1] + 2 * GAP
        self.rows_per_page = max(1, (PAGE[1] - 2 * MARGIN - HEADER) // self.row_height)
        self.fonts = {size: ImageFont.load_default(size=size) for size in (20, 24, 30, 36)}

    def page(self, rows: Sequence[_Row], number: int, count: int, fixed: bool) -> Image:
        from PIL import Image, ImageDraw

        height = PAGE[1] if fixed else 2 * MARGIN + HEADER + len(rows) * self.row_height
        sheet = Image.new("RGB", (PAGE[0], height), "white")
        draw = ImageDraw.Draw(sheet)
        title = f"{self.board.title}: contact sheet"
        draw.text((MARGIN, MARGIN), title, fill=INK, font=self.fonts[36])
        if count > 1:
            draw.text(
                (PAGE[0] - MARGIN, MARGIN + 8),
                f"page {number} of {count}",
                fill=MUTED,
                font=self.fonts[24],
                anchor="ra",
            )
        for n, row in enumerate(rows):
            self._row(sheet, draw, row, MARGIN + HEADER + n * self.row_height)
        return sheet

    def _row(self, sheet: Image, draw, row: _Row, top: int) -> None:
        shot = row.shot
        draw.line((MARGIN, top, PAGE[0] - MARGIN, top), fill=RULE, width=2)
        y = top + GAP
        draw.text((MARGIN, y), f"{shot.number}  {shot.id}", fill=INK, font=self.fonts[30])
        y += 42
        draw.text((MARGIN, y), f"{shot.seconds:g} s", fill=MUTED, font=self.fonts[24])
        y += 36
        action = shot.action or (f"remix of {shot.remix_of}: {shot.edit}" if shot.remix_of else "")
        lines = _wrap(draw, action, self.fonts[20], TEXT_WIDTH - GAP)
        max_lines = max(1, (self.frame_size[1] - (y - top - GAP)) // 26)
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], lines[max_lines - 1].rstrip() + " …"]
        for line in lines:
            draw.text((MARGIN, y), line, fill=INK, font=self.fonts[20])
            y += 26
        left = MARGIN + TEXT_WIDTH
        for frame in row.frames:
            box = (left, top + GAP, left + self.frame_size[0], top + GAP + self.frame_size[1])
            if frame is None:
                draw.rectangle(box, fill=EMPTY)
            else:
                sheet.paste(frame.resize(self.frame_size), box[:2])
            left += self.frame_size[0] + GAP
        if row.note:
            note = _wrap(draw, row.note, self.fonts[20], self.frame_size[0] * 3)[:2]
            draw.text(
                (MARGIN + TEXT_WIDTH + GAP, top + GAP * 2),
                "\n".join(note),
                fill=(155, 28, 28),
                font=self.fonts[20],
            )


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines
