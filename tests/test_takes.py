"""Takes through the real CLI against the fake /v1/videos server: one create per new take."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.testing.fake_video_api import FakeVideoAPI

from conftest import raw_frame, run_cli

KEY = "sk-takes-test"


@pytest.fixture
def api():
    with FakeVideoAPI(KEY) as server:
        server.distinct_videos = True  # every job its own colour: takes differ by their pixels
        yield server


def write(folder: Path, one: str = "", two: str = "", defaults: str = "takes: 3") -> Path:
    if not (folder / "ref.png").exists():
        Image.new("RGB", (160, 90), (200, 120, 40)).save(folder / "ref.png")
    path = folder / "takes.yaml"
    path.write_text(f"""\
version: 1
title: Takes
output: {{size: 160x90, fps: 24}}
render:
  backend: openai
  model: wan-test
  capabilities: {{sizes: [160x90], seconds: [1, 2], price_per_second: 0.1}}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: 30}}
defaults: {{{defaults}}}
shots:
  - {{id: one, seconds: 1, reference: ref.png, action: a harbor at dusk{one}}}
  - {{id: two, seconds: 1, action: gulls over the water{two}}}
""")
    return path


def cli(api: FakeVideoAPI, *args) -> subprocess.CompletedProcess:
    result = run_cli(*args, "--base-url", api.url, env={"OPENAI_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    return result


def creates(api: FakeVideoAPI) -> dict[str, int]:
    """Creates per shot, told apart by their prompts."""
    counts = {"one": 0, "two": 0}
    for request in api.calls("POST", "/v1/videos"):
        counts["one" if "harbor" in request.fields["prompt"] else "two"] += 1
    return counts


def takes(board: Path) -> list[dict]:
    result = run_cli("takes", board, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["takes"]


def mean_rgb(path: Path, t: float) -> np.ndarray:
    return np.frombuffer(raw_frame(path, t, "rgb24"), np.uint8).reshape(-1, 3).mean(axis=0)


def test_estimate_multiplies_by_the_takes(tmp_path: Path) -> None:
    board = write(tmp_path)
    plan = json.loads(run_cli("estimate", board, "--json").stdout)
    assert plan["cost"] == pytest.approx(2 * 3 * 1 * 0.1)
    plan = json.loads(run_cli("estimate", board, "--json", "--takes", "1").stdout)
    assert plan["cost"] == pytest.approx(2 * 1 * 1 * 0.1)


def test_three_takes_circle_and_a_fourth(tmp_path: Path, api: FakeVideoAPI) -> None:
    board = write(tmp_path)
    cli(api, "build", board)
    assert creates(api) == {"one": 3, "two": 3}  # exactly three jobs per shot
    listed = takes(board)
    assert [(t["id"], t["take"], t["state"], t["circled"]) for t in listed] == [
        (s, n, "rendered", n == 1) for s in ("one", "two") for n in (1, 2, 3)
    ]
    paths = {(t["id"], t["take"]): Path(t["path"]) for t in listed}
    colours = {k: mean_rgb(p, 0.5) for k, p in paths.items()}
    assert len({tuple(c.round()) for c in colours.values()}) == 6  # six different takes
    edit = tmp_path / "renders" / "takes" / "takes.mp4"
    assert np.abs(mean_rgb(edit, 0.2) - colours["one", 1]).max() < 12

    # circle take 2: nothing is sent, the edit is stitched again and holds take 2's frames
    write(tmp_path, one=", circle: 2")
    result = cli(api, "build", board)
    assert creates(api) == {"one": 3, "two": 3}
    assert "edit stitched" in result.stderr
    assert np.abs(mean_rgb(edit, 0.2) - colours["one", 2]).max() < 12
    assert np.abs(mean_rgb(edit, 0.2) - colours["one", 1]).max() > 12
    assert [t["take"] for t in takes(board) if t["circled"]] == [2, 1]

    # the OTIO export: the circled take is the clip's active media, the others sit beside it
    import opentimelineio as otio

    exported = run_cli("export", board, "--format", "otio", "--out", tmp_path / "edit.otio")
    assert exported.returncode == 0, exported.stderr
    timeline = otio.adapters.read_from_file(str(tmp_path / "edit.otio"))
    clip = next(c for c in timeline.find_clips() if c.metadata["storyboard"]["shot_id"] == "one")
    references = clip.media_references()
    assert clip.active_media_reference_key == otio.schema.Clip.DEFAULT_MEDIA_KEY
    assert sorted(k for k in references if k != clip.active_media_reference_key) == [
        "take1",
        "take3",
    ]
    assert references["take3"].target_url == paths["one", 3].resolve().as_uri()

    # a fourth take of shot one: exactly one create
    write(tmp_path, one=", circle: 2, takes: 4")
    cli(api, "render", board)
    assert creates(api) == {"one": 4, "two": 3}

    # fewer takes: the others stay on disk until clean removes them
    write(tmp_path, one=", circle: 2, takes: 2")
    cli(api, "render", board)
    assert creates(api) == {"one": 4, "two": 3}
    assert all(paths["one", n].is_file() for n in (1, 2, 3))
    dry = run_cli("clean", board, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert paths["one", 3].stem in dry.stdout + dry.stderr
    assert paths["one", 1].stem not in dry.stdout + dry.stderr


def test_circle_beyond_the_takes_is_an_error(tmp_path: Path) -> None:
    board = write(tmp_path, one=", circle: 4")
    result = run_cli("validate", board)
    assert result.returncode == 1
    assert "circle: 4 but the shot has 3 take(s)" in result.stdout
    result = run_cli("estimate", write(tmp_path, one=", circle: 2"), "--takes", "1")
    assert (
        result.returncode == 2 and "--takes 1 leaves out the circled take of one" in result.stderr
    )


def test_previs_takes_differ_by_their_seed(tmp_path: Path) -> None:
    from storyboard.media import read_audio

    board = tmp_path / "previs.yaml"
    board.write_text("""\
version: 1
title: Previs takes
output: {size: 160x90, fps: 24}
shots:
  - id: walk
    seconds: 2
    action: Mara walks along the pier
    beats: [{camera: handheld, seconds: 2, amount: 1}]
    audio: {ambient: waves, dialogue: [{at: 0.2, who: mara, line: "We are late again"}]}
""")
    assert run_cli("render", board, "-q").returncode == 0
    [first] = takes(board)
    before = Path(first["path"]).read_bytes()
    board.write_text(board.read_text().replace("seconds: 2\n", "seconds: 2\n    takes: 2\n", 1))
    assert run_cli("render", board, "-q").returncode == 0
    one, two = takes(board)
    assert (one["render_key"], one["state"], two["state"]) == (
        first["render_key"],
        "rendered",
        "rendered",
    )
    assert Path(one["path"]).read_bytes() == before  # take 1 is the render it always was
    shake = [
        np.abs(mean_rgb(Path(t["path"]), 1.0) - mean_rgb(Path(t["path"]), 1.5)).max()
        for t in (one, two)
    ]
    assert shake[0] != pytest.approx(shake[1], abs=0.05)  # each take shakes its own way
    sound = [read_audio(Path(t["path"])) for t in (one, two)]
    assert np.abs(sound[0][:48_000] - sound[1][:48_000]).max() > 0.01
