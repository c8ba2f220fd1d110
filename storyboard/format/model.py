"""The storyboard as plain, frozen data: what every stage after validation works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from storyboard.errors import Location
from storyboard.format.load import JsonPath

__all__ = [
    "Audio",
    "Beat",
    "CastMember",
    "DialogueLine",
    "Framing",
    "Lighting",
    "Music",
    "Output",
    "Problem",
    "RenderSettings",
    "SfxCue",
    "Shot",
    "Storyboard",
    "Transition",
    "CAMERA_ALIASES",
    "CAMERA_MOVES",
]

CAMERA_MOVES = (
    "static", "pan-left", "pan-right", "tilt-up", "tilt-down", "dolly-in", "dolly-out",
    "truck-left", "truck-right", "pedestal-up", "pedestal-down", "crane-up", "crane-down",
    "zoom-in", "zoom-out", "orbit-left", "orbit-right", "handheld", "rack-focus",
)  # fmt: skip
CAMERA_ALIASES = {"hold": "static", "push-in": "dolly-in", "pull-out": "dolly-out"}

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a storyboard, at a JSON path (and, once located, a file position)."""

    path: JsonPath
    message: str
    severity: Severity = "error"
    location: Location | None = None
    at_key: bool = False  # point at the key itself (an unknown key), not at its value

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Output:
    width: int = 1280
    height: int = 720
    fps: float = 24.0

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class RenderSettings:
    backend: str = "previs"
    model: str | None = None
    overlays: bool = True
    duration: str = "trim"  # trim: render the next allowed length, use its start | exact
    base_url: str | None = None
    api_key_env: str | None = None
    sizes: tuple[str, ...] | None = None  # render.capabilities overrides for a gateway's model
    durations: tuple[float, ...] | None = None
    price_per_second: float | None = None
    remix: bool | None = None
    extend: bool | None = None
    preset: Mapping[str, Any] | None = None  # fal: how a model takes its input
    extra: Mapping[str, Any] | None = None  # raw input fields for hosted requests
    poll_interval: float = 2.0
    poll_max_interval: float = 20.0
    job_timeout: float = 1800.0
    target: str = ""  # the render.targets entry these settings are ("": render itself)
    targets: Mapping[str, RenderSettings] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CastMember:
    name: str
    description: str
    reference: Path | None = None
    voice: str = ""  # previs temp dialogue: an eSpeak voice; empty = chosen from the name


@dataclass(frozen=True)
class Music:
    cue: str = ""
    file: Path | None = None
    volume: float = 0.4


@dataclass(frozen=True)
class Framing:
    type: str = ""
    lens: str = ""
    height: str = ""
    depth_of_field: str = ""
    composition: str = ""
    text: str = ""  # when the storyboard gives framing as a sentence


@dataclass(frozen=True)
class Lighting:
    time: str = ""
    key: str = ""
    atmosphere: str = ""
    palette: str = ""
    text: str = ""

    def words(self) -> str:
        """Everything the lighting says, as one lowercase string (for the previs grade)."""
        return " ".join((self.text, self.time, self.key, self.atmosphere, self.palette)).lower()


@dataclass(frozen=True)
class SfxCue:
    at: float
    cue: str


@dataclass(frozen=True)
class DialogueLine:
    at: float
    line: str
    who: str = ""


@dataclass(frozen=True)
class Audio:
    ambient: str = ""
    music: str = ""
    sfx: tuple[SfxCue, ...] = ()
    dialogue: tuple[DialogueLine, ...] = ()
    text: str = ""
    file: Path | None = None


@dataclass(frozen=True)
class Beat:
    camera: str  # canonical name, aliases resolved
    seconds: float
    start: float
    action: str = ""
    amount: float = 0.5
    ease: str = "ease-in-out"

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass(frozen=True)
class Transition:
    type: str = "cut"
    seconds: float = 0.0


@dataclass(frozen=True)
class Shot:
    id: str
    index: int  # 0-based position in the storyboard
    seconds: float
    action: str = ""
    reference: Path | None = None
    end_frame: Path | None = None  # the last frame (fitted like the reference)
    fit: str = "cover"
    cast: tuple[str, ...] = ()
    framing: Framing = Framing()
    beats: tuple[Beat, ...] = ()
    lighting: Lighting = Lighting()
    audio: Audio = Audio()
    style: str = ""
    keep: tuple[str, ...] = ()
    change: tuple[str, ...] = ()
    transition: Transition = Transition()
    notes: str = ""
    remix_of: str | None = None
    edit: str = ""
    extend_of: str | None = None
    # where each top-level field came from in the document: the shot, defaults, or a remix source
    origin: Mapping[str, JsonPath] = field(default_factory=dict, compare=False, repr=False)
    number: str = ""  # the production's shot number ("12A"); resolve sets 1, 2, 3... by default
    takes: int = 1  # how many takes to render
    circle: int = 1  # the take the edit uses (1-based)

    def __post_init__(self) -> None:
        if not self.number:
            object.__setattr__(self, "number", str(self.index + 1))

    @property
    def source(self) -> str | None:
        """The shot this one derives from (remix or extension), if any."""
        return self.remix_of or self.extend_of

    def where(self, key: str, *rest: str | int) -> JsonPath:
        """The document path of field ``key`` (and below it), for pointing at problems."""
        return (*self.origin.get(key, ("shots", self.index)), *rest)


@dataclass(frozen=True)
class Storyboard:
    path: Path
    sha256: str
    title: str
    shots: tuple[Shot, ...]
    output: Output = Output()
    render: RenderSettings = RenderSettings()
    cast: Mapping[str, CastMember] = field(default_factory=dict)
    music: Music | None = None
    description: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def stem(self) -> str:
        stem = self.path.stem  # "harbor.storyboard.yaml" renders as "harbor"
        return stem.removesuffix(".storyboard") or stem

    def shot(self, shot_id: str) -> Shot | None:
        return next((s for s in self.shots if s.id == shot_id), None)
