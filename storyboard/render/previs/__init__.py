"""The built-in offline animatic backend: camera moves over the reference, beats on screen."""

from __future__ import annotations

from ..capabilities import Capabilities

__all__ = ["PrevisBackend"]


class PrevisBackend:
    """Renders any positive duration at any even size, offline, deterministically."""

    name = "previs"
    version = "1"  # bump when frames or sound change, so old renders count as stale

    def __init__(self, **settings: object) -> None:
        self.settings = settings

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(even_sizes=True, first_frame=True, remix=True, audio=True)
