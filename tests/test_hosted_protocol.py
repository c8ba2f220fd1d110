"""The hosted base class as a backend author meets it: a fourth backend is one small class,
and every backend's key material is exactly the create it sends, images by hash."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from storyboard.compile import compile_storyboard
from storyboard.format.validate import load_storyboard
from storyboard.media import probe
from storyboard.render.base import BackendConfig, Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.base import Refusals, RemoteBackend, Video
from storyboard.render.hosted.wire import Call
from storyboard.testing._server import FakeServer, Recorded, Reply
from storyboard.testing.fake_fal import FakeFal
from storyboard.testing.fake_gemini import FakeGemini
from storyboard.testing.fake_video_api import FakeVideoAPI

KEY = "echo-KEY-5150"


class FakeEcho(FakeServer):
    """A made-up provider: POST /jobs → {"job"}; GET /jobs/ID → {"state", "file"}."""

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        return headers.get("x-echo-key") == self.api_key

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": {"code": "bad_key", "message": "no"}})

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        if method == "POST" and path == "/jobs":
            data = json.loads(body)
            request.fields = data
            job_id = uuid.uuid4().hex
            self.jobs[job_id] = {"data": data, "polls": 0}
            return Reply(200, {"job": job_id})
        if m := re.fullmatch(r"/(jobs|files)/(\w+)", path):
            job = self.jobs.get(m[2])
            if job is None:
                return Reply(404, {"error": {"code": "unknown", "message": "no such job"}})
            if m[1] == "files":
                return self.download("160x90", float(job["data"]["secs"]))
            job["polls"] += 1
            done = job["polls"] > 1
            return Reply(
                200,
                {
                    "state": "done" if done else "busy",
                    "file": f"{self.origin}/files/{m[2]}" if done else None,
                },
            )
        return Reply(404, {"error": {"code": "unknown", "message": path}})


class EchoBackend(RemoteBackend):
    """The whole of a fourth backend: the request, the handle, the state, the video."""

    name = "echo"
    key_env = "ECHO_KEY"
    default_url = "https://api.echo.invalid"
    key_header, key_prefix = "x-echo-key", ""
    refusals = Refusals(blocked=frozenset({"refused"}))

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        return Capabilities(first_frame=False)

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        return Call("POST", "/jobs", json={"text": job.prompt.text, "secs": job.render_seconds})

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        return Handle(
            self.name, self.base_url, job.model, self.remote_id(answer["job"]), job.render_key
        )

    def status_url(self, handle: Handle) -> str:
        return f"{self.base_url}/jobs/{handle.job_id}"

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        return JobState({"busy": "running", "done": "succeeded"}.get(answer["state"], "failed"))

    def video(self, handle: Handle) -> Video:
        return Video(self.json(self.check(self.get(self.status_url(handle))))["file"])


def storyboard(folder: Path, backend: str, model: str) -> Path:
    extra = "  capabilities: {sizes: [160x90], seconds: [4]}\n" if backend == "openai" else ""
    Image.new("RGB", (300, 200), (180, 60, 60)).save(folder / "ref.png")
    path = folder / "board.yaml"
    path.write_text(f"""\
version: 1
title: Protocol
output: {{size: 160x90, fps: 24}}
render:
  backend: {backend}
  model: {model}
  poll: {{interval: 0.02, max_interval: 0.05, timeout: 20}}
{extra}shots:
  - {{id: one, seconds: 4, reference: ref.png, action: a kite rises}}
  - {{id: two, seconds: 4, action: rain on a window}}
""")
    return path


def test_a_fourth_backend_is_one_small_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.render import registry
    from storyboard.render.stage import render_storyboard

    monkeypatch.setitem(registry._BUILTIN, "echo", f"{__name__}:EchoBackend")
    story, _ = load_storyboard(storyboard(tmp_path, "echo", "echo-1"))
    with FakeEcho(KEY) as server:
        config = BackendConfig(render=story.render, base_url=server.url, env={"ECHO_KEY": KEY})
        results = render_storyboard(
            story, compile_storyboard(story), "echo", tmp_path / "out", config=config
        )
        assert [r.status for r in results] == ["rendered", "rendered"], results
        assert len(server.calls("POST", "/jobs")) == 2 and all(
            r.authorized for r in server.requests
        )
    assert probe(tmp_path / "out/shots/one.mp4").frames == 96


def jobs_of(path: Path) -> list[RenderJob]:
    story, _ = load_storyboard(path)
    return [
        RenderJob(
            shot, prompt, story.output, story.render.model, f"key-{shot.id}", render=story.render
        )
        for shot, prompt in zip(story.shots, compile_storyboard(story), strict=True)
    ]


def sent_like(material: dict[str, Any], recorded: Recorded, field: str) -> None:
    """The recorded request carries what the key material says, the image by its hash."""
    body = material["request"][field]
    for name, value in body.items():
        if isinstance(value, dict) and "sha256" in value:
            assert recorded.files[name]["sha256"] == value["sha256"]
        elif name in recorded.fields and recorded.fields[name] != "data:...":
            assert recorded.fields[name] == value, name


@pytest.mark.parametrize("backend", ["openai", "fal", "gemini"])
def test_key_material_is_exactly_the_create_sent(tmp_path: Path, backend: str) -> None:
    from storyboard.render.registry import load_backend

    model, fake, path_re, field = {
        "openai": ("wan-test", FakeVideoAPI, "/v1/videos", "form"),
        "fal": ("fal-ai/veo3.1/image-to-video", FakeFal, r"/fal-ai/.*", "json"),
        "gemini": ("gemini-omni-1.1-flash", FakeGemini, "/v1beta/interactions", "json"),
    }[backend]
    cls = load_backend(backend)
    jobs = jobs_of(storyboard(tmp_path, backend, model))
    materials = [cls.key_material(job) for job in jobs]  # no key, no server: pure
    assert materials == [cls.key_material(job) for job in jobs]
    json.dumps(materials)
    image = next(v for v in json.dumps(materials[0]).split('"') if len(v) == 64)
    assert image not in json.dumps(materials[1])  # only the first shot has a reference
    with fake(KEY) as server:
        live = cls(server.url, KEY)
        for job in jobs:
            live.submit(job)
        live.close()
        for material, recorded in zip(materials, server.calls("POST", path_re), strict=True):
            sent_like(material, recorded, field)
    reference = next(f for f in server.calls("POST", path_re)[0].files.values())
    assert reference["sha256"] == image


def test_key_material_of_a_derived_shot_names_its_source(tmp_path: Path) -> None:
    from storyboard.render.hosted.openai import OpenAIBackend

    path = storyboard(tmp_path, "openai", "wan-test")
    path.write_text(path.read_text() + "  - {id: three, remix_of: two, edit: at night}\n")
    job = jobs_of(path)[2]
    from dataclasses import replace

    material = OpenAIBackend.key_material(replace(job, source_remote_id="video_42"))
    assert material["request"]["path"] == "/videos/edits"
    assert material["request"]["form"]["video[id]"] == "video_42"
    assert material["source_remote_id"] == "video_42"
    other = OpenAIBackend.key_material(replace(job, source_remote_id="video_43"))
    assert other != material


def test_the_fitted_reference_is_hashed_as_sent(tmp_path: Path) -> None:
    from storyboard.render.hosted.base import fitted_image

    job = jobs_of(storyboard(tmp_path, "openai", "wan-test"))[0]
    from storyboard.render.hosted.openai import OpenAIBackend

    form = OpenAIBackend.key_material(job)["request"]["form"]
    assert (
        form["input_reference"]["sha256"] == hashlib.sha256(fitted_image(job, 160, 90)).hexdigest()
    )
    assert (form["model"], form["seconds"], form["size"]) == ("wan-test", "4", "160x90")


def test_a_derived_shot_without_its_sources_render_sends_nothing(tmp_path: Path) -> None:
    from storyboard.errors import BackendError
    from storyboard.render.hosted.openai import OpenAIBackend

    path = storyboard(tmp_path, "openai", "wan-test")
    path.write_text(path.read_text() + "  - {id: three, remix_of: two, edit: at night}\n")
    job = jobs_of(path)[2]
    assert OpenAIBackend.key_material(job)["request"]["path"] == "/videos/edits"  # never /videos
    with FakeVideoAPI(KEY) as api:
        backend = OpenAIBackend(api.url, KEY)
        with pytest.raises(BackendError, match="never sent as a plain create"):
            backend.submit(job)
        backend.close()
        assert api.requests == []
