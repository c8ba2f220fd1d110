"""A render folder written by 0.1.0 keeps working after the upgrade (issue 10).

tests/fixtures/v0.1.0 is what 0.1.0 wrote through its own fake /v1/videos server (its README says
how). Through the real CLI against the current fake server on loopback, counting its creates.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from storyboard.manifest import MANIFEST_VERSION, file_sha256
from storyboard.media import probe
from storyboard.testing.fake_video_api import FakeVideoAPI

from conftest import ROOT, run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1.0"
KEY = "sk-upgrade-test"


@pytest.fixture
def api():
    with FakeVideoAPI(KEY) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(FIXTURE, dest)
    return dest


def cli(api: FakeVideoAPI, *args: object) -> subprocess.CompletedProcess:
    return run_cli(*args, "--base-url", api.url, env={"OPENAI_API_KEY": KEY})


def creates(api: FakeVideoAPI) -> list:
    return api.calls("POST", r"/v1/videos(/edits|/extensions|/[^/]+/remix)?")


def manifest(project: Path, stem: str = "hosted") -> dict:
    return json.loads((project / "renders" / stem / "manifest.json").read_text("utf-8"))


def states(project: Path, *args: object) -> dict[str, str]:
    result = run_cli("status", project / "hosted.yaml", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {s["id"]: s["state"] for s in json.loads(result.stdout)["shots"]}


def test_hosted_renders_of_010_are_reused_with_no_create(project: Path, api: FakeVideoAPI) -> None:
    old = manifest(project)
    assert "manifest_version" not in old  # 0.1.0's own format
    assert states(project) == {"ferry": "rendered", "gulls": "rendered"}

    result = cli(api, "build", project / "hosted.yaml", "--budget", "0")
    assert result.returncode == 0, result.stderr
    assert creates(api) == [] and api.calls("GET", r"/v1/videos.*") == []
    assert "0 rendered, 2 reused, 0 failed" in result.stderr
    assert "the 0.1.0 render (remote video video_0002_34572) is reused" in result.stderr
    assert "edit stitched: 2.50 s" in result.stderr
    edit = probe(project / "renders" / "hosted" / "hosted.mp4")
    assert (edit.width, edit.height) == (160, 90) and abs(edit.duration - 2.5) < 0.05

    new = manifest(project)
    assert new["manifest_version"] == MANIFEST_VERSION
    for shot_id, entry in new["shots"].items():
        before = old["shots"][shot_id]
        take = project / "renders" / "hosted" / entry["take"]
        assert entry["remote_video_id"] == before["remote_video_id"]
        assert file_sha256(take) == entry["output_sha256"] == before["output_sha256"]
        assert (
            file_sha256(project / "renders" / "hosted" / before["output"])
            == before["output_sha256"]
        )  # the user's file is still there, as 0.1.0 left it
    assert states(project) == {"ferry": "rendered", "gulls": "rendered"}

    again = cli(api, "build", project / "hosted.yaml")
    assert again.returncode == 0 and "is reused" not in again.stderr and creates(api) == []


def test_a_prompt_that_compiles_differently_now_is_rendered_again(
    project: Path, api: FakeVideoAPI
) -> None:
    """The same storyboard file, but today's templates word the gulls' sound differently: 0.1.0
    sent another prompt for it, so it is made again; the ferry's prompt is unchanged."""
    templates = project / "templates"
    templates.mkdir()
    stock = (ROOT / "storyboard" / "templates" / "audio.j2").read_text("utf-8")
    (templates / "audio.j2").write_text(stock.replace("Ambient sound:", "Ambience:"), "utf-8")
    assert states(project, "--templates", templates) == {"ferry": "rendered", "gulls": "stale"}

    result = cli(api, "build", project / "hosted.yaml", "--templates", templates)
    assert result.returncode == 0, result.stderr
    [create] = creates(api)
    assert "Ambience: waves." in create.fields["prompt"]
    assert "gulls: its 0.1.0 render is not reused: 0.1.0 sent another prompt" in result.stderr
    assert "1 rendered, 1 reused, 0 failed" in result.stderr


def test_an_edited_shot_is_rendered_again_and_the_others_reused(
    project: Path, api: FakeVideoAPI
) -> None:
    board = project / "hosted.yaml"
    board.write_text(
        board.read_text("utf-8").replace(
            "the ferry leaves the harbor", "the ferry turns toward the lighthouse"
        ),
        "utf-8",
    )
    assert states(project) == {"ferry": "stale", "gulls": "rendered"}

    result = cli(api, "build", board)
    assert result.returncode == 0, result.stderr
    [create] = creates(api)
    assert "turns toward the lighthouse" in create.fields["prompt"]
    assert "input_reference" in create.files
    assert "1 rendered, 1 reused, 0 failed" in result.stderr


def test_a_reference_shot_needs_the_storyboard_0_1_0_rendered(
    project: Path, api: FakeVideoAPI
) -> None:
    """0.1.0 recorded the reference's hash but not its fit: once the storyboard file changed,
    a shot with a reference may have been fitted otherwise, and is made again."""
    board = project / "hosted.yaml"
    board.write_text(board.read_text("utf-8").replace("gulls circle", "gulls wheel"), "utf-8")

    result = cli(api, "build", board)
    assert result.returncode == 0, result.stderr
    assert len(creates(api)) == 2
    assert "ferry: its 0.1.0 render is not reused: the storyboard changed" in result.stderr


def test_a_changed_reference_image_is_rendered_again(project: Path, api: FakeVideoAPI) -> None:
    image = project / "images" / "ferry.png"
    image.write_bytes(image.read_bytes() + b"\0")  # other bytes, the same picture
    assert states(project)["ferry"] == "stale"
    result = cli(api, "build", project / "hosted.yaml")
    assert result.returncode == 0, result.stderr
    [create] = creates(api)
    assert create.fields["prompt"].startswith("Wide shot on a 35mm lens.")


def test_a_010_previs_render_is_made_again_once(project: Path) -> None:
    first = run_cli("build", project / "animatic.yaml")
    assert first.returncode == 0, first.stderr
    assert "1 rendered, 0 reused" in first.stderr
    again = run_cli("build", project / "animatic.yaml")
    assert again.returncode == 0 and "0 rendered, 1 reused" in again.stderr
    assert manifest(project, "animatic")["manifest_version"] == MANIFEST_VERSION


def test_a_changed_fit_is_not_hidden_by_a_run_of_other_shots(
    project: Path, api: FakeVideoAPI
) -> None:
    """Every run rewrites the manifest's storyboard hash: the one 0.1.0 rendered from stays
    with each of its entries, so rendering other shots first cannot vouch for a changed fit."""
    board = project / "hosted.yaml"
    text = board.read_text("utf-8")
    board.write_text(
        text.replace(
            "reference: images/ferry.png", "reference: images/ferry.png\n    fit: contain"
        ),
        "utf-8",
    )
    assert "fit: contain" in board.read_text("utf-8")
    assert cli(api, "render", board, "--shot", "gulls").returncode == 0
    assert creates(api) == []  # gulls has no reference: its 0.1.0 render is taken over
    assert states(project)["ferry"] == "stale"
    result = cli(api, "render", board)
    assert result.returncode == 0, result.stderr
    [create] = creates(api)
    assert "ferry: its 0.1.0 render is not reused: the storyboard changed" in result.stderr
