"""The openai (/v1/videos) backend through the real CLI against the fake server on loopback."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from storyboard.media import probe
from storyboard.testing.fake_video_api import FakeVideoAPI, Faults

from conftest import polled_jobs, run_cli, wait_until

KEY = "sk-LEAKCHECK-7f3a9c2e"


@pytest.fixture
def api():
    with FakeVideoAPI(KEY) as server:
        yield server


def board(folder: Path, shots: str, *, model: str = "wan-test", extra: str = "") -> Path:
    Image.new("RGB", (640, 480), (200, 120, 40)).save(folder / "ref.png")
    path = folder / "hosted.yaml"
    path.write_text(f"""\
version: 1
title: Hosted test
output: {{size: 160x90, fps: 24}}
render:
  backend: openai
  model: {model}
  capabilities: {{sizes: [160x90], seconds: [1, 2], price_per_second: 0.1}}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: 30}}
{extra}
shots:
{shots}""")
    return path


THREE = """\
  - {id: one, seconds: 2, reference: ref.png, action: a harbor at dusk}
  - {id: two, seconds: 1, action: gulls over the water}
  - {id: three, seconds: 1, reference: ref.png, action: a ferry arrives}
"""


def cli(api: FakeVideoAPI, *args, key: str = KEY, **kwargs) -> subprocess.CompletedProcess:
    return run_cli(*args, "--base-url", api.url, env={"OPENAI_API_KEY": key}, **kwargs)


def creates(api: FakeVideoAPI) -> list:
    return api.calls("POST", "/v1/videos")


def shots_dir(folder: Path) -> Path:
    return folder / "renders" / "hosted" / "shots"


def test_three_shots_with_reference_images(tmp_path: Path, api: FakeVideoAPI) -> None:
    result = cli(api, "render", board(tmp_path, THREE))
    assert result.returncode == 0, result.stderr
    assert "3 rendered, 0 reused, 0 failed" in result.stderr
    sent = {r.fields["prompt"].split("\n")[1]: r for r in creates(api)}
    assert len(sent) == 3
    first = next(r for p, r in sent.items() if "harbor" in p)
    assert first.fields["model"] == "wan-test" and first.fields["seconds"] == "2"
    assert first.fields["size"] == "160x90" and first.authorized
    ref = first.files["input_reference"]
    assert (ref["filename"], ref["content_type"], ref["image_size"]) == (
        "reference.png",
        "image/png",
        "160x90",
    )  # fitted to exactly the requested size
    assert "input_reference" not in next(r for p, r in sent.items() if "Gulls" in p).files
    for name, seconds in (("one", 2), ("two", 1), ("three", 1)):
        info = probe(shots_dir(tmp_path) / f"{name}.mp4")
        assert (info.width, info.height, info.has_audio) == (160, 90, True)
        assert abs(info.duration - seconds) <= 1 / 24 + 0.03
    manifest = json.loads((tmp_path / "renders" / "hosted" / "manifest.json").read_text())
    assert {e["remote_video_id"] for e in manifest["shots"].values()} == set(api.jobs)
    again = cli(api, "render", board(tmp_path, THREE))
    assert "0 rendered, 3 reused" in again.stderr and len(creates(api)) == 3


def test_429_then_success_honours_retry_after(tmp_path: Path, api: FakeVideoAPI) -> None:
    api.faults = Faults(rate_limit=1, retry_after=1)
    result = cli(api, "render", board(tmp_path, THREE), "--shot", "two")
    assert result.returncode == 0, result.stderr
    attempts = creates(api)
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95
    assert len(api.jobs) == 1


def test_500_on_create_does_not_create_twice(tmp_path: Path, api: FakeVideoAPI) -> None:
    api.faults = Faults(error_on_create=1)  # the job is made, then the answer is a 500
    result = cli(api, "render", board(tmp_path, THREE), "--shot", "one")
    assert result.returncode == 0, result.stderr
    assert [r.status for r in creates(api)] == [500]
    assert len(api.jobs) == 1  # found by listing, not created again
    assert (shots_dir(tmp_path) / "one.mp4").is_file()


def test_moderation_refusal_among_three(tmp_path: Path, api: FakeVideoAPI) -> None:
    api.faults = Faults(moderation_words=("Gulls",))
    result = cli(api, "render", board(tmp_path, THREE))
    assert result.returncode == 3
    assert (
        "blocked by the provider's content policy: Your request was blocked by our "
        "moderation system." in result.stderr
    )
    assert "two   moderation_blocked" in result.stderr  # the summary table
    assert sorted(p.name for p in shots_dir(tmp_path).glob("*.mp4")) == ["one.mp4", "three.mp4"]
    manifest = json.loads((tmp_path / "renders" / "hosted" / "manifest.json").read_text())
    assert manifest["shots"]["two"]["error_code"] == "moderation_blocked"
    assert manifest["shots"]["two"]["status"] == "failed"


def test_cut_off_download_is_retried_without_a_new_create(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    api.faults = Faults(cut_downloads=1)
    result = cli(api, "render", board(tmp_path, THREE), "--shot", "two")
    assert result.returncode == 0, result.stderr
    assert len(creates(api)) == 1
    assert len(api.calls("GET", r"/v1/videos/[^/]+/content")) == 2
    assert probe(shots_dir(tmp_path) / "two.mp4").frames == 24


def test_sigkill_after_creates_then_rerun_creates_nothing(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    api.faults = Faults(never_finish_words=("harbor", "Gulls", "ferry"))
    path = board(tmp_path, THREE)
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard", "render", str(path), "--base-url", api.url],
        env={**os.environ, "OPENAI_API_KEY": KEY},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: polled_jobs(api, "/v1/videos/[^/]+") == 3)  # every handle saved
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list((tmp_path / "renders" / "hosted" / "jobs").glob("*.json"))) == 3
    api.faults = Faults()
    result = cli(api, "render", path)
    assert result.returncode == 0, result.stderr
    assert len(creates(api)) == 3  # polled and downloaded, never created again
    assert len(list(shots_dir(tmp_path).glob("*.mp4"))) == 3


def test_a_vanished_job_is_reported_and_created_again_once(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    api.faults = Faults(never_finish_words=("Gulls",))
    path = board(tmp_path, THREE)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storyboard",
            "render",
            str(path),
            "--shot",
            "two",
            "--base-url",
            api.url,
        ],
        env={**os.environ, "OPENAI_API_KEY": KEY},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: polled_jobs(api, "/v1/videos/[^/]+") == 1)  # its handle is saved
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    api.forget(next(iter(api.jobs)))
    api.faults = Faults()
    result = cli(api, "render", path, "--shot", "two")
    assert result.returncode == 0, result.stderr
    assert "gone on the server; creating it again, once" in result.stderr
    assert len(creates(api)) == 2


def test_remix_uses_edits_and_falls_back_to_remix(tmp_path: Path, api: FakeVideoAPI) -> None:
    shots = THREE + "  - {id: four, remix_of: two, edit: make it night}\n"
    assert cli(api, "render", board(tmp_path, shots)).returncode == 0
    [edit] = api.calls("POST", "/v1/videos/edits")
    two = json.loads((tmp_path / "renders/hosted/manifest.json").read_text())["shots"]["two"]
    assert edit.fields["video[id]"] == two["remote_video_id"]
    assert edit.fields["prompt"].startswith("Edit of the source video: Make it night.")
    api.faults = Faults(edits_missing=True)
    result = cli(api, "render", board(tmp_path, shots), "--shot", "four", "--force")
    assert result.returncode == 0, result.stderr
    assert len(api.calls("POST", r"/v1/videos/[^/]+/remix")) == 1


def test_extend_uses_extensions(tmp_path: Path, api: FakeVideoAPI) -> None:
    shots = THREE + "  - {id: five, extend_of: three, seconds: 2}\n"
    assert cli(api, "render", board(tmp_path, shots)).returncode == 0
    [extension] = api.calls("POST", "/v1/videos/extensions")
    assert extension.fields["seconds"] == "2"
    # the server sends source + extension (1 s + 2 s); the shot keeps only its new part
    assert [j.seconds for j in api.jobs.values() if j.remixed_from] == ["3"]
    assert probe(shots_dir(tmp_path) / "five.mp4").frames == 48


def test_budget_refusal_sends_nothing(tmp_path: Path, api: FakeVideoAPI) -> None:
    result = cli(api, "render", board(tmp_path, THREE), "--budget", "0.35")
    assert result.returncode == 1
    assert "cost $0.40, over the budget of $0.35; nothing was sent" in result.stderr
    assert api.requests == []
    assert cli(api, "render", board(tmp_path, THREE), "--budget", "0.40").returncode == 0


def test_estimate_needs_no_key_and_counts_rendered_shots_free(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    path = board(tmp_path, THREE)
    cli(api, "render", path, "--shot", "one")
    result = run_cli("estimate", path, "--json", env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [(s["id"], s["rendered"], s["cost"]) for s in plan["shots"]] == [
        ("one", True, 0.0),
        ("two", False, 0.1),
        ("three", False, 0.1),
    ]
    assert plan["cost"] == pytest.approx(0.2)


def test_sora_prices_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "sora.yaml"
    path.write_text(
        "version: 1\ntitle: T\nrender: {backend: openai, model: sora-2-pro}\n"
        "output: {size: 1792x1024}\nshots:\n  - {id: a, seconds: 8, action: x}\n"
    )
    assert '"cost": 4.0' in run_cli("estimate", path, "--json").stdout  # $0.50/s above 720p
    path.write_text(
        path.read_text()
        .replace("seconds: 8", "seconds: 5")
        .replace("sora-2-pro}", "sora-2-pro, duration: exact}")
    )
    result = run_cli("validate", path)
    assert result.returncode == 1
    assert (
        result.stdout.strip() == f"{path}:6:22: error: shot 'a': backend 'openai': 5 s "
        "cannot be rendered; allowed durations: 4, 8, 12, 16, 20 s (render.duration: trim "
        "renders the next longer one and uses its start)"
    )


def test_missing_key_is_an_error_before_anything_is_sent(tmp_path: Path, api: FakeVideoAPI) -> None:
    result = cli(api, "render", board(tmp_path, THREE), key="")
    assert result.returncode == 1 and "needs an API key in $OPENAI_API_KEY" in result.stderr
    assert api.requests == []


def test_plain_http_only_to_loopback(tmp_path: Path) -> None:
    result = run_cli(
        "render",
        board(tmp_path, THREE),
        "--base-url",
        "http://example.com/v1",
        env={"OPENAI_API_KEY": KEY},
    )
    assert result.returncode == 1 and "refusing to send an API key over plain http" in result.stderr


def test_the_key_never_leaks(tmp_path: Path, api: FakeVideoAPI) -> None:
    api.faults = Faults(moderation_words=("Gulls",), cut_downloads=1, rate_limit=1, retry_after=0.1)
    outputs = [
        cli(api, "build", board(tmp_path, THREE), "--allow-missing"),
        cli(api, "status", board(tmp_path, THREE)),
        cli(api, "render", board(tmp_path, THREE), "--force", key=KEY + "-wrong"),
    ]
    assert "rejected the API key" in outputs[-1].stderr
    for result in outputs:
        assert KEY not in result.stdout + result.stderr
    written = [p for p in (tmp_path / "renders").rglob("*") if p.is_file()]
    assert written and all(KEY.encode() not in p.read_bytes() for p in written)


def test_the_official_sdk_speaks_to_the_fake(api: FakeVideoAPI) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=KEY, base_url=api.url, max_retries=0)
    image = io.BytesIO()
    Image.new("RGB", (160, 90)).save(image, "PNG")
    video = client.videos.create(
        prompt="a lighthouse",
        model="sora-2",
        seconds="4",
        size="160x90",
        input_reference=("ref.png", image.getvalue(), "image/png"),
    )
    assert video.status == "queued" and video.object == "video"
    while video.status != "completed":
        video = client.videos.retrieve(video.id)
    content = client.videos.download_content(video.id, variant="video")
    assert content.content[4:8] == b"ftyp"
    remix = client.videos.remix(video.id, prompt="at night")
    assert remix.remixed_from_video_id == video.id
    assert {v.id for v in client.videos.list()} == {video.id, remix.id}
    assert client.videos.delete(remix.id).deleted
    with pytest.raises(openai.BadRequestError, match="must match the requested width"):
        client.videos.create(
            prompt="x", size="1280x720", input_reference=("ref.png", image.getvalue(), "image/png")
        )


def test_foreign_videos_are_normalised_once(tmp_path: Path, api: FakeVideoAPI) -> None:
    api.faults = Faults(foreign_video=True)
    result = cli(api, "build", board(tmp_path, THREE))
    assert result.returncode == 0, result.stderr
    info = probe(shots_dir(tmp_path) / "one.mp4")
    assert (info.fps, info.frames, info.has_audio) == (24.0, 48, True)
    edit = probe(Path(result.stdout.strip()))
    assert edit.frames == 4 * 24


def test_a_create_whose_answer_was_lost_is_found_not_repeated(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    """A run killed after sending a create but before hearing back left only a note."""
    path = board(tmp_path, THREE)
    prompt = json.loads(run_cli("compile", path, "--format", "json").stdout)["shots"][1]["prompt"]
    since = time.time()
    reply = api.create({"prompt": prompt, "seconds": "1", "size": "160x90"}, {})
    assert reply.status == 200
    video = reply.body
    jobs = tmp_path / "renders" / "hosted" / "jobs"
    jobs.mkdir(parents=True)
    from storyboard.compile import compile_storyboard
    from storyboard.format.validate import load_storyboard
    from storyboard.render.registry import load_backend
    from storyboard.render.stage import shot_keys

    story, _ = load_storyboard(path)
    render_key = shot_keys(story, compile_storyboard(story), load_backend("openai"))["two"]
    (jobs / "two.json").write_text(
        json.dumps(
            {
                "backend": "openai",
                "base_url": api.url,
                "model": "wan-test",
                "job_id": "",
                "render_key": render_key,
                "extra": {"pending_since": since},
            }
        )
    )
    result = cli(api, "render", path, "--shot", "two")
    assert result.returncode == 0, result.stderr
    assert creates(api) == []  # adopted the job found by listing
    manifest = json.loads((tmp_path / "renders" / "hosted" / "manifest.json").read_text())
    assert manifest["shots"]["two"]["remote_video_id"] == video["id"]


def test_a_job_that_never_finishes_times_out_and_is_waited_for_again(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    api.faults = Faults(never_finish_words=("Gulls",))
    path = board(tmp_path, THREE)
    path.write_text(path.read_text().replace("timeout: 30", "timeout: 0.5"))
    result = cli(api, "render", path, "--shot", "two")
    assert result.returncode == 3
    assert "did not finish within 0.5 s; run again to keep waiting for it" in result.stderr
    api.faults = Faults()
    again = cli(api, "render", path, "--shot", "two")
    assert again.returncode == 0, again.stderr
    assert len(creates(api)) == 1


def test_a_429_holds_back_every_job_of_the_run(api: FakeVideoAPI) -> None:
    import threading

    import httpx

    from storyboard.render.hosted.http import Caller

    api.faults = Faults(rate_limit=1, retry_after=1)
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as client:
        caller = Caller(client)
        first = threading.Thread(
            target=caller.request,
            args=("POST", api.url + "/videos"),
            kwargs={"creates": True, "files": {"prompt": (None, "x")}},
        )
        first.start()
        wait_until(lambda: any(r.status == 429 for r in api.requests))  # the run is held
        caller.request("GET", api.url + "/videos")  # another job of the same run
        first.join()
    limited, listing = api.requests[0], api.calls("GET", "/v1/videos")[0]
    assert limited.status == 429
    assert listing.at - limited.at >= 0.95


def test_fake_api_command_serves_until_stopped(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storyboard",
            "fake-api",
            "--port",
            str(port),
            "--key",
            KEY,
            "--latency",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"fake openai API on http://127.0.0.1:{port}/v1" in server.stderr.readline()
        result = run_cli(
            "render",
            board(tmp_path, THREE),
            "--shot",
            "two",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            env={"OPENAI_API_KEY": KEY},
        )
        assert result.returncode == 0, result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
