"""The frames around transitions, composited with moviepy into one file of gaps.

Each gap is a run of shot pieces (the ends of shots around one or more transitions). A moviepy
``VideoClip`` computes each output frame from the shots' ``VideoFileClip`` readers: a dissolve
blends two pieces, a fade mixes towards black or white. The gaps are written back to back with
a keyframe at each gap's start, so the concat demuxer can cut between them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from storyboard.edit.layout import EditPlan, Gap, Piece
from storyboard.media import (
    MOVFLAGS,
    X264_PARAMS,
    X264_PRESET,
    colour_filter,
    fps_fraction,
    keyframe_interval,
)

__all__ = ["render_gaps"]

_COLORS = {"black": 0.0, "white": 255.0}


def render_gaps(
    gaps: list[Gap], plan: EditPlan, files: list[Path], dest: Path, width: int, height: int
) -> None:
    from moviepy import VideoClip, VideoFileClip

    readers: dict[int, VideoFileClip] = {}

    def shot_frame(index: int, frame: int) -> np.ndarray:
        if index not in readers:
            readers[index] = VideoFileClip(str(files[index]), audio=False)
        return readers[index].get_frame(frame / plan.fps)

    starts = np.cumsum([0] + [g.frames for g in gaps])
    total = int(starts[-1])

    def frame_function(t: float) -> np.ndarray:
        frame = min(int(round(t * plan.fps)), total - 1)
        k = int(np.searchsorted(starts, frame, side="right") - 1)
        _close_others(readers, {p.index for p in gaps[k].pieces})
        return _gap_frame(gaps[k], frame - int(starts[k]), plan, shot_frame)

    clip = VideoClip(frame_function, duration=(total + 0.5) / plan.fps)
    keyframes = ",".join(f"{s / plan.fps:.6f}" for s in starts[:-1])
    try:
        clip.write_videofile(
            str(dest),
            fps=plan.fps,
            codec="libx264",
            preset=X264_PRESET,
            audio=False,
            # moviepy pipes RGB: colour_filter converts it with BT.709's matrix, and tags it
            ffmpeg_params=[
                "-vf",
                colour_filter(),
                *X264_PARAMS,
                *MOVFLAGS,
                "-g",
                str(keyframe_interval(plan.fps)),
                "-r",
                str(fps_fraction(plan.fps)),  # 30000/1001, not 2997/100
                "-force_key_frames",
                keyframes,
            ],
            logger=None,
        )
    finally:
        clip.close()
        for reader in readers.values():
            reader.close()


def _close_others(readers: dict, keep: set[int]) -> None:
    """Gaps are written in order: a reader no gap needs any more is closed at once, so memory
    and open ffmpeg processes stay flat however many shots the edit has."""
    for index in [i for i in readers if i not in keep]:
        readers.pop(index).close()


def _gap_frame(gap: Gap, frame: int, plan: EditPlan, shot_frame) -> np.ndarray:
    """Output frame ``frame`` of the gap: one piece, or two blended in a dissolve."""
    offset = 0
    layers: list[tuple[Piece, int]] = []
    for n, piece in enumerate(gap.pieces):
        if offset <= frame < offset + piece.frames:
            layers.append((piece, frame - offset))
        overlap = plan.spans[piece.index].dissolve_out if n + 1 < len(gap.pieces) else 0
        offset += piece.frames - overlap
    pictures = [_faded(shot_frame(p.index, p.first + k), p, p.first + k, plan) for p, k in layers]
    if len(pictures) == 1:
        return pictures[0]
    (first, _), (second, k) = layers
    overlap = plan.spans[first.index].dissolve_out
    weight = (k + 0.5) / overlap
    return cv2.addWeighted(pictures[0], 1 - weight, pictures[1], weight, 0)


def _faded(picture: np.ndarray, piece: Piece, at: int, plan: EditPlan) -> np.ndarray:
    span = plan.spans[piece.index]
    level = 1.0
    if span.fade_in and at < span.fade_in:
        level, color = (at + 0.5) / span.fade_in, _COLORS[span.fade_in_color]
    elif span.fade_out and at >= span.frames - span.fade_out:
        level, color = (span.frames - at - 0.5) / span.fade_out, _COLORS[span.fade_out_color]
    if level >= 1.0:
        return picture
    mixed = picture.astype(np.float32) * level + color * (1 - level)
    return mixed.astype(np.uint8)
