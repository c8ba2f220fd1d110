"""The Runway backend: its fake server checked against the official SDK, and the real CLI
against the fake on loopback."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from storyboard.media import probe
from storyboard.testing.fake_runway import FakeRunway, Faults

from conftest import polled_jobs, run_cli, wait_until

KEY = "key_LEAK-runway-5a5a5a"


@pytest.fixture
def runway():
    with FakeRunway(KEY) as server:
        yield server


def _data_uri(size: tuple[int, int] = (160, 90)) -> str:
    image = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(image, "PNG")
    return "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()


def test_the_official_sdk_speaks_to_the_fake(runway: FakeRunway) -> None:
    runwayml = pytest.importorskip("runwayml")
    client = runwayml.RunwayML(api_key=KEY, base_url=runway.url, max_retries=0)
    uri = _data_uri()
    created = client.image_to_video.create(
        model="veo3.1",
        prompt_text="a lighthouse",
        ratio="1280:720",
        duration=4,
        seed=7,
        audio=True,
        prompt_image=[{"uri": uri, "position": "first"}, {"uri": uri, "position": "last"}],
    )
    [sent] = runway.calls("POST", "/v1/image_to_video")
    assert sent.fields["promptText"] == "a lighthouse" and sent.fields["seed"] == 7
    assert set(sent.files) == {"first", "last"}
    task = client.tasks.retrieve(created.id)
    seen = [task.status]
    while task.status not in ("SUCCEEDED", "FAILED"):
        task = client.tasks.retrieve(created.id)
        seen.append(task.status)
    assert seen[0] == "PENDING" and "RUNNING" in seen and seen[-1] == "SUCCEEDED"
    video = httpx.get(task.output[0])  # a signed URL: no key needed
    assert video.content[4:8] == b"ftyp"
    text = client.text_to_video.create(
        model="gen4.5", prompt_text="fog", ratio="720:1280", duration=2
    )
    client.tasks.delete(text.id)
    assert client.tasks.retrieve(text.id).status == "CANCELLED"
    with pytest.raises(runwayml.BadRequestError, match="Invalid ratio '1920:1080'"):
        client.image_to_video.create(
            model="gen4.5", prompt_image=uri, prompt_text="x", ratio="1920:1080", duration=5
        )
    with pytest.raises(runwayml.BadRequestError, match="positions must be one of first"):
        client.image_to_video.create(
            model="gen4_turbo",
            ratio="960:960",
            duration=5,
            prompt_image=[{"uri": uri, "position": "last"}],
        )
    wrong = runwayml.RunwayML(api_key="key_wrong", base_url=runway.url, max_retries=0)
    with pytest.raises(runwayml.AuthenticationError):
        wrong.tasks.retrieve(created.id)


def test_the_fake_needs_the_version_header(runway: FakeRunway) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    missing = httpx.post(
        f"{runway.url}/v1/text_to_video",
        headers=headers,
        json={"model": "gen4.5", "promptText": "x", "ratio": "1280:720", "duration": 5},
    )
    assert missing.status_code == 400 and "X-Runway-Version" in missing.json()["error"]
    assert not runway.jobs


# ---- the real CLI against the fake, the same fault suite as the openai backend's ------------


def board(folder: Path, shots: str, *, model: str = "gen4.5", extra: str = "") -> Path:
    Image.new("RGB", (640, 480), (200, 120, 40)).save(folder / "ref.png")
    path = folder / "hosted.yaml"
    path.write_text(f"""\
version: 1
title: Runway test
output: {{size: 160x90, fps: 24}}
render:
  backend: runway
  model: {model}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: 30}}
{extra}
shots:
{shots}""")
    return path


THREE = """\
  - {id: one, seconds: 2, reference: ref.png, action: a harbor at dusk}
  - {id: two, seconds: 3, action: gulls over the water}
  - {id: three, seconds: 2, reference: ref.png, action: a ferry arrives}
"""


def cli(api: FakeRunway, *args, key: str = KEY, **kwargs) -> subprocess.CompletedProcess:
    return run_cli(*args, "--base-url", api.url, env={"RUNWAYML_API_SECRET": key}, **kwargs)


def creates(api: FakeRunway) -> list:
    return api.calls("POST", "/v1/(image|text)_to_video")


def shots_dir(folder: Path) -> Path:
    return folder / "renders" / "hosted" / "shots"


def test_three_shots_image_and_text_to_video(tmp_path: Path, runway: FakeRunway) -> None:
    result = cli(runway, "render", board(tmp_path, THREE))
    assert result.returncode == 0, result.stderr
    assert "3 rendered, 0 reused, 0 failed" in result.stderr
    sent = {r.fields["promptText"].split("\n")[1]: r for r in creates(runway)}
    harbor = next(r for p, r in sent.items() if "harbor" in p)
    assert harbor.path == "/v1/image_to_video" and harbor.fields["model"] == "gen4.5"
    assert (harbor.fields["duration"], harbor.fields["ratio"]) == (2, "1280:720")
    assert harbor.fields["promptImage"] == "data:..." and "audio" not in harbor.fields
    assert harbor.files["first"]["image_size"] == "160x90"  # fitted to the output's shape
    gulls = next(r for p, r in sent.items() if "Gulls" in p)
    assert gulls.path == "/v1/text_to_video" and "promptImage" not in gulls.fields
    assert all(r.headers["x-runway-version"] == "2024-11-06" for r in runway.requests)
    for name, seconds in (("one", 2), ("two", 3), ("three", 2)):
        info = probe(shots_dir(tmp_path) / f"{name}.mp4")
        assert (info.width, info.height, info.has_audio) == (160, 90, True)
        assert abs(info.duration - seconds) <= 1 / 24 + 0.03
    manifest = json.loads((tmp_path / "renders" / "hosted" / "manifest.json").read_text())
    assert {e["remote_video_id"] for e in manifest["shots"].values()} == set(runway.jobs)
    again = cli(runway, "render", board(tmp_path, THREE))
    assert "0 rendered, 3 reused" in again.stderr and len(creates(runway)) == 3


def test_429_then_success_honours_retry_after(tmp_path: Path, runway: FakeRunway) -> None:
    runway.faults = Faults(rate_limit=1, retry_after=1)
    result = cli(runway, "render", board(tmp_path, THREE), "--shot", "two")
    assert result.returncode == 0, result.stderr
    attempts = creates(runway)
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95
    assert len(runway.jobs) == 1


def test_500_on_create_is_not_created_again(tmp_path: Path, runway: FakeRunway) -> None:
    runway.faults = Faults(error_on_create=1)  # the task is made, then the answer is a 500
    path = board(tmp_path, THREE)
    result = cli(runway, "render", path, "--shot", "one")
    # Runway cannot list tasks: the task cannot be found, so it is not created a second time
    assert result.returncode == 3
    assert "answered 500 to create and no job of ours was found; not retried" in result.stderr
    assert [r.status for r in creates(runway)] == [500] and len(runway.jobs) == 1
    again = cli(runway, "render", path, "--shot", "one")  # the user's call: a new task
    assert again.returncode == 0, again.stderr
    assert len(runway.jobs) == 2 and (shots_dir(tmp_path) / "one.mp4").is_file()


def test_moderation_refusal_among_three(tmp_path: Path, runway: FakeRunway) -> None:
    runway.faults = Faults(moderation_words=("Gulls",))
    result = cli(runway, "render", board(tmp_path, THREE))
    assert result.returncode == 3
    assert (
        "blocked by the provider's content policy: The prompt text did not pass our "
        "content moderation." in result.stderr
    )
    assert "two   SAFETY.INPUT.TEXT" in result.stderr  # the summary table
    assert sorted(p.name for p in shots_dir(tmp_path).glob("*.mp4")) == ["one.mp4", "three.mp4"]
    manifest = json.loads((tmp_path / "renders" / "hosted" / "manifest.json").read_text())
    assert manifest["shots"]["two"]["error_code"] == "SAFETY.INPUT.TEXT"
    assert manifest["shots"]["two"]["status"] == "failed"


def test_cut_off_download_is_retried_without_a_new_create(
    tmp_path: Path, runway: FakeRunway
) -> None:
    runway.faults = Faults(cut_downloads=1)
    result = cli(runway, "render", board(tmp_path, THREE), "--shot", "two")
    assert result.returncode == 0, result.stderr
    assert len(creates(runway)) == 1
    assert len(runway.calls("GET", r"/files/[^/]+\.mp4")) == 2
    assert probe(shots_dir(tmp_path) / "two.mp4").frames == 72


def test_a_wrong_key_stops_the_run_and_never_leaks(tmp_path: Path, runway: FakeRunway) -> None:
    result = cli(runway, "render", board(tmp_path, THREE), "--jobs", "1", key="key_WRONG-0000")
    assert result.returncode == 1  # a refused key is a setup problem, not a failed shot
    assert result.stderr.count("rejected the API key") == 1, result.stderr
    assert (
        "runway: the server rejected the API key in $RUNWAYML_API_SECRET (HTTP 401)"
        in result.stderr
    )
    assert len(runway.requests) == 1  # the first refusal; nothing more was sent
    assert "key_WRONG-0000" not in result.stdout + result.stderr
    missing = run_cli(
        "render", board(tmp_path, THREE), "--base-url", runway.url, env={"RUNWAYML_API_SECRET": ""}
    )
    assert missing.returncode == 1 and "needs an API key in $RUNWAYML_API_SECRET" in missing.stderr


def test_the_key_goes_to_runway_only_never_to_the_video_host(tmp_path: Path) -> None:
    with FakeRunway(KEY, open_access=True) as cdn, FakeRunway(KEY) as api:
        cdn.jobs = api.jobs  # the signed output URLs point at the other host
        api.faults.elsewhere = cdn.origin
        result = cli(api, "build", board(tmp_path, THREE))
        assert result.returncode == 0, result.stderr
        assert len(cdn.calls("GET", r"/files/[^/]+\.mp4")) == 3 and not cdn.leaked(KEY)
    outputs = result.stdout + result.stderr
    written = b"".join(p.read_bytes() for p in (tmp_path / "renders").rglob("*") if p.is_file())
    assert KEY not in outputs and KEY.encode() not in written


def test_sigkill_after_creates_then_rerun_creates_nothing(
    tmp_path: Path, runway: FakeRunway
) -> None:
    runway.faults = Faults(never_finish_words=("harbor", "Gulls", "ferry"))
    path = board(tmp_path, THREE)
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard", "render", str(path), "--base-url", runway.url],
        env={**os.environ, "RUNWAYML_API_SECRET": KEY},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: polled_jobs(runway, "/v1/tasks/[^/]+") == 3)  # every task's handle
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list((tmp_path / "renders" / "hosted" / "jobs").glob("*.json"))) == 3
    runway.faults = Faults()
    result = cli(runway, "render", path)
    assert result.returncode == 0, result.stderr
    assert len(creates(runway)) == 3  # the three tasks were polled, not created again


def test_throttled_tasks_wait_their_turn(tmp_path: Path, runway: FakeRunway) -> None:
    runway.throttled_polls = 2
    result = cli(runway, "render", board(tmp_path, THREE), "--shot", "one")
    assert result.returncode == 0, result.stderr
    assert len(runway.calls("GET", "/v1/tasks/.*")) >= 4


def test_limits_prices_and_an_image_only_model(tmp_path: Path, runway: FakeRunway) -> None:
    shots = (
        "  - {id: a, seconds: 5, reference: ref.png, action: x}\n"
        "  - {id: b, seconds: 3, action: y, audio: {sfx: [{at: 1, cue: a bell}]}}\n"
    )
    path = board(tmp_path, shots, model="veo3.1")
    report = json.loads(run_cli("estimate", path, "--json").stdout)
    costs = {s["id"]: (s["render_seconds"], s["cost"]) for s in report["shots"]}
    assert costs == {"a": (6, pytest.approx(1.2)), "b": (4, pytest.approx(1.6))}  # b has sound
    path.write_text(path.read_text().replace("seconds: 5", "seconds: 9"))
    assert (
        "9 s is longer than the longest length the model renders (8 s"
        in run_cli("validate", path).stdout
    )
    turbo = board(tmp_path, shots, model="gen4_turbo")
    result = cli(runway, "render", turbo)
    assert (
        result.returncode == 3
        and "gen4_turbo animates an image: give the shot a reference" in result.stderr
    )
    assert [r.fields["model"] for r in creates(runway)] == ["gen4_turbo"]


def test_the_exact_request_of_each_runway_model(tmp_path: Path) -> None:
    from dataclasses import dataclass

    from storyboard.compile import ShotPrompt
    from storyboard.format.model import Audio, Output, SfxCue, Shot
    from storyboard.render.base import RenderJob
    from storyboard.render.hosted.runway import RunwayBackend
    from storyboard.render.hosted.wire import Blob

    @dataclass(frozen=True)
    class EndShot(Shot):  # the end frame the format is gaining
        end_frame: Path | None = None

    Image.new("RGB", (640, 360), (220, 30, 30)).save(tmp_path / "ref.png")
    Image.new("RGB", (640, 360), (30, 30, 220)).save(tmp_path / "end.png")
    shot = EndShot(
        "a",
        0,
        5.0,
        "x",
        reference=tmp_path / "ref.png",
        audio=Audio(sfx=(SfxCue(1.0, "a bell"),)),
        end_frame=tmp_path / "end.png",
    )

    def body(model: str) -> tuple[str, dict]:
        caps = RunwayBackend.capabilities(model)
        job = RenderJob(
            shot,
            ShotPrompt("a", "", "", "", "", "", "", "", "", "P"),
            Output(160, 90, 24.0),
            model,
            "key",
            seed=7,
            render_seconds=caps.render_seconds(5.0),
        )
        call = RunwayBackend.request(job)

        def shown(value):
            if isinstance(value, Blob):
                with Image.open(io.BytesIO(value.data)) as image:
                    red = image.getpixel((0, 0))[0] > 128
                    return f"<{'first' if red else 'last'} {image.width}x{image.height}>"
            if isinstance(value, list):
                return [shown(v) for v in value]
            return {k: shown(v) for k, v in value.items()} if isinstance(value, dict) else value

        return call.path, shown(call.json)

    base = {"promptText": "P", "ratio": "1280:720", "seed": 7}
    first = "<first 160x90>"
    both = [{"uri": first, "position": "first"}, {"uri": "<last 160x90>", "position": "last"}]
    assert body("gen4.5") == (
        "/v1/image_to_video",
        {"model": "gen4.5", **base, "duration": 5, "promptImage": first},
    )
    assert body("gen4_turbo") == (
        "/v1/image_to_video",
        {"model": "gen4_turbo", **base, "duration": 5, "promptImage": first},
    )
    for veo in ("veo3.1", "veo3.1_fast"):
        assert body(veo) == (
            "/v1/image_to_video",
            {"model": veo, **base, "duration": 6, "promptImage": both, "audio": True},
        )
