"""Where the key goes, hung servers, and failures that must not cost a shot (or a second job).

Every test runs the real CLI (or the real job loop) against the fake servers on loopback; a
second fake on another loopback port plays the other host and records what reached it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from storyboard.media import probe
from storyboard.testing.fake_fal import FakeFal
from storyboard.testing.fake_gemini import FakeGemini
from storyboard.testing.fake_video_api import FakeVideoAPI, Faults

from conftest import run_cli

KEY = "sk-LEAKCHECK-0bd5e1"


def board(
    folder: Path,
    backend: str = "openai",
    model: str = "wan-test",
    timeout: float = 30,
    shots: str = "",
) -> Path:
    Image.new("RGB", (320, 180), (30, 140, 90)).save(folder / "ref.png")
    path = folder / "hosted.yaml"
    path.write_text(f"""\
version: 1
title: Safety
output: {{size: 160x90, fps: 24}}
render:
  backend: {backend}
  model: {model}
  capabilities: {{sizes: [160x90], seconds: [1, 2, 4], price_per_second: 0.1}}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: {timeout}}}
shots:
{
        shots
        or '''  - {id: one, seconds: 4, reference: ref.png, action: a harbor at dusk}
  - {id: two, seconds: 4, action: gulls over the water}
'''
    }""")
    if backend != "openai":
        path.write_text(
            path.read_text().replace(
                "  capabilities: {sizes: [160x90], seconds: [1, 2, 4], price_per_second: 0.1}\n", ""
            )
        )
    return path


def cli(server, *args, key: str = KEY, timeout: float = 60):
    env = {"OPENAI_API_KEY": key, "FAL_KEY": key, "GEMINI_API_KEY": key}
    return run_cli(*args, "--base-url", server.url, env=env, timeout=timeout)


def written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (folder / "renders").rglob("*") if p.is_file())


# ---- the key goes to the API's own origin only ---------------------------------------------


def test_openai_redirect_to_another_host_gets_no_key(tmp_path: Path) -> None:
    with (
        FakeVideoAPI(KEY, open_access=True) as other,
        FakeVideoAPI(KEY, faults=Faults(elsewhere="")) as api,
    ):
        other.jobs = api.jobs
        api.faults.elsewhere = other.origin
        result = cli(api, "render", board(tmp_path))
        assert result.returncode == 0, result.stderr
        assert len(other.calls("GET", r"/v1/videos/[^/]+/content")) == 2  # redirected there
        assert other.leaked(KEY) == []
        assert all(r.authorized for r in api.requests)  # the API itself got it every time


def test_fal_urls_on_another_host_get_no_key(tmp_path: Path) -> None:
    with FakeFal(KEY, open_access=True) as other, FakeFal(KEY) as fal:
        other.jobs = fal.jobs
        fal.faults.elsewhere = other.origin  # status, response and file URLs point there
        path = board(tmp_path, "fal", "fal-ai/veo3.1/image-to-video")
        result = cli(fal, "render", path)
        assert result.returncode == 0, result.stderr
        assert other.calls("GET", r"/fal-ai/veo3\.1/requests/[0-9a-f]+/status")
        assert other.calls("GET", r"/fal-ai/veo3\.1/requests/[0-9a-f]+")
        assert len(other.calls("GET", r"/files/.*")) == 2
        assert other.leaked(KEY) == [] and fal.leaked(KEY)


def test_gemini_redirect_to_another_host_gets_no_key(tmp_path: Path) -> None:
    with FakeGemini(KEY, open_access=True) as other, FakeGemini(KEY) as gemini:
        other.jobs = gemini.jobs
        gemini.faults.elsewhere = other.origin
        result = cli(gemini, "render", board(tmp_path, "gemini", "gemini-omni-1.1-flash"))
        assert result.returncode == 0, result.stderr
        assert len(other.calls("GET", r"/v1beta/files/.*")) == 2
        assert other.leaked(KEY) == []
        assert probe(tmp_path / "renders/hosted/shots/one.mp4").frames == 96


def test_a_base_url_with_credentials_is_refused_and_never_written(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY) as api:
        host = api.origin.removeprefix("http://")
        result = run_cli(
            "render",
            board(tmp_path),
            "--base-url",
            f"http://user:{KEY}@{host}/v1",
            env={"OPENAI_API_KEY": KEY},
        )
        assert result.returncode == 1
        assert "refusing a base URL with credentials" in result.stderr
        assert KEY not in result.stderr + result.stdout
        assert api.requests == [] and KEY.encode() not in written(tmp_path)


def test_a_servers_error_codes_are_redacted(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY, faults=Faults(hostile_errors=True)) as api:
        result = cli(api, "render", board(tmp_path))
        assert result.returncode == 3
        assert "bad_Bearer [redacted]" in result.stderr and KEY not in result.stderr
        assert KEY.encode() not in written(tmp_path)


# ---- a refused key stops the run; a lost create is made again, once proven lost -------------


def test_a_refused_key_stops_the_whole_run_with_one_message(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY) as api:
        result = cli(api, "render", board(tmp_path), "--jobs", "1", key=KEY + "-revoked")
        assert result.returncode == 1
        assert result.stderr.count("rejected the API key") == 1, result.stderr
        assert "$OPENAI_API_KEY" in result.stderr
        assert len(api.requests) == 1  # the first refusal; nothing more was sent


def test_a_500_on_create_that_made_no_job_is_created_again(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY, faults=Faults(lost_creates=1)) as api:
        result = cli(api, "render", board(tmp_path), "--shot", "two")
        assert result.returncode == 0, result.stderr
        assert [r.status for r in api.calls("POST", "/v1/videos")] == [500, 200]
        assert len(api.calls("GET", "/v1/videos")) == 1  # the listing that proved it lost
        assert len(api.jobs) == 1


def test_creates_that_keep_failing_give_up_after_two_retries(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY, faults=Faults(lost_creates=5)) as api:
        result = cli(api, "render", board(tmp_path), "--shot", "two")
        assert result.returncode == 3
        assert "listing shows no job was made" in result.stderr
        assert len(api.calls("POST", "/v1/videos")) == 3 and api.jobs == {}


def test_a_500_on_fal_create_is_not_repeated_blindly(tmp_path: Path) -> None:
    with FakeFal(KEY, faults=Faults(lost_creates=1)) as fal:
        path = board(tmp_path, "fal", "fal-ai/veo3.1/image-to-video")
        result = cli(fal, "render", path, "--shot", "two")
        assert result.returncode == 3  # fal cannot list: nothing proves the job was not made
        assert len(fal.calls("POST", "/fal-ai/veo3.1/image-to-video")) == 1


def test_a_negative_budget_is_a_usage_error(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY) as api:
        result = cli(api, "render", board(tmp_path), "--budget", "-1")
        assert result.returncode == 2 and "--budget" in result.stderr
        assert api.requests == []


# ---- hung servers are bounded by the job's deadline ----------------------------------------


def test_a_poll_that_never_answers_ends_at_the_deadline(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY, faults=Faults(hang=r"GET /v1/videos/[^/]+")) as api:
        result = cli(api, "render", board(tmp_path, timeout=1), "--shot", "two", timeout=20)
        assert result.returncode == 3
        assert "did not finish within 1 s; run again to keep waiting" in result.stderr
        assert len(api.calls("GET", r"/v1/videos/[^/]+")) == 1  # not retried past it
        assert len(list((tmp_path / "renders/hosted/jobs").glob("*.json"))) == 1  # resumable


def test_a_create_that_never_answers_ends_at_the_deadline(tmp_path: Path) -> None:
    with FakeVideoAPI(KEY, faults=Faults(hang="POST /v1/videos")) as api:
        path = board(tmp_path, timeout=1)
        result = cli(api, "render", path, "--shot", "two", timeout=20)
        assert result.returncode == 3
        assert "the create got no answer before the job's deadline" in result.stderr
        assert len(api.calls("POST", "/v1/videos")) == 1
        api.faults = Faults()
        again = cli(api, "render", path, "--shot", "two")
        assert again.returncode == 0, again.stderr
        assert len(api.calls("GET", "/v1/videos")) == 1  # looked for it before creating
        assert len(api.jobs) == 1


def test_a_trickling_download_is_abandoned_and_retried_alone(tmp_path: Path) -> None:
    from storyboard.compile import compile_storyboard
    from storyboard.format.validate import load_storyboard
    from storyboard.render.base import RenderJob
    from storyboard.render.hosted.http import Limits
    from storyboard.render.hosted.jobs import render_hosted
    from storyboard.render.hosted.openai import OpenAIBackend

    faults = Faults(trickle=r"GET /v1/videos/[^/]+/content", trickles=1, trickle_every=0.05)
    with FakeVideoAPI(KEY, faults=faults) as api:
        story, _ = load_storyboard(board(tmp_path))
        shot, prompt = story.shots[1], compile_storyboard(story)[1]
        job = RenderJob(shot, prompt, story.output, "wan-test", "k2", render=story.render)
        backend = OpenAIBackend(api.url, KEY, limits=Limits(grace=0.3, min_rate=10_000))
        dest = tmp_path / "two.mp4"
        events: list[tuple[str, str]] = []
        render_hosted(backend, job, dest, tmp_path, lambda k, s, i: events.append((k, s)))
        backend.close()
        assert len(api.calls("GET", r"/v1/videos/[^/]+/content")) == 2
        assert len(api.calls("POST", "/v1/videos")) == 1  # never generated again
        assert probe(dest).frames == 96


@pytest.mark.parametrize("backend", ["openai", "fal", "gemini"])
def test_plain_http_elsewhere_is_refused_for_every_backend(tmp_path: Path, backend: str) -> None:
    model = {
        "openai": "wan-test",
        "fal": "fal-ai/veo3.1/image-to-video",
        "gemini": "gemini-omni-1.1-flash",
    }[backend]
    result = run_cli(
        "render",
        board(tmp_path, backend, model),
        "--base-url",
        "http://example.com/v1",
        env={"OPENAI_API_KEY": KEY, "FAL_KEY": KEY, "GEMINI_API_KEY": KEY},
    )
    assert result.returncode == 1 and "refusing to send an API key over plain http" in result.stderr
