"""The ``gemini`` backend: Gemini Omni through the Gemini API's Interactions endpoint.

``POST /interactions`` with ``background: true`` (else the call blocks for the whole
generation), the reference as an inline image block before the text block, and
``response_format`` asking for a video; ``GET /interactions/{id}`` until it ends; the video is
in the ``model_output`` step's content, as a URI (downloaded with ``alt=media``, the key only
on the API's own origin) or inline data. A completed interaction without a video is a safety
block.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import httpx

from storyboard.errors import BackendError
from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import (
    Refusals,
    RemoteBackend,
    Video,
    aspect_ratio,
    png,
    resolution_tier,
)
from storyboard.render.hosted.wire import Call

__all__ = ["GeminiBackend", "DEFAULT_MODEL"]

DEFAULT_MODEL = "gemini-omni-1.1-flash"  # chosen 2026-11-21; ids change often: render.model
PRICE_PER_SECOND = 0.10  # third-party figure at 720p
_STATUS = {
    "queued": "queued",
    "in_progress": "running",
    "requires_action": "failed",
    "completed": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
    "incomplete": "failed",
    "budget_exceeded": "failed",
}
_TIERS = ("360p", "720p", "1080p", "4k")


def _durations(model: str) -> tuple[float, ...]:
    longest = 15 if re.search(r"1\.[2-9]", model) else 10  # Omni 1.2 renders 3–15 s
    return tuple(float(s) for s in range(3, longest + 1))


class GeminiBackend(RemoteBackend):
    name = "gemini"
    version = "1"
    key_env = "GEMINI_API_KEY"
    url_env = "GEMINI_BASE_URL"
    default_url = "https://generativelanguage.googleapis.com/v1beta"
    key_header = "x-goog-api-key"
    key_prefix = ""
    refusals = Refusals(blocked=frozenset({"safety"}))
    code_field = "status"

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(
            durations=_durations(model or DEFAULT_MODEL),
            aspect_ratios=("16:9", "9:16"),
            first_frame=True,
            remix=True,
            extend=True,
            audio=True,
            price_per_second=PRICE_PER_SECOND,
            wait=120.0,
        )

    @classmethod
    def price_per_second(
        cls, model: str | None, size: str, audio: bool = False
    ) -> float | None:  # sound costs nothing more
        return PRICE_PER_SECOND

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        out = job.output
        blocks: list[dict[str, Any]] = []
        task = "text_to_video"
        body: dict[str, Any] = {"model": job.model or DEFAULT_MODEL, "background": True}
        if job.shot.source:  # a derived shot is never a plain create
            task = "edit" if job.shot.remix_of else "extend"
            body["previous_interaction_id"] = job.source_remote_id or ""
        elif job.shot.reference is not None:
            task = "image_to_video"
            blocks.append(
                {"type": "image", "data": png(job, out.width, out.height), "mime_type": "image/png"}
            )
        blocks.append({"type": "text", "text": job.prompt.text})
        body.update(
            input=blocks,
            response_format={
                "type": "video",
                "aspect_ratio": aspect_ratio(out.width, out.height),
                "resolution": resolution_tier(min(out.width, out.height), _TIERS),
                "duration": f"{round(job.render_seconds)}s",
                "delivery": "uri",
            },
            generation_config={"video_config": {"task": task}},
        )
        body.update(job.render.extra or {})
        return Call("POST", "/interactions", json=body)

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        if not answer.get("id"):
            raise BackendError("the Gemini API's answer to create names no interaction id")
        return Handle(
            self.name,
            self.base_url,
            job.model or DEFAULT_MODEL,
            self.remote_id(answer["id"]),
            job.render_key,
        )

    def status_url(self, handle: Handle) -> str:
        return f"{self.base_url}/interactions/{handle.job_id}"

    def is_gone(self, response: httpx.Response) -> bool:
        # Gemini answers an unknown id with 400 INVALID_ARGUMENT, not 404
        if response.status_code not in (400, 404):
            return False
        status, message = self.error_fields(response)
        return (
            response.status_code == 404 or status == "NOT_FOUND" or "not found" in message.lower()
        )

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        raw = str(answer.get("status", ""))
        status = _STATUS.get(raw, "running")
        if status == "succeeded" and _video(answer) is None:
            reason = self.scrub(_text(answer)) or "the model returned no video"
            return JobState("blocked", error_code="no_video", error_message=reason)
        error = answer.get("error") or {}
        message = self.scrub(str(error.get("message") or "")) if isinstance(error, dict) else ""
        return JobState(
            status, error_code=self.scrub(raw) if status == "failed" else "", error_message=message
        )

    def video(self, handle: Handle) -> Video:
        found = _video(self.json(self.check(self.get(self.status_url(handle)))))
        if found is None:
            raise BackendError(f"interaction {handle.job_id} holds no video")
        if found.get("data"):
            try:
                return Video(data=base64.b64decode(str(found["data"]), validate=True))
            except (binascii.Error, ValueError):
                raise BackendError("the interaction's inline video is not base64") from None
        return Video(str(found.get("uri", "")), params={"alt": "media"})

    def error_fields(self, response: httpx.Response) -> tuple[str, str]:
        status, message = super().error_fields(response)
        try:
            details = response.json()["error"].get("details") or []
        except (ValueError, KeyError, TypeError, AttributeError):
            details = []
        safety = "safety" in status.lower() or any(
            isinstance(d, dict) and d.get("reason") == "SAFETY" for d in details
        )
        return ("SAFETY" if safety else status), message


def _outputs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for step in data.get("steps") or []
        if isinstance(step, dict) and step.get("type") == "model_output"
        for c in step.get("content") or []
        if isinstance(c, dict)
    ]


def _video(data: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (c for c in _outputs(data) if c.get("type") == "video" and (c.get("uri") or c.get("data"))),
        None,
    )


def _text(data: dict[str, Any]) -> str:
    return " ".join(str(c.get("text", "")) for c in _outputs(data) if c.get("type") == "text")
