"""A fake /v1/videos server (the OpenAI Sora 2 protocol) on 127.0.0.1, for tests and users' CI.

It speaks the protocol as VIDEO_API.md describes it: multipart creates, jobs that move
queued → in_progress → completed over polls, downloads of real MP4s of the requested size and
length (made by the previs renderer), edits, legacy remixes, extensions, list and delete.
Faults can be injected, and every request is recorded so tests can assert on what was sent.

    with FakeVideoAPI(api_key="sk-test") as api:
        ...  # point the openai backend at api.url
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from storyboard.testing._server import FakeServer, Faults, Recorded, Reply, image_size

__all__ = ["Faults", "FakeVideoAPI", "Recorded"]


@dataclass
class _Job:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created: float
    remixed_from: str | None = None
    polls: int = 0
    deleted: bool = False


class FakeVideoAPI(FakeServer):
    def __init__(self, api_key: str = "sk-fake", **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)

    @property
    def url(self) -> str:
        return f"{self.origin}/v1"

    def forget(self, job_id: str) -> None:
        """Drop a job, as a server does when one expires: it answers 404 from then on."""
        with self.lock:
            self.jobs.pop(job_id, None)

    # ---- protocol -------------------------------------------------------------------------

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> Reply:
        return Reply(401, _error("Incorrect API key provided.", "invalid_api_key"))

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        if self.faults.hostile_errors:  # a server that repeats what it was sent
            said = request.headers.get("authorization", "")
            return Reply(400, _error(f"bad request from {said}", f"bad_{said}"))
        fields, files = _form(content_type, body)
        request.fields, request.files = fields, files
        own = {k: v for k, v in fields.items() if k != "video[id]"}
        if method == "POST" and path == "/v1/videos/edits":
            if self.faults.edits_missing:
                return Reply(404, _error("Not found", "not_found"))
            return self.derived(fields.get("video[id]", ""), own)
        if method == "POST" and path == "/v1/videos/extensions":
            return self.derived(fields.get("video[id]", ""), own, extends=True)
        m = re.fullmatch(r"/v1/videos(?:/([^/]+))?(?:/(content|remix))?", path)
        if m is None:
            return Reply(404, _error(f"Unknown path {path}", "not_found"))
        job_id, action = m.groups()
        if method == "POST" and job_id is None:
            return self.create(fields, files)
        if method == "POST" and action == "remix":
            return self.derived(job_id, fields)
        if method == "GET" and job_id is None:
            return Reply(200, self._listing(request.query))
        if method == "GET" and action == "content":
            return self.content(job_id)
        if method == "GET":
            return self.retrieve(job_id)
        if method == "DELETE" and job_id in self.jobs:
            self.jobs[job_id].deleted = True
            return Reply(200, {"id": job_id, "object": "video.deleted", "deleted": True})
        return Reply(404, _error("Not found", "not_found"))

    def create(
        self,
        fields: dict[str, str],
        files: dict[str, dict[str, Any]],
        remixed_from: str | None = None,
    ) -> Reply:
        if self.fire("rate_limit"):
            return Reply(
                429,
                _error("Rate limit reached", "rate_limit_exceeded"),
                {"retry-after": f"{self.faults.retry_after:g}"},
            )
        prompt = fields.get("prompt", "")
        if not prompt:
            return Reply(400, _error("Missing required parameter: 'prompt'.", "missing_required"))
        seconds, size = fields.get("seconds", "4"), fields.get("size", "720x1280")
        if not seconds.isdigit():
            return Reply(
                400,
                _error(
                    f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.",
                    "invalid_value",
                ),
            )
        reference = files.get("input_reference")
        if reference is not None:
            if not reference.get("filename") or reference.get("content_type") not in (
                "image/jpeg",
                "image/png",
                "image/webp",
            ):
                return Reply(
                    400,
                    _error(
                        "Invalid type for 'input_reference': expected a file, "
                        "but got a string instead.",
                        "invalid_type",
                    ),
                )
            if reference.get("image_size") != size:
                return Reply(
                    400,
                    _error(
                        "Inpaint image must match the requested width and height", "invalid_value"
                    ),
                )
        if self.fire("lost_creates"):
            return Reply(
                500,
                _error("The server had an error while processing your request.", "server_error"),
            )
        with self.lock:
            job = _Job(
                f"video_{len(self.jobs) + 1:04d}_{int(time.time() * 1000) % 100000}",
                fields.get("model", "sora-2"),
                prompt,
                seconds,
                size,
                time.time(),
                remixed_from,
            )
            self.jobs[job.id] = job
        if self.fire("error_on_create"):
            return Reply(
                500,
                _error("The server had an error while processing your request.", "server_error"),
            )
        return Reply(200, self._video(job))

    def derived(self, source_id: str, fields: dict[str, str], extends: bool = False) -> Reply:
        source = self.jobs.get(source_id)
        if source is None:
            return Reply(404, _error(f"Video {source_id} not found", "not_found"))
        merged = {"model": source.model, "size": source.size, "seconds": source.seconds, **fields}
        if extends and fields.get("seconds", "").isdigit():  # the stitched whole, as OpenAI
            merged["seconds"] = str(int(source.seconds) + int(fields["seconds"]))
        return self.create(merged, {}, remixed_from=source_id)

    def retrieve(self, job_id: str) -> Reply:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.deleted:
                return Reply(404, _error(f"Video {job_id} not found", "not_found"))
            job.polls += 1
        headers = {}
        left = self.latency - (time.time() - job.created)
        if self.faults.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.faults.poll_after_ms)
        elif left > 0:  # as the real API does: tell the client when to look again
            headers["openai-poll-after-ms"] = str(max(50, round(left * 1000)))
        return Reply(200, self._video(job), headers)

    def content(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return Reply(404, _error(f"Video {job_id} not found", "not_found"))
        if self._status(job)[0] != "completed":
            return Reply(400, _error("Video is not ready yet", "video_not_ready"))
        if self.faults.elsewhere:  # the video is served by another host
            return Reply(
                302,
                b"",
                {"location": f"{self.faults.elsewhere}/v1/videos/{job_id}/content?variant=video"},
            )
        return self.download(job.size, float(job.seconds), job.id)

    def _status(self, job: _Job) -> tuple[str, dict[str, Any] | None]:
        stage = self.progress(job.created, job.polls, job.prompt)
        if stage != "done":
            return ("queued" if stage == "queued" else "in_progress"), None
        if self.refused(job.prompt):
            return "failed", {
                "code": "moderation_blocked",
                "message": "Your request was blocked by our moderation system.",
            }
        return "completed", None

    def _video(self, job: _Job) -> dict[str, Any]:
        status, error = self._status(job)
        done = status == "completed"
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": 100 if done else (0 if status == "queued" else 50),
            "created_at": int(job.created),
            "completed_at": int(time.time()) if done else None,
            "expires_at": int(job.created) + 3600,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": job.seconds,
            "remixed_from_video_id": job.remixed_from,
            "error": error,
        }

    def _listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["20"])[0])
        jobs = sorted(
            self.jobs.values(),
            key=lambda j: j.created,
            reverse=query.get("order", ["desc"])[0] == "desc",
        )
        return {"object": "list", "data": [self._video(j) for j in jobs[:limit]]}


def _error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _form(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, dict]]:
    if content_type.startswith("multipart/form-data"):
        return _multipart(content_type, body)
    if content_type.startswith("application/json") and body:
        data = json.loads(body)
        video = data.pop("video", None)
        if isinstance(video, dict):
            data["video[id]"] = video.get("id", "")
        return {k: str(v) for k, v in data.items()}, {}
    return {}, {}


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, dict]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = data.decode()
        else:
            files[str(name)] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "bytes": len(data),
                "image_size": image_size(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return fields, files
