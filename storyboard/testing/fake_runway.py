"""A fake Runway developer API on 127.0.0.1, speaking the protocol as Runway publishes it.

``POST /v1/image_to_video`` and ``/v1/text_to_video`` take JSON (``model``, ``promptText``,
``promptImage`` as a data URI or ``[{uri, position}]``, integer ``duration``, ``ratio`` as a
pixel pair, ``seed``, ``audio``) and answer ``{"id"}``; ``GET /v1/tasks/{id}`` moves the task
PENDING → RUNNING → SUCCEEDED with ``output: [url]`` (or FAILED with ``failureCode``);
``DELETE /v1/tasks/{id}`` cancels a running task and deletes a finished one. Every request
needs ``Authorization: Bearer`` and ``X-Runway-Version``. Output URLs are signed and need no
key; they point at ``faults.elsewhere`` when set (a CDN: an ``open_access`` fake sharing
``jobs``). Runway cannot list tasks, and neither can this fake.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from storyboard.testing._server import FakeServer, Faults, Recorded, Reply, image_size

__all__ = ["FakeRunway", "Faults", "MODELS"]

VERSION = "2024-11-06"
_GEN4 = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_VEO = ("1280:720", "720:1280", "1080:1920", "1920:1080")
# What the vendor accepts (runwayml SDK 5.24.0 types), kept apart from our own presets so a
# wrong preset shows up as a refused request: (ratios with an image, ratios without, durations,
# positions a promptImage may take, whether text-to-video exists)
MODELS: dict[
    str, tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...], tuple[str, ...], bool]
] = {
    "gen4.5": (_GEN4, ("1280:720", "720:1280"), tuple(range(2, 11)), ("first",), True),
    "gen4_turbo": (_GEN4, (), tuple(range(2, 11)), ("first",), False),
    "veo3.1": (_VEO, _VEO, (4, 6, 8), ("first", "last"), True),
    "veo3.1_fast": (_VEO, _VEO, (4, 6, 8), ("first", "last"), True),
}


@dataclass
class _Task:
    id: str
    body: dict[str, Any]
    created: float
    polls: int = 0
    cancelled: bool = False
    deleted: bool = False


class FakeRunway(FakeServer):
    def __init__(self, api_key: str = "key_fake", **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self.throttled_polls = 0  # polls that show THROTTLED before a task starts

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        if "_sig" in query:  # a signed output URL: the signature is the credential
            return True
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "Invalid API key."})

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        if m := re.fullmatch(r"/files/([0-9a-f-]+)\.mp4", path):
            return self._file(m[1], request.query)
        if request.headers.get("x-runway-version") != VERSION:
            return Reply(
                400,
                {
                    "error": "The X-Runway-Version header is missing or not a "
                    f"supported version (use {VERSION})."
                },
            )
        if method == "POST" and path in ("/v1/image_to_video", "/v1/text_to_video"):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return Reply(400, {"error": "The request body is not valid JSON."})
            request.fields = {k: _shown(v) for k, v in data.items()}
            request.files = _images(data.get("promptImage"))
            return self._create(path.rsplit("/", 1)[1], data)
        if m := re.fullmatch(r"/v1/tasks/([^/]+)", path):
            if method == "GET":
                return self._get(m[1])
            if method == "DELETE":
                return self._delete(m[1])
            return Reply(405, {"error": "Method not allowed."})
        return Reply(404, {"error": f"Not found: {path}"})

    # ---- create -----------------------------------------------------------------------------

    def _create(self, kind: str, data: dict[str, Any]) -> Reply:
        if self.fire("rate_limit"):
            return Reply(
                429,
                {"error": "You have exceeded your daily generation limit."},
                {"retry-after": f"{self.faults.retry_after:g}"},
            )
        problem = _invalid(kind, data)
        if problem:
            return Reply(400, {"error": problem})
        task = _Task(str(uuid.uuid4()), data, time.time())
        with self.lock:
            self.jobs[task.id] = task
        if self.fire("error_on_create"):
            return Reply(500, {"error": "An unexpected error occurred."})
        return Reply(200, {"id": task.id, "estimatedCost": {"credits": _credits(data)}})

    # ---- tasks ------------------------------------------------------------------------------

    def _task(self, task_id: str) -> _Task | None:
        task = self.jobs.get(task_id)
        return task if isinstance(task, _Task) and not task.deleted else None

    def _get(self, task_id: str) -> Reply:
        task = self._task(task_id)
        if task is None:
            return Reply(404, {"error": "Task not found."})
        with self.lock:
            task.polls += 1
        base = {"id": task.id, "createdAt": _iso(task.created)}
        estimated = {"estimatedCost": {"credits": _credits(task.body)}}
        if task.cancelled:
            return Reply(200, {**base, "status": "CANCELLED", "cost": {"credits": 0}})
        if task.polls <= self.throttled_polls:
            return Reply(200, {**base, **estimated, "status": "THROTTLED"})
        prompt = str(task.body.get("promptText", ""))
        stage = self.progress(task.created, task.polls - 1 - self.throttled_polls, prompt)
        if stage == "queued":
            return Reply(200, {**base, **estimated, "status": "PENDING"})
        if stage == "running":
            return Reply(200, {**base, **estimated, "status": "RUNNING", "progress": 0.5})
        cost = {"cost": {"credits": _credits(task.body)}}
        if self.refused(prompt):
            return Reply(
                200,
                {
                    **base,
                    **cost,
                    "status": "FAILED",
                    "failure": "The prompt text did not pass our content moderation.",
                    "failureCode": "SAFETY.INPUT.TEXT",
                },
            )
        url = f"{self.handed_out}/files/{task.id}.mp4?_sig={task.id[:8]}&_exp=172800"
        return Reply(200, {**base, **cost, "status": "SUCCEEDED", "output": [url]})

    def _delete(self, task_id: str) -> Reply:
        task = self._task(task_id)
        if task is None:
            return Reply(404, {"error": "Task not found."})
        prompt = str(task.body.get("promptText", ""))
        with self.lock:
            if self.progress(task.created, task.polls, prompt) == "done":
                task.deleted = True
            else:
                task.cancelled = True
        return Reply(204, b"")

    def _file(self, task_id: str, query: dict[str, list[str]]) -> Reply:
        task = self.jobs.get(task_id)
        if task is None or query.get("_sig") != [task_id[:8]]:
            return Reply(403, b"AccessDenied")
        size = _size(str(task.body.get("ratio", "1280:720")))
        return self.download(size, float(task.body.get("duration") or 5))


def _invalid(kind: str, data: dict[str, Any]) -> str | None:
    """What Runway would refuse in this create, as its 400 says it, or None."""
    model = data.get("model")
    if model not in MODELS:
        return f"Invalid model: {model!r}. Expected one of {', '.join(sorted(MODELS))}."
    ratios, text_ratios, durations, positions, text_ok = MODELS[model]
    if kind == "text_to_video" and not text_ok:
        return f"Model {model} does not support text_to_video."
    text = data.get("promptText")
    if (kind == "text_to_video" or model == "gen4.5") and not isinstance(text, str):
        return "promptText is required."
    if text is not None and (not isinstance(text, str) or not 0 < len(text) <= 1000):
        return "promptText must be a non-empty string of at most 1000 characters."
    allowed = ratios if kind == "image_to_video" else text_ratios
    if data.get("ratio") not in allowed:
        return f"Invalid ratio {data.get('ratio')!r}. Expected one of {', '.join(allowed)}."
    duration = data.get("duration", durations[-1])
    if type(duration) is not int or duration not in durations:
        return f"Invalid duration {duration!r}: an integer in {list(durations)} is expected."
    if "seed" in data and (type(data["seed"]) is not int or not 0 <= data["seed"] <= 4294967295):
        return "seed must be an integer from 0 to 4294967295."
    if kind == "image_to_video":
        return _image_problem(data.get("promptImage"), positions)
    return "promptImage is not accepted by text_to_video." if "promptImage" in data else None


def _image_problem(image: Any, positions: tuple[str, ...]) -> str | None:
    items = [{"uri": image, "position": "first"}] if isinstance(image, str) else image
    if not isinstance(items, list) or not items:
        return "promptImage is required: a URL, a data URI, or a list of {uri, position}."
    seen = [item.get("position") for item in items if isinstance(item, dict)]
    if len(seen) != len(items) or any(p not in positions for p in seen):
        return f"promptImage positions must be one of {', '.join(positions)}."
    if "first" not in seen or len(set(seen)) != len(seen):
        return "promptImage needs exactly one first frame (and at most one last frame)."
    for item in items:
        uri = str(item.get("uri", ""))
        if not (uri.startswith("https://") or re.match(r"data:image/(png|jpeg|webp);base64,", uri)):
            return "promptImage uri must be an HTTPS URL or a data URI of a PNG, JPEG or WEBP."
    return None


def _images(image: Any) -> dict[str, dict[str, Any]]:
    items = [{"uri": image, "position": "first"}] if isinstance(image, str) else image
    out: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        uri = str(item.get("uri", "")) if isinstance(item, dict) else ""
        if uri.startswith("data:image/") and "," in uri:
            raw = base64.b64decode(uri.split(",", 1)[1])
            out[str(item.get("position"))] = {
                "image_size": image_size(raw),
                "bytes": len(raw),
                "content_type": uri[5 : uri.index(";")],
            }
    return out


def _shown(value: Any) -> Any:
    """A request field as recorded: data URIs shortened, the rest as sent."""
    if isinstance(value, str) and value.startswith("data:"):
        return "data:..."
    if isinstance(value, list):
        return [_shown(v) for v in value]
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    return value


def _size(ratio: str) -> str:
    """The ratio's shape, small: its short side 90 pixels, both sides even."""
    w, h = (int(n) for n in ratio.split(":"))
    scale = 90 / min(w, h)
    return f"{round(w * scale / 2) * 2}x{round(h * scale / 2) * 2}"


def _credits(data: dict[str, Any]) -> int:
    per_second = {"gen4.5": 12, "gen4_turbo": 5, "veo3.1": 20, "veo3.1_fast": 10}
    rate = per_second.get(str(data.get("model")), 10) * (2 if data.get("audio") else 1)
    return rate * int(data.get("duration") or 5)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))
