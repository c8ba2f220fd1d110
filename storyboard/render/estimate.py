"""Seconds, cost and expected wait per shot and in all, before anything is sent. No API key."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard.compile import ShotPrompt
from storyboard.format.model import Shot, Storyboard
from storyboard.render.base import Backend
from storyboard.render.capabilities import Capabilities
from storyboard.render.registry import load_backend
from storyboard.render.stage import identities
from storyboard.render.upgrade import legacy_renders
from storyboard.render.wants import wants_audio

__all__ = ["Estimate", "ShotEstimate", "estimate"]

PREVIS_SECONDS_PER_SECOND_720P = 0.17  # bench/previs.py: about 6x real time at 1280x720


@dataclass(frozen=True)
class ShotEstimate:
    shot_id: str
    seconds: float  # what the edit uses
    price_per_second: float | None  # None: unknown for this model
    rendered: bool  # already rendered and current: costs nothing
    render_seconds: float = 0.0  # what is rendered and paid for (>= seconds); 0: seconds
    takes: int = 1  # takes still to render (each is paid for)

    @property
    def rendered_seconds(self) -> float:
        return self.render_seconds or self.seconds

    @property
    def handles(self) -> bool:
        return self.rendered_seconds > self.seconds + 1e-9

    @property
    def cost(self) -> float | None:
        if self.rendered:
            return 0.0
        if self.price_per_second is None:
            return None
        return self.rendered_seconds * self.price_per_second * self.takes


@dataclass(frozen=True)
class Estimate:
    backend: str
    model: str | None
    shots: tuple[ShotEstimate, ...]
    wait: float  # seconds, for the shots still to render, with --jobs in parallel

    @property
    def cost(self) -> float | None:
        costs = [s.cost for s in self.shots]
        return None if None in costs else sum(c for c in costs if c is not None)

    @property
    def to_render(self) -> list[ShotEstimate]:
        return [s for s in self.shots if not s.rendered]


def estimate(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend_name: str,
    out_dir: Path,
    jobs: int,
    only: Sequence[str] | None = None,
) -> Estimate:
    backend = load_backend(backend_name)
    caps = backend.capabilities(board.render.model).overridden(board.render)
    stated = (
        board.render.price_per_second is not None
        or (board.render.preset or {}).get("price_per_second") is not None
    )
    ids = identities(board, prompts, backend_name, out_dir)
    # a shot whose request has a take in the store costs nothing: it is picked, not rendered;
    # so does one whose 0.1.0 render the next run takes over (render/upgrade.py)
    adopted = legacy_renders(board, ids, out_dir).keys()
    todo = {
        s.id: sum(
            not ids.store.has(j.render_key) and j.render_key not in adopted for j in ids.takes(s)
        )
        for s in board.shots
    }
    mode = board.render.duration
    shots = tuple(
        ShotEstimate(
            s.id,
            s.seconds,
            _price(backend, board, caps, s, stated),
            not todo[s.id],
            caps.render_seconds(s.seconds, mode),
            max(todo[s.id], 1),
        )
        for s in board.shots
        if not only or s.id in only
    )
    left = [s for s in shots if not s.rendered]
    if caps.wait:  # hosted: jobs run side by side, each taking about caps.wait
        wait = math.ceil(sum(s.takes for s in left) / max(jobs, 1)) * caps.wait
    else:
        scale = board.output.width * board.output.height / (1280 * 720)
        wait = (
            sum(s.rendered_seconds * s.takes for s in left) * PREVIS_SECONDS_PER_SECOND_720P * scale
        )
    return Estimate(backend_name, board.render.model, shots, wait)


def _price(
    backend: type[Backend], board: Storyboard, caps: Capabilities, shot: Shot, stated: bool
) -> float | None:
    """The storyboard's own figure wins, then the model's table; a shot that asks for sound
    pays the model's price with sound (see render/wants.py)."""
    audio = caps.audio and caps.audio_price_per_second is not None and wants_audio(shot)
    if stated:  # with sound too, unless the storyboard gives that figure as well
        own = (board.render.preset or {}).get("audio_price_per_second")
        return float(own) if audio and own is not None else caps.price_per_second
    return backend.price_per_second(board.render.model, board.output.size, audio=audio)
