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
    path = write_board(
        tmp_path,
        "  - {id: a, seconds: 5, action: a ferry arrives}\n"
        "  - {id: b, seconds: 4, action: gulls}\n",
        seconds="[4, 8, 12]",
    )
    plan = run_cli("estimate", path, "--json")
    assert [s["render_seconds"] for s in json.loads(plan.stdout)["shots"]] == [8, 4]
    assert "renders 8 s, uses 5 s" in run_cli("estimate", path).stdout
    result = cli(api, "build", path)
    assert result.returncode == 0, result.stderr
    # the two creates run at once, in either order: tell them apart by their prompts
    sent = {
        "a" if "ferry" in r.fields["prompt"] else "b": r.fields["seconds"]
        for r in api.calls("POST", "/v1/videos")
    }
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
    path = write_board(
        tmp_path, "  - {id: a, seconds: 1.5, action: x}\n", render="  duration: exact"
    )
    result = run_cli("validate", path)
    assert result.returncode == 1
    assert "1.5 s cannot be rendered; allowed durations: 1, 2 s" in result.stdout
    path = write_board(tmp_path, "  - {id: a, seconds: 1.5, action: x}\n")
    assert run_cli("validate", path).returncode == 0


@pytest.mark.parametrize("backend", ["openai", "fal", "gemini"])
def test_harbor_short_estimates_on_every_hosted_backend(backend: str) -> None:
    from conftest import EXAMPLES

    assert run_cli("validate", EXAMPLES / "harbor-short.yaml", "--backend", backend).returncode == 0
    result = run_cli(
        "estimate",
        EXAMPLES / "harbor-short.yaml",
        "--backend",
        backend,
        "--json",
        env={"OPENAI_API_KEY": "", "FAL_KEY": "", "GEMINI_API_KEY": ""},
    )
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

    path = write_board(
        tmp_path,
        "  - {id: a, seconds: 4, action: a ferry arrives}\n",
        seconds="[4, 8]",
        render=TARGETS,
    )
    with FakeGemini("gm-key", latency=0.05) as gemini:
        for how in (["--target", "draft"], ["--backend", "gemini"]):
            result = run_cli(
                "render", path, *how, "--base-url", gemini.url, env={"GEMINI_API_KEY": "gm-key"}
            )
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
    assert {r.fields["model"] for r in api.calls("POST", "/v1/videos")} == {"wan-test", "wan-other"}


FOUR = """\
  - {id: s1, seconds: 1, reference: ref.png, action: a harbor at dusk}
  - {id: s2, seconds: 1, action: gulls over the water}
  - {id: s3, seconds: 1, action: a ferry rounds the breakwater}
  - {id: s4, seconds: 1, action: Mara smiles}
"""
EXTRA = "  - {id: s5, seconds: 1, action: the lights come on}\n"


def build(api: FakeVideoAPI, folder: Path, shots: str, *args: str, render: str = "") -> str:
    result = cli(api, "build", write_board(folder, shots, render=render), *args)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_appending_inserting_removing_renaming_creates_only_whats_new(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    build(api, tmp_path, FOUR)
    assert creates(api) == 4
    build(api, tmp_path, FOUR + EXTRA)  # appended
    assert creates(api) == 5
    build(api, tmp_path, EXTRA.replace("s5", "s0").replace("lights", "first lights") + FOUR)
    assert creates(api) == 6  # inserted at the top: one new job
    build(
        api, tmp_path, FOUR.replace("  - {id: s2, seconds: 1, action: gulls over the water}\n", "")
    )
    assert creates(api) == 6  # removed
    stderr = build(api, tmp_path, FOUR.replace("id: s3", "id: ferry"))
    assert creates(api) == 6 and "0 rendered, 4 reused" in stderr  # renamed
    build(api, tmp_path, FOUR, render="  overlays: false")
    assert creates(api) == 6  # overlays are previs's, never in a hosted request


def test_identical_requests_render_once(tmp_path: Path, api: FakeVideoAPI) -> None:
    stderr = build(api, tmp_path, FOUR + FOUR.replace("id: s", "id: again-s"))
    assert creates(api) == 4 and "4 rendered, 4 reused" in stderr
    shots = tmp_path / "renders/board/shots"
    assert (shots / "s1.mp4").stat().st_ino == (shots / "again-s1.mp4").stat().st_ino


def test_switching_target_and_back_creates_nothing(tmp_path: Path, api: FakeVideoAPI) -> None:
    build(api, tmp_path, FOUR, render=TARGETS)
    build(api, tmp_path, FOUR, "--target", "other", render=TARGETS)
    assert creates(api) == 8
    plan = run_cli("estimate", tmp_path / "board.yaml", "--json")
    assert json.loads(plan.stdout)["cost"] == 0  # every request has its take in the store
    stderr = build(api, tmp_path, FOUR, render=TARGETS)
    assert creates(api) == 8 and "0 rendered, 4 reused" in stderr
    build(api, tmp_path, FOUR.replace("harbor at dusk", "harbor at night"), render=TARGETS)
    build(api, tmp_path, FOUR, render=TARGETS)  # a field changed and back
    assert creates(api) == 9


def test_a_remix_rendered_alone_renders_its_source_first(tmp_path: Path, api: FakeVideoAPI) -> None:
    path = write_board(tmp_path, FOUR + "  - {id: night, remix_of: s2, edit: make it night}\n")
    result = cli(api, "render", path, "--shot", "night")
    assert result.returncode == 0, result.stderr
    assert "renders its source 's2' first" in result.stderr
    [source] = api.calls("POST", "/v1/videos")
    [edit] = api.calls("POST", "/v1/videos/edits")
    assert edit.fields["video[id]"] == manifest(tmp_path)["shots"]["s2"]["remote_video_id"]
    assert source.at < edit.at and creates(api) == 2


@pytest.mark.parametrize("fault", ["blocked", "failed"])
def test_a_source_that_did_not_render_sends_nothing_for_its_derived_shots(
    tmp_path: Path, api: FakeVideoAPI, fault: str
) -> None:
    from storyboard.testing.fake_video_api import Faults

    api.faults = (
        Faults(moderation_words=("Forbidden",))
        if fault == "blocked"
        else Faults(rate_limit=3, retry_after=0.01)
    )
    path = write_board(
        tmp_path,
        "  - {id: src, seconds: 1, action: forbidden harbor}\n"
        "  - {id: night, remix_of: src, edit: make it night}\n"
        "  - {id: more, extend_of: src, seconds: 1, action: it goes on}\n",
    )
    result = cli(api, "render", path)
    assert result.returncode == 3
    assert "skipped  night: its source 'src' failed; nothing sent" in result.stderr
    assert not api.calls("POST", "/v1/videos/edits") and not api.calls(
        "POST", "/v1/videos/extensions"
    )
    assert "0 rendered, 0 reused, 1 failed, 2 skipped" in result.stderr


def test_an_extension_holds_only_its_new_part(tmp_path: Path, api: FakeVideoAPI) -> None:
    path = write_board(
        tmp_path,
        "  - {id: a, seconds: 2, action: a ferry}\n"
        "  - {id: b, extend_of: a, seconds: 2, action: it docks}\n",
        seconds="[2]",
    )
    result = cli(api, "build", path)
    assert result.returncode == 0, result.stderr
    [extension] = api.calls("POST", "/v1/videos/extensions")
    assert extension.fields["seconds"] == "2"  # the server returns 4 s: source + extension
    assert probe(tmp_path / "renders/board/shots/b.mp4").frames == 48
    assert probe(tmp_path / "renders/board/board.mp4").frames == 96  # 2 s + 2 s of edit


def test_status_lists_orphans_and_clean_removes_only_them(
    tmp_path: Path, api: FakeVideoAPI
) -> None:
    build(api, tmp_path, FOUR)
    path = write_board(tmp_path, FOUR.replace("Mara smiles", "Mara laughs"))
    assert cli(api, "render", path).returncode == 0
    takes = tmp_path / "renders/board/takes"
    assert len(list(takes.glob("*.mp4"))) == 5
    status = run_cli("status", path)
    assert "1 orphan take" in status.stdout
    dry = run_cli("clean", path, "--dry-run")
    assert dry.returncode == 0 and len(list(takes.glob("*.mp4"))) == 5
    assert "would remove 1 take" in dry.stdout
    result = run_cli("clean", path)
    assert result.returncode == 0 and "removed 1 take" in result.stdout
    assert len(list(takes.glob("*.mp4"))) == 4
    again = cli(api, "build", path)
    assert "0 rendered, 4 reused" in again.stderr and creates(api) == 5


def test_previs_inserting_a_shot_into_ten_renders_one(tmp_path: Path) -> None:
    def board(ids: list[str]) -> Path:
        path = tmp_path / "ten.yaml"
        shots = "".join(
            f"  - {{id: {i}, seconds: 0.5, action: shot {i}, "
            f"beats: [{{camera: pan-left, seconds: 0.5}}]}}\n"
            for i in ids
        )
        path.write_text(
            f"version: 1\ntitle: Ten\noutput: {{size: 160x90, fps: 24}}\nshots:\n{shots}"
        )
        return path

    ids = [f"s{n}" for n in range(10)]
    assert run_cli("build", board(ids)).returncode == 0
    result = run_cli("build", board(["new", *ids[:5], *ids[5:]]))
    assert result.returncode == 0, result.stderr
    assert "1 rendered, 10 reused" in result.stderr
