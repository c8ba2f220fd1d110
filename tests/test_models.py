"""fal's presets as their models take them, and ``storyboard models`` with the README's table.

Each preset validates a 5 s and an 8 s shot the way its model would (the next length it renders,
or a clear error with ``render.duration: exact``), and builds exactly the request its endpoint
documents for a shot with a reference, an end frame, dialogue and a seed.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from storyboard.compile import ShotPrompt
from storyboard.format.model import Audio, DialogueLine, Output, Shot
from storyboard.render.base import RenderJob
from storyboard.render.catalogue import catalogue, markdown
from storyboard.render.hosted.fal import FalBackend, _presets
from storyboard.render.hosted.wire import Blob
from storyboard.render.preflight import preflight

from conftest import ROOT, run_cli

FIRST, LAST = "<first frame 160x90>", "<last frame 160x90>"
RED, BLUE = (220, 30, 30), (30, 30, 220)

# endpoint: (the length a 5 s and an 8 s shot render at, the endpoint a shot with both frames
# goes to, and the body it sends), written out from fal's schemas, not from our table
REQUESTS: dict[str, tuple[tuple[int, int], str, dict[str, Any]]] = {
    "fal-ai/veo3.1/image-to-video": (
        (6, 8),
        "fal-ai/veo3.1/first-last-frame-to-video",
        {
            "first_frame_url": FIRST,
            "last_frame_url": LAST,
            "duration": "6s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": True,
            "seed": 42,
        },
    ),
    "fal-ai/veo3.1/first-last-frame-to-video": (
        (6, 8),
        "fal-ai/veo3.1/first-last-frame-to-video",
        {
            "first_frame_url": FIRST,
            "last_frame_url": LAST,
            "duration": "6s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": True,
            "seed": 42,
        },
    ),
    "fal-ai/veo3.1/fast/image-to-video": (
        (6, 8),
        "fal-ai/veo3.1/fast/first-last-frame-to-video",
        {
            "first_frame_url": FIRST,
            "last_frame_url": LAST,
            "duration": "6s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": True,
            "seed": 42,
        },
    ),
    "fal-ai/veo3.1/fast/first-last-frame-to-video": (
        (6, 8),
        "fal-ai/veo3.1/fast/first-last-frame-to-video",
        {
            "first_frame_url": FIRST,
            "last_frame_url": LAST,
            "duration": "6s",
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "generate_audio": True,
            "seed": 42,
        },
    ),
    "bytedance/seedance-2.0/image-to-video": (
        (5, 8),
        "bytedance/seedance-2.0/image-to-video",
        {
            "image_url": FIRST,
            "end_image_url": LAST,
            "duration": "5",
            "aspect_ratio": "16:9",
            "resolution": "480p",
            "generate_audio": True,
        },
    ),
    "bytedance/seedance-2.0/fast/image-to-video": (
        (5, 8),
        "bytedance/seedance-2.0/fast/image-to-video",
        {
            "image_url": FIRST,
            "end_image_url": LAST,
            "duration": "5",
            "aspect_ratio": "16:9",
            "resolution": "480p",
            "generate_audio": True,
        },
    ),
    "fal-ai/bytedance/seedance/v1.5/pro/image-to-video": (
        (5, 8),
        "fal-ai/bytedance/seedance/v1.5/pro/image-to-video",
        {
            "image_url": FIRST,
            "end_image_url": LAST,
            "duration": "5",
            "aspect_ratio": "16:9",
            "resolution": "480p",
            "generate_audio": True,
            "seed": 42,
        },
    ),
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": (
        (5, 10),
        "fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        {"image_url": FIRST, "tail_image_url": LAST, "duration": "5"},
    ),
    "fal-ai/kling-video/v2.6/pro/image-to-video": (
        (5, 10),
        "fal-ai/kling-video/v2.6/pro/image-to-video",
        {"start_image_url": FIRST, "end_image_url": LAST, "duration": "5", "generate_audio": True},
    ),
    "fal-ai/kling-video/v3/pro/image-to-video": (
        (5, 8),
        "fal-ai/kling-video/v3/pro/image-to-video",
        {"start_image_url": FIRST, "end_image_url": LAST, "duration": "5", "generate_audio": True},
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": (
        (6, 10),
        "fal-ai/minimax/hailuo-02/standard/image-to-video",
        {"image_url": FIRST, "end_image_url": LAST, "duration": "6", "resolution": "512P"},
    ),
    "fal-ai/ltx-2.3/image-to-video": (
        (6, 8),
        "fal-ai/ltx-2.3/image-to-video",
        {
            "image_url": FIRST,
            "end_image_url": LAST,
            "duration": 6,
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "generate_audio": True,
        },
    ),
    "wan/v2.6/image-to-video": (
        (5, 10),
        "wan/v2.6/image-to-video",
        {"image_url": FIRST, "duration": "5", "resolution": "720p", "seed": 42},
    ),
    "google/gemini-omni-flash/image-to-video": (
        (5, 8),
        "google/gemini-omni-flash/image-to-video",
        {"image_url": FIRST, "duration": 5, "aspect_ratio": "16:9"},
    ),
    "fal-ai/kling-video/v2.1/pro/image-to-video": (
        (5, 10),
        "fal-ai/kling-video/v2.1/pro/image-to-video",
        {"image_url": FIRST, "tail_image_url": LAST, "duration": "5"},
    ),
    "fal-ai/kling-video/v1/standard/image-to-video": (
        (5, 10),
        "fal-ai/kling-video/v1/standard/image-to-video",
        {"image_url": FIRST, "tail_image_url": LAST, "duration": "5"},
    ),
}


@dataclass(frozen=True)
class TakeShot(Shot):
    """A shot with the end frame the format is gaining (the take's seed is on the job)."""

    end_frame: Path | None = None


def test_every_preset_is_checked_here() -> None:
    assert set(REQUESTS) == set(_presets())


def board(folder: Path, model: str, seconds: float, mode: str) -> Path:
    path = folder / f"b{seconds:g}{mode}.yaml"
    path.write_text(f"""\
version: 1
title: Presets
output: {{size: 160x90, fps: 24}}
render: {{backend: fal, model: {model}, duration: {mode}}}
shots:
  - {{id: a, seconds: {seconds:g}, action: waves roll in}}
""")
    return path


@pytest.mark.parametrize("model", sorted(REQUESTS))
def test_a_5s_and_an_8s_shot_validate_as_the_model_would(tmp_path: Path, model: str) -> None:
    caps = FalBackend.capabilities(model)
    assert caps.durations is not None
    for seconds, fitted in zip((5, 8), REQUESTS[model][0], strict=True):
        trim = validate(board(tmp_path, model, seconds, "trim"))
        assert trim.storyboard is not None and not trim.problems, trim.problems
        assert caps.render_seconds(seconds) == fitted
        exact = validate(board(tmp_path, model, seconds, "exact"))
        messages = [p.message for p in exact.problems]
        if seconds in caps.durations:
            assert not messages
        else:
            allowed = ", ".join(f"{d:g}" for d in caps.durations)
            assert messages == [
                f"shot 'a': backend 'fal': {seconds} s cannot be rendered; "
                f"allowed durations: {allowed} s (render.duration: trim "
                "renders the next longer one and uses its start)"
            ]


def _image(folder: Path, name: str, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (640, 360), color).save(folder / name)
    return folder / name


def _job(folder: Path, model: str, *, end: bool = True, dialogue: bool = True) -> RenderJob:
    audio = Audio(dialogue=(DialogueLine(1.0, "We're late.", "mara"),)) if dialogue else Audio()
    shot = TakeShot(
        "a",
        0,
        5.0,
        "waves roll in",
        reference=_image(folder, "ref.png", RED),
        audio=audio,
        end_frame=_image(folder, "end.png", BLUE) if end else None,
    )
    prompt = ShotPrompt("a", "", "", "", "", "", "", "", "", "P")
    caps = FalBackend.capabilities(model)
    return RenderJob(
        shot,
        prompt,
        Output(160, 90, 24.0),
        model,
        "key",
        seed=42,
        render_seconds=caps.render_seconds(5.0),
    )


def _shown(value: Any) -> Any:
    """The request with each image as which frame it is and its size."""
    if isinstance(value, Blob):
        with Image.open(io.BytesIO(value.data)) as image:
            which = "first" if image.getpixel((0, 0))[0] > 128 else "last"
            assert value.travels == "data_uri" and value.mime == "image/png"
            return f"<{which} frame {image.width}x{image.height}>"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("model", sorted(REQUESTS))
def test_the_exact_request_of_each_preset(tmp_path: Path, model: str) -> None:
    _, endpoint, body = REQUESTS[model]
    call = FalBackend.request(_job(tmp_path, model))
    assert call.path == f"/{endpoint}"
    assert _shown(call.json) == {"prompt": "P", **body}


def test_veo_without_an_end_frame_goes_to_image_to_video_silently(tmp_path: Path) -> None:
    flf = "fal-ai/veo3.1/first-last-frame-to-video"
    call = FalBackend.request(_job(tmp_path, flf, end=False, dialogue=False))
    assert call.path == "/fal-ai/veo3.1/image-to-video"
    assert _shown(call.json) == {
        "prompt": "P",
        "image_url": FIRST,
        "duration": "6s",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "generate_audio": False,
        "seed": 42,
    }


def test_prices_follow_the_tier_and_the_sound(tmp_path: Path) -> None:
    veo = "fal-ai/veo3.1/image-to-video"
    assert FalBackend.price_per_second(veo, "1280x720") == 0.20
    assert FalBackend.price_per_second(veo, "1280x720", audio=True) == 0.40
    assert FalBackend.price_per_second(veo, "3840x2160", audio=True) == 0.60
    ltx = "fal-ai/ltx-2.3/image-to-video"
    assert FalBackend.price_per_second(ltx, "2560x1440", audio=True) == 0.12
    path = board(tmp_path, veo, 4, "trim")
    path.write_text(
        path.read_text() + "  - {id: b, seconds: 4, action: x, audio: "
        "{dialogue: [{at: 1, line: Hi}]}}\n"
    )
    report = json.loads(run_cli("estimate", path, "--json").stdout)
    assert [s["cost"] for s in report["shots"]] == [pytest.approx(0.8), pytest.approx(1.6)]


def test_models_lists_every_preset_and_the_readme_agrees() -> None:
    listed = run_cli("models", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)["models"]
    assert {e["model"] for e in entries if e["backend"] == "fal"} == set(_presets())
    assert {e["model"] for e in entries if e["backend"] == "runway"} == {
        "gen4.5",
        "gen4_turbo",
        "veo3.1",
        "veo3.1_fast",
    }
    text = run_cli("models", "--backend", "fal").stdout
    assert "Seedance 2.0" in text and "4-15 s" in text and "$0.20? / $0.40? with sound" in text
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- models:begin -->\n(.*?)<!-- models:end -->", readme, re.S)
    assert found, "README.md lacks the generated models table"
    assert found[1] == markdown(catalogue()), (
        "README's model table is stale: run `storyboard models --format markdown`"
    )


def validate(path: Path):  # the format's checks and the backend's, as the pipeline runs them
    from storyboard.format.validate import validate_file

    return validate_file(path, preflight=preflight)
