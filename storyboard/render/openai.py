"""The ``openai`` backend: any server that speaks the /v1/videos protocol of Sora 2.

OpenAI's own Videos API shut down in September 2026; LiteLLM's proxy, local model servers
(vLLM-Omni, SGLang with Wan 2.x) and many resellers still speak it, so the base URL is
configurable and what comes back is read leniently (unknown statuses and fields are tolerated).
"""

from __future__ import annotations

import io
import ipaddress
import json
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import BackendError, ConfigError, JobFailed
from .base import BackendConfig, Handle, JobState, RenderJob
from .capabilities import Capabilities
from .http import Caller, Pace, redact

__all__ = ["OpenAIBackend", "check_url"]

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


def check_url(url: str, allow_insecure_http: bool) -> None:
    """Plain http only to this machine, unless the user says otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "https" or allow_insecure_http:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ConfigError(f"refusing to send an API key over plain http to {host or url}; use "
                          "https, a loopback address, or pass --allow-insecure-http")


class OpenAIBackend:
    name = "openai"
    version = "1"

    def __init__(self, base_url: str, api_key: str, *, client: httpx.Client | None = None,
                 pace: Pace | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True,
            headers={"Authorization": f"Bearer {api_key}"})
        self.caller = Caller(self.client, (api_key,), pace or Pace(sleep=sleep))

    @classmethod
    def from_config(cls, config: BackendConfig, pace: Pace | None = None) -> OpenAIBackend:
        env_name = config.render.api_key_env or "OPENAI_API_KEY"
        key = config.env.get(env_name, "")
        if not key:
            raise ConfigError(f"backend 'openai' needs an API key in ${env_name}; set it "
                              "(the key is never written to the storyboard, logs or manifest)")
        url = (config.base_url or config.render.base_url or config.env.get("OPENAI_BASE_URL")
               or DEFAULT_BASE_URL)
        check_url(url, config.allow_insecure_http)
        return cls(url, key, pace=pace)

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
        seconds = f"{job.shot.seconds:g}"
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
                files.append(("input_reference", _fitted_reference(job)))
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
            return self._json(response)
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
        for video in self._json(response).get("data", []):
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
        video = self._json(response)
        status = _STATUS.get(str(video.get("status", "")).lower(), "running")
        error = video.get("error") or {}
        code = str(error.get("code") or "")
        if status == "failed" and code in _BLOCKED_CODES:
            status = "blocked"
        after = response.headers.get("openai-poll-after-ms")
        return JobState(status, _number(video.get("progress")), code,
                        redact(str(error.get("message") or ""), (self.api_key,)),
                        float(after) / 1000 if after and after.isdigit() else None)

    def download(self, handle: Handle, dest: Path) -> None:
        url = f"{self.base_url}/videos/{handle.job_id}/content"
        try:
            with self.client.stream("GET", url, params={"variant": "video"}) as response:
                if response.status_code >= 300:
                    response.read()
                    raise self._refusal(response)
                with dest.open("wb") as f:
                    for block in response.iter_bytes(1 << 16):
                        f.write(block)
        except httpx.TransportError as exc:
            raise BackendError(redact(f"download of {handle.job_id} broke off: {exc}",
                                      (self.api_key,))) from None

    def close(self) -> None:
        self.client.close()

    # ---- errors -----------------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendError(f"the server sent something that is not JSON "
                               f"(HTTP {response.status_code})") from None
        if not isinstance(data, dict):
            raise BackendError("the server sent JSON of an unexpected shape")
        return data

    def _refusal(self, response: httpx.Response) -> Exception:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        message = redact(str(error.get("message") or response.text[:300]), (self.api_key,))
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


def _fitted_reference(job: RenderJob) -> tuple[str, bytes, str]:
    """The reference image fitted to exactly the requested size (the API rejects others)."""
    from PIL import Image, ImageOps

    width, height = job.output.width, job.output.height
    assert job.shot.reference is not None
    with Image.open(job.shot.reference) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    if job.shot.fit == "contain":
        fitted = ImageOps.pad(image, (width, height), color=(20, 20, 22))
    else:
        fitted = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    fitted.save(buffer, "PNG")
    return ("reference.png", buffer.getvalue(), "image/png")
