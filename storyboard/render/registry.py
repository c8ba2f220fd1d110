"""Backends by name, found through the ``storyboard.backends`` entry-point group.

The built-in ``previs`` backend registers there the same way a third-party package would.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from storyboard.errors import BackendNotFound

__all__ = ["GROUP", "available", "load_backend"]

GROUP = "storyboard.backends"
_BUILTIN = {"previs": "storyboard.render.previs:PrevisBackend",
            "openai": "storyboard.render.hosted.openai:OpenAIBackend",
            "fal": "storyboard.render.hosted.fal:FalBackend",
            "gemini": "storyboard.render.hosted.gemini:GeminiBackend",
            "runway": "storyboard.render.hosted.runway:RunwayBackend"}


def available() -> list[str]:
    """Names of every installed backend."""
    return sorted({*_BUILTIN, *(ep.name for ep in entry_points(group=GROUP))})


def load_backend(name: str) -> Any:
    """The backend class (its factory) registered under ``name``."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    if name in _BUILTIN:  # running from a source tree that was never installed
        module, _, attr = _BUILTIN[name].partition(":")
        return getattr(__import__(module, fromlist=[attr]), attr)
    raise BackendNotFound(f"unknown backend '{name}'; installed backends: {', '.join(available())}")
