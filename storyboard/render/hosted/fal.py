"""The ``fal`` backend: fal.ai's queue API, one small protocol in front of many video models
(Veo 3.1, Kling, Seedance, Wan, LTX, ...). Input field names differ per model: a table of
presets (``storyboard/data/fal_models.json``), extendable with ``render.preset`` and
``render.extra`` in the storyboard.

Submit ``POST {queue}/{model_id}`` → request_id, status_url, response_url; those URLs are
used verbatim (a model's sub-path is not part of them), and the key goes with them only when
they are on the queue's own origin. Errors are decided on ``detail[].type`` and the
``X-Fal-Retryable`` header, never on message text.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import httpx

from storyboard.errors import BackendError, ConfigError
from storyboard.format.model import RenderSettings
from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import (
    Refusals,
    RemoteBackend,
    Video,
    aspect_ratio,
    png,
    png_file,
    resolution_tier,
)
from storyboard.render.hosted.wire import Call
from storyboard.render.wants import end_frame, seed, wants_audio

__all__ = ["FalBackend"]

DEFAULT_MODEL = "fal-ai/veo3.1/image-to-video"
BLOCKED_TYPES = frozenset(
    {"content_policy_violation", "nsfw_content_detected", "content_moderation"}
)
_STATUS = {"IN_QUEUE": "queued", "IN_PROGRESS": "running", "COMPLETED": "succeeded"}
_LONG_SIDE = 1280  # the reference travels as a data URI: the output's shape, no bigger
_QUEUE_URLS = ("status_url", "response_url", "cancel_url")


@cache
def _presets() -> dict[str, Any]:
    text = resources.files("storyboard").joinpath("data/fal_models.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _preset(model: str | None, override: Any = None) -> dict[str, Any]:
    base = dict(_presets().get(model or DEFAULT_MODEL, {}))
    return {**base, **dict(override or {})}


class FalBackend(RemoteBackend):
    name = "fal"
    version = "1"
    key_env = "FAL_KEY"
    url_env = "FAL_QUEUE_URL"
    default_url = "https://queue.fal.run"
    key_prefix = "Key "
    refusals = Refusals(blocked=BLOCKED_TYPES)

    @classmethod
    def check_settings(cls, render: RenderSettings) -> None:
        preset = _preset(render.model, render.preset)
        if not preset.get("image_field") and not preset.get("duration_field"):
            raise ConfigError(
                f"fal model '{render.model}' has no preset: describe its "
                "input with render.preset (image_field, duration_field, ...)"
            )

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        preset = _preset(model)
        durations = preset.get("durations")
        ratios = preset.get("aspect_ratios")
        return Capabilities(
            durations=tuple(float(d) for d in durations) if durations else None,
            aspect_ratios=tuple(ratios) if ratios else None,
            first_frame=True,
            last_frame=bool(preset.get("end_image_field") or preset.get("last_frame_model")),
            reference_images=int(preset.get("reference_images") or 0),
            audio=bool(preset.get("audio")),
            seed=bool(preset.get("seed_field")),
            price_per_second=preset.get("price_per_second"),
            audio_price_per_second=preset.get("audio_price_per_second"),
            wait=float(preset.get("wait", 300)),
        )

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return tuple(_presets())

    @classmethod
    def describe(cls, model: str) -> dict[str, Any]:
        preset = _preset(model)
        return {
            "label": preset.get("label"),
            "resolutions": preset.get("resolutions"),
            "unverified": (preset.get("source") or {}).get("unverified"),
        }

    @classmethod
    def price_per_second(cls, model: str | None, size: str, audio: bool = False) -> float | None:
        """At the resolution tier the output's size is sent as, with or without sound."""
        preset = _preset(model)
        silent, sound = preset.get("price_per_second"), preset.get("audio_price_per_second")
        if preset.get("resolutions"):
            width, height = (int(n) for n in size.split("x"))
            tier = resolution_tier(min(width, height), preset["resolutions"])
            silent, sound = (preset.get("tier_prices") or {}).get(tier, (silent, sound))
        return sound if audio and sound is not None else silent

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        model, preset = _routed(job)
        out = job.output
        scale = min(1.0, _LONG_SIDE / max(out.width, out.height))
        size = round(out.width * scale) // 2 * 2, round(out.height * scale) // 2 * 2
        fields: dict[str, Any] = {"prompt": job.prompt.text}
        if job.shot.reference is not None and preset.get("image_field"):
            fields[preset["image_field"]] = png(job, *size, "data_uri")
        last = end_frame(job)
        if last is not None and job.shot.reference is not None and preset.get("end_image_field"):
            fields[preset["end_image_field"]] = png_file(last, job.shot.fit, *size, "data_uri")
        if preset.get("duration_field"):
            fields[preset["duration_field"]] = _duration(
                job.render_seconds, preset.get("duration_format", "int")
            )
        if preset.get("aspect_ratio_field"):
            fields[preset["aspect_ratio_field"]] = aspect_ratio(out.width, out.height)
        if preset.get("resolution_field") and preset.get("resolutions"):
            fields[preset["resolution_field"]] = resolution_tier(
                min(out.width, out.height), preset["resolutions"]
            )
        if preset.get("audio") and preset.get("audio_field"):
            fields[preset["audio_field"]] = wants_audio(job.shot)
        chosen = seed(job)
        if chosen is not None and preset.get("seed_field"):
            fields[preset["seed_field"]] = chosen
        fields.update(job.render.extra or {})
        return Call("POST", f"/{model}", json=fields)

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        urls = {k: self.remote_id(answer[k]) for k in _QUEUE_URLS if k in answer}
        if "request_id" not in answer or "status_url" not in urls or "response_url" not in urls:
            raise BackendError(
                "fal's answer to submit lacks request_id, status_url or response_url"
            )
        return Handle(
            self.name,
            self.base_url,
            _routed(job)[0],
            self.remote_id(answer["request_id"]),
            job.render_key,
            urls,
        )

    def status_url(self, handle: Handle) -> str:
        return str(handle.extra["status_url"])

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        status = _STATUS.get(str(answer.get("status", "")), "running")
        if status != "succeeded":
            return JobState(status)
        # a COMPLETED request can still carry an error payload: that is a failure
        result = self.get(str(handle.extra["response_url"]))
        if result.status_code < 300 and not _details(result):
            return JobState("succeeded", 100.0)
        kind, code, message = self.classify(result)
        if kind == "auth":
            raise self.refusal(result)
        return JobState(
            "blocked" if kind == "blocked" else "failed",
            error_code=code or str(result.status_code),
            error_message=message or f"HTTP {result.status_code}",
        )

    def video(self, handle: Handle) -> Video:
        result = self.check(self.get(str(handle.extra["response_url"])))
        video = self.json(result).get("video") or {}
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            raise BackendError(f"fal's result for {handle.job_id} holds no video URL")
        return Video(str(url))

    def error_fields(self, response: httpx.Response) -> tuple[str, str]:
        details = _details(response)
        kinds = [str(d.get("type", "")) for d in details if d.get("type")]
        code = next((k for k in kinds if k in BLOCKED_TYPES), kinds[0] if kinds else "")
        message = "; ".join(str(d.get("msg", "")) for d in details) or response.text[:300]
        return self.scrub(code), self.scrub(message)


def _routed(job: RenderJob) -> tuple[str, dict[str, Any]]:
    """The endpoint a shot goes to, and its preset: a model whose last frame is another
    endpoint (Veo 3.1's first-last-frame-to-video) sends a shot with both frames there."""
    model = job.model or DEFAULT_MODEL
    preset = _preset(model, job.render.preset)
    both = job.shot.reference is not None and end_frame(job) is not None
    other = preset.get("last_frame_model") if both else preset.get("no_last_frame_model")
    if not other or (both and preset.get("end_image_field")):
        return model, preset
    return str(other), _preset(str(other), job.render.preset)


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
