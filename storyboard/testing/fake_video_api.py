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
import io
import json
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Faults", "FakeVideoAPI", "Recorded"]


@dataclass
class Faults:
    """What to break. Counters count down as they fire."""

    rate_limit: int = 0  # the next N creates answer 429 with Retry-After
    retry_after: float = 1.0
    error_on_create: int = 0  # the next N creates make the job, then answer 500
    moderation_words: tuple[str, ...] = ()  # prompts with these end failed, moderation_blocked
    never_finish_words: tuple[str, ...] = ()  # prompts with these stay in_progress forever
    cut_downloads: int = 0  # the next N downloads stop half way through the body
    edits_missing: bool = False  # /videos/edits answers 404 (an older server: remix instead)
    poll_after_ms: int | None = None  # sent as openai-poll-after-ms on retrieves
    foreign_video: bool = False  # videos at 25 fps, with B-frames and no sound, as models send


@dataclass
class Recorded:
    method: str
    path: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorized: bool = False
    status: int = 0
    at: float = 0.0


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


class FakeVideoAPI:
    def __init__(self, api_key: str = "sk-fake", *, latency: float = 0.0, min_polls: int = 1,
                 faults: Faults | None = None, port: int = 0) -> None:
        self.api_key = api_key
        self.latency = latency  # seconds from create to completed
        self.min_polls = min_polls  # retrieves that still show in_progress
        self.faults = faults or Faults()
        self.requests: list[Recorded] = []
        self.jobs: dict[str, _Job] = {}
        self.lock = threading.Lock()
        self._videos: dict[tuple[str, str], bytes] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeVideoAPI:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (``storyboard fake-api``)."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def __enter__(self) -> FakeVideoAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests whose path matches ``pattern`` (a regular expression)."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def forget(self, job_id: str) -> None:
        """Drop a job, as a server does when one expires: it answers 404 from then on."""
        with self.lock:
            self.jobs.pop(job_id, None)

    # ---- protocol -----------------------------------------------------------------------

    def create(self, fields: dict[str, str], files: dict[str, dict[str, Any]],
               remixed_from: str | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            if self.faults.rate_limit:
                self.faults.rate_limit -= 1
                return 429, _error("Rate limit reached", "rate_limit_exceeded"), {
                    "retry-after": f"{self.faults.retry_after:g}"}
        prompt = fields.get("prompt", "")
        if not prompt:
            return 400, _error("Missing required parameter: 'prompt'.", "missing_required"), {}
        seconds, size = fields.get("seconds", "4"), fields.get("size", "720x1280")
        if not seconds.isdigit():
            return 400, _error(f"Invalid value: '{seconds}'. Supported values are: '4', '8', "
                               "and '12'.", "invalid_value"), {}
        reference = files.get("input_reference")
        if reference is not None:
            if not reference.get("filename") or reference.get("content_type") not in (
                    "image/jpeg", "image/png", "image/webp"):
                return 400, _error("Invalid type for 'input_reference': expected a file, but "
                                   "got a string instead.", "invalid_type"), {}
            if reference.get("image_size") != size:
                return 400, _error("Inpaint image must match the requested width and height",
                                   "invalid_value"), {}
        with self.lock:
            job = _Job(f"video_{len(self.jobs) + 1:04d}_{int(time.time() * 1000) % 100000}",
                       fields.get("model", "sora-2"), prompt, seconds, size, time.time(),
                       remixed_from)
            self.jobs[job.id] = job
            if self.faults.error_on_create:
                self.faults.error_on_create -= 1
                return 500, _error("The server had an error while processing your request.",
                                   "server_error"), {}
        return 200, self._video(job), {}

    def derived(self, source_id: str, fields: dict[str, str]) -> tuple[int, dict[str, Any],
                                                                       dict[str, str]]:
        source = self.jobs.get(source_id)
        if source is None:
            return 404, _error(f"Video {source_id} not found", "not_found"), {}
        merged = {"model": source.model, "size": source.size, "seconds": source.seconds,
                  **fields}
        return self.create(merged, {}, remixed_from=source_id)

    def retrieve(self, job_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.deleted:
                return 404, _error(f"Video {job_id} not found", "not_found"), {}
            job.polls += 1
        headers = {}
        left = self.latency - (time.time() - job.created)
        if self.faults.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.faults.poll_after_ms)
        elif left > 0:  # as the real API does: tell the client when to look again
            headers["openai-poll-after-ms"] = str(max(50, round(left * 1000)))
        return 200, self._video(job), headers

    def content(self, job_id: str) -> tuple[int, bytes | dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error(f"Video {job_id} not found", "not_found")
        if self._status(job)[0] != "completed":
            return 400, _error("Video is not ready yet", "video_not_ready")
        return 200, self._render(job.size, job.seconds)

    def _status(self, job: _Job) -> tuple[str, dict[str, Any] | None]:
        if any(w in job.prompt for w in self.faults.never_finish_words):
            return "in_progress", None
        if time.time() - job.created < self.latency or job.polls <= self.min_polls:
            return ("queued" if job.polls == 0 else "in_progress"), None
        if any(w in job.prompt for w in self.faults.moderation_words):
            return "failed", {"code": "moderation_blocked",
                              "message": "Your request was blocked by our moderation system."}
        return "completed", None

    def _video(self, job: _Job) -> dict[str, Any]:
        status, error = self._status(job)
        done = status == "completed"
        return {"id": job.id, "object": "video", "model": job.model, "status": status,
                "progress": 100 if done else (0 if status == "queued" else 50),
                "created_at": int(job.created), "completed_at": int(time.time()) if done
                else None, "expires_at": int(job.created) + 3600, "prompt": job.prompt,
                "size": job.size, "seconds": job.seconds,
                "remixed_from_video_id": job.remixed_from, "error": error}

    def _render(self, size: str, seconds: str) -> bytes:
        """A real MP4 of that size and length, made by the previs renderer (cached)."""
        key = (size, seconds, self.faults.foreign_video)
        with self.lock:
            if key not in self._videos:
                video = _previs_video(size, float(seconds))
                self._videos[key] = _foreign(video) if self.faults.foreign_video else video
            return self._videos[key]


def _previs_video(size: str, seconds: float) -> bytes:
    from ..compile import ShotPrompt
    from ..model import Output, Shot
    from ..render.base import RenderJob
    from ..render.previs import PrevisBackend

    width, height = (int(n) for n in size.split("x"))
    shot = Shot(id="fake", index=0, seconds=seconds, action="fake video API")
    prompt = ShotPrompt("fake", "", "", "", "", "", "", "", "", "")
    job = RenderJob(shot, prompt, Output(width, height, 24.0), None, "fake", 1, False)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "video.mp4"
        PrevisBackend().render(job, dest)
        return dest.read_bytes()


def _foreign(video: bytes) -> bytes:
    """The same picture encoded the way other renderers do: 25 fps, B-frames, no sound."""
    import subprocess

    from ..media import ffmpeg_exe

    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        source.write_bytes(video)
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(source), "-an", "-r", "25",
                        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", str(dest)],
                       check=True)
        return dest.read_bytes()


def _error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, dict]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = data.decode()
        else:
            files[str(name)] = {"filename": filename, "content_type": part.get_content_type(),
                                "bytes": len(data), "image_size": _image_size(data)}
    return fields, files


def _image_size(data: bytes) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return f"{image.width}x{image.height}"
    except (UnidentifiedImageError, OSError):
        return None


def _handler(api: FakeVideoAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: tests read api.requests instead

        def do_GET(self) -> None:  # noqa: N802
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            record = Recorded(method, parts.path, at=time.time(), authorized=self.headers.get(
                "authorization") == f"Bearer {api.api_key}")
            with api.lock:
                api.requests.append(record)
            if not record.authorized:
                return self._json(record, 401, _error("Incorrect API key provided.",
                                                      "invalid_api_key"))
            fields, files = self._form(body)
            record.fields, record.files = fields, files
            self._route(method, parts.path, parse_qs(parts.query), fields, files, record)

        def _form(self, body: bytes) -> tuple[dict[str, str], dict[str, dict]]:
            kind = self.headers.get("content-type", "")
            if kind.startswith("multipart/form-data"):
                return _parse_form(kind, body)
            if kind.startswith("application/json") and body:
                data = json.loads(body)
                video = data.pop("video", None)
                if isinstance(video, dict):
                    data["video[id]"] = video.get("id", "")
                return {k: str(v) for k, v in data.items()}, {}
            return {}, {}

        def _route(self, method: str, path: str, query: dict, fields: dict, files: dict,
                   record: Recorded) -> None:
            m = re.fullmatch(r"/v1/videos(?:/([^/]+))?(?:/(content|remix))?", path)
            own = {k: v for k, v in fields.items() if k != "video[id]"}
            if method == "POST" and path == "/v1/videos/edits":
                if api.faults.edits_missing:
                    return self._json(record, 404, _error("Not found", "not_found"))
                return self._reply(record, *api.derived(fields.get("video[id]", ""), own))
            if method == "POST" and path == "/v1/videos/extensions":
                return self._reply(record, *api.derived(fields.get("video[id]", ""), own))
            if m is None:
                return self._json(record, 404, _error(f"Unknown path {path}", "not_found"))
            job_id, action = m.groups()
            if method == "POST" and job_id is None:
                return self._reply(record, *api.create(fields, files))
            if method == "POST" and action == "remix":
                return self._reply(record, *api.derived(job_id, fields))
            if method == "GET" and job_id is None:
                return self._json(record, 200, self._listing(query))
            if method == "GET" and action == "content":
                return self._content(record, job_id)
            if method == "GET":
                return self._reply(record, *api.retrieve(job_id))
            if method == "DELETE" and job_id:
                job = api.jobs.get(job_id)
                if job is None:
                    return self._json(record, 404, _error("Not found", "not_found"))
                job.deleted = True
                return self._json(record, 200, {"id": job_id, "object": "video.deleted",
                                                "deleted": True})
            return self._json(record, 405, _error("Method not allowed", "method_not_allowed"))

        def _listing(self, query: dict) -> dict[str, Any]:
            limit = int(query.get("limit", ["20"])[0])
            jobs = sorted(api.jobs.values(), key=lambda j: j.created,
                          reverse=query.get("order", ["desc"])[0] == "desc")
            return {"object": "list", "data": [api._video(j) for j in jobs[:limit]]}

        def _content(self, record: Recorded, job_id: str) -> None:
            status, payload = api.content(job_id)
            if not isinstance(payload, bytes):
                return self._json(record, status, payload)
            record.status = 200
            cut = False
            with api.lock:
                if api.faults.cut_downloads:
                    api.faults.cut_downloads -= 1
                    cut = True
            self.send_response(200)
            self.send_header("content-type", "video/mp4")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if cut else payload)
            if cut:
                self.close_connection = True

        def _reply(self, record: Recorded, status: int, body: dict,
                   headers: dict[str, str]) -> None:
            self._json(record, status, body, headers)

        def _json(self, record: Recorded, status: int, body: dict,
                  headers: dict[str, str] | None = None) -> None:
            record.status = status
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
