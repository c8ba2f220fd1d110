"""Document → Storyboard + every Problem: the schema first, then the semantic rules.

Never raises on bad input: a file that cannot even be loaded is one Problem in the Report.
The format knows no backend: what the backend makes of a valid storyboard is ``preflight``'s,
which the caller passes in (the pipeline passes ``storyboard.render.preflight.preflight``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from storyboard.errors import LoadError, ValidationFailed
from storyboard.format.load import Document, load
from storyboard.format.model import Problem, Storyboard
from storyboard.format.resolve import resolve
from storyboard.format.rules import RuleContext, check_rules
from storyboard.format.schema import schema_problems
from storyboard.format.targets import select_render

__all__ = ["Preflight", "Report", "validate_file", "validate_document", "load_storyboard"]

Preflight = Callable[[Storyboard], list[Problem]]  # a valid storyboard's problems elsewhere


@dataclass(frozen=True)
class Report:
    """What validation found in one file."""

    path: Path
    problems: tuple[Problem, ...]
    storyboard: Storyboard | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))


def validate_file(
    path: Path,
    *,
    backend: str | None = None,
    allow_outside_paths: bool = False,
    target: str | None = None,
    preflight: Preflight | None = None,
) -> Report:
    """Load and check one storyboard file; ``target`` picks one of render.targets and
    ``backend`` overrides the backend (see format/targets.py); ``preflight`` runs on a board
    that passed the schema."""
    try:
        doc = load(path)
    except LoadError as exc:
        return Report(path, (Problem((), exc.message, location=exc.location),), None)
    return validate_document(
        doc,
        backend=backend,
        allow_outside_paths=allow_outside_paths,
        target=target,
        preflight=preflight,
    )


def is_storyboard(path: Path) -> bool:
    """Whether ``path`` reads as a storyboard: its top level is a mapping with ``version`` or
    ``shots``. Files that do not load at all count as storyboards, so their problems show."""
    try:
        data = load(path).data
    except LoadError:
        return True
    return not isinstance(data, dict) or "version" in data or "shots" in data


def validate_document(
    doc: Document,
    *,
    backend: str | None = None,
    allow_outside_paths: bool = False,
    target: str | None = None,
    preflight: Preflight | None = None,
) -> Report:
    problems = schema_problems(doc.data)
    board = None
    if not problems:
        board = select_render(resolve(doc), target, backend)  # TargetNotFound: a usage error
        problems += check_rules(board, RuleContext(allow_outside_paths=allow_outside_paths))
        if preflight is not None:
            problems += preflight(board)
    located = [_locate(doc, p) for p in problems]
    located.sort(key=lambda p: (p.location, p.severity != "error", p.message))
    return Report(
        doc.path, tuple(located), board if not any(p.severity == "error" for p in located) else None
    )


def load_storyboard(
    path: Path,
    *,
    backend: str | None = None,
    allow_outside_paths: bool = False,
    target: str | None = None,
    preflight: Preflight | None = None,
) -> tuple[Storyboard, list[Problem]]:
    """The valid Storyboard and its warnings, or ValidationFailed carrying every problem."""
    report = validate_file(
        path,
        backend=backend,
        allow_outside_paths=allow_outside_paths,
        target=target,
        preflight=preflight,
    )
    if report.storyboard is None:
        raise ValidationFailed(list(report.problems))
    return report.storyboard, report.warnings


def _locate(doc: Document, problem: Problem) -> Problem:
    if problem.location is not None:
        return problem
    return replace(problem, location=doc.location(problem.path, key=problem.at_key))
