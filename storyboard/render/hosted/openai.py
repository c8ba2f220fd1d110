"""The ``openai`` backend: any server that speaks the /v1/videos protocol of Sora 2.

OpenAI's own Videos API shut down in September 2026; LiteLLM's proxy, local model servers
(vLLM-Omni, SGLang with Wan 2.x) and many resellers still speak it, so the base URL is
configurable and what comes back is read leniently (unknown statuses and fields are tolerated).
"""

from __future__ import annotations

import json
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from storyboard.errors import BackendError, ConfigError, JobFailed
from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import RemoteBackend, fitted_image

__all__ = ["OpenAIBackend"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "sora-2"
UNKNOWN_MODEL_WAIT = 120.0  # assumed turnaround of one job, for estimates only
_STATUS = {"queued": "queued", "pending": "queued", "in_progress": "running",
           "processing": "running", "running": "running", "completed": "succeeded",
           "succeeded": "succeeded", "failed": "failed", "expired": "expired",
           "canceled": "canceled", "cancelled": "canceled"}
_BLOCKED_CODES = {"moderation_blocked", "content_policy_violation", "content_filter"}


@cache
def _models() -> dict[str, Any]:
    text = resources.files("storyboard").joinpath("data/openai_models.json").read_text("utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


class OpenAIBackend(RemoteBackend):
    name = "openai"
    version = "1"
    key_env = "OPENAI_API_KEY"
    url_env = "OPENAI_BASE_URL"
    default_url = DEFAULT_BASE_URL

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:  # a gateway's own model: render.capabilities says what it takes
            return Capabilities(first_frame=True, remix=True, extend=True, audio=True,
                                wait=UNKNOWN_MODEL_WAIT)
        prices = info["price_per_second"]
        return Capabilities(durations=tuple(float(s) for s in info["seconds"]),
                            sizes=tuple(info["sizes"]), first_frame=True, remix=True,
                            extend=True, audio=True, price_per_second=prices["default"],
                            wait=float(info["wait"]))

    @classmethod
    def price_per_second(cls, model: str | None, size: str) -> float | None:
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:
            return None
        prices = info["price_per_second"]
        return float(prices.get(size, prices["default"]))

    # ---- submit --------------------------------------------------------------------------

    def submit(self, job: RenderJob) -> Handle:
        model = job.model or DEFAULT_MODEL
        seconds = f"{job.render_seconds:g}"
        since = time.time()
        if job.shot.remix_of and job.source_remote_id:
            response = self._edit(job)
        elif job.shot.extend_of and job.source_remote_id:
            response = self._post("/videos/extensions", files=_form(
                {"prompt": job.prompt.text, "seconds": seconds,
                 "video[id]": job.source_remote_id}))
        else:
            fields = {"model": model, "prompt": job.prompt.text, "seconds": seconds,
                      "size": job.output.size}
            files = _form(fields)
            if job.shot.reference is not None:
                image = fitted_image(job, job.output.width, job.output.height)
                files.append(("input_reference", ("reference.png", image, "image/png")))
            response = self._post("/videos", files=files)
        video = self._created(response, job, since)
        return Handle(self.name, self.base_url, model, str(video["id"]), job.render_key)

    def _edit(self, job: RenderJob) -> httpx.Response:
        response = self._post("/videos/edits", files=_form(
            {"prompt": job.prompt.text, "video[id]": job.source_remote_id or ""}))
        if response.status_code in (404, 405):  # an older server: the legacy remix call
            response = self._post(f"/videos/{job.source_remote_id}/remix",
                                  json={"prompt": job.prompt.text})
        return response

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.caller.request("POST", self.base_url + path, creates=True, **kwargs)

    def _created(self, response: httpx.Response, job: RenderJob, since: float) -> dict[str, Any]:
        if response.status_code < 300:
            return self.json(response)
        if response.status_code >= 500:
            # The job may exist and be billed: look for it rather than create it again.
            found = self._find_video(job.prompt.text, since)
            if found is not None:
                return found
            raise BackendError(f"the server answered {response.status_code} to create and no "
                               "job of ours was found; not retried, so nothing is paid twice; "
                               "run again to retry")
        raise self._refusal(response)

    def find(self, job: RenderJob, since: float) -> Handle | None:
        """The job of this prompt created since ``since`` (epoch seconds), if the server has one."""
        video = self._find_video(job.prompt.text, since)
        if video is None:
            return None
        return Handle(self.name, self.base_url, job.model or DEFAULT_MODEL, str(video["id"]),
                      job.render_key)

    def _find_video(self, prompt: str, since: float) -> dict[str, Any] | None:
        response = self.caller.request("GET", f"{self.base_url}/videos",
                                       params={"limit": 20, "order": "desc"})
        if response.status_code >= 300:
            return None
        for video in self.json(response).get("data", []):
            if video.get("prompt") == prompt and float(video.get("created_at", 0)) >= since - 5:
                return video
        return None

    # ---- poll and download ------------------------------------------------------------------

    def poll(self, handle: Handle) -> JobState:
        response = self.caller.request("GET", f"{self.base_url}/videos/{handle.job_id}")
        if response.status_code == 404:
            return JobState("gone", error_message="the server no longer knows this job")
        if response.status_code >= 300:
            raise self._refusal(response)
        video = self.json(response)
        status = _STATUS.get(str(video.get("status", "")).lower(), "running")
        error = video.get("error") or {}
        code = str(error.get("code") or "")
        if status == "failed" and code in _BLOCKED_CODES:
            status = "blocked"
        after = response.headers.get("openai-poll-after-ms")
        return JobState(status, _number(video.get("progress")), code,
                        self.scrub(str(error.get("message") or "")),
                        float(after) / 1000 if after and after.isdigit() else None)

    def download(self, handle: Handle, dest: Path) -> None:
        url = f"{self.base_url}/videos/{handle.job_id}/content"
        response = self.stream_to(url, dest, params={"variant": "video"})
        if response.status_code >= 300:
            raise self._refusal(response)

    # ---- errors -----------------------------------------------------------------------------

    def _refusal(self, response: httpx.Response) -> Exception:
        error, message = self.error_of(response)
        code = str(error.get("code") or "")
        if response.status_code == 401:
            return ConfigError(f"the server rejected the API key (HTTP 401): {message}")
        if code in _BLOCKED_CODES or "moderation" in message.lower():
            return JobFailed(message, code or "moderation_blocked", blocked=True)
        return BackendError(f"HTTP {response.status_code}: {message}")


def _form(fields: dict[str, str]) -> list[tuple[str, Any]]:
    return [(name, (None, value)) for name, value in fields.items()]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
