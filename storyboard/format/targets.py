"""Which render settings a run uses: ``render`` itself, a named target, or another backend.

A storyboard renders on any backend by changing one word. Settings that belong to one backend
(its model, URL, key variable, capabilities, preset, extra fields) are never carried over to
another: ``--backend B`` alone, or a target naming another backend, starts from the settings
every backend shares (overlays, duration, polling).
"""

from __future__ import annotations

from dataclasses import fields, replace

from storyboard.errors import StoryboardError
from storyboard.format.model import RenderSettings, Storyboard

__all__ = ["BACKEND_SPECIFIC", "TargetNotFound", "for_backend", "select_render"]

BACKEND_SPECIFIC = ("model", "base_url", "api_key_env", "sizes", "durations",
                    "price_per_second", "remix", "extend", "preset", "extra")  # fmt: skip


class TargetNotFound(StoryboardError):
    """--target names no entry of render.targets (a usage error)."""


def for_backend(render: RenderSettings, backend: str) -> RenderSettings:
    """``render`` moved to ``backend``: unchanged for its own backend, else without the
    settings of the backend it named."""
    if backend == render.backend:
        return render
    neutral = RenderSettings(backend=backend)
    shared = {
        f.name: getattr(render, f.name)
        for f in fields(RenderSettings)
        if f.name not in (*BACKEND_SPECIFIC, "backend")
    }
    return replace(neutral, **shared)


def select_render(
    board: Storyboard, target: str | None = None, backend: str | None = None
) -> Storyboard:
    """The storyboard with the render settings this run uses (``--target``, ``--backend``)."""
    render = board.render
    if target:
        if target not in render.targets:
            from storyboard.format.schema import did_you_mean

            names = sorted(render.targets)
            known = did_you_mean(target, names) or (
                f"; known: {', '.join(names)}" if names else "; add it under render.targets"
            )
            raise TargetNotFound(f"no render target '{target}' in {board.path.name}{known}")
        render = render.targets[target]
    if backend:
        render = for_backend(render, backend)
    return replace(board, render=render)
