"""The edit plan: the edit as data, computed once from the resolved storyboard and its renders.

The stitch, the shot list, the exports (OTIO, EDL, FCP XML) and ``storyboard plan`` all read
this one structure. Every time is a whole number of frames at the storyboard's fps.

A shot's *record* in/out are its cut points on the editor's timeline: a dissolve's cut sits in
its middle (the outgoing shot's last frames and the incoming shot's first are borrowed as
handles); a fade to or from a colour ends the outgoing clip where its fade starts and starts the
incoming clip where its fade ends, with the colour between them. The *extent* is where the
shot's picture is on screen at all (its whole render, transitions included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from storyboard.edit.layout import EditPlan, Span, plan_edit
from storyboard.format.model import Shot, Storyboard
from storyboard.media import keyframe_interval

__all__ = [
    "PLAN_VERSION",
    "MUSIC_FADE_IN",
    "MUSIC_FADE_OUT",
    "Marker",
    "Media",
    "MusicBed",
    "Plan",
    "PlannedShot",
    "TransitionPlan",
    "build_plan",
]

PLAN_VERSION = 1
MUSIC_FADE_IN, MUSIC_FADE_OUT = 0.5, 1.5  # seconds: the bed fades in at the start, out at the end

MediaStatus = Literal["rendered", "failed", "missing"]


@dataclass(frozen=True)
class TransitionPlan:
    """How a shot leads into the next: ``before``/``after`` are the frames on either side of
    the cut (for a dissolve, borrowed from the two shots; for a fade, the colour's two halves)."""

    type: str = "cut"  # cut | dissolve | fade-black | fade-white
    frames: int = 0
    before: int = 0
    after: int = 0

    @property
    def color(self) -> str:
        return self.type.removeprefix("fade-") if self.type.startswith("fade-") else ""


@dataclass(frozen=True)
class Marker:
    kind: Literal["beat", "sfx", "dialogue"]
    name: str  # the beat's camera move, the effect's cue, the line
    frame: int  # in the edit
    source_frame: int  # in the shot's media file
    duration: int = 0  # frames (a beat's length)
    who: str = ""


@dataclass(frozen=True)
class Media:
    """The shot's file and what made it. ``frames`` is the file's length (handles included)."""

    path: Path
    status: MediaStatus
    frames: int
    backend: str = ""
    model: str | None = None
    prompt: str = ""
    render_key: str = ""
    remote_id: str | None = None
    sha256: str | None = None
    take: int = 1  # the circled take
    other_takes: tuple[tuple[int, Path], ...] = ()  # (take number, file) of the shot's others


@dataclass(frozen=True)
class PlannedShot:
    index: int
    id: str
    number: str
    frames: int  # the part of the render the edit uses
    extent_in: int
    extent_out: int
    record_in: int
    record_out: int
    source_in: int
    source_out: int
    transition: TransitionPlan  # out of this shot
    markers: tuple[Marker, ...]
    media: Media
    shot: Shot

    @property
    def head_handle(self) -> int:
        return self.source_in

    @property
    def tail_handle(self) -> int:
        return self.media.frames - self.source_out


@dataclass(frozen=True)
class MusicBed:
    path: Path | None
    cue: str
    volume: float
    fade_in: int  # frames
    fade_out: int


@dataclass(frozen=True)
class Plan:
    version: int
    title: str
    storyboard: Path
    fps: float
    width: int
    height: int
    frames: int
    shots: tuple[PlannedShot, ...]
    music: MusicBed | None
    layout: EditPlan  # which frames the stitch copies and which it composites

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def build_plan(
    board: Storyboard, manifest: dict[str, Any] | None = None, out_dir: Path | None = None
) -> Plan:
    """The plan of ``board``'s edit; ``manifest`` (the render folder's) says what is rendered."""
    fps = board.output.fps
    layout = plan_edit(board.shots, fps, keyframe_interval(fps))
    entries = (manifest or {}).get("shots", {})
    folder = out_dir if out_dir is not None else board.folder / "renders" / board.stem
    shots = tuple(
        _planned(shot, span, layout, _media(shot, entries.get(shot.id) or {}, folder, fps))
        for shot, span in zip(board.shots, layout.spans, strict=True)
    )
    music = None
    if board.music is not None:
        music = MusicBed(
            board.music.file,
            board.music.cue,
            board.music.volume,
            round(MUSIC_FADE_IN * fps),
            round(MUSIC_FADE_OUT * fps),
        )
    return Plan(
        PLAN_VERSION,
        board.title,
        board.path,
        fps,
        board.output.width,
        board.output.height,
        layout.frames,
        shots,
        music,
        layout,
    )


def _planned(shot: Shot, span: Span, layout: EditPlan, media: Media) -> PlannedShot:
    fps = layout.fps
    out = _transition_out(shot, span, layout)
    head = _cut_offset_in(span, layout)
    record_in = span.start + head
    record_out = span.end - (out.after if out.type == "dissolve" else out.before)
    return PlannedShot(
        index=shot.index, id=shot.id, number=str(shot.number), frames=span.frames,
        extent_in=span.start, extent_out=span.end, record_in=record_in, record_out=record_out,
        source_in=head, source_out=head + record_out - record_in, transition=out,
        markers=_markers(shot, span.start, fps), media=media, shot=shot,
    )  # fmt: skip


def _transition_out(shot: Shot, span: Span, layout: EditPlan) -> TransitionPlan:
    kind = shot.transition.type
    if span.dissolve_out:
        n = span.dissolve_out
        return TransitionPlan(kind, n, n // 2, n - n // 2)
    if span.fade_out:
        last = span.index == len(layout.spans) - 1
        after = 0 if last else layout.spans[span.index + 1].fade_in
        return TransitionPlan(kind, span.fade_out + after, span.fade_out, after)
    return TransitionPlan()


def _cut_offset_in(span: Span, layout: EditPlan) -> int:
    """Frames of the shot's render before its cut in: borrowed by the incoming transition."""
    if span.dissolve_in:
        return span.dissolve_in // 2
    return span.fade_in


def _markers(shot: Shot, start: int, fps: float) -> tuple[Marker, ...]:
    def at(seconds: float) -> int:
        return round(seconds * fps)

    markers = [
        Marker("beat", b.camera, start + at(b.start), at(b.start), at(b.seconds))
        for b in shot.beats
    ]
    markers += [Marker("sfx", c.cue, start + at(c.at), at(c.at)) for c in shot.audio.sfx]
    markers += [
        Marker("dialogue", d.line, start + at(d.at), at(d.at), who=d.who)
        for d in shot.audio.dialogue
    ]
    return tuple(sorted(markers, key=lambda m: m.frame))


def _media(shot: Shot, entry: dict[str, Any], out_dir: Path, fps: float) -> Media:
    path = out_dir / "shots" / f"{shot.id}.mp4"
    status: MediaStatus = "missing"
    if entry.get("status") == "rendered" and path.is_file():
        status = "rendered"
    elif entry.get("status") == "failed":
        status = "failed"
    seconds = entry.get("media_seconds") or entry.get("seconds") or shot.seconds
    frames = max(round(float(seconds) * fps), round(shot.seconds * fps), 1)
    circle = int(entry.get("circle", 1))
    others = tuple(
        (int(t["take"]), out_dir / t["output"])
        for t in entry.get("takes") or ()
        if int(t["take"]) != circle and (out_dir / t["output"]).is_file()
    )
    return Media(
        path,
        status,
        frames,
        entry.get("backend") or "",
        entry.get("model"),
        entry.get("prompt") or "",
        entry.get("render_key") or "",
        entry.get("remote_video_id"),
        entry.get("output_sha256"),
        circle,
        others,
    )


def plan_record(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-able data (``storyboard plan --format json``, the manifest's ``edit``)."""
    from storyboard.edit.timecode import frame_rate, is_drop_frame, timecode

    def tc(frame: int) -> dict[str, Any]:
        return {"frame": frame, "timecode": timecode(frame, plan.fps)}

    rate = frame_rate(plan.fps)
    return {
        "plan_version": plan.version,
        "title": plan.title,
        "fps": plan.fps,
        "rate": f"{rate.numerator}/{rate.denominator}",
        "drop_frame": is_drop_frame(plan.fps),
        "size": f"{plan.width}x{plan.height}",
        "frames": plan.frames,
        "duration": tc(plan.frames),
        "shots": [_shot_record(s, tc) for s in plan.shots],
        "music": None if plan.music is None else {
            "file": str(plan.music.path) if plan.music.path else None, "cue": plan.music.cue,
            "volume": plan.music.volume, "fade_in_frames": plan.music.fade_in,
            "fade_out_frames": plan.music.fade_out, "record_in": tc(0),
            "record_out": tc(plan.frames), "loops": True},
    }  # fmt: skip


def _shot_record(s: PlannedShot, tc: Any) -> dict[str, Any]:
    m = s.media
    return {
        "id": s.id, "number": s.number, "position": s.index + 1, "frames": s.frames,
        "record_in": tc(s.record_in), "record_out": tc(s.record_out),
        "source_in": tc(s.source_in), "source_out": tc(s.source_out),
        "extent_in": tc(s.extent_in), "extent_out": tc(s.extent_out),
        "handles": {"head": s.head_handle, "tail": s.tail_handle},
        "transition": {"type": s.transition.type, "frames": s.transition.frames,
                       "before_cut": s.transition.before, "after_cut": s.transition.after},
        "markers": [{"kind": k.kind, "name": k.name, "who": k.who or None, **tc(k.frame),
                     "source_frame": k.source_frame, "duration": k.duration}
                    for k in s.markers],
        "media": {"file": f"shots/{m.path.name}", "status": m.status, "frames": m.frames,
                  "backend": m.backend or None, "model": m.model,
                  "render_key": m.render_key or None, "remote_id": m.remote_id,
                  "sha256": m.sha256},
        "audio": {"sound": "shot" if m.status == "rendered" else None, "level": 1.0},
    }  # fmt: skip
