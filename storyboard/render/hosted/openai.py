"""The ``openai`` backend: any server that speaks the /v1/videos protocol of Sora 2.

OpenAI's own Videos API shut down in September 2026; LiteLLM's proxy, local model servers
(vLLM-Omni, SGLang with Wan 2.x) and many resellers still speak it, so the base URL is
configurable and what comes back is read leniently (unknown statuses and fields are tolerated).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import httpx

from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import Refusals, RemoteBackend, Video, png
from storyboard.render.hosted.wire import Call

__all__ = ["OpenAIBackend"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "sora-2"
UNKNOWN_MODEL_WAIT = 120.0  # assumed turnaround of one job, for estimates only
LISTED = 20  # jobs one listing asks for when looking for a create whose answer was lost
_STATUS = {
    "queued": "queued",
    "pending": "queued",
    "in_progress": "running",
    "processing": "running",
    "running": "running",
    "completed": "succeeded",
    "succeeded": "succeeded",
    "failed": "failed",
    "expired": "expired",
    "canceled": "canceled",
    "cancelled": "canceled",
}


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
    refusals = Refusals(
        blocked=frozenset({"moderation_blocked", "content_policy_violation", "content_filter"}),
        blocked_words=("moderation",),
    )

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:  # a gateway's own model: render.capabilities says what it takes
            return Capabilities(
                first_frame=True, remix=True, extend=True, audio=True, wait=UNKNOWN_MODEL_WAIT
            )
        prices = info["price_per_second"]
        return Capabilities(
            durations=tuple(float(s) for s in info["seconds"]),
            sizes=tuple(info["sizes"]),
            first_frame=True,
            remix=True,
            extend=True,
            audio=True,
            price_per_second=prices["default"],
            wait=float(info["wait"]),
        )

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return tuple(_models())

    @classmethod
    def price_per_second(
        cls, model: str | None, size: str, audio: bool = False
    ) -> float | None:  # sound costs nothing more
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:
            return None
        prices = info["price_per_second"]
        return float(prices.get(size, prices["default"]))

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        prompt, seconds = job.prompt.text, f"{job.render_seconds:g}"
        source = job.source_remote_id or ""  # a derived shot is never a plain create
        if job.shot.remix_of:
            legacy = Call("POST", f"/videos/{source}/remix", json={"prompt": prompt})
            return Call(
                "POST",
                "/videos/edits",
                form={"prompt": prompt, "video[id]": source},
                fallback=legacy,
            )
        if job.shot.extend_of:
            return Call(
                "POST",
                "/videos/extensions",
                form={"prompt": prompt, "seconds": seconds, "video[id]": source},
            )
        form: dict[str, Any] = {
            "model": job.model or DEFAULT_MODEL,
            "prompt": prompt,
            "seconds": seconds,
            "size": job.output.size,
        }
        if job.shot.reference is not None:
            form["input_reference"] = png(job, job.output.width, job.output.height, "file")
        return Call("POST", "/videos", form=form)

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        return Handle(
            self.name,
            self.base_url,
            job.model or DEFAULT_MODEL,
            self.remote_id(answer["id"]),
            job.render_key,
        )

    def look_for(self, job: RenderJob, since: float) -> tuple[Handle | None, bool]:
        """The newest jobs, listed: ours if one has our prompt and was created since then."""
        response = self.get(f"{self.base_url}/videos", params={"limit": LISTED, "order": "desc"})
        if response.status_code >= 300:
            return None, False
        listing = self.json(response)
        videos = [v for v in listing.get("data") or [] if isinstance(v, dict)]
        for video in videos:
            if video.get("prompt") == job.prompt.text and _created(video) >= since - 5:
                return self.handle(job, video), False
        older = any(_created(v) < since - 5 for v in videos)
        return None, older or (len(videos) < LISTED and not listing.get("has_more"))

    def status_url(self, handle: Handle) -> str:
        return f"{self.base_url}/videos/{handle.job_id}"

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        status = _STATUS.get(str(answer.get("status", "")).lower(), "running")
        error = answer.get("error") or {}
        error = error if isinstance(error, dict) else {}
        code, message = (
            self.scrub(str(error.get("code") or "")),
            self.scrub(str(error.get("message") or "")),
        )
        if status == "failed" and code in self.refusals.blocked:
            status = "blocked"
        after = response.headers.get("openai-poll-after-ms")
        return JobState(
            status,
            _number(answer.get("progress")),
            code,
            message,
            float(after) / 1000 if after and after.isdigit() else None,
        )

    def video(self, handle: Handle) -> Video:
        return Video(f"{self.base_url}/videos/{handle.job_id}/content", params={"variant": "video"})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _created(video: dict[str, Any]) -> float:
    return _number(video.get("created_at")) or 0.0
