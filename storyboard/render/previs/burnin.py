"""The edit's timecode burned over a stitched previs edit, in one streaming pass.

Shot renders carry only what belongs to the shot (its id, beats, its own time, cues): a shot's
render never depends on where it sits in the edit, so inserting a shot re-renders only that
shot. What does depend on the position, the edit's timecode, is drawn here, after the stitch,
into the slot the shot overlays leave free at the bottom right. The pass decodes the edit to
YUV, paints the label into the luma and chroma planes (a few thousand pixels a frame) and
re-encodes the video; the sound is copied. ``bench/burnin.py`` measures its cost.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from storyboard.edit.timecode import timecode
from storyboard.errors import StitchError
from storyboard.media import MOVFLAGS, colour_filter, ffmpeg_exe, raw_video_input, video_args
from storyboard.render.previs.overlay import label_size, text_patch

__all__ = ["burn_edit_timecode"]


def burn_edit_timecode(
    src: Path, dest: Path, width: int, height: int, fps: float, frames: int
) -> None:
    """Copy the edit ``src`` to ``dest`` with its timecode (HH:MM:SS:FF) burned in."""
    size = label_size(height)
    pad = max(2, size // 3)
    plane = width * height
    frame_bytes = plane * 3 // 2
    decode = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        str(src),
        "-map",
        "0:v:0",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "pipe:1",
    ]
    encode = [
        ffmpeg_exe(),
        "-y",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *raw_video_input(width, height, fps),
        "-i",
        "pipe:0",
        "-i",
        str(src),
        "-map",
        "0:v",
        "-map",
        "1:a?",
        "-vf",
        colour_filter(),
        *video_args(fps),
        "-c:a",
        "copy",
        "-map_metadata",
        "1",
        *MOVFLAGS,
        "-f",
        "mp4",
        str(dest),
    ]
    with tempfile.TemporaryFile() as errors:
        reader = subprocess.Popen(decode, stdout=subprocess.PIPE, stderr=errors)
        writer = subprocess.Popen(encode, stdin=subprocess.PIPE, stderr=errors)
        assert reader.stdout is not None and writer.stdin is not None
        try:
            for index in range(frames):
                data = reader.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                yuv = np.frombuffer(data, np.uint8).copy()
                _paint(yuv, width, height, text_patch(timecode(index, fps), size), pad)
                writer.stdin.write(yuv.tobytes())
            writer.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            reader.stdout.close()
            reader.kill()
            reader.wait()
        if writer.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise StitchError(f"could not burn the edit's timecode: {message[-300:]}")


def _paint(yuv: np.ndarray, width: int, height: int, patch, pad: int) -> None:
    """Alpha-blend an RGBA label into a planar BT.709 YUV 4:2:0 frame at the bottom right."""
    rgba = np.asarray(patch).astype(np.float32)
    ph, pw = rgba.shape[:2]
    x0, y0 = (width - pw - pad) & ~1, (height - ph - pad) & ~1
    if x0 < 0 or y0 < 0:
        return
    alpha = rgba[..., 3] / 255.0
    luma = 16 + 219 / 255 * (rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    y_plane = yuv[: width * height].reshape(height, width)
    region = y_plane[y0 : y0 + ph, x0 : x0 + pw].astype(np.float32)
    y_plane[y0 : y0 + ph, x0 : x0 + pw] = (region * (1 - alpha) + luma * alpha + 0.5).astype(
        np.uint8
    )
    # the label is grey: pull the chroma under it toward neutral as much as it covers
    cw, ch = width // 2, height // 2
    a2 = alpha[: ph // 2 * 2 : 2, : pw // 2 * 2 : 2]
    for k in (0, 1):
        start = width * height + k * cw * ch
        chroma = yuv[start : start + cw * ch].reshape(ch, cw)
        sub = chroma[y0 // 2 : y0 // 2 + a2.shape[0], x0 // 2 : x0 // 2 + a2.shape[1]]
        sub[:] = (sub * (1 - a2) + 128 * a2 + 0.5).astype(np.uint8)
