"""A fake Gemini API (Interactions endpoint, video output) on 127.0.0.1.

``POST /v1beta/interactions`` with ``background: true`` starts a video interaction;
``GET /v1beta/interactions/{id}`` moves it queued → in_progress → completed; the video is in the
``model_output`` step as a URI served at ``/v1beta/files/{id}?alt=media`` (with the key).
Durations are strings (``"8s"``); an unknown interaction id is a 400, as Gemini answers it; a
blocked prompt completes without a video, with the model's text saying why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from storyboard.testing._server import FakeServer, Faults, Recorded, Reply, image_size

__all__ = ["FakeGemini", "Faults"]


@dataclass
class _Interaction:
    id: str
    body: dict[str, Any]
    created: float
    polls: int = 0


class FakeGemini(FakeServer):
    def __init__(self, api_key: str = "gemini-fake", **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    @property
    def url(self) -> str:
        return f"{self.origin}/v1beta"

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        return headers.get("x-goog-api-key") == self.api_key

    def unauthorized(self) -> Reply:
        return Reply(
            401, _error(401, "API key not valid. Please pass a valid API key.", "UNAUTHENTICATED")
        )

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        if method == "POST" and path == "/v1beta/interactions":
            data = json.loads(body or b"{}")
            request.fields = _summary(data)
            request.files = _images(data)
            return self._create(data)
        if m := re.fullmatch(r"/v1beta/interactions/([^/]+)", path):
            return (
                self._get(m[1])
                if method == "GET"
                else Reply(405, _error(405, "Method not allowed", "INVALID_ARGUMENT"))
            )
        if m := re.fullmatch(r"/v1beta/files/([^/]+)", path):
            if request.query.get("alt") != ["media"]:
                return Reply(400, _error(400, "alt=media is required", "INVALID_ARGUMENT"))
            if self.faults.elsewhere:  # the file is served by another host
                return Reply(302, b"", {"location": f"{self.faults.elsewhere}{path}?alt=media"})
            return self._file(m[1])
        return Reply(404, _error(404, f"Unknown path {path}", "NOT_FOUND"))

    def _create(self, data: dict[str, Any]) -> Reply:
        if self.fire("rate_limit"):
            return Reply(
                429,
                _error(429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED"),
                {"retry-after": f"{self.faults.retry_after:g}"},
            )
        fmt = data.get("response_format") or {}
        duration = str(fmt.get("duration", ""))
        if not re.fullmatch(r"\d+s", duration):
            return Reply(
                400,
                _error(
                    400,
                    f"Invalid duration '{duration}': use a string such as \"8s\"",
                    "INVALID_ARGUMENT",
                ),
            )
        if fmt.get("aspect_ratio") not in ("16:9", "9:16"):
            return Reply(400, _error(400, "aspect_ratio must be 16:9 or 9:16", "INVALID_ARGUMENT"))
        if data.get("background") is not True:
            return Reply(
                400, _error(400, "video generation needs background: true here", "INVALID_ARGUMENT")
            )
        previous = data.get("previous_interaction_id")
        if previous and previous not in self.jobs:
            return Reply(400, _error(400, f"Interaction {previous} not found", "INVALID_ARGUMENT"))
        if self.fire("lost_creates"):
            return Reply(500, _error(500, "Internal error encountered.", "INTERNAL"))
        job = _Interaction(uuid.uuid4().hex[:16], data, time.time())
        with self.lock:
            self.jobs[job.id] = job
        if self.fire("error_on_create"):
            return Reply(500, _error(500, "Internal error encountered.", "INTERNAL"))
        return Reply(200, self._interaction(job))

    def _get(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:  # Gemini's way: a 400, not a 404
            return Reply(400, _error(400, f"Interaction {job_id} not found", "INVALID_ARGUMENT"))
        with self.lock:
            job.polls += 1
        return Reply(200, self._interaction(job))

    def _state(self, job: _Interaction) -> str:
        stage = self.progress(job.created, job.polls, _prompt(job.body))
        return {"queued": "queued", "running": "in_progress", "done": "completed"}[stage]

    def _interaction(self, job: _Interaction) -> dict[str, Any]:
        state = self._state(job)
        result: dict[str, Any] = {
            "id": job.id,
            "object": "interaction",
            "status": state,
            "model": job.body.get("model"),
            "created": int(job.created),
        }
        if state == "completed":
            if self.refused(_prompt(job.body)):
                content = [
                    {
                        "type": "text",
                        "text": "I can't make that video: it may go against the safety policy.",
                    }
                ]
            else:
                content = [
                    {"type": "video", "mime_type": "video/mp4", "uri": f"{self.url}/files/{job.id}"}
                ]
            result["steps"] = [{"type": "user_input"}, {"type": "model_output", "content": content}]
        return result

    def _file(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return Reply(404, _error(404, "File not found", "NOT_FOUND"))
        fmt = job.body["response_format"]
        size = "160x90" if fmt["aspect_ratio"] == "16:9" else "90x160"
        return self.download(size, float(fmt["duration"][:-1]))


def _prompt(body: dict[str, Any]) -> str:
    return " ".join(
        str(b.get("text", ""))
        for b in body.get("input") or []
        if isinstance(b, dict) and b.get("type") == "text"
    )


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in body.items() if k != "input"}
    fields["input_types"] = [b.get("type") for b in body.get("input") or []]
    fields["prompt"] = _prompt(body)
    return fields


def _images(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    images = {}
    for n, block in enumerate(body.get("input") or []):
        if isinstance(block, dict) and block.get("type") == "image":
            raw = base64.b64decode(block.get("data", ""))
            images[f"input[{n}]"] = {
                "content_type": block.get("mime_type"),
                "image_size": image_size(raw),
                "bytes": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
    return images


def _error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}
