"""The built-in offline animatic backend: camera moves over the reference, beats on screen.

Heavy modules (numpy, Pillow) are imported when a shot is rendered, not when the backend is
looked up, so ``storyboard validate`` stays instant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from storyboard.render.base import Progress, RenderJob
from storyboard.render.capabilities import Capabilities

__all__ = ["PrevisBackend"]


class PrevisBackend:
    """Renders any positive duration at any even size, offline, deterministically."""

    name = "previs"
    version = "4"  # bump when frames or sound change, so earlier renders count as stale

    @classmethod
    def from_config(cls, config: object) -> PrevisBackend:
        return cls()

    def close(self) -> None:
        pass

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(even_sizes=True, first_frame=True, last_frame=True,
                            reference_images=4, remix=True, extend=True,
                            audio=True, price_per_second=0.0)

    def render(self, job: RenderJob, dest: Path, progress: Progress | None = None) -> None:
        from storyboard.render.previs.frames import frame_count, frame_rgba, prepare_scene
        from storyboard.render.previs.sound import write_shot_audio
        from storyboard.render.previs.writer import VideoWriter

        scene = prepare_scene(job)
        fps = job.output.fps
        frames = frame_count(job.shot.seconds, fps)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".audio-") as tmp:
            wav = Path(tmp) / "audio.wav"
            write_shot_audio(job.shot, frames / fps, wav, job.cast, job.seed or 0)
            meta = {"title": f"{job.title} — {job.shot.id}".strip(" —"), "comment": job.render_key}
            with VideoWriter(dest, job.output.width, job.output.height, fps, wav, meta) as writer:
                for index in range(frames):
                    writer.write(frame_rgba(scene, index / fps))
                    if progress and index % 12 == 0:
                        progress(index / frames)
        if progress:
            progress(1.0)
