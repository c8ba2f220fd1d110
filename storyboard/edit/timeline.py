"""The edit plan as an OpenTimelineIO timeline: what every export writes.

Tracks: ``V1`` (one clip per shot), ``A1 shot sound`` (the same cuts on the shots' own sound),
``A2 music`` (the bed, looped clip by clip). A clip is named by the shot's number and id; its
``source_range`` is the part of the shot file the edit uses, its media an ``ExternalReference``
with the file's ``available_range`` (handles included), or a ``MissingReference`` with the same
metadata when the shot is not rendered yet. Per clip metadata sits under ``storyboard``.

Transitions: a dissolve is a ``SMPTE_Dissolve`` centred on the cut. A fade to or from black
has no standard OTIO transition, so it is written the way NLEs build one: a dissolve from the
clip into empty track (a ``Gap``, which editors show as black) and from it into the next clip;
to white, into a white ``GeneratorReference`` (SolidColor) slug instead of the gap.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import opentimelineio as otio

from storyboard.edit.plan import Marker, Plan, PlannedShot
from storyboard.edit.timecode import frame_rate
from storyboard.media import stream_header

__all__ = ["ACTIVE_TAKE", "build_timeline", "shot_clip_name"]

ACTIVE_TAKE = otio.schema.Clip.DEFAULT_MEDIA_KEY  # the circled take; other takes sit beside it
_MARKER_COLORS = {
    "beat": otio.schema.MarkerColor.GREEN,
    "sfx": otio.schema.MarkerColor.YELLOW,
    "dialogue": otio.schema.MarkerColor.CYAN,
}
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def shot_clip_name(shot: PlannedShot) -> str:
    return f"{shot.number} {shot.id}"


def build_timeline(plan: Plan) -> otio.schema.Timeline:
    rate = float(frame_rate(plan.fps))
    timeline = otio.schema.Timeline(
        name=plan.title, global_start_time=otio.opentime.RationalTime(0, rate)
    )
    timeline.metadata["storyboard"] = {
        "plan_version": plan.version,
        "fps": plan.fps,
        "size": f"{plan.width}x{plan.height}",
        "storyboard": str(plan.storyboard),
    }
    timeline.tracks.append(_picture_track(plan, rate))
    timeline.tracks.append(_sound_track(plan, rate))
    if plan.music is not None and plan.music.path is not None:
        timeline.tracks.append(_music_track(plan, rate))
    return timeline


def _time(frames: int, rate: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, rate)


def _range(start: int, frames: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_time(start, rate), _time(frames, rate))


def _picture_track(plan: Plan, rate: float) -> otio.schema.Track:
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for shot in plan.shots:
        clip = _clip(shot, rate, otio.schema.TrackKind.Video)
        for marker in shot.markers:
            clip.markers.append(_marker(marker, rate))
        track.append(clip)
        _append_transition(track, shot, rate, last=shot is plan.shots[-1])
    return track


def _sound_track(plan: Plan, rate: float) -> otio.schema.Track:
    track = otio.schema.Track(name="A1 shot sound", kind=otio.schema.TrackKind.Audio)
    for shot in plan.shots:
        if shot.media.status == "rendered":
            track.append(_clip(shot, rate, otio.schema.TrackKind.Audio))
        else:  # nothing to hear yet: silence of the same length keeps the cuts in place
            track.append(
                otio.schema.Gap(source_range=_range(0, shot.record_out - shot.record_in, rate))
            )
        _append_transition(track, shot, rate, last=shot is plan.shots[-1], audio=True)
    silent = [
        i
        for i, item in enumerate(track)
        if isinstance(item, otio.schema.Transition)
        and not any(isinstance(track[j], otio.schema.Clip) for j in (i - 1, i + 1))
    ]
    for i in reversed(silent):  # a fade between two silences has nothing to fade
        del track[i]
    return track


def _clip(shot: PlannedShot, rate: float, kind: str) -> otio.schema.Clip:
    clip = otio.schema.Clip(
        name=shot_clip_name(shot),
        source_range=_range(shot.source_in, shot.record_out - shot.record_in, rate),
    )
    references, active = media_references(shot, rate)
    clip.set_media_references(references, active)
    clip.metadata["storyboard"] = _metadata(shot)
    if kind == otio.schema.TrackKind.Video:
        clip.metadata["cmx_3600"] = {"reel": shot.number}  # the EDL's reel name
    return clip


def media_references(
    shot: PlannedShot, rate: float
) -> tuple[dict[str, otio.core.MediaReference], str]:
    """The clip's media, keyed by take; the active key is the circled take.

    One take today (the shot's file). Further takes go in as further keys of this mapping.
    """
    available = _range(0, shot.media.frames, rate)
    meta = {"storyboard": _metadata(shot)}
    reference: otio.core.MediaReference
    if shot.media.status == "rendered":
        reference = otio.schema.ExternalReference(
            target_url=shot.media.path.resolve().as_uri(), available_range=available, metadata=meta
        )
    else:
        reference = otio.schema.MissingReference(
            name=shot.media.path.name, available_range=available, metadata=meta
        )
    references = {ACTIVE_TAKE: reference}
    for number, path in shot.media.other_takes:  # the editor can switch takes in the NLE
        references[f"take{number}"] = otio.schema.ExternalReference(
            target_url=path.resolve().as_uri(),
            available_range=available,
            metadata={"storyboard": {"take": number, "shot_id": shot.id}},
        )
    return references, ACTIVE_TAKE


def _metadata(shot: PlannedShot) -> dict[str, Any]:
    m = shot.media
    return {
        "shot_id": shot.id,
        "number": shot.number,
        "position": shot.index + 1,
        "seconds": shot.shot.seconds,
        "prompt": m.prompt,
        "backend": m.backend,
        "model": m.model,
        "render_key": m.render_key,
        "remote_id": m.remote_id,
        "status": m.status,
        "sha256": m.sha256,
        "notes": shot.shot.notes,
        "transition_out": shot.transition.type,
    }


def _marker(marker: Marker, rate: float) -> otio.schema.Marker:
    name = f"{marker.who}: {marker.name}" if marker.who else marker.name
    return otio.schema.Marker(
        name=f"{marker.kind}: {name}",
        color=_MARKER_COLORS[marker.kind],
        marked_range=_range(marker.source_frame, marker.duration, rate),
        metadata={
            "storyboard": {
                "kind": marker.kind,
                "edit_frame": marker.frame,
                "who": marker.who or None,
            }
        },
    )


def _append_transition(
    track: otio.schema.Track, shot: PlannedShot, rate: float, *, last: bool, audio: bool = False
) -> None:
    t = shot.transition
    if t.type == "dissolve":
        track.append(_dissolve(t.before, t.after, rate, t.type))
        return
    if not t.color:
        return
    if t.before:
        track.append(_dissolve(0, t.before, rate, t.type))
    track.append(_slug(t.color, t.before + t.after, rate, audio))
    if t.after and not last:
        track.append(_dissolve(t.after, 0, rate, t.type))


def _dissolve(before: int, after: int, rate: float, kind: str) -> otio.schema.Transition:
    return otio.schema.Transition(
        name=kind,
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=_time(before, rate),
        out_offset=_time(after, rate),
        metadata={"storyboard": {"type": kind}},
    )


def _slug(color: str, frames: int, rate: float, audio: bool) -> otio.core.Item:
    if color == "black" or audio:
        return otio.schema.Gap(source_range=_range(0, frames, rate))
    reference = otio.schema.GeneratorReference(
        name=f"{color} slug",
        generator_kind="SolidColor",
        parameters={"color": color},
        available_range=_range(0, frames, rate),
    )
    return otio.schema.Clip(
        name=f"{color} slug",
        media_reference=reference,
        source_range=_range(0, frames, rate),
        metadata={"storyboard": {"slug": color}},
    )


def _music_track(plan: Plan, rate: float) -> otio.schema.Track:
    music = plan.music
    assert music is not None and music.path is not None
    track = otio.schema.Track(name="A2 music", kind=otio.schema.TrackKind.Audio)
    length = audio_frames(music.path, plan.fps) or plan.frames
    meta = {
        "storyboard": {
            "music": True,
            "cue": music.cue,
            "volume": music.volume,
            "fade_in_frames": music.fade_in,
            "fade_out_frames": music.fade_out,
        }
    }
    done = 0
    while done < plan.frames:  # a shorter bed loops: one clip per pass
        frames = min(length, plan.frames - done)
        reference = otio.schema.ExternalReference(
            target_url=music.path.resolve().as_uri(), available_range=_range(0, length, rate)
        )
        track.append(
            otio.schema.Clip(
                name=f"music: {music.cue or music.path.name}",
                media_reference=reference,
                source_range=_range(0, frames, rate),
                metadata=meta,
            )
        )
        done += frames
    return track


def audio_frames(path: Path, fps: float) -> int:
    """The length of an audio file in frames at ``fps`` (0 when ffmpeg cannot tell)."""
    found = _DURATION.search(stream_header(path))
    if not found:
        return 0
    h, m, s = found.groups()
    return int((int(h) * 3600 + int(m) * 60 + float(s)) * fps)
