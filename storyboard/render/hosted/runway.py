"""The ``runway`` backend: Runway's developer API (Gen-4.5, Gen-4 Turbo, Veo 3.1 on Runway).

``POST /v1/image_to_video`` with the first frame as ``promptImage`` (a data URI; with an end
frame, ``[{uri, position: first}, {uri, position: last}]`` where the model takes one), or
``POST /v1/text_to_video`` for a shot without a reference; ``duration`` an integer, ``ratio``
a pixel pair of the output's shape, ``seed`` and ``audio`` where the model has them. Then
``GET /v1/tasks/{id}`` until SUCCEEDED (the video is ``output[0]``, a signed URL that expires
in 24-48 h: downloaded at once, without the key) or FAILED (``failureCode`` SAFETY.* is a
content-policy refusal). Every request carries ``X-Runway-Version`` ($RUNWAYML_API_VERSION,
default the SDK's own). Facts and their sources: ``storyboard/data/runway_models.json``.

Runway cannot list tasks: a create whose answer was lost (a 5xx, a dropped connection, a run
killed mid-request) cannot be found again, so the next run creates a new task, and Runway may
bill both. The shot fails with that said rather than being created twice in one run.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import httpx

from storyboard.errors import BackendError, ConfigError, RenderError
from storyboard.format.model import Output
from storyboard.render.base import BackendConfig, Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import Refusals, RemoteBackend, Video, png_file
from storyboard.render.hosted.wire import Call
from storyboard.render.wants import end_frame, seed, wants_audio

__all__ = ["RunwayBackend", "DEFAULT_MODEL"]

DEFAULT_MODEL = "gen4.5"
PROMPT_LIMIT = 1000  # promptText, in UTF-16 code units
_LONG_SIDE = 1280  # images travel as data URIs (5 MB at most): the output's shape, no bigger
_STATUS = {
    "PENDING": "queued",
    "THROTTLED": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "canceled",
}


@cache
def _table() -> dict[str, Any]:
    text = resources.files("storyboard").joinpath("data/runway_models.json").read_text("utf-8")
    return dict(json.loads(text))


def _models() -> dict[str, Any]:
    return {k: v for k, v in _table().items() if not k.startswith("_")}


class RunwayBackend(RemoteBackend):
    name = "runway"
    version = "1"
    key_env = "RUNWAYML_API_SECRET"
    url_env = "RUNWAYML_BASE_URL"
    default_url = str(_table()["_api"]["base_url"])
    refusals = Refusals(blocked_words=("content moderation",))

    @classmethod
    def from_config(cls, config: BackendConfig) -> RemoteBackend:
        backend = super().from_config(config)
        api_version = config.env.get("RUNWAYML_API_VERSION") or _table()["_api"]["version"]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", api_version):
            backend.close()
            raise ConfigError(
                f"$RUNWAYML_API_VERSION must be a date such as 2024-11-06, not {api_version!r}"
            )
        backend.client.headers["X-Runway-Version"] = api_version
        return backend

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:  # a model newer than our table: render.capabilities says what it takes
            return Capabilities(first_frame=True, wait=120.0)
        return Capabilities(
            durations=tuple(float(d) for d in info["durations"]),
            aspect_ratios=tuple(info["ratios"]),
            first_frame=True,
            last_frame=bool(info["last_frame"]),
            audio=bool(info["audio"]),
            seed=bool(info["seed"]),
            price_per_second=info["price_per_second"],
            audio_price_per_second=info["audio_price_per_second"],
            wait=float(info["wait"]),
        )

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return tuple(_models())

    @classmethod
    def describe(cls, model: str) -> dict[str, Any]:
        info = _models().get(model, {})
        return {
            "label": info.get("label"),
            "unverified": (info.get("source") or {}).get("unverified"),
        }

    @classmethod
    def price_per_second(cls, model: str | None, size: str, audio: bool = False) -> float | None:
        info = _models().get(model or DEFAULT_MODEL)
        if info is None:
            return None
        return (audio and info["audio_price_per_second"]) or info["price_per_second"]

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        model = job.model or DEFAULT_MODEL
        info = _models().get(model, {})
        text = job.prompt.text
        if len(text.encode("utf-16-le")) // 2 > PROMPT_LIMIT:
            raise RenderError(
                f"the prompt is {len(text)} characters; Runway takes at most "
                f"{PROMPT_LIMIT}: shorten the shot's text or use shorter "
                "templates (--templates)"
            )
        body: dict[str, Any] = {
            "model": model,
            "promptText": text,
            "duration": round(job.render_seconds),
        }
        if job.shot.reference is not None:
            path = "/v1/image_to_video"
            body["ratio"] = _ratio(job.output, info.get("ratios"))
            body["promptImage"] = _frames(job, bool(info.get("last_frame", True)))
        elif info.get("text_to_video", True):
            path = "/v1/text_to_video"
            body["ratio"] = _ratio(job.output, info.get("text_ratios"), strict=model)
        else:
            raise RenderError(
                f"Runway's {model} animates an image: give the shot a "
                "reference, or choose gen4.5 or veo3.1 for text-only shots"
            )
        chosen = seed(job)
        if chosen is not None and info.get("seed", True):
            body["seed"] = chosen
        if info.get("audio"):
            body["audio"] = wants_audio(job.shot)
        body.update(job.render.extra or {})
        return Call("POST", path, json=body)

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        if not answer.get("id"):
            raise BackendError("Runway's answer to create names no task id")
        return Handle(
            self.name,
            self.base_url,
            job.model or DEFAULT_MODEL,
            self.remote_id(answer["id"]),
            job.render_key,
        )

    def status_url(self, handle: Handle) -> str:
        return f"{self.base_url}/v1/tasks/{handle.job_id}"

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        status = _STATUS.get(str(answer.get("status", "")).upper(), "running")
        code = self.scrub(str(answer.get("failureCode") or ""))
        if status == "failed" and code.upper().startswith("SAFETY"):
            status = "blocked"
        progress = answer.get("progress")
        fraction = float(progress) if isinstance(progress, int | float) else None
        return JobState(
            status,
            None if fraction is None else min(fraction, 1.0) * 100,
            code,
            self.scrub(str(answer.get("failure") or "")),
        )

    def video(self, handle: Handle) -> Video:
        """The task's output, asked for afresh: its signed URLs expire."""
        output = self.json(self.check(self.get(self.status_url(handle)))).get("output")
        if not isinstance(output, list) or not output or not isinstance(output[0], str):
            raise BackendError(f"Runway's task {handle.job_id} succeeded but names no video")
        return Video(output[0])

    def cancel(self, handle: Handle) -> None:
        """Cancel a task under way (a finished one is deleted); no refund once it runs."""
        response = self.caller.request("DELETE", self.status_url(handle))
        if response.status_code >= 300 and not self.is_gone(response):
            raise self.refusal(response)

    def error_fields(self, response: httpx.Response) -> tuple[str, str]:
        """Runway's errors are ``{"error": "a sentence"}``: no code, a message."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            return super().error_fields(response)
        return "", self.scrub(str(error or response.text[:300]))


def _frames(job: RenderJob, takes_last: bool) -> Any:
    out = job.output
    scale = min(1.0, _LONG_SIDE / max(out.width, out.height))
    size = round(out.width * scale) // 2 * 2, round(out.height * scale) // 2 * 2
    assert job.shot.reference is not None
    first = png_file(job.shot.reference, job.shot.fit, *size, "data_uri")
    last = end_frame(job)
    if last is None or not takes_last:
        return first
    return [
        {"uri": first, "position": "first"},
        {"uri": png_file(last, job.shot.fit, *size, "data_uri"), "position": "last"},
    ]


def _ratio(out: Output, ratios: list[str] | None, strict: str = "") -> str:
    """The offered pixel pair of the output's shape: the smallest that holds it, else the
    largest; the output's own size for a model our table does not know."""
    if not ratios:
        return f"{out.width}:{out.height}"
    pairs = [tuple(int(n) for n in r.split(":")) for r in ratios]
    same = sorted(
        (p for p in pairs if abs(p[0] / p[1] - out.width / out.height) < 0.01),
        key=lambda p: p[0] * p[1],
    )
    if not same:
        if strict:
            raise RenderError(
                f"Runway's {strict} renders shots without a reference only at "
                f"{' or '.join(ratios)}; give the shot a reference image"
            )
        return f"{out.width}:{out.height}"
    chosen = next((p for p in same if p[0] >= out.width and p[1] >= out.height), same[-1])
    return f"{chosen[0]}:{chosen[1]}"
