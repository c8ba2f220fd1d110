"""Schema-valid document → Storyboard: defaults merged, remixes inherited, aliases resolved."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from storyboard.format.load import Document, JsonPath
from storyboard.format.model import (
    CAMERA_ALIASES,
    Audio,
    Beat,
    CastMember,
    DialogueLine,
    Framing,
    Lighting,
    Music,
    Output,
    RenderSettings,
    SfxCue,
    Shot,
    Storyboard,
    Transition,
)

__all__ = ["resolve", "merge", "DEFAULT_SECONDS", "DEFAULT_TRANSITION_SECONDS"]

DEFAULT_SECONDS = 4.0
DEFAULT_TRANSITION_SECONDS = 0.5
_NOT_INHERITED_BY_REMIX = ("id", "number", "transition", "notes", "remix_of", "edit", "extend_of")
# An extension continues its source: it keeps the look but brings its own time and events.
_NOT_INHERITED_BY_EXTENSION = (*_NOT_INHERITED_BY_REMIX, "seconds", "beats", "action")
_AUDIO_NOT_INHERITED_BY_EXTENSION = ("sfx", "dialogue", "file")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Key-by-key merge: mappings merge deeply, anything else (lists, and a plain string given
    for a mapping) is replaced, and ``None`` (YAML ``null``) clears the inherited key."""
    result = dict(base)
    for key, value in over.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = _without_nulls(value)
    return result


def _without_nulls(value: Any) -> Any:
    """A value with every null key of its mappings left out (nothing was there to clear)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def resolve(doc: Document) -> Storyboard:
    """Build the Storyboard from a document that passed the schema."""
    data = doc.data
    folder = doc.path.parent
    shots = _resolve_shots(data, folder)
    return Storyboard(
        path=doc.path,
        sha256=hashlib.sha256(doc.text.encode()).hexdigest(),
        title=data["title"],
        description=data.get("description", ""),
        shots=shots,
        output=_output(data.get("output", {})),
        render=_render(data.get("render", {})),
        cast={name: _cast_member(name, v, folder) for name, v in data.get("cast", {}).items()},
        music=_music(data["music"], folder) if "music" in data else None,
    )


def _resolve_shots(data: dict[str, Any], folder: Path) -> tuple[Shot, ...]:
    defaults = _without_nulls(data.get("defaults", {}))
    default_origin = {key: ("defaults", key) for key in defaults}
    merged: dict[str, tuple[dict[str, Any], dict[str, JsonPath]]] = {}
    shots = []
    for index, raw in enumerate(data["shots"]):
        values, origin = dict(defaults), dict(default_origin)
        source = merged.get(raw.get("remix_of") or raw.get("extend_of") or "")
        if source:
            inherited = _inherited(source[0], extension="extend_of" in raw)
            values = merge(values, inherited)
            origin.update({k: source[1][k] for k in inherited})
        values = merge(values, raw)
        origin.update({key: ("shots", index, key) for key in raw})
        merged.setdefault(raw["id"], (values, origin))
        shots.append(_shot(index, values, origin, folder))
    return tuple(shots)


def _inherited(source: dict[str, Any], extension: bool) -> dict[str, Any]:
    """What a remix (everything but its identity) or an extension (the look) takes over."""
    dropped = _NOT_INHERITED_BY_EXTENSION if extension else _NOT_INHERITED_BY_REMIX
    inherited = {k: v for k, v in source.items() if k not in dropped}
    audio = inherited.get("audio")
    if extension and isinstance(audio, dict):
        inherited["audio"] = {
            k: v for k, v in audio.items() if k not in _AUDIO_NOT_INHERITED_BY_EXTENSION
        }
    return inherited


def _shot(index: int, v: dict[str, Any], origin: dict[str, JsonPath], folder: Path) -> Shot:
    seconds = float(v.get("seconds", DEFAULT_SECONDS))
    return Shot(
        id=v["id"],
        index=index,
        number=str(v.get("number", index + 1)),
        seconds=seconds,
        action=v.get("action", ""),
        reference=_path(folder, v.get("reference")),
        end_frame=_path(folder, v.get("end_frame")),
        fit=v.get("fit", "cover"),
        cast=tuple(v.get("cast", ())),
        framing=_framing(v.get("framing", {})),
        beats=_beats(v.get("beats", [])),
        lighting=_lighting(v.get("lighting", {})),
        audio=_audio(v.get("audio", {}), folder),
        style=v.get("style", ""),
        keep=_phrases(v.get("keep", [])),
        change=_phrases(v.get("change", [])),
        transition=_transition(v.get("transition", "cut")),
        notes=v.get("notes", ""),
        remix_of=v.get("remix_of"),
        edit=v.get("edit", ""),
        extend_of=v.get("extend_of"),
        origin=origin,
        takes=int(v.get("takes", 1)),
        circle=int(v.get("circle", 1)),
    )


def _path(folder: Path, value: str | None) -> Path | None:
    return folder / value if value else None


def _output(v: dict[str, Any]) -> Output:
    width, height = (int(n) for n in v.get("size", "1280x720").split("x"))
    return Output(width=width, height=height, fps=float(v.get("fps", 24)))


_RAW_BACKEND_SPECIFIC = ("model", "base_url", "api_key_env", "capabilities", "preset", "extra")


def _targets(v: dict[str, Any]) -> dict[str, RenderSettings]:
    """Each named target over render; another backend's settings are not inherited."""
    base = {k: value for k, value in v.items() if k != "targets"}
    targets = {}
    for name, raw in v.get("targets", {}).items():
        inherited = (
            base
            if raw.get("backend") == base.get("backend", "previs")
            else {k: value for k, value in base.items() if k not in _RAW_BACKEND_SPECIFIC}
        )
        targets[name] = _render(merge(inherited, raw), target=name)
    return targets


def _render(v: dict[str, Any], target: str = "") -> RenderSettings:
    caps, poll = v.get("capabilities", {}), v.get("poll", {})
    sizes, seconds = caps.get("sizes"), caps.get("seconds")
    return RenderSettings(
        backend=v.get("backend", "previs"),
        model=v.get("model"),
        overlays=v.get("overlays", True),
        duration=v.get("duration", "trim"),
        base_url=v.get("base_url"),
        api_key_env=v.get("api_key_env"),
        sizes=tuple(sizes) if sizes else None,
        durations=tuple(float(s) for s in seconds) if seconds else None,
        price_per_second=caps.get("price_per_second"),
        remix=caps.get("remix"),
        extend=caps.get("extend"),
        preset=v.get("preset"),
        extra=v.get("extra"),
        poll_interval=float(poll.get("interval", 2.0)),
        poll_max_interval=float(poll.get("max_interval", 20.0)),
        job_timeout=float(poll.get("timeout", 1800.0)),
        target=target,
        targets=_targets(v) if not target else {},
    )


def _cast_member(name: str, v: str | dict[str, Any], folder: Path) -> CastMember:
    if isinstance(v, str):
        return CastMember(name, v)
    return CastMember(name, v["description"], _path(folder, v.get("reference")), v.get("voice", ""))


def _music(v: dict[str, Any], folder: Path) -> Music:
    return Music(
        cue=v.get("cue", ""), file=_path(folder, v.get("file")), volume=v.get("volume", 0.4)
    )


def _framing(v: str | dict[str, Any]) -> Framing:
    if isinstance(v, str):
        return Framing(text=v)
    return Framing(**{k: str(value) for k, value in v.items()})


def _lighting(v: str | dict[str, Any]) -> Lighting:
    return Lighting(text=v) if isinstance(v, str) else Lighting(**v)


def _audio(v: str | dict[str, Any], folder: Path) -> Audio:
    if isinstance(v, str):
        return Audio(text=v)
    return Audio(
        ambient=v.get("ambient", ""),
        music=v.get("music", ""),
        sfx=tuple(SfxCue(float(c["at"]), c["cue"]) for c in v.get("sfx", [])),
        dialogue=tuple(
            DialogueLine(float(d["at"]), d["line"], d.get("who", "")) for d in v.get("dialogue", [])
        ),
        file=_path(folder, v.get("file")),
    )


def _beats(items: list[dict[str, Any]]) -> tuple[Beat, ...]:
    beats, start = [], 0.0
    for item in items:
        camera = CAMERA_ALIASES.get(item["camera"], item["camera"])
        seconds = float(item["seconds"])
        beats.append(
            Beat(
                camera=camera,
                seconds=seconds,
                start=start,
                action=item.get("action", ""),
                amount=float(item.get("amount", 0.5)),
                ease=item.get("ease", "ease-in-out"),
            )
        )
        start += seconds
    return tuple(beats)


def _phrases(v: str | list[str]) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


def _transition(v: str | dict[str, Any]) -> Transition:
    kind = v if isinstance(v, str) else v["type"]
    default = 0.0 if kind == "cut" else DEFAULT_TRANSITION_SECONDS
    seconds = default if isinstance(v, str) else float(v.get("seconds", default))
    return Transition(kind, seconds)
