"""The pipeline as a library: load → compile → render → stitch, each step a typed result.

```python
from storyboard.pipeline import Options, build

result = build("board.yaml", Options(backend="previs", jobs=2))
print(result.edit.path if result.edit else result.failed)
```

Settings are resolved once (``resolve``): the backend (``Options.backend`` or the storyboard's
``render.backend``), the render folder (``Options.out`` or ``renders/<stem>/``), the number of
jobs, the backend's configuration. Progress arrives through ``on_event``; nothing here prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from storyboard.compile import ShotPrompt, compile_storyboard
from storyboard.edit.stitch import StitchResult
from storyboard.errors import BackendNotFound, StoryboardError, UsageError, ValidationFailed
from storyboard.events import Event, OnEvent, ignore, legacy
from storyboard.format.model import Problem, Shot, Storyboard
from storyboard.format.validate import Report
from storyboard.layout import RenderDir
from storyboard.render.base import Backend, BackendConfig
from storyboard.render.estimate import Estimate
from storyboard.render.stage import ShotResult, ShotState, default_out_dir

if TYPE_CHECKING:
    from storyboard.edit.export import ExportResult
    from storyboard.edit.plan import Plan
    from storyboard.render.clean import Orphans
    from storyboard.render.takes import Take
    from storyboard.review.contact_sheet import ContactSheet
    from storyboard.review.page import ReviewPage

__all__ = [
    "BuildResult",
    "CompiledShot",
    "CompiledStoryboard",
    "Options",
    "RenderResult",
    "Settings",
    "build",
    "check_budget",
    "clean",
    "compile",
    "contact_sheet",
    "estimate",
    "export",
    "load",
    "orphans",
    "plan",
    "resolve",
    "review",
    "shotlist",
    "status",
    "stitch",
    "takes",
    "validate",
]

HOSTED_JOBS = 4  # default remote jobs under way at once
MAX_JOBS_PER_CORE = 4  # --jobs above this many per core is capped (previs renders use a core)
MAX_HOSTED_JOBS = 64

OnProblem = Callable[[Problem], None]


class BudgetExceeded(StoryboardError):
    """The estimate is over the budget; nothing was sent (exit 1)."""


@dataclass(frozen=True)
class Options:
    """What a caller may choose; everything else comes from the storyboard."""

    backend: str | None = None  # overrides render.backend
    target: str | None = None  # one of render.targets
    out: Path | None = None  # replaces renders/<stem>/ beside the storyboard
    templates: Path | None = None  # prompt templates overriding the shipped ones
    shots: tuple[str, ...] = ()  # only these shots (render, estimate, compile); () = all
    takes: int | None = None  # takes of every shot, overriding takes: in the storyboard
    jobs: int | None = None  # shots at once; default: the cores (local) or 4 (hosted)
    force: bool = False  # render again even when up to date
    budget: float | None = None  # USD; refuse to start when the shots to render cost more
    allow_missing: bool = False  # stitch with slates for shots that are not rendered
    allow_outside_paths: bool = False
    base_url: str | None = None  # hosted: the API's base URL
    allow_insecure_http: bool = False
    # where API keys are read; None: os.environ. Never in a repr: it holds the keys
    env: Mapping[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """The options resolved against one storyboard, once."""

    backend_name: str
    backend: type[Backend]
    folder: RenderDir
    jobs: int
    config: BackendConfig
    notes: tuple[str, ...] = ()  # what resolving changed, e.g. a capped --jobs
    # why renders/<stem>/ cannot be written (a storyboard named .x.yaml); reading may go on
    folder_problem: str | None = None

    def writable(self) -> RenderDir:
        """The render folder, for a step that writes into it; UsageError when it cannot."""
        if self.folder_problem:
            raise UsageError(self.folder_problem)
        return self.folder


@dataclass(frozen=True)
class CompiledShot:
    shot: Shot
    prompt: ShotPrompt
    key: str  # the render key: what identifies this shot's render


@dataclass(frozen=True)
class CompiledStoryboard:
    """A valid storyboard with every shot's prompt and render key, and its settings."""

    board: Storyboard
    options: Options
    settings: Settings
    shots: tuple[CompiledShot, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def prompts(self) -> list[ShotPrompt]:
        return [c.prompt for c in self.shots]

    @property
    def keys(self) -> dict[str, str]:
        return {c.shot.id: c.key for c in self.shots}

    @property
    def chosen(self) -> tuple[CompiledShot, ...]:
        """The shots Options.shots names (all when it names none), in storyboard order."""
        only = self.options.shots
        return tuple(c for c in self.shots if not only or c.shot.id in only)


@dataclass(frozen=True)
class RenderResult:
    shots: tuple[ShotResult, ...]

    @property
    def failed(self) -> list[ShotResult]:
        return [r for r in self.shots if r.status == "failed"]


@dataclass(frozen=True)
class BuildResult:
    compiled: CompiledStoryboard
    rendered: RenderResult
    edit: StitchResult | None = None  # None: shots failed and allow_missing was not given

    @property
    def failed(self) -> list[ShotResult]:
        return self.rendered.failed


# ---- the recipe ------------------------------------------------------------------------------


def build(
    path: Path | str,
    options: Options = Options(),
    *,
    on_event: OnEvent = ignore,
    on_problem: OnProblem | None = None,
) -> BuildResult:
    """Validate, compile, render and stitch; the edit is left out when shots failed."""
    if options.shots:
        raise UsageError(
            "build renders and stitches every shot; to render some, use "
            f"storyboard render --shot {options.shots[0]}, then storyboard stitch"
        )
    compiled = compile(path, options, on_problem=on_problem)
    check_budget(compiled)
    rendered = render(compiled, on_event=on_event)
    if rendered.failed and not options.allow_missing:
        return BuildResult(compiled, rendered)
    return BuildResult(compiled, rendered, _stitch(compiled, on_event))


def validate(paths: Sequence[Path], options: Options = Options()) -> list[Report]:
    """What is wrong with each file (never raises on a bad storyboard)."""
    check_backend_name(options.backend)
    return [_validate(Path(p), options) for p in paths]


def load(path: Path | str, options: Options = Options()) -> tuple[Storyboard, list[Problem]]:
    """The valid storyboard and its warnings, or ValidationFailed with every problem."""
    check_backend_name(options.backend)
    report = _validate(Path(path), options)
    if report.storyboard is None:
        raise ValidationFailed(list(report.problems))
    _check_shots(report.storyboard, options.shots)
    return _with_takes(report.storyboard, options.takes), report.warnings


def _validate(path: Path, options: Options) -> Report:
    from storyboard.format.targets import TargetNotFound
    from storyboard.format.validate import validate_file
    from storyboard.render.preflight import preflight

    try:
        return validate_file(
            path,
            backend=options.backend,
            target=options.target,
            allow_outside_paths=options.allow_outside_paths,
            preflight=preflight,
        )
    except TargetNotFound as exc:
        raise UsageError(exc.message) from None


def compile(
    path: Path | str, options: Options = Options(), *, on_problem: OnProblem | None = None
) -> CompiledStoryboard:
    """Load the storyboard, resolve the settings, compile every prompt and render key."""
    from storyboard.render.stage import shot_keys

    board, warnings = load(path, options)
    for problem in warnings:
        if on_problem is not None:
            on_problem(problem)
    settings = resolve(board, options)
    prompts = compile_storyboard(
        board, options.templates, allow_outside_paths=options.allow_outside_paths
    )
    keys = shot_keys(board, prompts, settings.backend, settings.folder.root)
    shots = tuple(CompiledShot(s, p, keys[s.id]) for s, p in zip(board.shots, prompts, strict=True))
    return CompiledStoryboard(board, options, settings, shots, tuple(warnings))


def render(compiled: CompiledStoryboard, *, on_event: OnEvent = ignore) -> RenderResult:
    """Render the chosen shots, reusing every render that is current."""
    from storyboard.render.stage import render_storyboard

    s, options = compiled.settings, compiled.options
    for note in s.notes:
        on_event(Event("warning", message=note))
    on_event(Event("begin", count=len(compiled.chosen)))
    results = render_storyboard(
        compiled.board,
        compiled.prompts,
        s.backend_name,
        s.writable().root,
        only=options.shots or None,
        jobs=s.jobs,
        force=options.force,
        on_event=legacy(on_event),
        config=s.config,
    )
    return RenderResult(tuple(results))


def stitch(compiled: CompiledStoryboard, *, on_event: OnEvent = ignore) -> StitchResult:
    """Join the rendered shots into the edit (slates for missing ones with allow_missing);
    a warning event names renders older than the storyboard (``build`` renders them first)."""
    stale = [s.shot_id for s in status(compiled) if s.state == "stale"]
    if stale:
        on_event(
            Event(
                "warning",
                message="stitching renders older than the storyboard: "
                f"{', '.join(stale)} (storyboard build renders them again first)",
            )
        )
    return _stitch(compiled, on_event)


def _stitch(compiled: CompiledStoryboard, on_event: OnEvent) -> StitchResult:
    from storyboard.edit.stitch import stitch as stitch_edit

    return stitch_edit(
        compiled.board,
        compiled.settings.writable().root,
        allow_missing=compiled.options.allow_missing,
        on_event=legacy(on_event),
    )


def status(compiled: CompiledStoryboard, *, on_event: OnEvent = ignore) -> list[ShotState]:
    """Each shot: rendered, stale, missing or failed."""
    from storyboard.render.stage import shot_states

    return shot_states(
        compiled.board,
        compiled.prompts,
        compiled.settings.backend_name,
        compiled.settings.folder.root,
    )


def estimate(compiled: CompiledStoryboard) -> Estimate:
    """Seconds, cost and expected wait of the chosen shots; needs no API key."""
    from storyboard.render.estimate import estimate as estimate_shots

    s = compiled.settings
    return estimate_shots(
        compiled.board,
        compiled.prompts,
        s.backend_name,
        s.folder.root,
        s.jobs,
        compiled.options.shots or None,
    )


def takes(compiled: CompiledStoryboard) -> list[Take]:
    """The chosen shots' takes in storyboard and take order (the circled one even beyond
    ``takes``)."""
    from storyboard.render.takes import shot_takes

    found = shot_takes(
        compiled.board,
        compiled.prompts,
        compiled.settings.backend_name,
        compiled.settings.folder.root,
    )
    return [t for c in compiled.chosen for t in found[c.shot.id]]


def plan(compiled: CompiledStoryboard) -> Plan:
    """The edit as data: shots in edit order, record and source in/out, transitions, markers."""
    from storyboard.edit.plan import build_plan
    from storyboard.manifest import load_manifest

    root = compiled.settings.folder.root
    return build_plan(compiled.board, load_manifest(root), root)


def export(compiled: CompiledStoryboard, fmt: str, dest: Path | None = None) -> ExportResult:
    """The edit for an editing room; ``dest`` defaults to ``<stem><suffix>`` in the render
    folder."""
    from storyboard.edit.export import FORMATS, export_plan

    folder = compiled.settings.folder
    if dest is None:
        dest = compiled.settings.writable().root / f"{compiled.board.stem}{FORMATS[fmt].suffix}"
    if _not_an_export(dest, compiled.board, folder):
        raise UsageError(
            f"--out {dest}: name a new file for the export (not a folder, the storyboard, a "
            "render, the edit or the manifest)"
        )
    return export_plan(plan(compiled), fmt, dest)


_OWNED_SUFFIXES = (".mp4", ".json", ".journal", ".yaml", ".yml", ".lock")


def _not_an_export(dest: Path, board: Storyboard, folder: RenderDir) -> bool:
    """Whether writing an export to ``dest`` would overwrite something that is not one: a
    folder, the storyboard, or a file storyboard keeps (renders, the edit, the manifest)."""
    if dest.is_dir() or dest.resolve() == board.path.resolve():
        return True
    if dest.suffix.lower() in _OWNED_SUFFIXES and dest.exists():
        return True
    kept = (folder.shots, folder.takes, folder.jobs, folder.root / "slates")
    return dest.resolve().parent in {k.resolve() for k in kept}


def shotlist(compiled: CompiledStoryboard, fmt: str = "md") -> str:
    """The shot list as ``md``, ``csv`` or ``html`` (``shotlist_record`` is its data)."""
    from storyboard.review.shotlist import render_shotlist

    return render_shotlist(compiled.board, fmt, compiled.settings.folder.root)


def shotlist_record(compiled: CompiledStoryboard) -> dict[str, object]:
    from storyboard.review.shotlist import shotlist_record as record

    return record(compiled.board, compiled.settings.folder.root)


def review(compiled: CompiledStoryboard, dest: Path | None = None) -> ReviewPage:
    """The static review page, written to ``dest`` (default: ``review/`` in the render
    folder)."""
    from storyboard.review.page import write_review

    s = compiled.settings
    return write_review(
        compiled.board,
        compiled.prompts,
        s.backend_name,
        s.folder.root,
        dest or s.writable().root / "review",
    )


def contact_sheet(
    compiled: CompiledStoryboard, fmt: str = "png", dest: Path | None = None
) -> ContactSheet:
    """Key frames of every shot's circled take in a grid, as ``png`` or ``pdf``."""
    from storyboard.review.contact_sheet import write_contact_sheet

    s = compiled.settings
    dest = dest or s.writable().root / f"{compiled.board.stem}-contact.{fmt}"
    return write_contact_sheet(
        compiled.board, compiled.prompts, s.backend_name, s.folder.root, dest, fmt
    )


def orphans(compiled: CompiledStoryboard) -> Orphans:
    """Takes and shot files that no shot refers to, under the storyboard's own render
    settings, any of its targets, or this run's ``backend``/``target``."""
    from storyboard.render.clean import find_orphans

    boards = [compiled.board]
    options = compiled.options
    if options.target or options.backend:
        plain = Options(allow_outside_paths=options.allow_outside_paths, takes=options.takes)
        boards.append(load(compiled.board.path, plain)[0])
    return find_orphans(boards, compiled.prompts, compiled.settings.folder.root)


def clean(compiled: CompiledStoryboard, found: Orphans | None = None) -> Orphans:
    """Remove what ``orphans`` finds (or ``found``); returns what was removed."""
    from storyboard.render.clean import clean as remove

    found = orphans(compiled) if found is None else found
    remove(found, compiled.settings.writable().root)
    return found


def check_budget(compiled: CompiledStoryboard) -> None:
    """BudgetExceeded (nothing is sent) when the shots to render cost more than the budget."""
    budget = compiled.options.budget
    if budget is None:
        return
    plan = estimate(compiled)
    cost = (
        plan.cost
        if not compiled.options.force
        else sum(
            (s.rendered_seconds * s.price_per_second)
            if s.price_per_second is not None
            else math.inf
            for s in plan.shots
        )
    )
    if cost is None or cost > budget:
        shown = (
            "an unknown amount (no price for this model: set render.capabilities.price_per_second)"
            if cost is None or math.isinf(cost)
            else f"${cost:.2f}"
        )
        raise BudgetExceeded(
            f"the shots to render would cost {shown}, over the budget of "
            f"${budget:.2f}; nothing was sent"
        )


# ---- settings --------------------------------------------------------------------------------


def resolve(board: Storyboard, options: Options) -> Settings:
    """The backend, render folder, jobs and backend configuration for this storyboard."""
    from storyboard.render.registry import load_backend

    name = options.backend or board.render.backend
    backend = load_backend(name)
    jobs, notes = _jobs(options.jobs, backend)
    config = BackendConfig(
        render=board.render,
        base_url=options.base_url,
        allow_insecure_http=options.allow_insecure_http,
        env=dict(os.environ if options.env is None else options.env),
    )
    try:
        folder, problem = render_dir(board, options.out), None
    except UsageError as exc:
        if options.out is not None:
            raise
        folder = RenderDir(default_out_dir(board), board.stem, board.render.target)
        problem = str(exc)
    return Settings(name, backend, folder, jobs, config, tuple(notes), problem)


def render_dir(board: Storyboard, out: Path | None) -> RenderDir:
    """``out`` or ``renders/<stem>/`` beside the storyboard; UsageError when unusable."""
    if out is None:
        if board.stem in ("", ".", "..") or board.stem.startswith("."):
            raise UsageError(
                f"{board.path}: cannot name a render folder after this file "
                f"(renders/{board.stem}/); rename it or pass --out DIR"
            )
        return RenderDir(default_out_dir(board), board.stem, board.render.target)
    if not str(out):
        raise UsageError("--out is empty; name a folder")
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out {out}: is a file, not a folder; name a folder (it is created when missing)"
        )
    return RenderDir(out, board.stem, board.render.target)


def _jobs(wanted: int | None, backend: type[Backend]) -> tuple[int, list[str]]:
    cores = os.cpu_count() or 1
    hosted = backend.kind == "hosted"
    if wanted is None:
        return (HOSTED_JOBS if hosted else cores), []
    cap = MAX_HOSTED_JOBS if hosted else MAX_JOBS_PER_CORE * cores
    if wanted <= cap:
        return wanted, []
    return cap, [f"--jobs {wanted} is more than this machine can use; using {cap}"]


def check_backend_name(name: str | None) -> None:
    """UsageError when a backend asked for by name is not installed."""
    from storyboard.render.registry import load_backend

    if name is not None:
        try:
            load_backend(name)
        except BackendNotFound as exc:
            raise UsageError(exc.message) from None


def _with_takes(board: Storyboard, count: int | None) -> Storyboard:
    """The board with ``count`` takes of every shot; a circled take beyond it is a usage
    error."""
    from dataclasses import replace

    if count is None:
        return board
    beyond = [s.id for s in board.shots if s.circle > count]
    if beyond:
        raise UsageError(
            f"--takes {count} leaves out the circled take of {', '.join(beyond)}; "
            "circle another take or ask for more"
        )
    return replace(board, shots=tuple(replace(s, takes=count) for s in board.shots))


def _check_shots(board: Storyboard, wanted: Sequence[str]) -> None:
    from storyboard.format.schema import did_you_mean

    ids = [s.id for s in board.shots]
    for shot_id in wanted:
        if shot_id not in ids:
            raise UsageError(f"no shot '{shot_id}' in {board.path}{did_you_mean(shot_id, ids)}")
