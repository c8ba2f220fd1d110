"""Shot → ShotPrompt: the five-part prompt, rendered from Jinja2 templates, deterministically.

The package's templates live in ``storyboard/templates``; ``--templates DIR`` overrides any of
them by name. Every template, ours and the user's, runs sandboxed with StrictUndefined.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from storyboard.errors import CompileError, Location
from storyboard.format.model import Beat, Shot, Storyboard

__all__ = ["PART_NAMES", "ShotPrompt", "compile_storyboard", "compile_shot", "make_environment"]

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


def make_environment(templates: Path | None = None) -> SandboxedEnvironment:
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("storyboard", "templates")]
    if templates is not None:
        loaders.insert(0, jinja2.FileSystemLoader(templates))
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.do"],
        autoescape=False,  # plain text for a model, not HTML
        keep_trailing_newline=False,
    )
    env.filters.update(
        secs=secs, sentence=sentence, shot_type=shot_type, verb=verb, noun=noun,
        and_join=and_join, lower_first=lower_first, beat_phrase=beat_phrase, a_an=a_an,
    )  # fmt: skip
    return env


def compile_storyboard(board: Storyboard, templates: Path | None = None) -> list[ShotPrompt]:
    env = make_environment(templates)
    return [compile_shot(board, shot, env) for shot in board.shots]


def compile_shot(board: Storyboard, shot: Shot, env: SandboxedEnvironment) -> ShotPrompt:
    context = {"shot": shot, "board": board, "cast": [board.cast[n] for n in shot.cast
                                                      if n in board.cast]}
    parts = {name: _render(env, f"{name}.j2", context) for name in (*PART_NAMES, *_EXTRA_PARTS)}
    text = _render(env, "prompt.j2", {**context, "parts": parts}, flatten=False)
    return ShotPrompt(shot_id=shot.id, text=text, **parts)


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


def _render(env: SandboxedEnvironment, name: str, context: dict[str, Any], flatten: bool = True
            ) -> str:
    try:
        raw = env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = Location(exc.filename or name, exc.lineno or 0, 1)
        raise CompileError(f"template syntax error: {exc.message}", where) from None
    except jinja2.TemplateNotFound as exc:
        raise CompileError(f"template not found: {exc.name}") from None
    except Exception as exc:  # anything a user's template can raise while rendering
        raise CompileError(f"template error: {exc}", _template_location(exc, name)) from None
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
    words = {"pov": "POV shot", "two-shot": "Two-shot",
             "over-the-shoulder": "Over-the-shoulder shot"}
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


def beat_phrase(beat: Beat) -> str:
    size = "subtle " if beat.amount <= 0.25 else "big " if beat.amount >= 0.75 else ""
    ease = {"linear": " at constant speed", "ease-in": " easing in", "ease-out": " easing out"}
    if beat.camera == "static":
        return f"a {secs(beat.seconds)} hold"
    return f"a {size}{secs(beat.seconds)} {noun(beat.camera)}{ease.get(beat.ease, '')}"


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


