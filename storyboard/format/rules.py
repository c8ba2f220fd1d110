"""The rules no JSON Schema can express: one small function per rule, each yielding Problems.

Every rule receives the resolved Storyboard and a RuleContext; rules never raise on bad input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.format.model import Problem, Shot, Storyboard
from storyboard.format.schema import did_you_mean
from storyboard.media import audio_problem, image_problem

__all__ = ["RULES", "RuleContext", "check_rules"]

_EPS = 1e-6
_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,7}")
MAX_NAME_BYTES = 255  # one part of a path, as file systems count it
MAX_FRAME_SIDE = 8192


@dataclass
class RuleContext:
    allow_outside_paths: bool = False
    _file_checks: dict[tuple[Path, str], str | None] = field(default_factory=dict)

    def file_problem(self, path: Path, kind: str, folder: Path) -> str | None:
        """Why ``path`` is not a usable file of ``kind`` ('image' or 'audio'), else None."""
        key = (path, kind)
        if key not in self._file_checks:
            self._file_checks[key] = _file_problem(path, kind, folder, self.allow_outside_paths)
        return self._file_checks[key]


Rule = Callable[[Storyboard, RuleContext], Iterable[Problem]]


def check_rules(board: Storyboard, ctx: RuleContext) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(board, ctx)]


def unique_ids(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    first: dict[str, Shot] = {}
    for shot in board.shots:
        if shot.id in first:
            yield Problem(
                shot.where("id"),
                f"shot id '{shot.id}' is already used by shot "
                f"{first[shot.id].number}; ids name the render files, so make it unique",
            )
        first.setdefault(shot.id, shot)


def unique_numbers(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    first: dict[str, Shot] = {}
    for shot in board.shots:
        here = shot.where("number") if "number" in shot.origin else shot.where("id")
        if not _NUMBER.fullmatch(shot.number):
            yield Problem(
                here,
                f"shot number {shot.number!r}: use letters, digits, '.', '-' or "
                "'_', at most 8 characters (it names the EDL reel)",
            )
        elif shot.number in first:
            yield Problem(
                here,
                f"shot number {shot.number} is already used by shot "
                f"'{first[shot.number].id}'; give this one another number "
                f"(e.g. {shot.number}A for an insert)",
            )
        first.setdefault(shot.number, shot)


def circle_taken(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    for shot in board.shots:
        if shot.circle > shot.takes:
            yield Problem(
                shot.where("circle"),
                f"circle: {shot.circle} but the shot has "
                f"{shot.takes} take(s); raise takes to {shot.circle} or circle another",
            )


def action_present(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    for shot in board.shots:
        if not shot.action and not shot.source:
            yield Problem(
                shot.where("id"),
                f"shot '{shot.id}' has no action: say what happens "
                "(action: ...) so the prompt has more than camera moves",
                "warning",
            )


def beats_fit(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    for shot in board.shots:
        for i, beat in enumerate(shot.beats):
            if beat.end > shot.seconds + _EPS:
                total = shot.beats[-1].end
                yield Problem(
                    shot.where("beats", i),
                    f"shot '{shot.id}': beats add up to "
                    f"{total:g} s, longer than the shot's {shot.seconds:g} s; shorten "
                    f"the beats or raise seconds to at least {total:g}",
                )
                break


def cue_times(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    for shot in board.shots:
        cues = [("sfx", i, c.at) for i, c in enumerate(shot.audio.sfx)]
        cues += [("dialogue", i, d.at) for i, d in enumerate(shot.audio.dialogue)]
        for kind, i, at in cues:
            if at >= shot.seconds - _EPS:
                yield Problem(
                    shot.where("audio", kind, i, "at"),
                    f"shot '{shot.id}': {kind} at "
                    f"{at:g} s falls outside the shot (0–{shot.seconds:g} s)",
                )


def cast_known(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    names = sorted(board.cast)
    for shot in board.shots:
        for i, name in enumerate(shot.cast):
            if name not in board.cast:
                hint = did_you_mean(name, names) or (
                    f"; known: {', '.join(names)}" if names else "; add it under cast:"
                )
                yield Problem(
                    shot.where("cast", i), f"shot '{shot.id}': unknown cast name '{name}'{hint}"
                )


def derived_sources(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    index: dict[str, int] = {}
    for shot in board.shots:
        index.setdefault(shot.id, shot.index)
    for shot in board.shots:
        if shot.remix_of is None and shot.edit:
            yield Problem(
                shot.where("edit"),
                f"shot '{shot.id}': edit: needs remix_of: naming the shot to edit",
            )
        if shot.remix_of and shot.extend_of:
            yield Problem(
                shot.where("extend_of"),
                f"shot '{shot.id}': a shot is either a remix "
                "or an extension; keep remix_of or extend_of",
            )
        for key in ("remix_of", "extend_of"):
            name = getattr(shot, key)
            if name is None:
                continue
            source = index.get(name)
            if source is None:
                hint = did_you_mean(name, list(index))
                yield Problem(
                    shot.where(key), f"shot '{shot.id}': {key} names no shot: '{name}'{hint}"
                )
            elif source >= shot.index:
                yield Problem(
                    shot.where(key),
                    f"shot '{shot.id}': {key} must name an "
                    f"earlier shot; '{name}' is shot {source + 1}",
                )
            elif key == "extend_of" and board.shots[source].extend_of:
                yield Problem(
                    shot.where(key),
                    f"shot '{shot.id}': '{name}' is itself an "
                    "extension, and extending an extension is not supported; extend "
                    f"'{board.shots[source].extend_of}' instead, or make '{name}' an "
                    "ordinary shot",
                )
        if shot.remix_of and not shot.edit:
            yield Problem(
                shot.where("remix_of"),
                f"shot '{shot.id}': a remix needs edit: saying what to change",
            )


def transitions_fit(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    shots = board.shots
    for shot, following in zip(shots, (*shots[1:], None), strict=True):
        t = shot.transition
        if following is None:
            if t.type == "dissolve":
                yield Problem(
                    shot.where("transition"),
                    f"shot '{shot.id}': the last shot has "
                    "nothing to dissolve into; use fade-black or fade-white to end",
                    "warning",
                )
            limit = shot.seconds
        else:
            limit = min(shot.seconds, following.seconds)
        if t.seconds > limit + _EPS:
            yield Problem(
                shot.where("transition"),
                f"shot '{shot.id}': the {t.seconds:g} s "
                f"{t.type} is longer than the shot it joins ({limit:g} s)",
            )
    for before, shot in zip(shots, shots[1:], strict=False):
        into = before.transition.seconds if before.transition.type == "dissolve" else 0.0
        out = shot.transition.seconds if shot.transition.type == "dissolve" else 0.0
        if into and out and into + out > shot.seconds + _EPS:
            yield Problem(
                shot.where("transition"),
                f"shot '{shot.id}': the dissolves into and "
                f"out of it ({into:g} s + {out:g} s) are longer than the shot "
                f"({shot.seconds:g} s)",
            )


def files_usable(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    for shot in board.shots:
        for key, path, kind in (
            ("reference", shot.reference, "image"),
            ("end_frame", shot.end_frame, "image"),
            ("audio", shot.audio.file, "audio"),
        ):
            problem = path and ctx.file_problem(path, kind, board.folder)
            if problem:
                where = shot.where("audio", "file") if key == "audio" else shot.where(key)
                yield Problem(where, f"shot '{shot.id}': {problem}")
    for name, member in board.cast.items():
        problem = member.reference and ctx.file_problem(member.reference, "image", board.folder)
        if problem:
            yield Problem(("cast", name, "reference"), f"cast '{name}': {problem}")
    if board.music and board.music.file:
        problem = ctx.file_problem(board.music.file, "audio", board.folder)
        if problem:
            yield Problem(("music", "file"), f"music: {problem}")


def frame_size_sane(board: Storyboard, ctx: RuleContext) -> Iterator[Problem]:
    out = board.output
    if max(out.width, out.height) > MAX_FRAME_SIDE:
        yield Problem(
            ("output", "size"),
            f"output.size: {out.size} is larger than 8K; use at "
            f"most {MAX_FRAME_SIDE} pixels on each side",
        )


RULES: tuple[Rule, ...] = (
    unique_ids, unique_numbers, action_present, beats_fit, cue_times, cast_known, derived_sources,
    transitions_fit, circle_taken, files_usable, frame_size_sane,
)  # fmt: skip


def _file_problem(path: Path, kind: str, folder: Path, allow_outside: bool) -> str | None:
    shown = _shown(path, folder)
    long_part = next((p for p in path.parts if len(os.fsencode(p)) > MAX_NAME_BYTES), None)
    if long_part is not None:
        return (
            f"the file or folder name '{long_part[:24]}...' is longer than {MAX_NAME_BYTES} "
            "bytes, more than a file system allows; shorten it"
        )
    try:
        if not allow_outside and not _inside(path, folder):
            return (
                f"{shown} lies outside the storyboard's folder; move it inside, or pass "
                "--allow-outside-paths"
            )
        if not path.is_file():
            return f"{kind} file not found: {shown} (paths are relative to the storyboard)"
        problem = image_problem(path) if kind == "image" else _audio_problem(path)
    except (OSError, ValueError) as exc:
        return f"cannot read {shown}: {getattr(exc, 'strerror', None) or exc}"
    return f"{shown} {problem}" if problem else None


_AUDIO_MAGIC = (b"RIFF", b"ID3", b"fLaC", b"OggS", b"FORM", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2",
                b"\xff\xf1", b"\xff\xf9")  # fmt: skip


def _audio_problem(path: Path) -> str | None:
    with path.open("rb") as f:
        head = f.read(12)
    if not (head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp"):  # ftyp: MP4/M4A
        return "does not look like an audio file (WAV, MP3, FLAC, OGG, AIFF or M4A)"
    return audio_problem(path)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _shown(path: Path, folder: Path) -> str:
    """The path as the user wrote it in the storyboard (relative to its folder)."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)
