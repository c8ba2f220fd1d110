"""The ``fal`` backend: fal.ai's queue API, one small protocol in front of many video models
(Veo 3.1, Kling, Seedance, Wan, LTX, ...). Input field names differ per model: a table of
presets (``storyboard/data/fal_models.json``), extendable with ``render.preset`` and
``render.extra`` in the storyboard.

Submit ``POST {queue}/{model_id}`` → request_id, status_url, response_url; those URLs are
used verbatim (a model's sub-path is not part of them). Errors are decided on ``detail[].type``
and the ``X-Fal-Retryable`` header, never on message text.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from storyboard.errors import BackendError, ConfigError, JobFailed
from storyboard.render.base import BackendConfig, Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import RemoteBackend, aspect_ratio, fitted_image

__all__ = ["FalBackend"]

DEFAULT_MODEL = "fal-ai/veo3.1/image-to-video"
BLOCKED_TYPES = {"content_policy_violation", "nsfw_content_detected", "content_moderation"}
_STATUS = {"IN_QUEUE": "queued", "IN_PROGRESS": "running", "COMPLETED": "succeeded"}
_LONG_SIDE = 1280  # the reference travels as a data URI: the output's shape, no bigger


@cache
def _presets() -> dict[str, Any]:
    text = resources.files("storyboard").joinpath("data/fal_models.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _preset(model: str | None, override: Any = None) -> dict[str, Any]:
    base = dict(_presets().get(model or DEFAULT_MODEL, {}))
    return {**base, **dict(override or {})}


_QUEUE_URLS = ("status_url", "response_url", "cancel_url")


class FalBackend(RemoteBackend):
    name = "fal"
    version = "1"
    key_env = "FAL_KEY"
    url_env = "FAL_QUEUE_URL"
    default_url = "https://queue.fal.run"

    def __init__(self, base_url: str, api_key: str, *, render: Any = None, **kwargs: Any) -> None:
        super().__init__(base_url, api_key, **kwargs)
        self.render = render

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Key {api_key}"}

    @classmethod
    def from_config(cls, config: BackendConfig) -> FalBackend:
        backend = super().from_config(config)
        assert isinstance(backend, FalBackend)
        backend.render = config.render
        preset = _preset(config.render.model, config.render.preset)
        if not preset.get("image_field") and not preset.get("duration_field"):
            backend.close()
            raise ConfigError(f"fal model '{config.render.model}' has no preset: describe its "
                              "input with render.preset (image_field, duration_field, ...)")
        return backend

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        preset = _preset(model)
        durations = preset.get("durations")
        ratios = preset.get("aspect_ratios")
        return Capabilities(
            durations=tuple(float(d) for d in durations) if durations else None,
            aspect_ratios=tuple(ratios) if ratios else None, first_frame=True,
            audio=bool(preset.get("audio")), price_per_second=preset.get("price_per_second"),
            wait=float(preset.get("wait", 300)))

    @classmethod
    def price_per_second(cls, model: str | None, size: str) -> float | None:
        return _preset(model).get("price_per_second")

    def submit(self, job: RenderJob) -> Handle:
        model = job.model or DEFAULT_MODEL
        response = self.caller.request("POST", f"{self.base_url}/{model}", creates=True,
                                       json=self._input(job))
        if response.status_code >= 300:
            raise self._refusal(response)
        data = self.json(response)
        urls: dict[str, Any] = {k: str(data[k]) for k in _QUEUE_URLS if k in data}
        if "request_id" not in data or "status_url" not in urls or "response_url" not in urls:
            raise BackendError("fal's answer to submit lacks request_id, status_url or "
                               "response_url")
        return Handle(self.name, self.base_url, model, str(data["request_id"]), job.render_key,
                      urls)

    def _input(self, job: RenderJob) -> dict[str, Any]:
        preset = _preset(job.model, job.render.preset)
        out = job.output
        fields: dict[str, Any] = {"prompt": job.prompt.text}
        if job.shot.reference is not None and preset.get("image_field"):
            scale = min(1.0, _LONG_SIDE / max(out.width, out.height))
            width, height = round(out.width * scale) // 2 * 2, round(out.height * scale) // 2 * 2
            image = base64.b64encode(fitted_image(job, width, height)).decode()
            fields[preset["image_field"]] = f"data:image/png;base64,{image}"
        if preset.get("duration_field"):
            fields[preset["duration_field"]] = _duration(job.render_seconds,
                                                         preset.get("duration_format", "int"))
        if preset.get("aspect_ratio_field"):
            fields[preset["aspect_ratio_field"]] = aspect_ratio(out.width, out.height)
        if preset.get("resolution_field") and preset.get("resolutions"):
            fields[preset["resolution_field"]] = _tier(min(out.width, out.height),
                                                       preset["resolutions"])
        fields.update(job.render.extra or {})
        return fields

    def poll(self, handle: Handle) -> JobState:
        response = self.caller.request("GET", handle.extra["status_url"])
        if response.status_code == 404:
            return JobState("gone", error_message="fal no longer knows this request")
        if response.status_code >= 300:
            raise self._refusal(response)
        status = _STATUS.get(str(self.json(response).get("status", "")), "running")
        if status != "succeeded":
            return JobState(status)
        result = self.caller.request("GET", handle.extra["response_url"])
        problem = _problem(result, self)
        return problem if problem is not None else JobState("succeeded", 100.0)

    def download(self, handle: Handle, dest: Path) -> None:
        result = self.caller.request("GET", handle.extra["response_url"])
        if result.status_code >= 300:
            raise self._refusal(result)
        video = self.json(result).get("video") or {}
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            raise BackendError(f"fal's result for {handle.job_id} holds no video URL")
        if str(url).startswith("data:"):
            dest.write_bytes(base64.b64decode(str(url).split(",", 1)[1]))
            return
        # the key goes to fal's own hosts only, never to wherever a result URL points
        response = self.stream_to(url, dest, with_key=self.is_own_host(url))
        if response.status_code >= 300:
            raise BackendError(f"download of {handle.job_id}: HTTP {response.status_code}")

    def _refusal(self, response: httpx.Response) -> Exception:
        details = _details(response)
        kinds = [str(d.get("type", "")) for d in details]
        message = self.scrub("; ".join(str(d.get("msg", "")) for d in details)
                             or response.text[:300])
        if response.status_code == 401:
            return ConfigError(f"fal rejected the API key (HTTP 401): {message}")
        blocked = next((k for k in kinds if k in BLOCKED_TYPES), None)
        if blocked:
            return JobFailed(message, blocked, blocked=True)
        return BackendError(f"HTTP {response.status_code} ({', '.join(kinds) or 'no type'}): "
                            f"{message}")


def _problem(result: httpx.Response, backend: FalBackend) -> JobState | None:
    """A COMPLETED request can still carry an error payload: that is a failure."""
    details = _details(result)
    if result.status_code < 300 and not details:
        return None
    kinds = [str(d.get("type", "")) for d in details]
    message = backend.scrub("; ".join(str(d.get("msg", "")) for d in details)
                            or f"HTTP {result.status_code}")
    blocked = next((k for k in kinds if k in BLOCKED_TYPES), None)
    if blocked:
        return JobState("blocked", error_code=blocked, error_message=message)
    return JobState("failed", error_code=kinds[0] if kinds else str(result.status_code),
                    error_message=message)


def _details(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    if isinstance(detail, list):
        return [d for d in detail if isinstance(d, dict)]
    if isinstance(detail, str):
        return [{"msg": detail, "type": ""}]
    return []


def _duration(seconds: float, style: str) -> int | str:
    n = round(seconds)
    return n if style == "int" else f"{n}s" if style == "seconds" else str(n)


def _tier(short_side: int, tiers: list[str]) -> str:
    """The smallest offered tier (720p: 720 on the short side) that holds the output."""
    ranked = sorted(tiers, key=lambda t: int("".join(c for c in t if c.isdigit()) or 0))
    for tier in ranked:
        if int("".join(c for c in tier if c.isdigit()) or 0) >= min(short_side, 2160):
            return tier
    return ranked[-1]
