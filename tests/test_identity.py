"""Render identity: pay once for each distinct shot, never for a wrong one (issue 11).

Through the real CLI against the fake /v1/videos server on loopback, counting its creates.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from storyboard.media import probe
from storyboard.testing.fake_video_api import FakeVideoAPI

from conftest import run_cli

KEY = "sk-identity-test"


@pytest.fixture
def api():
    with FakeVideoAPI(KEY, latency=0.05) as server:
        yield server


def write_board(folder: Path, shots: str, *, seconds: str = "[1, 2]", render: str = "") -> Path:
    Image.new("RGB", (320, 180), (200, 120, 40)).save(folder / "ref.png")
    path = folder / "board.yaml"
    path.write_text(f"""\
version: 1
title: Identity
output: {{size: 160x90, fps: 24}}
render:
  backend: openai
  model: wan-test
  capabilities: {{sizes: [160x90], seconds: {seconds}, price_per_second: 0.1}}
  poll: {{interval: 0.02, max_interval: 0.1, timeout: 30}}
{render}
shots:
{shots}""")
    return path


def cli(api: FakeVideoAPI, *args: object) -> subprocess.CompletedProcess:
    return run_cli(*args, "--base-url", api.url, env={"OPENAI_API_KEY": KEY})


def creates(api: FakeVideoAPI) -> int:
    return len(api.calls("POST", r"/v1/videos(/edits|/extensions|/[^/]+/remix)?"))


def manifest(folder: Path) -> dict:
    return json.loads((folder / "renders" / "board" / "manifest.json").read_text())


def test_a_5s_shot_renders_8s_and_the_edit_uses_5(tmp_path: Path, api: FakeVideoAPI) -> None:
    path = write_board(tmp_path, "  - {id: a, seconds: 5, action: a ferry arrives}\n"
                                 "  - {id: b, seconds: 4, action: gulls}\n", seconds="[4, 8, 12]")
    plan = run_cli("estimate", path, "--json")
    assert [s["render_seconds"] for s in json.loads(plan.stdout)["shots"]] == [8, 4]
    assert "renders 8 s, uses 5 s" in run_cli("estimate", path).stdout
    result = cli(api, "build", path)
    assert result.returncode == 0, result.stderr
    # the two creates run at once, in either order: tell them apart by their prompts
    sent = {"a" if "ferry" in r.fields["prompt"] else "b": r.fields["seconds"]
            for r in api.calls("POST", "/v1/videos")}
    assert sent == {"a": "8", "b": "4"}
    entry = manifest(tmp_path)["shots"]["a"]
    assert (entry["seconds"], entry["media_seconds"]) == (5, 8)
    assert probe(tmp_path / "renders/board/shots/a.mp4").frames == 8 * 24  # handles kept
    assert probe(tmp_path / "renders/board/board.mp4").frames == 9 * 24  # 5 s of a, 4 s of b


def test_longer_than_the_longest_length_suggests_extend_of(tmp_path: Path) -> None:
    path = write_board(tmp_path, "  - {id: a, seconds: 3, action: x}\n")
    result = run_cli("validate", path)
    assert result.returncode == 1
    assert "longer than the longest length the model renders (2 s" in result.stdout
    assert "extend_of" in result.stdout


def test_exact_duration_refuses_a_length_the_model_cannot_render(tmp_path: Path) -> None:
    path = write_board(tmp_path, "  - {id: a, seconds: 1.5, action: x}\n",
                       render="  duration: exact")
    result = run_cli("validate", path)
    assert result.returncode == 1
    assert "1.5 s cannot be rendered; allowed durations: 1, 2 s" in result.stdout
    path = write_board(tmp_path, "  - {id: a, seconds: 1.5, action: x}\n")
    assert run_cli("validate", path).returncode == 0


@pytest.mark.parametrize("backend", ["openai", "fal", "gemini"])
def test_harbor_short_estimates_on_every_hosted_backend(backend: str) -> None:
    from conftest import EXAMPLES

    assert run_cli("validate", EXAMPLES / "harbor-short.yaml", "--backend", backend).returncode == 0
    result = run_cli("estimate", EXAMPLES / "harbor-short.yaml", "--backend", backend, "--json",
                     env={"OPENAI_API_KEY": "", "FAL_KEY": "", "GEMINI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    shots = json.loads(result.stdout)["shots"]
    assert all(s["render_seconds"] >= s["seconds"] for s in shots)


TARGETS = """\
  extra: {openai_only: 1}
  targets:
    draft: {backend: gemini, poll: {interval: 0.02, max_interval: 0.1, timeout: 30}}
    other: {backend: openai, model: wan-other}
"""


def test_a_target_never_receives_another_backends_settings(tmp_path: Path) -> None:
    from storyboard.testing.fake_gemini import FakeGemini

    path = write_board(tmp_path, "  - {id: a, seconds: 4, action: a ferry arrives}\n",
                       seconds="[4, 8]", render=TARGETS)
    with FakeGemini("gm-key", latency=0.05) as gemini:
        for how in (["--target", "draft"], ["--backend", "gemini"]):
            result = run_cli("render", path, *how, "--base-url", gemini.url,
                             env={"GEMINI_API_KEY": "gm-key"})
            assert result.returncode == 0, result.stderr
        bodies = [r.fields for r in gemini.calls("POST", r"/v1beta/interactions|/interactions")]
        assert len(bodies) == 1  # the second run renders nothing: same request, same render
        assert bodies[0]["model"] == "gemini-omni-1.1-flash"  # gemini's default, not wan-test
        assert "openai_only" not in bodies[0]
    assert (tmp_path / "renders/board/shots/a.mp4").is_file()


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    path = write_board(tmp_path, "  - {id: a, seconds: 1, action: x}\n", render=TARGETS)
    result = run_cli("estimate", path, "--target", "drfat")
    assert result.returncode == 2
    assert "no render target 'drfat'" in result.stderr and "did you mean 'draft'" in result.stderr


def test_each_target_stitches_its_own_edit(tmp_path: Path, api: FakeVideoAPI) -> None:
    path = write_board(tmp_path, "  - {id: a, seconds: 1, action: x}\n", render=TARGETS)
    assert cli(api, "build", path).returncode == 0
    result = cli(api, "build", path, "--target", "other")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("board.other.mp4")
    assert (tmp_path / "renders/board/board.mp4").is_file()
    assert {r.fields["model"] for r in api.calls("POST", "/v1/videos")} == {"wan-test",
                                                                             "wan-other"}
