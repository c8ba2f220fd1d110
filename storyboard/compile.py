"""Shot → ShotPrompt: the five-part prompt, rendered from Jinja2 templates, deterministically.

The package's templates live in ``storyboard/templates``; ``--templates DIR`` overrides any of
them by name. Every template, ours and the user's, runs in ``storyboard.sandbox`` with
StrictUndefined and sees only ``template_view``: plain data, never a path or an object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from storyboard.errors import CompileError, Location, UsageError
from storyboard.format.model import Shot, Storyboard
from storyboard.sandbox import FolderLoader, TemplateSandbox

__all__ = [
    "PART_NAMES",
    "ShotPrompt",
    "compile_storyboard",
    "compile_shot",
    "make_environment",
    "template_view",
]

PART_NAMES = ("framing", "action", "timing", "lighting", "audio")
_EXTRA_PARTS = ("edit", "style", "constraints")


@dataclass(frozen=True)
class ShotPrompt:
    """The compiled prompt of one shot: its five parts, the extras, and the whole text."""

    shot_id: str
    framing: str
    action: str
    timing: str
    lighting: str
    audio: str
    style: str
    constraints: str
    edit: str
    text: str

    def parts(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in PART_NAMES}


def make_environment(
    templates: Path | None = None,
    board_folder: Path | None = None,
    *,
    allow_outside_paths: bool = False,
) -> TemplateSandbox:
    """The sandbox with our templates, overridden by name from ``templates`` when given.

    ``templates`` must be a folder (UsageError otherwise) inside ``board_folder`` unless
    ``allow_outside_paths``: a storyboard someone sends must not point at templates elsewhere.
    """
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("storyboard", "templates")]
    user: FolderLoader | None = None
    if templates is not None:
        _check_templates_folder(templates, board_folder, allow_outside_paths)
        user = FolderLoader(templates)
        loaders.insert(0, user)
    filters: dict[str, Callable[..., Any]] = dict(
        secs=secs, sentence=sentence, shot_type=shot_type, verb=verb, noun=noun,
        and_join=and_join, lower_first=lower_first, beat_phrase=beat_phrase, a_an=a_an,
    )  # fmt: skip
    return TemplateSandbox(
        jinja2.ChoiceLoader(loaders), filters, untrusted=user.folder if user else None
    )


def _check_templates_folder(folder: Path, board_folder: Path | None, allow_outside: bool) -> None:
    if not folder.is_dir():
        raise UsageError(f"--templates {folder}: no such folder")
    if (
        board_folder is not None
        and not allow_outside
        and not folder.resolve().is_relative_to(board_folder.resolve())
    ):
        raise UsageError(
            f"--templates {folder} lies outside the storyboard's folder "
            f"({board_folder.resolve()}); move it inside, or pass "
            "--allow-outside-paths"
        )


def compile_storyboard(
    board: Storyboard, templates: Path | None = None, *, allow_outside_paths: bool = False
) -> list[ShotPrompt]:
    env = make_environment(templates, board.folder, allow_outside_paths=allow_outside_paths)
    return [compile_shot(board, shot, env) for shot in board.shots]


def compile_shot(board: Storyboard, shot: Shot, env: TemplateSandbox) -> ShotPrompt:
    context = template_view(board, shot)
    parts = {name: _render(env, f"{name}.j2", context) for name in (*PART_NAMES, *_EXTRA_PARTS)}
    text = _render(env, "prompt.j2", {**context, "parts": parts}, flatten=False)
    return ShotPrompt(shot_id=shot.id, text=text, **parts)


def template_view(board: Storyboard, shot: Shot) -> dict[str, Any]:
    """What a template sees: the shot, the board and the shot's cast as plain data only.

    Strings, numbers, booleans, None, lists and dicts: nothing with methods a template could
    call, no paths (a reference is shown relative to the storyboard, as the user wrote it).
    """
    cast = [
        {"name": m.name, "description": m.description}
        for m in (board.cast[n] for n in shot.cast if n in board.cast)
    ]
    return {"shot": _shot_view(board, shot), "board": _board_view(board), "cast": cast}


def _shot_view(board: Storyboard, shot: Shot) -> dict[str, Any]:
    view = _plain(shot, skip=("origin", "index", "reference", "end_frame", "audio", "beats"))
    view["number"] = shot.number
    view["reference"] = _relative(shot.reference, board.folder)
    view["end_frame"] = _relative(shot.end_frame, board.folder)
    view["beats"] = [{**_plain(b), "end": b.end} for b in shot.beats]
    view["audio"] = {
        **_plain(shot.audio, skip=("file",)),
        "file": _relative(shot.audio.file, board.folder),
    }
    return view


def _board_view(board: Storyboard) -> dict[str, Any]:
    out = board.output
    return {
        "title": board.title,
        "description": board.description,
        "file": board.path.name,
        "output": {"width": out.width, "height": out.height, "fps": out.fps, "size": out.size},
        "render": {"backend": board.render.backend, "model": board.render.model},
        "music": {"cue": board.music.cue} if board.music else None,
    }


def _plain(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A frozen dataclass as a dict of plain values (nested dataclasses and tuples too)."""
    return {f.name: _value(getattr(obj, f.name)) for f in fields(obj) if f.name not in skip}


def _value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(value)
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"no plain form for a template: {type(value).__name__}")


def _relative(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def prompt_record(
    board: Storyboard, shot: Shot, prompt: ShotPrompt, backend: str
) -> dict[str, Any]:
    """The machine-readable form of a compiled shot (``compile --format json``)."""
    ref = shot.reference
    return {
        "id": shot.id,
        "prompt": prompt.text,
        "parts": prompt.parts(),
        "extras": {k: getattr(prompt, k) for k in _EXTRA_PARTS},
        "seconds": shot.seconds,
        "size": board.output.size,
        "fps": board.output.fps,
        "model": board.render.model,
        "backend": backend,
        "reference": ref.relative_to(board.folder).as_posix() if ref else None,
        "reference_sha256": hashlib.sha256(ref.read_bytes()).hexdigest() if ref else None,
    }


def _render(env: TemplateSandbox, name: str, context: dict[str, Any], flatten: bool = True) -> str:
    filename = name
    try:
        template = env.get_template(name)
        filename = template.filename or name
        raw = env.render(template, context)
    except jinja2.TemplateSyntaxError as exc:
        where = Location(exc.filename or name, exc.lineno or 0, 1)
        raise CompileError(f"template syntax error: {exc.message}", where) from None
    except jinja2.TemplateNotFound as exc:
        raise CompileError(f"template not found: {exc.name}") from None
    except Exception as exc:  # anything a user's template can raise while rendering
        raise CompileError(f"template error: {exc}", _template_location(exc, filename)) from None
    if flatten:
        return " ".join(raw.split())
    return "\n".join(line.strip() for line in raw.strip().splitlines() if line.strip())


def _template_location(exc: BaseException, name: str) -> Location:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    tb: TracebackType | None = exc.__traceback__
    found = Location(name)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = Location(filename, tb.tb_lineno, 1)
        tb = tb.tb_next
    return found


# ---- filters the templates use ------------------------------------------------------------

_VERBS = {
    "pan": "pans", "tilt": "tilts", "dolly": "dollies", "truck": "trucks",
    "pedestal": "pedestals", "crane": "cranes", "zoom": "zooms", "orbit": "orbits",
}  # fmt: skip
_NOUNS = {"handheld": "handheld drift", "rack-focus": "rack focus", "static": "hold"}


def secs(value: float) -> str:
    return f"{round(value, 3):g} s"


def sentence(text: str) -> str:
    text = " ".join(str(text).split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?\"'" else text + "."


def lower_first(text: str) -> str:
    text = str(text).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def shot_type(value: str) -> str:
    words = {
        "pov": "POV shot",
        "two-shot": "Two-shot",
        "over-the-shoulder": "Over-the-shoulder shot",
    }
    if value in words:
        return words[value]
    text = value.replace("-", " ").replace("close up", "close-up")
    text = text[0].upper() + text[1:]
    return text if text.endswith(("up", "shot", "insert")) else f"{text} shot"


def noun(camera: str) -> str:
    return _NOUNS.get(camera, camera.replace("-", " "))


def verb(camera: str) -> str:
    if camera == "handheld":
        return "drifts handheld"
    if camera == "rack-focus":
        return "racks focus"
    head, _, direction = camera.partition("-")
    return f"{_VERBS.get(head, head)} {direction}".strip()


def beat_phrase(beat: Mapping[str, Any]) -> str:
    amount, camera, seconds = beat["amount"], beat["camera"], beat["seconds"]
    size = "subtle " if amount <= 0.25 else "big " if amount >= 0.75 else ""
    ease = {"linear": " at constant speed", "ease-in": " easing in", "ease-out": " easing out"}
    if camera == "static":
        return f"a {secs(seconds)} hold"
    return f"a {size}{secs(seconds)} {noun(camera)}{ease.get(beat['ease'], '')}"


def a_an(phrase: str) -> str:
    """'85mm' → 'an 85mm', 'low angle' → 'a low angle' (by sound: 8, 11 and 18 take 'an')."""
    text = str(phrase)
    vowel = text[:1].lower() in "aeiou8" or text.startswith(("11", "18"))
    return f"{'an' if vowel else 'a'} {text}"


def and_join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
