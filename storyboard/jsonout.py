"""The one shape of every ``--format json`` output (documented in the README, "JSON output").

Success and failure are both one JSON object on stdout::

    {"version": 1, "command": "plan", "ok": true, "storyboard": "board.yaml",
     "problems": [...warnings...], ...the command's own keys...}
    {"version": 1, "command": "plan", "ok": false, "storyboard": "board.yaml",
     "problems": [{"file", "line", "col", "severity", "message"}, ...], "error": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from storyboard.format.model import Problem

if TYPE_CHECKING:
    from storyboard.format.validate import Report
    from storyboard.pipeline import CompiledStoryboard
    from storyboard.render.estimate import Estimate
    from storyboard.render.stage import ShotState
    from storyboard.render.takes import Take

__all__ = [
    "JSON_VERSION",
    "compile_body",
    "envelope",
    "estimate_body",
    "failure",
    "problem_record",
    "status_body",
    "takes_body",
    "validate_body",
    "write_json",
]

JSON_VERSION = 1


def problem_record(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "severity": problem.severity,
        "message": problem.message,
    }


def envelope(
    command: str,
    storyboard: Path | None,
    body: dict[str, Any],
    *,
    ok: bool = True,
    problems: Sequence[Problem] = (),
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": command,
        "ok": ok,
        "storyboard": str(storyboard) if storyboard is not None else None,
        "problems": [problem_record(p) for p in problems],
        **body,
    }


def failure(
    command: str, storyboard: Path | None, message: str, problems: Sequence[Problem] = ()
) -> dict[str, Any]:
    return envelope(command, storyboard, {"error": message}, ok=False, problems=problems)


def write_json(data: dict[str, Any], stream: IO[str]) -> None:
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


# ---- each command's own keys -----------------------------------------------------------------


def validate_body(reports: Sequence[Report], strict: bool) -> dict[str, Any]:
    """``files``: each file checked, whether it passed, and how many errors and warnings it has
    (the problems themselves are the envelope's, each naming its file)."""
    return {
        "strict": strict,
        "files": [
            {
                "file": str(r.path),
                "ok": not r.failed(strict),
                "errors": len(r.errors),
                "warnings": len(r.warnings),
                "shots": len(r.storyboard.shots) if r.storyboard is not None else None,
            }
            for r in reports
        ],
    }


def compile_body(compiled: CompiledStoryboard) -> dict[str, Any]:
    from storyboard.compile import prompt_record

    board = compiled.board
    return {
        "title": board.title,
        "shots": [
            {
                **prompt_record(board, c.shot, c.prompt, compiled.settings.backend_name),
                "number": c.shot.number,
                "render_key": c.key,
            }
            for c in compiled.chosen
        ],
    }


def status_body(states: Sequence[ShotState]) -> dict[str, Any]:
    return {
        "shots": [
            {"id": s.shot_id, "state": s.state, "path": str(s.path), "error": s.error or None}
            for s in states
        ]
    }


def estimate_body(plan: Estimate) -> dict[str, Any]:
    return {
        "backend": plan.backend,
        "model": plan.model,
        "cost": plan.cost,
        "wait_seconds": round(plan.wait, 1),
        "shots": [
            {
                "id": s.shot_id,
                "seconds": s.seconds,
                "render_seconds": s.rendered_seconds,
                "rendered": s.rendered,
                "price_per_second": s.price_per_second,
                "cost": s.cost,
            }
            for s in plan.shots
        ],
    }


def takes_body(takes: Sequence[Take]) -> dict[str, Any]:
    return {
        "takes": [
            {
                "id": t.shot_id,
                "take": t.number,
                "state": t.state,
                "circled": t.circled,
                "cost": t.cost,
                "elapsed": t.elapsed,
                "render_key": t.render_key,
                "path": str(t.path),
                "error": t.error or None,
            }
            for t in takes
        ]
    }
