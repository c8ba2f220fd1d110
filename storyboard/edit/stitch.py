"""Rendered shots → the edit: renders/<stem>/<stem>.mp4 (H.264 + AAC, +faststart).

Shot bodies are copied as encoded (every render shares one encoding with a keyframe each
second); moviepy composites only the frames around transitions, into one file of gaps; the
sound is mixed in one streaming pass; one ffmpeg mux joins the pieces with the concat demuxer.
A shot file in other colours (a render from before the encoding was BT.709) has its picture
converted first, so the edit has one set of colour tags and its pixels match them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from storyboard.edit.layout import Copy, EditPlan, Gap
from storyboard.edit.plan import build_plan, plan_record
from storyboard.errors import MediaError, StitchError
from storyboard.format.model import Audio, Output, Shot, Storyboard
from storyboard.manifest import file_sha256, known_file_sha256, load_manifest, save_manifest
from storyboard.media import (
    AUDIO_ARGS,
    AUDIO_RATE,
    BT709,
    MOVFLAGS,
    Colour,
    colour_filter,
    colour_of,
    ffmpeg_exe,
    probe,
    untagged_colour,
    video_args,
)
from storyboard.scratch import remove_dead_scratch, scratch_dir

__all__ = ["StitchResult", "stitch", "edit_path"]

Event = Callable[[str, str, dict[str, Any]], None]
# 2: starts at 0 exactly, stereo when a source is; 3: BT.709 with a colr box. Older edits are
# made again.
STITCH_VERSION = 3


@dataclass(frozen=True)
class StitchResult:
    path: Path
    status: str  # stitched | up-to-date
    seconds: float
    slates: tuple[str, ...] = ()


def edit_path(board: Storyboard, out_dir: Path) -> Path:
    target = board.render.target  # each render target's edit is its own file
    return out_dir / (f"{board.stem}.{target}.mp4" if target else f"{board.stem}.mp4")


def stitch(
    board: Storyboard, out_dir: Path, *, allow_missing: bool = False, on_event: Event | None = None
) -> StitchResult:
    """Join the rendered shots into the edit, or report it up to date."""
    emit = on_event or (lambda kind, name, info: None)
    manifest = load_manifest(out_dir)
    sha = known_file_sha256  # each shot file is read once (status before a stitch reads it too)
    files, slates = _shot_files(board, out_dir, manifest, allow_missing, sha)
    edit = build_plan(board, manifest, out_dir)
    plan = edit.layout
    burn = _burns_timecode(board, manifest)
    key = _edit_key(board, files, sha) + ("+timecode" if burn else "")
    dest = edit_path(board, out_dir)
    recorded = manifest.get("edit") or {}
    if (
        recorded.get("key") == key
        and dest.is_file()
        and recorded.get("output_sha256") == file_sha256(dest)
    ):
        return StitchResult(dest, "up-to-date", plan.seconds, tuple(slates))
    emit("stitch", dest.name, {"seconds": plan.seconds})
    remove_dead_scratch(out_dir, "stitch")
    with scratch_dir(out_dir, "stitch") as tmp:
        partial = Path(tmp) / dest.name
        _assemble(board, plan, files, Path(tmp), partial)
        if burn:  # the edit's timecode: it depends on the shot's place, so not in its render
            from storyboard.render.previs.burnin import burn_edit_timecode

            stitched, partial = partial, Path(tmp) / f"timecode-{dest.name}"
            burn_edit_timecode(
                stitched,
                partial,
                board.output.width,
                board.output.height,
                board.output.fps,
                plan.frames,
            )
        _verify(partial, plan, board)
        os.replace(partial, dest)
    manifest["edit"] = {
        "key": key,
        "output": dest.name,
        "output_sha256": file_sha256(dest),
        "frames": plan.frames,
        "seconds": round(plan.seconds, 6),
        "slates": slates,
        "plan": plan_record(edit),
    }
    save_manifest(out_dir, manifest)
    return StitchResult(dest, "stitched", plan.seconds, tuple(slates))


def _burns_timecode(board: Storyboard, manifest: dict[str, Any]) -> bool:
    """A previs edit with overlays gets the edit's timecode burned in (hosted renders never)."""
    backends = {manifest["shots"].get(s.id, {}).get("backend", "previs") for s in board.shots}
    return board.render.overlays and backends <= {"previs"}


def _shot_files(
    board: Storyboard,
    out_dir: Path,
    manifest: dict[str, Any],
    allow_missing: bool,
    sha: Callable[[Path], str],
) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[Shot] = []
    for shot in board.shots:
        entry = manifest["shots"].get(shot.id, {})
        path = out_dir / "shots" / f"{shot.id}.mp4"
        ok = (
            entry.get("status") == "rendered"
            and path.is_file()
            and entry.get("output_sha256") == sha(path)
            and abs(entry.get("seconds", -1) - shot.seconds) < 1e-9
        )
        if not ok:
            missing.append(shot)
        files.append(path)
    if missing and not allow_missing:
        raise StitchError(
            f"cannot stitch: shot(s) not rendered: "
            f"{', '.join(s.id for s in missing)}; run storyboard render first, or "
            "pass --allow-missing to put a slate in their place"
        )
    for shot in missing:
        files[shot.index] = _slate(board, shot, out_dir)
    return files, [s.id for s in missing]


def _slate(board: Storyboard, shot: Shot, out_dir: Path) -> Path:
    """A titled card of the shot's length standing in for a missing render (cached)."""
    from storyboard.compile import ShotPrompt
    from storyboard.render.base import RenderJob
    from storyboard.render.previs import PrevisBackend

    card = replace(
        shot,
        reference=None,
        beats=(),
        audio=Audio(),
        remix_of=None,
        edit="",
        action=f"MISSING SHOT: {shot.id}",
        framing=replace(shot.framing, type=""),
    )
    key = hashlib.sha256(
        json.dumps([card.id, card.seconds, board.output.size, board.output.fps, "bt709"]).encode()
    ).hexdigest()[:16]
    path = out_dir / "slates" / f"{shot.id}-{key}.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial.mp4")
        prompt = ShotPrompt(shot.id, "", "", "", "", "", "", "", "", "")
        job = RenderJob(card, prompt, board.output, None, key, overlays=True)
        PrevisBackend().render(job, partial)
        os.replace(partial, path)
    return path


def _edit_key(board: Storyboard, files: list[Path], sha: Callable[[Path], str]) -> str:
    material = {
        "shots": [
            [s.id, s.seconds, s.transition.type, s.transition.seconds, sha(f)]
            for s, f in zip(board.shots, files, strict=True)
        ],
        "music": None
        if board.music is None
        else [board.music.volume, file_sha256(board.music.file) if board.music.file else None],
        "output": [board.output.width, board.output.height, board.output.fps],
        "storyboard": board.sha256,  # written into the file's metadata
        "stitch": STITCH_VERSION,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _assemble(board: Storyboard, plan: EditPlan, files: list[Path], tmp: Path, dest: Path) -> None:
    pictures = _in_edit_colours(files, board.output, tmp)
    gaps = [s for s in plan.segments if isinstance(s, Gap)]
    gap_file = tmp / "gaps.mp4"
    if gaps:
        from storyboard.edit.transitions import render_gaps  # moviepy: imported only when needed

        render_gaps(gaps, plan, pictures, gap_file, board.output.width, board.output.height)
    listing = tmp / "concat.txt"
    listing.write_text(_concat_list(plan, pictures, gap_file), encoding="utf-8")
    _mux(board, plan, files, listing, dest)  # the sound is read from the shot files as they are


def _in_edit_colours(files: list[Path], output: Output, tmp: Path) -> list[Path]:
    """The shot files whose pictures the edit can copy: each one as it is when it is BT.709,
    else its picture converted to BT.709 (video only, the same frames and keyframes)."""
    converted: dict[Path, Path] = {}
    for path in dict.fromkeys(files):
        colour = colour_of(path)
        if colour != BT709:
            converted[path] = tmp / f"bt709-{len(converted)}.mp4"
            _convert_colours(path, converted[path], output, colour)
    return [converted.get(path, path) for path in files]


def _convert_colours(source: Path, dest: Path, output: Output, colour: Colour) -> None:
    assumed = untagged_colour(colour, output.width, output.height)
    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(source),
            "-map",
            "0:v:0",
            "-vf",
            f"{assumed}{colour_filter()}",
            *video_args(output.fps),
            "-an",
            *MOVFLAGS,
            "-f",
            "mp4",
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StitchError(f"cannot convert {source.name} to BT.709: {result.stderr.strip()[-300:]}")


def _concat_list(plan: EditPlan, files: list[Path], gap_file: Path) -> str:
    lines, gap_frame = ["ffconcat version 1.0"], 0
    for segment in plan.segments:
        if isinstance(segment, Copy):
            piece = segment.piece
            lines.append(f"file '{_quote(files[piece.index])}'")
            # always, even at 0: without it the demuxer starts the file at its earliest stream
            # (the AAC priming, 1024 samples before 0) and the edit's video starts 21 ms late
            lines.append(f"inpoint {piece.first / plan.fps:.6f}")
            # always: a file rendered longer than its shot (handles) ends where the shot does
            lines.append(f"outpoint {piece.last / plan.fps:.6f}")
        else:
            lines.append(f"file '{_quote(gap_file)}'")
            if gap_frame:
                lines.append(f"inpoint {gap_frame / plan.fps:.6f}")
            gap_frame += segment.frames
            lines.append(f"outpoint {gap_frame / plan.fps:.6f}")
    return "\n".join(lines) + "\n"


def _quote(path: Path) -> str:
    return str(path.resolve()).replace("'", "'\\''")


def _mux(board: Storyboard, plan: EditPlan, files: list[Path], listing: Path, dest: Path) -> None:
    from storyboard.edit.audiomix import edit_channels, mixed_audio

    channels = edit_channels(files, board.music)
    args = [
        ffmpeg_exe(),
        "-y",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
        "-f",
        "f32le",
        "-ar",
        str(AUDIO_RATE),
        "-ac",
        str(channels),
        "-i",
        "pipe:0",
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        *AUDIO_ARGS,
        "-metadata",
        f"title={board.title}",
        "-metadata",
        f"comment=storyboard sha256 {board.sha256}",
        *MOVFLAGS,
        "-f",
        "mp4",
        str(dest),
    ]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=errors)
        assert process.stdin is not None
        try:
            for chunk in mixed_audio(
                plan, files, board.music, listing.with_name("audio.txt"), channels
            ):
                process.stdin.write(chunk.astype("<f4").tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise StitchError(f"ffmpeg could not write the edit: {message[-400:]}")


def _verify(path: Path, plan: EditPlan, board: Storyboard) -> None:
    try:
        info = probe(path)
    except MediaError as exc:
        raise StitchError(f"the edit is not playable: {exc}") from None
    if abs(info.frames - plan.frames) > 1 or (info.width, info.height) != (
        board.output.width,
        board.output.height,
    ):
        raise StitchError(
            f"the edit came out wrong: {info.frames} frames at "
            f"{info.width}x{info.height}, expected {plan.frames} at "
            f"{board.output.size}"
        )
    if info.colour != BT709:
        raise StitchError(f"the edit came out in other colours than BT.709: {info.colour}")
