from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyboard.compile import PART_NAMES, compile_storyboard
from storyboard.errors import CompileError
from storyboard.format.validate import load_storyboard

from conftest import EXAMPLES, run_cli

PORTRAIT = EXAMPLES / "portrait.yaml"


def portrait_prompt(templates: Path | None = None):
    board, _ = load_storyboard(PORTRAIT)
    return compile_storyboard(board, templates, allow_outside_paths=True)[0]


def test_seed_example_compiles_to_the_five_parts() -> None:
    p = portrait_prompt()
    assert p.framing == (
        "Close-up on a 50mm lens at eye level, shallow depth of field, subject centered."
    )
    assert p.action.startswith(
        "The camera dollies in and pans left. Mara raises her right hand "
        "halfway, then looks toward the sea."
    )
    assert "a woman in her thirties, short silver hair, yellow raincoat" in p.action
    assert p.timing == (
        "Static for 0.5 s, then a 2 s dolly in, a 1 s hold and a 1.5 s pan left. 5 s in all."
    )
    assert p.lighting == "Golden hour, soft rim light, light haze."
    assert p.audio == "Ambient sound: distant traffic, faint birdsong. Music: soft acoustic guitar."


def test_parts_stand_in_order_then_style_then_constraints() -> None:
    p = portrait_prompt()
    order = [p.text.index(getattr(p, name)) for name in (*PART_NAMES, "style", "constraints")]
    assert order == sorted(order)
    assert p.text.endswith(
        "Keep unchanged: the yellow raincoat; the lighthouse in the background."
        " May change: background clutter may be removed."
    )


def test_notes_never_reach_the_prompt() -> None:
    assert "lighthouse before" not in portrait_prompt().text
    assert "hold on her eyes" not in portrait_prompt().text


def test_audio_part_left_out_when_silent(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text("version: 1\ntitle: T\nshots: [{id: a, action: a door opens}]\n")
    prompt = compile_storyboard(load_storyboard(board)[0])[0]
    assert prompt.audio == ""
    assert prompt.text.count("\n") == 3  # framing, action, timing, lighting


def test_remix_states_its_edit_and_inherits() -> None:
    board, _ = load_storyboard(EXAMPLES / "remix.yaml")
    source, remix, extension = compile_storyboard(board)
    assert remix.text.startswith(
        "Edit of the source video: Keep everything identical but make the raincoat bright orange.\n"
    )
    assert remix.framing == source.framing and remix.timing == source.timing
    assert "May change: the raincoat's colour." in remix.text
    assert extension.text.startswith("Continuation of the source video, from its last frame.\n")
    assert extension.lighting == source.lighting


def test_defaults_merge_deeply(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "version: 1\ntitle: T\ndefaults:\n  lighting: {time: night, key: neon}\n"
        "  seconds: 2\nshots:\n  - {id: a, action: x, lighting: {key: moonlight}}\n"
    )
    story, _ = load_storyboard(board)
    assert story.shots[0].seconds == 2
    assert compile_storyboard(story)[0].lighting == "Night, moonlight."


def test_user_template_overrides_one_part(tmp_path: Path) -> None:
    (tmp_path / "lighting.j2").write_text("LIGHT: {{ shot.lighting.text | upper }}")
    p = portrait_prompt(tmp_path)
    assert p.lighting == "LIGHT: GOLDEN HOUR, SOFT RIM LIGHT, LIGHT HAZE"
    assert p.framing.startswith("Close-up")


def test_template_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "action.j2").write_text("ok\n{{ shot.no_such_field }}\n")
    with pytest.raises(CompileError) as info:
        portrait_prompt(tmp_path)
    assert str(info.value.location) == f"{tmp_path / 'action.j2'}:2:1"


def test_template_syntax_error_is_located(tmp_path: Path) -> None:
    (tmp_path / "timing.j2").write_text("{% if %}\n")
    with pytest.raises(CompileError, match="syntax") as info:
        portrait_prompt(tmp_path)
    assert info.value.location.line == 1


def test_user_templates_are_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "framing.j2").write_text("{{ shot.__class__.__init__.__globals__ }}")
    with pytest.raises(CompileError, match="no attribute '__class__'"):
        portrait_prompt(tmp_path)


def test_json_output_has_every_field(tmp_path: Path) -> None:
    result = run_cli("compile", PORTRAIT, "--format", "json")
    assert result.returncode == 0, result.stderr
    [shot] = json.loads(result.stdout)["shots"]
    assert set(shot["parts"]) == set(PART_NAMES)
    assert shot["reference"] == "images/harbor-dusk.jpg"
    assert len(shot["reference_sha256"]) == 64
    assert (shot["seconds"], shot["size"], shot["backend"]) == (5.0, "1280x720", "previs")


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_validates_and_compiles_identically(example: Path) -> None:
    runs = [
        run_cli("compile", example, "--format", "json", env={"PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    for shot in json.loads(runs[0].stdout)["shots"]:
        assert all(shot["parts"][name] for name in ("framing", "action", "timing", "lighting"))


def test_template_error_exits_1_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "audio.j2").write_text("{{ nope }}")
    result = run_cli("compile", PORTRAIT, "--templates", tmp_path, "--allow-outside-paths")
    assert result.returncode == 1
    assert "audio.j2:1:1" in result.stderr and "Traceback" not in result.stderr
