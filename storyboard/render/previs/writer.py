"""A thin ffmpeg writer: YUV 4:2:0 frames on stdin plus a WAV file → H.264 + AAC MP4.

Frames go to ffmpeg from a thread, through a short queue, so making the next frame overlaps
with ffmpeg reading and encoding the last ones.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from storyboard.errors import MediaError
from storyboard.media import AUDIO_ARGS, ffmpeg_exe, fps_fraction, video_args

__all__ = ["VideoWriter", "to_yuv420p"]

def to_yuv420p(frame: np.ndarray) -> bytes:
    """RGB or RGBA frame → planar limited-range BT.601 YUV 4:2:0, what x264 encodes."""
    code = cv2.COLOR_RGBA2YUV_I420 if frame.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420
    return cv2.cvtColor(frame, code).tobytes()


class VideoWriter:
    """``with VideoWriter(dest, w, h, fps, wav) as w: w.write(frame)``; ffmpeg runs alongside."""

    def __init__(self, dest: Path, width: int, height: int, fps: float, audio: Path,
                 metadata: dict[str, str] | None = None) -> None:
        rate = fps_fraction(fps)
        meta = [arg for k, v in (metadata or {}).items() for arg in ("-metadata", f"{k}={v}")]
        self.args = [
            ffmpeg_exe(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(rate),
            "-i", "pipe:0", "-i", str(audio), "-map", "0:v", "-map", "1:a",
            *video_args(fps), *AUDIO_ARGS, *meta, "-movflags", "+faststart", "-f", "mp4", str(dest),
        ]
        self.dest = dest
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VideoWriter:
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.broken = False
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()
        return self

    def write(self, frame: np.ndarray) -> None:
        if self.broken:
            self._fail()
        self.queue.put(to_yuv420p(frame))

    def _feed(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        while (data := self.queue.get()) is not None:
            if self.broken:
                continue  # drain, so write() never blocks on a dead encoder
            try:
                self.process.stdin.write(data)
            except (BrokenPipeError, OSError):
                self.broken = True

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.queue.put(None)
        if kind is not None:
            self.process.kill()
            self.thread.join()
            self.process.wait()
            return
        self.thread.join()
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            self.broken = True
        if self.process.wait() != 0 or self.broken:
            self._fail()

    def _fail(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        self.process.kill()
        self.process.wait()
        message = self.process.stderr.read().decode(errors="replace").strip()
        raise MediaError(f"ffmpeg could not write {self.dest.name}: {message[-300:]}")
