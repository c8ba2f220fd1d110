"""Render identity: a shot's render key is exactly what its backend receives.

For a hosted backend that is the request it would send (compiled prompt, model, duration on
the wire, size, the reference's bytes and fit, preset and extra fields, and for a remix or an
extension the source's remote id); for previs, everything that changes its pixels or sound.
Never the shot's position, the number of shots, its notes, its transition or the music, and
for a hosted backend never its id: inserting, removing, reordering or renaming shots renders
nothing else. A backend may declare its own material with a ``key_material(job)`` classmethod;
the backend's name and version are always part of the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from storyboard.compile import ShotPrompt
from storyboard.errors import StoryboardError
from storyboard.format.model import CastMember, Shot, Storyboard
from storyboard.render.base import Backend, RenderJob
from storyboard.render.store import TakeStore

__all__ = ["Identities", "is_hosted", "key_of", "shot_cast"]

PENDING = "pending"  # a derived hosted shot whose source has no remote video yet


def is_hosted(backend_cls: Any) -> bool:
    kind = getattr(backend_cls, "kind", None)
    return kind == "hosted" if kind else not callable(getattr(backend_cls, "render", None))


def shot_cast(board: Storyboard, shot: Shot) -> tuple[CastMember, ...]:
    """The cast members a shot names, then those who speak in it without being named."""
    names = [*shot.cast, *(d.who for d in shot.audio.dialogue)]
    return tuple(board.cast[n] for n in dict.fromkeys(names) if n in board.cast)


def key_of(backend_cls: Any, material: dict[str, Any], take: int = 1) -> str:
    """sha256 of the backend, its version and the material; takes after the first differ."""
    identity: dict[str, Any] = {
        "backend": [backend_cls.name, str(backend_cls.version)],
        "material": material,
    }
    if take > 1:  # a second take of the same request is another render (review's takes)
        identity["take"] = take
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Identities:
    """Builds every shot's RenderJob with its render key, in storyboard order."""

    def __init__(
        self,
        board: Storyboard,
        prompts: Sequence[ShotPrompt],
        backend_cls: type[Backend],
        store: TakeStore,
    ) -> None:
        self.board, self.backend_cls, self.store = board, backend_cls, store
        self.prompts = dict(zip((s.id for s in board.shots), prompts, strict=True))
        self.caps = backend_cls.capabilities(board.render.model).overridden(board.render)
        self.hosted = is_hosted(backend_cls)
        self._jobs: dict[str, RenderJob] = {}

    def keys(self) -> dict[str, str]:
        """Every shot's render key: that of its circled take."""
        return {shot.id: self.job(shot).render_key for shot in self.board.shots}

    def take_keys(self) -> set[str]:
        """The render key of every take every shot asks for."""
        return {job.render_key for shot in self.board.shots for job in self.takes(shot)}

    def takes(self, shot: Shot) -> list[RenderJob]:
        """The jobs of the shot's takes 1..takes (and of its circled take, if beyond)."""
        return [self.take(shot, n) for n in range(1, max(shot.takes, shot.circle) + 1)]

    def take(self, shot: Shot, number: int) -> RenderJob:
        """Take ``number`` of the shot: the same request with its own seed, its own key."""
        first = self._first(shot)
        if number == 1:
            return first
        job = replace(first, take=number, seed=number, render_key="")
        return replace(
            job,
            render_key=key_of(
                self.backend_cls, self._material(job, self._source_key(shot)), take=number
            ),
        )

    def job(self, shot: Shot) -> RenderJob:
        """The job of the shot's circled take (the one the edit uses)."""
        return self.take(shot, shot.circle) if shot.circle > 1 else self._first(shot)

    def _source_key(self, shot: Shot) -> str:
        source = self.board.shot(shot.source) if shot.source else None
        return self.job(source).render_key if source else ""

    def _first(self, shot: Shot) -> RenderJob:
        """The shot's first take; a derived hosted shot is re-keyed once its source rendered."""
        cached = self._jobs.get(shot.id)
        if cached is not None and not (
            self.hosted and shot.source and cached.source_remote_id is None
        ):
            return cached
        job = self._job(shot)
        self._jobs[shot.id] = job
        return job

    def waiting(self, job: RenderJob) -> bool:
        """A derived hosted shot whose source has no finished video with a remote id."""
        return self.hosted and job.shot.source is not None and not job.source_remote_id

    def _job(self, shot: Shot) -> RenderJob:
        board = self.board
        source = board.shot(shot.source) if shot.source else None
        source_job = self.job(source) if source else None
        source_key = source_job.render_key if source_job else ""
        job = RenderJob(
            shot,
            self.prompts[shot.id],
            board.output,
            board.render.model,
            "",
            overlays=board.render.overlays,
            title=board.title,
            render=board.render,
            source_shot=source,
            source_video=self.store.path(source_key) if source else None,
            source_remote_id=self.store.remote_id(source_key) if source and self.hosted else None,
            render_seconds=self.caps.render_seconds(shot.seconds, board.render.duration),
            cast=shot_cast(board, shot),
        )
        material = self._material(job, source_key)
        return replace(job, render_key=key_of(self.backend_cls, material))

    def _material(self, job: RenderJob, source_key: str) -> dict[str, Any]:
        try:
            material = dict(self.backend_cls.key_material(job))
        except StoryboardError as exc:  # a request it cannot send: the shot fails on submit
            material = {"unsendable": str(exc)}
        if job.shot.source and self.hosted and not job.source_remote_id:
            material["source"] = f"{PENDING}:{source_key}"
        elif job.shot.source and not self.hosted:
            material["source"] = source_key  # previs draws a derived shot from its source
        # we re-encode every download to the edit's size and frame rate
        material["output"] = [job.output.width, job.output.height, job.output.fps]
        return material
