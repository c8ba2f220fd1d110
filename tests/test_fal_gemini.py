"""The fal and gemini backends through the real CLI against their fake servers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from storyboard.media import probe
from storyboard.testing.fake_fal import FakeFal
from storyboard.testing.fake_gemini import FakeGemini
from storyboard.testing.fake_video_api import Faults

from conftest import run_cli

FAL_KEY = "fal-LEAK-31337-abcdef"
GEMINI_KEY = "gm-LEAK-27182-fedcba"


@pytest.fixture
def fal():
    with FakeFal(FAL_KEY) as server:
        yield server


@pytest.fixture
def gemini():
    with FakeGemini(GEMINI_KEY) as server:
        yield server


def board(folder: Path, backend: str, model: str, shots: str, extra: str = "") -> Path:
    Image.new("RGB", (400, 400), (40, 90, 200)).save(folder / "ref.png")
    path = folder / "hosted.yaml"
    path.write_text(f"""\
version: 1
title: Hosted
output: {{size: 160x90, fps: 24}}
render:
  backend: {backend}
  model: {model}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: 30}}
{extra}
shots:
{shots}""")
    return path


def run(server, backend: str, *args, key: str | None = None):
    env = {"FAL_KEY": FAL_KEY, "GEMINI_API_KEY": GEMINI_KEY}
    if key is not None:
        env = {name: key for name in env}
    return run_cli(*args, "--base-url", server.url, env=env)


def out(folder: Path, name: str) -> Path:
    return folder / "renders" / "hosted" / "shots" / f"{name}.mp4"


VEO = "fal-ai/veo3.1/image-to-video"
KLING = "fal-ai/kling-video/v2.1/pro/image-to-video"


def test_fal_veo_request_and_verbatim_urls(tmp_path: Path, fal: FakeFal) -> None:
    shots = "  - {id: one, seconds: 4, reference: ref.png, action: waves roll in}\n"
    result = run(fal, "fal", "render", board(tmp_path, "fal", VEO, shots))
    assert result.returncode == 0, result.stderr
    [submit] = fal.calls("POST", "/" + VEO)
    assert submit.fields["duration"] == "4s" and submit.fields["aspect_ratio"] == "16:9"
    assert submit.fields["resolution"] == "720p" and submit.fields["image_url"] == "data:..."
    assert submit.fields["prompt"].startswith("Shot.\nThe camera holds still. Waves roll in.")
    assert submit.files["image_url"]["image_size"] == "160x90"  # fitted to the output's shape
    # status and result come from the returned URLs: the app's id, never the model's sub-path
    assert fal.calls("GET", r"/fal-ai/veo3\.1/requests/[0-9a-f]+/status")
    assert not fal.calls("GET", r"/fal-ai/veo3\.1/image-to-video/requests/.*")
    assert probe(out(tmp_path, "one")).frames == 96


def test_fal_kling_preset_and_raw_extra_fields(tmp_path: Path, fal: FakeFal) -> None:
    shots = "  - {id: one, seconds: 5, reference: ref.png, action: a crane lifts a crate}\n"
    extra = "  extra: {negative_prompt: blur, cfg_scale: 0.4}\n"
    path = board(tmp_path, "fal", KLING, shots, extra)
    assert run(fal, "fal", "render", path).returncode == 0
    [submit] = fal.calls("POST", "/" + KLING)
    assert submit.fields["duration"] == "5" and "aspect_ratio" not in submit.fields
    assert (submit.fields["negative_prompt"], submit.fields["cfg_scale"]) == ("blur", 0.4)


def test_fal_custom_preset_for_another_model(tmp_path: Path, fal: FakeFal) -> None:
    shots = "  - {id: one, seconds: 3, reference: ref.png, action: leaves fall}\n"
    extra = (
        "  preset: {image_field: start_image_url, duration_field: num_seconds, "
        "duration_format: int, durations: [3, 6], aspect_ratios: ['16:9'], "
        "price_per_second: 0.02}\n"
    )
    path = board(tmp_path, "fal", "someone/new-model/i2v", shots, extra)
    assert '"cost": 0.06' in run_cli("estimate", path, "--json").stdout
    assert run(fal, "fal", "render", path).returncode == 0
    [submit] = fal.calls("POST", "/someone/new-model/i2v")
    assert submit.fields["num_seconds"] == 3 and submit.fields["start_image_url"] == "data:..."
    path.write_text(path.read_text().replace("seconds: 3,", "seconds: 7,"))
    assert "allowed: 3, 6 s); split the shot" in run_cli("validate", path).stdout


def test_fal_validation_uses_the_presets_limits(tmp_path: Path) -> None:
    shots = "  - {id: one, seconds: 9, action: x}\n"
    path = board(tmp_path, "fal", VEO, shots)
    path.write_text(path.read_text().replace("160x90", "160x120"))
    result = run_cli("validate", path)
    assert result.returncode == 1
    assert (
        "backend 'fal': 160x120 is not of an aspect ratio the model renders: 16:9, 9:16"
        in result.stdout
    )
    assert (
        "backend 'fal': 9 s is longer than the longest length the model renders (8 s; "
        "allowed: 4, 6, 8 s)" in result.stdout
    )


def test_fal_completed_with_an_error_payload_is_blocked(tmp_path: Path, fal: FakeFal) -> None:
    fal.faults = Faults(moderation_words=("Forbidden",))
    shots = (
        "  - {id: one, seconds: 4, action: calm sea}\n"
        "  - {id: two, seconds: 4, action: forbidden things}\n"
    )
    result = run(fal, "fal", "render", board(tmp_path, "fal", VEO, shots))
    assert result.returncode == 3
    assert (
        "two   content_policy_violation  blocked by the provider's content policy" in result.stderr
    )
    assert out(tmp_path, "one").is_file() and not out(tmp_path, "two").exists()


def test_fal_retryable_429_then_cut_download(tmp_path: Path, fal: FakeFal) -> None:
    fal.faults = Faults(rate_limit=1, retry_after=0.3, cut_downloads=1)
    shots = "  - {id: one, seconds: 4, action: calm sea}\n"
    result = run(fal, "fal", "render", board(tmp_path, "fal", VEO, shots))
    assert result.returncode == 0, result.stderr
    assert [r.status for r in fal.calls("POST", "/" + VEO)] == [429, 200]
    assert len(fal.calls("GET", r"/files/.*")) == 2 and len(fal.jobs) == 1


GEMINI_SHOTS = """\
  - {id: one, seconds: 4, reference: ref.png, action: a lighthouse blinks}
  - {id: two, seconds: 3, action: fog rolls in}
  - {id: three, remix_of: two, edit: make it night}
  - {id: four, extend_of: one, seconds: 5}
"""


def test_gemini_interactions(tmp_path: Path, gemini: FakeGemini) -> None:
    path = board(tmp_path, "gemini", "gemini-omni-1.1-flash", GEMINI_SHOTS)
    result = run(gemini, "gemini", "render", path)
    assert result.returncode == 0, result.stderr
    creates = gemini.calls("POST", "/v1beta/interactions")
    by_task = {r.fields["generation_config"]["video_config"]["task"]: r for r in creates}
    first = by_task["image_to_video"].fields
    assert first["background"] is True and first["input_types"] == ["image", "text"]
    assert first["response_format"] == {
        "type": "video",
        "aspect_ratio": "16:9",
        "resolution": "360p",
        "duration": "4s",
        "delivery": "uri",
    }
    assert by_task["image_to_video"].files["input[0]"]["image_size"] == "160x90"
    assert by_task["text_to_video"].fields["input_types"] == ["text"]
    manifest = json.loads((tmp_path / "renders/hosted/manifest.json").read_text())["shots"]
    assert by_task["edit"].fields["previous_interaction_id"] == manifest["two"]["remote_video_id"]
    assert by_task["extend"].fields["previous_interaction_id"] == manifest["one"]["remote_video_id"]
    assert by_task["extend"].fields["response_format"]["duration"] == "5s"
    assert all(r.query == {"alt": ["media"]} for r in gemini.calls("GET", r"/v1beta/files/.*"))
    assert probe(out(tmp_path, "four")).frames == 120


def test_gemini_completed_without_video_is_blocked(tmp_path: Path, gemini: FakeGemini) -> None:
    gemini.faults = Faults(moderation_words=("Fog",))
    path = board(tmp_path, "gemini", "gemini-omni-1.1-flash", GEMINI_SHOTS)
    result = run(gemini, "gemini", "render", path, "--shot", "one", "--shot", "two")
    assert result.returncode == 3
    assert "blocked by the provider's content policy: I can't make that video" in result.stderr


def test_gemini_unknown_id_400_means_gone(tmp_path: Path, gemini: FakeGemini) -> None:
    from storyboard.compile import compile_storyboard
    from storyboard.format.validate import load_storyboard
    from storyboard.render.registry import load_backend
    from storyboard.render.stage import shot_keys

    path = board(tmp_path, "gemini", "gemini-omni-1.1-flash", GEMINI_SHOTS)
    story, _ = load_storyboard(path)
    key = shot_keys(story, compile_storyboard(story), load_backend("gemini"))["two"]
    jobs = tmp_path / "renders" / "hosted" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "two.json").write_text(
        json.dumps(
            {
                "backend": "gemini",
                "base_url": gemini.url,
                "model": "gemini-omni-1.1-flash",
                "job_id": "expired-long-ago",
                "render_key": key,
                "extra": {},
            }
        )
    )
    result = run(gemini, "gemini", "render", path, "--shot", "two")
    assert result.returncode == 0, result.stderr
    assert "job expired-long-ago gone on the server; creating it again, once" in result.stderr
    assert gemini.calls("GET", "/v1beta/interactions/expired-long-ago")[0].status == 400


def test_gemini_limits_and_price(tmp_path: Path) -> None:
    path = board(
        tmp_path, "gemini", "gemini-omni-1.1-flash", "  - {id: one, seconds: 12, action: x}\n"
    )
    result = run_cli("validate", path)
    assert "backend 'gemini': 12 s is longer than the longest length" in result.stdout
    path.write_text(path.read_text().replace("1.1-flash", "1.2-flash"))
    assert run_cli("validate", path).returncode == 0  # 1.2 renders 3–15 s
    assert '"cost": 1.2' in run_cli("estimate", path, "--json").stdout


@pytest.mark.parametrize("backend", ["fal", "gemini"])
def test_keys_never_leak(tmp_path: Path, fal: FakeFal, gemini: FakeGemini, backend: str) -> None:
    server, model = (fal, VEO) if backend == "fal" else (gemini, "gemini-omni-1.1-flash")
    server.faults = Faults(moderation_words=("Forbidden",), cut_downloads=1)
    shots = (
        "  - {id: one, seconds: 4, reference: ref.png, action: calm sea}\n"
        "  - {id: two, seconds: 4, action: forbidden things}\n"
    )
    path = board(tmp_path, backend, model, shots)
    results = [
        run(server, backend, "build", path, "--allow-missing"),
        run(server, backend, "render", path, "--force", key="wrong-key"),
    ]
    assert "rejected the" in results[-1].stderr
    for result in results:
        assert FAL_KEY not in result.stdout + result.stderr
        assert GEMINI_KEY not in result.stdout + result.stderr
    for file in (tmp_path / "renders").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert FAL_KEY.encode() not in data and GEMINI_KEY.encode() not in data


def test_missing_keys_are_named(tmp_path: Path) -> None:
    for backend, model, env in (
        ("fal", VEO, "FAL_KEY"),
        ("gemini", "gemini-omni-1.1-flash", "GEMINI_API_KEY"),
    ):
        path = board(tmp_path, backend, model, "  - {id: one, seconds: 4, action: x}\n")
        result = run_cli("render", path, env={env: ""})
        assert result.returncode == 1 and f"needs an API key in ${env}" in result.stderr
