"""The ``gemini`` backend: Gemini Omni through the Gemini API's Interactions endpoint.

``POST /interactions`` with ``background: true`` (else the call blocks for the whole
generation), the reference as an inline image block before the text block, and
``response_format`` asking for a video; ``GET /interactions/{id}`` until it ends; the video is
in the ``model_output`` step's content, as a URI (downloaded with the key and ``alt=media``) or
inline data. A completed interaction without a video is a safety block.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx

from storyboard.errors import BackendError, ConfigError, JobFailed
from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import RemoteBackend, aspect_ratio, fitted_image

__all__ = ["GeminiBackend", "DEFAULT_MODEL"]

DEFAULT_MODEL = "gemini-omni-1.1-flash"  # chosen 2026-11-21; ids change often: render.model
PRICE_PER_SECOND = 0.10  # third-party figure at 720p
_STATUS = {"queued": "queued", "in_progress": "running", "requires_action": "failed",
           "completed": "succeeded", "failed": "failed", "cancelled": "canceled",
           "incomplete": "failed", "budget_exceeded": "failed"}
_TIERS = ((360, "360p"), (720, "720p"), (1080, "1080p"), (2160, "4k"))


def _durations(model: str) -> tuple[float, ...]:
    longest = 15 if re.search(r"1\.[2-9]", model) else 10  # Omni 1.2 renders 3–15 s
    return tuple(float(s) for s in range(3, longest + 1))


class GeminiBackend(RemoteBackend):
    name = "gemini"
    version = "1"
    key_env = "GEMINI_API_KEY"
    url_env = "GEMINI_BASE_URL"
    default_url = "https://generativelanguage.googleapis.com/v1beta"

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(durations=_durations(model or DEFAULT_MODEL),
                            aspect_ratios=("16:9", "9:16"), first_frame=True, remix=True,
                            extend=True, audio=True, price_per_second=PRICE_PER_SECOND,
                            wait=120.0)

    @classmethod
    def price_per_second(cls, model: str | None, size: str) -> float | None:
        return PRICE_PER_SECOND

    def submit(self, job: RenderJob) -> Handle:
        model = job.model or DEFAULT_MODEL
        out = job.output
        blocks: list[dict[str, Any]] = []
        task = "text_to_video"
        body: dict[str, Any] = {"model": model, "background": True}
        if job.shot.source and job.source_remote_id:
            task = "edit" if job.shot.remix_of else "extend"
            body["previous_interaction_id"] = job.source_remote_id
        elif job.shot.reference is not None:
            task = "image_to_video"
            image = fitted_image(job, out.width, out.height)
            blocks.append({"type": "image", "data": base64.b64encode(image).decode(),
                           "mime_type": "image/png"})
        blocks.append({"type": "text", "text": job.prompt.text})
        body.update(
            input=blocks,
            response_format={"type": "video", "aspect_ratio": aspect_ratio(out.width, out.height),
                             "resolution": _tier(min(out.width, out.height)),
                             "duration": f"{round(job.render_seconds)}s", "delivery": "uri"},
            generation_config={"video_config": {"task": task}},
        )
        body.update(job.render.extra or {})
        response = self.caller.request("POST", f"{self.base_url}/interactions", creates=True,
                                       json=body)
        if response.status_code >= 300:
            raise self._refusal(response)
        return Handle(self.name, self.base_url, model, str(self.json(response)["id"]),
                      job.render_key)

    def poll(self, handle: Handle) -> JobState:
        response = self.caller.request("GET", f"{self.base_url}/interactions/{handle.job_id}")
        if response.status_code in (400, 404) and _says_unknown(response):
            return JobState("gone", error_message="the Gemini API no longer knows this job")
        if response.status_code >= 300:
            raise self._refusal(response)
        data = self.json(response)
        raw = str(data.get("status", ""))
        status = _STATUS.get(raw, "running")
        if status == "succeeded" and _video(data) is None:
            reason = self.scrub(_text(data)) or "the model returned no video"
            return JobState("blocked", error_code="no_video", error_message=reason)
        error = data.get("error") or {}
        message = self.scrub(str(error.get("message") or "")) if isinstance(error, dict) else ""
        return JobState(status, error_code=raw if status == "failed" else "",
                        error_message=message)

    def download(self, handle: Handle, dest: Path) -> None:
        response = self.caller.request("GET", f"{self.base_url}/interactions/{handle.job_id}")
        if response.status_code >= 300:
            raise self._refusal(response)
        video = _video(self.json(response))
        if video is None:
            raise BackendError(f"interaction {handle.job_id} holds no video")
        if video.get("data"):
            dest.write_bytes(base64.b64decode(video["data"]))
            return
        uri = str(video.get("uri", ""))
        result = self.stream_to(uri, dest, params={"alt": "media"},
                                with_key=self.is_own_host(uri))
        if result.status_code >= 300:
            raise BackendError(f"download of {handle.job_id}: HTTP {result.status_code}")

    def _refusal(self, response: httpx.Response) -> Exception:
        error, message = self.error_of(response)
        status = str(error.get("status") or "")
        if response.status_code in (401, 403) and status in ("UNAUTHENTICATED",
                                                             "PERMISSION_DENIED", ""):
            return ConfigError(f"the Gemini API rejected the key (HTTP {response.status_code}): "
                               f"{message}")
        if "safety" in status.lower() or any(
                d.get("reason") == "SAFETY" for d in error.get("details", []) if
                isinstance(d, dict)):
            return JobFailed(message, "safety", blocked=True)
        return BackendError(f"HTTP {response.status_code} {status}: {message}")


def _tier(short_side: int) -> str:
    return next((name for height, name in _TIERS if short_side <= height), "4k")


def _outputs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for step in data.get("steps") or [] if isinstance(step, dict)
            and step.get("type") == "model_output"
            for c in step.get("content") or [] if isinstance(c, dict)]


def _video(data: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in _outputs(data) if c.get("type") == "video"
                 and (c.get("uri") or c.get("data"))), None)


def _text(data: dict[str, Any]) -> str:
    return " ".join(str(c.get("text", "")) for c in _outputs(data) if c.get("type") == "text")


def _says_unknown(response: httpx.Response) -> bool:
    # Gemini answers an unknown id with 400 INVALID_ARGUMENT, not 404
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return response.status_code == 404
    return response.status_code == 404 or "not found" in str(error.get("message", "")).lower() \
        or error.get("status") == "NOT_FOUND"
