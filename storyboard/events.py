"""Progress events: what the library tells its caller while it works (it never prints).

The CLI turns them into lines on stderr; a script or a notebook may do anything with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Event", "EventKind", "OnEvent", "ignore", "legacy"]

EventKind = Literal[
    "begin",  # a render run starts (count: the shots it covers)
    "start",  # a shot's render begins (seconds)
    "reused",  # a shot's render is current: nothing to do
    "submitted",  # a hosted job was created (job)
    "resumed",  # a hosted job of an earlier run is waited for again (job)
    "progress",  # fraction done, 0..1 (fraction)
    "rendered",  # a shot is finished (elapsed)
    "failed",  # a shot failed (error, code, blocked)
    "skipped",  # a derived shot was not sent: its source gives it nothing (error)
    "note",  # something done on the user's behalf, e.g. a source rendered first (message)
    "warning",  # something the user should know (message); shot_id may be ""
    "stitch",  # the edit is being made (seconds)
]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    shot_id: str = ""
    seconds: float = 0.0
    job: str = ""
    fraction: float = 0.0
    elapsed: float = 0.0
    error: str = ""
    code: str = ""
    blocked: bool = False
    message: str = ""
    count: int = 0


OnEvent = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default listener."""


def legacy(on_event: OnEvent) -> Callable[[str, str, dict[str, Any]], None]:
    """``on_event`` as the ``(kind, shot id, details)`` callback the render stage calls."""

    def emit(kind: str, shot_id: str, info: dict[str, Any]) -> None:
        known = {k: info[k] for k in _FIELDS if k in info}
        on_event(Event(kind, shot_id, **known))  # type: ignore[arg-type]

    return emit


_FIELDS = ("seconds", "job", "fraction", "elapsed", "error", "code", "blocked", "message")
