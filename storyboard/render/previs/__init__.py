"""The built-in offline animatic backend: camera moves over the reference, beats on screen.

Heavy modules (numpy, Pillow) are imported when a shot is rendered, not when the backend is
looked up, so ``storyboard validate`` stays instant.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from storyboard.manifest import known_file_sha256
from storyboard.render.base import BackendConfig, BackendKind, Progress, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.scratch import scratch_dir

__all__ = ["PrevisBackend"]


def _sha(path: Path | None) -> str | None:
    return known_file_sha256(path) if path else None


class PrevisBackend:
    """Renders any positive duration at any even size, offline, deterministically."""

    name = "previs"
    version = "4"  # bump when frames or sound change, so earlier renders count as stale

    kind: ClassVar[BackendKind] = "local"

    @classmethod
    def from_config(cls, config: BackendConfig) -> PrevisBackend:
        return cls()

    @classmethod
    def key_material(cls, job: RenderJob) -> dict[str, Any]:
        """Everything that changes the animatic's pixels or sound; never where the shot sits."""
        fields = asdict(job.shot)
        for drop in ("origin", "notes", "transition", "index", "number", "takes", "circle"):
            fields.pop(drop)
        if not job.overlays:
            fields.pop("id")  # the id is drawn only with the overlays
        shot = job.shot
        for name in ("reference", "end_frame"):
            fields[name] = _sha(getattr(shot, name))
        fields["audio"]["file"] = _sha(shot.audio.file)
        return {
            "shot": fields,
            "prompt": job.prompt.text,
            "overlays": job.overlays,
            "seconds": job.render_seconds,
            # a number written on the board is drawn; the default one (its position) is not
            "number": shot.number if "number" in shot.origin else None,
            "cast": [[m.name, m.voice, _sha(m.reference)] for m in job.cast],  # voices, insets
            # the overlays sit out a dissolve into the next shot
            "dissolve": shot.transition.seconds if shot.transition.type == "dissolve" else 0.0,
        }

    @classmethod
    def price_per_second(cls, model: str | None, size: str, audio: bool = False) -> float | None:
        return 0.0  # offline

    def close(self) -> None:
        pass

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(
            even_sizes=True,
            first_frame=True,
            last_frame=True,
            reference_images=4,
            remix=True,
            extend=True,
            audio=True,
            price_per_second=0.0,
        )

    def render(self, job: RenderJob, dest: Path, progress: Progress | None = None) -> None:
        from storyboard.render.previs.frames import frame_count, frame_rgba, prepare_scene
        from storyboard.render.previs.sound import write_shot_audio
        from storyboard.render.previs.writer import VideoWriter

        scene = prepare_scene(job)
        fps = job.output.fps
        frames = frame_count(job.shot.seconds, fps)
        with scratch_dir(dest.parent, "audio") as tmp:
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
