"""The backend interface: what the render stage hands a backend and what it gets back.

One ``Backend`` protocol in two kinds. A *local* backend renders a job straight to a file. A
*hosted* backend goes submit → poll → download, with a handle saved to disk before polling so an
interrupted run resumes without paying twice. Every backend has a ``name``, a ``version`` (part of
every render key), a ``kind``, ``from_config``, ``capabilities(model)`` (prices included),
``key_material(job)`` and ``close()``. Backends are found by name in ``render.registry``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self, TypeGuard

from storyboard.compile import ShotPrompt
from storyboard.format.model import CastMember, Output, RenderSettings, Shot
from storyboard.render.capabilities import Capabilities

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendKind",
    "Handle",
    "HostedBackend",
    "JobState",
    "JobStatus",
    "LocalBackend",
    "Progress",
    "RenderJob",
    "is_hosted",
    "is_local",
]

Progress = Callable[[float], None]  # fraction done, 0..1
BackendKind = Literal["local", "hosted"]
JobStatus = Literal[
    "queued", "running", "succeeded", "failed", "blocked", "canceled", "expired", "gone"
]


@dataclass(frozen=True)
class BackendConfig:
    """What a backend is built from: the storyboard's render settings, command-line overrides."""

    render: RenderSettings = field(default_factory=RenderSettings)
    base_url: str | None = None  # --base-url
    allow_insecure_http: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # holds the API keys


@dataclass(frozen=True)
class RenderJob:
    """Everything a backend needs to render one shot; plain data, picklable."""

    shot: Shot
    prompt: ShotPrompt
    output: Output
    model: str | None
    render_key: str
    overlays: bool = True
    title: str = ""
    render: RenderSettings = field(default_factory=RenderSettings)
    source_shot: Shot | None = None  # remix/extension: the shot it derives from
    source_video: Path | None = None  # remix/extension: the source shot's render
    source_remote_id: str | None = None  # remix/extension: the source's id on the server
    # what to render: >= shot.seconds when the model renders only fixed lengths (the rest is
    # handle, cut by the edit); 0 means exactly shot.seconds
    render_seconds: float = 0.0
    take: int = 1  # which take of the shot this is (1-based)
    seed: int | None = None  # the take's seed: None for take 1 (the backend's own choice)
    # the cast members the shot names or who speak in it: their reference images (an extra
    # reference for hosted models that take one, an inset in previs) and previs voices
    cast: tuple[CastMember, ...] = ()

    def __post_init__(self) -> None:
        if not self.render_seconds:
            object.__setattr__(self, "render_seconds", self.shot.seconds)


@dataclass(frozen=True)
class Handle:
    """A remote job, as saved to the run state: enough to poll and download it later."""

    backend: str
    base_url: str
    model: str | None
    job_id: str
    render_key: str
    extra: dict[str, Any] = field(default_factory=dict)  # poll/result URLs and the like


@dataclass(frozen=True)
class JobState:
    status: str  # one of JobStatus
    progress: float | None = None  # 0..100 where the server says
    error_code: str = ""
    error_message: str = ""
    poll_after: float | None = None  # seconds the server asks us to wait before the next poll

    @property
    def done(self) -> bool:
        return self.status not in ("queued", "running")


class Backend(Protocol):
    """What every backend is: a name, a version, a kind, its limits and its render identity.

    ``key_material`` is pure (no network, no API key): for a hosted backend the request it would
    send, images replaced by the sha256 of the bytes it would send; for a local one everything
    that changes its pixels or sound. The render key is a hash of it.
    """

    name: ClassVar[str]
    version: ClassVar[str]  # part of every render key
    kind: ClassVar[BackendKind]

    @classmethod
    def from_config(cls, config: BackendConfig) -> Self: ...

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities: ...

    @classmethod
    def key_material(cls, job: RenderJob) -> dict[str, Any]: ...

    @classmethod
    def price_per_second(cls, model: str | None, size: str, audio: bool = False) -> float | None:
        """USD per rendered second at ``size`` (``WxH``), with sound when ``audio``; None
        when unknown."""
        ...

    def close(self) -> None: ...


class LocalBackend(Backend, Protocol):
    """Renders on this machine, straight to a file; built once per worker process."""

    def render(self, job: RenderJob, dest: Path, progress: Progress | None = None) -> None:
        """Write the shot to ``dest`` (an MP4), complete, or raise RenderError."""


class HostedBackend(Backend, Protocol):
    """A remote API: submit → poll → download, resumable from a saved Handle."""

    base_url: str

    def submit(self, job: RenderJob) -> Handle: ...

    def poll(self, handle: Handle) -> JobState: ...

    def download(self, handle: Handle, dest: Path) -> None: ...

    def find(self, job: RenderJob, since: float) -> Handle | None:
        """The job a create for ``job`` made since ``since``, when its answer was lost."""


def is_local(backend: type[Backend] | Backend) -> TypeGuard[type[LocalBackend] | LocalBackend]:
    return backend.kind == "local"


def is_hosted(backend: type[Backend] | Backend) -> TypeGuard[type[HostedBackend] | HostedBackend]:
    return backend.kind == "hosted"
