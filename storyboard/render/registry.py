"""Backends by name, found through the ``storyboard.backends`` entry-point group.

The built-in ``previs`` backend registers there the same way a third-party package would.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, cast

from storyboard.errors import BackendNotFound

if TYPE_CHECKING:
    from storyboard.render.base import Backend

__all__ = ["GROUP", "available", "load_backend"]

GROUP = "storyboard.backends"
_BUILTIN = {
    "previs": "storyboard.render.previs:PrevisBackend",
    "openai": "storyboard.render.hosted.openai:OpenAIBackend",
    "fal": "storyboard.render.hosted.fal:FalBackend",
    "gemini": "storyboard.render.hosted.gemini:GeminiBackend",
    "runway": "storyboard.render.hosted.runway:RunwayBackend",
}


def available() -> list[str]:
    """Names of every installed backend."""
    return sorted({*_BUILTIN, *(ep.name for ep in entry_points(group=GROUP))})


def load_backend(name: str) -> type[Backend]:
    """The backend class (its factory) registered under ``name``."""
    found = _find(name)
    if not isinstance(found, type) or getattr(found, "kind", None) not in ("local", "hosted"):
        raise BackendNotFound(
            f"backend '{name}' ({found!r}) is not a storyboard backend: it "
            "must be a class with kind = 'local' or 'hosted' (README: Adding "
            "a backend)"
        )
    missing = [m for m in _REQUIRED if not hasattr(found, m)]
    if missing:
        raise BackendNotFound(
            f"backend '{name}' ({found!r}) lacks {', '.join(missing)} (README: Adding a backend)"
        )
    return cast("type[Backend]", found)


# what the render stage calls on every backend class before it makes one
_REQUIRED = (
    "name",
    "version",
    "kind",
    "from_config",
    "capabilities",
    "key_material",
    "price_per_second",
)


def _find(name: str) -> object:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    if name in _BUILTIN:  # running from a source tree that was never installed
        module, _, attr = _BUILTIN[name].partition(":")
        return getattr(__import__(module, fromlist=[attr]), attr)
    raise BackendNotFound(f"unknown backend '{name}'; installed backends: {', '.join(available())}")
