"""A fake fal.ai queue API on 127.0.0.1, speaking the protocol as fal documents it.

``POST /{model_id}`` queues a request and answers with its URLs; the status and response URLs
use only the app's id (the first two path segments), never the model's sub-path, as fal's do:
a client that builds URLs itself instead of using them verbatim gets 404s here too. Errors come
as ``{"detail": [{"loc", "msg", "type"}]}`` with ``X-Fal-Retryable``.
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

__all__ = ["FakeFal", "Faults"]


@dataclass
class _Request:
    id: str
    app: str
    model: str
    input: dict[str, Any]
    created: float
    polls: int = 0


class FakeFal(FakeServer):
    def __init__(self, api_key: str = "fal-fake", **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    @property
    def url(self) -> str:
        return self.origin

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        return headers.get("authorization") == f"Key {self.api_key}"

    def unauthorized(self) -> Reply:
        return Reply(401, _detail("Invalid API key", "authentication_error"))

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        m = re.fullmatch(r"/([^/]+/[^/]+)/requests/([^/]+)(/status|/cancel)?", path)
        if m:
            app, request_id, action = m.groups()
            job = self.jobs.get(request_id)
            if job is None or job.app != app:
                return Reply(404, _detail("Request not found", "not_found"))
            if action == "/status" and method == "GET":
                return self._status_reply(job)
            if action == "/cancel" and method == "PUT":
                return Reply(200, {"status": "CANCELLATION_REQUESTED"})
            if action is None and method == "GET":
                return self._result(job)
            return Reply(405, _detail("Method not allowed", "method_not_allowed"))
        if m := re.fullmatch(r"/files/([^/]+)\.mp4", path):
            return self._file(m[1])
        if method == "POST" and path.count("/") >= 2:
            data = json.loads(body or b"{}")
            request.fields = {
                k: (v if not str(v).startswith("data:") else "data:...") for k, v in data.items()
            }
            return self._submit(path.strip("/"), data, request)
        return Reply(404, _detail(f"Unknown path {path}", "not_found"))

    def _submit(self, model: str, data: dict[str, Any], request: Recorded) -> Reply:
        if self.fire("rate_limit"):
            return Reply(
                429,
                _detail("Rate limit exceeded", "rate_limit_exceeded"),
                {"retry-after": f"{self.faults.retry_after:g}", "x-fal-retryable": "true"},
            )
        if not isinstance(data.get("prompt"), str) or not data["prompt"]:
            return Reply(
                422,
                _detail("Field required", "missing", ["body", "prompt"]),
                {"x-fal-retryable": "false"},
            )
        for name, value in data.items():
            if isinstance(value, str) and value.startswith("data:image/"):
                raw = base64.b64decode(value.split(",", 1)[1])
                request.files[name] = {
                    "image_size": image_size(raw),
                    "bytes": len(raw),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                    "content_type": value[5 : value.index(";")],
                }
        if self.fire("lost_creates"):
            return Reply(500, _detail("Internal error", "internal_server_error"))
        app = "/".join(model.split("/")[:2])
        job = _Request(uuid.uuid4().hex, app, model, data, time.time())
        with self.lock:
            self.jobs[job.id] = job
        if self.fire("error_on_create"):
            return Reply(
                500,
                _detail("Internal error", "internal_server_error"),
                {"x-fal-retryable": "false"},
            )
        base = f"{self.handed_out}/{app}/requests/{job.id}"
        return Reply(
            200,
            {
                "request_id": job.id,
                "status_url": f"{base}/status",
                "response_url": base,
                "cancel_url": f"{base}/cancel",
                "queue_position": 0,
            },
        )

    def _state(self, job: _Request) -> str:
        stage = self.progress(job.created, job.polls, str(job.input.get("prompt", "")))
        return {"queued": "IN_QUEUE", "running": "IN_PROGRESS", "done": "COMPLETED"}[stage]

    def _status_reply(self, job: _Request) -> Reply:
        with self.lock:
            job.polls += 1
        state = self._state(job)
        body: dict[str, Any] = {"status": state, "request_id": job.id}
        if state == "IN_QUEUE":
            body["queue_position"] = 0
        if state == "COMPLETED":
            body["response_url"] = f"{self.handed_out}/{job.app}/requests/{job.id}"
        return Reply(202 if state != "COMPLETED" else 200, body)

    def _result(self, job: _Request) -> Reply:
        if self._state(job) != "COMPLETED":
            return Reply(400, _detail("Request is still in progress", "request_in_progress"))
        if self.refused(str(job.input.get("prompt", ""))):
            # a COMPLETED request that carries an error payload
            return Reply(
                422,
                _detail(
                    "The content could not be processed because it "
                    "contained material flagged by a content checker.",
                    "content_policy_violation",
                    ["body", "prompt"],
                ),
                {"x-fal-retryable": "false"},
            )
        return Reply(
            200,
            {
                "video": {
                    "url": f"{self.handed_out}/files/{job.id}.mp4",
                    "content_type": "video/mp4",
                },
                "seed": 42,
            },
        )

    def _file(self, request_id: str) -> Reply:
        job = self.jobs.get(request_id)
        if job is None:
            return Reply(404, _detail("File not found", "not_found"))
        length = next((v for k, v in job.input.items() if re.search("duration|seconds", k)), 5)
        seconds = float(re.sub(r"[^0-9.]", "", str(length)) or 5)
        return self.download(_size(job), seconds)


def _size(job: _Request) -> str:
    """fal models pick their own size: from the image's shape, else the aspect ratio."""
    ratio = str(job.input.get("aspect_ratio", "16:9"))
    return "90x160" if ratio == "9:16" else "160x90"


def _detail(msg: str, kind: str, loc: list[str] | None = None) -> dict[str, Any]:
    return {"detail": [{"loc": loc or ["body"], "msg": msg, "type": kind}]}
