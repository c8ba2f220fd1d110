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
from typing import IO, Any

from storyboard.format.model import Problem

__all__ = ["JSON_VERSION", "envelope", "failure", "problem_record", "write_json"]

JSON_VERSION = 1


def problem_record(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {"file": loc.file if loc else None, "line": loc.line if loc else None,
            "col": loc.col if loc else None, "severity": problem.severity,
            "message": problem.message}


def envelope(command: str, storyboard: Path | None, body: dict[str, Any], *, ok: bool = True,
             problems: Sequence[Problem] = ()) -> dict[str, Any]:
    return {"version": JSON_VERSION, "command": command, "ok": ok,
            "storyboard": str(storyboard) if storyboard is not None else None,
            "problems": [problem_record(p) for p in problems], **body}


def failure(command: str, storyboard: Path | None, message: str,
            problems: Sequence[Problem] = ()) -> dict[str, Any]:
    return envelope(command, storyboard, {"error": message}, ok=False, problems=problems)


def write_json(data: dict[str, Any], stream: IO[str]) -> None:
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
