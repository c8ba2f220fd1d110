"""Preflight: what the chosen backend and the previs voice make of a storyboard that is valid
as a format. The format (``storyboard.format``) knows no backend; the pipeline runs these checks
after it, and their problems point at ``file:line:col`` like every other.
"""

from __future__ import annotations

from collections.abc import Iterator

from storyboard.errors import BackendNotFound
from storyboard.format.model import Problem, Storyboard
from storyboard.render.capabilities import Capabilities
from storyboard.render.registry import load_backend

__all__ = ["preflight"]

_EPS = 1e-6


def preflight(board: Storyboard) -> list[Problem]:
    """Problems of ``board`` under its render settings (``render.backend`` is the backend in
    use: targets and ``--backend`` were applied when the format was resolved)."""
    name = board.render.backend
    try:
        backend = load_backend(name)
    except BackendNotFound as exc:
        return [Problem(("render", "backend"), exc.message)]
    caps = backend.capabilities(board.render.model).overridden(board.render)
    return [*backend_can_render(board, name, caps), *dialogue_fits(board)]


def backend_can_render(board: Storyboard, backend: str, caps: Capabilities) -> Iterator[Problem]:
    size = caps.size_problem(board.output.width, board.output.height)
    if size:
        yield Problem(("output", "size"), f"backend '{backend}': {size}")
    for shot in board.shots:
        seconds = caps.duration_problem(shot.seconds, board.render.duration)
        if seconds:
            yield Problem(
                shot.where("seconds"), f"shot '{shot.id}': backend '{backend}': {seconds}"
            )
        if shot.remix_of and not caps.remix:
            yield Problem(
                shot.where("remix_of"), f"shot '{shot.id}': backend '{backend}' cannot remix a shot"
            )
        if shot.extend_of and not caps.extend:
            yield Problem(
                shot.where("extend_of"),
                f"shot '{shot.id}': backend '{backend}' cannot extend a shot",
            )
        if shot.reference and not caps.first_frame:
            yield Problem(
                shot.where("reference"),
                f"shot '{shot.id}': backend '{backend}' takes no reference image",
                "warning",
            )
        if shot.end_frame and not caps.last_frame:
            yield Problem(
                shot.where("end_frame"),
                f"shot '{shot.id}': the chosen model cannot "
                f"take a last frame (backend '{backend}'); remove end_frame or "
                "pick a model that takes one (storyboard models)",
            )


def dialogue_fits(board: Storyboard) -> Iterator[Problem]:
    """Each line, as long as previs takes to say it, ends inside its shot and before the next
    line of the same shot starts."""
    if not any(shot.audio.dialogue for shot in board.shots):
        return
    from storyboard.media import AUDIO_RATE
    from storyboard.render.previs.dialogue import spoken_lines
    from storyboard.render.previs.speech import speech_status

    status = speech_status()
    for shot in board.shots:
        spoken = spoken_lines(shot, board.cast.values(), AUDIO_RATE)
        starts = sorted(s.line.at for s in spoken)
        for i, s in enumerate(spoken):
            where = shot.where("audio", "dialogue", i, "line")
            if s.line.at >= shot.seconds - _EPS:
                continue  # outside the shot: the format's cue_times rule says so
            following = [a for a in starts if a > s.line.at + _EPS]
            said = f"{_quoted(s.line.line)} takes {s.seconds:.1f} s to say at {s.line.at:g} s"
            if s.end > shot.seconds + _EPS:
                yield Problem(
                    where,
                    f"shot '{shot.id}': {said}; the shot ends at {shot.seconds:g} s",
                    "warning",
                )
            elif following and s.end > following[0] + _EPS:
                yield Problem(
                    where,
                    f"shot '{shot.id}': {said}; the next line starts at {following[0]:g} s",
                    "warning",
                )
            if status:
                yield Problem(where, status + " (install espeakng-loader)", "warning")
                status = None  # said once


def _quoted(line: str, limit: int = 26) -> str:
    if len(line) <= limit:
        return f"'{line}'"
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return f"'{cut}…'"
