"""Exact small-frame checks of the previs renderer's pure part: frame_at(scene, t)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.compile import compile_storyboard
from storyboard.format.validate import load_storyboard
from storyboard.render.base import RenderJob
from storyboard.render.previs.frames import frame_at, prepare_scene
from storyboard.render.previs.grade import apply_grade, grade_for

W, H = 160, 90


def marker_image(path: Path) -> Path:
    """Black picture, one white square in the middle, a grey bar across the top."""
    img = np.zeros((180, 320, 3), np.uint8)
    img[80:100, 150:170] = 255
    img[10:14, :] = 90
    Image.fromarray(img).save(path)
    return path


def scene_for(
    tmp_path: Path,
    beats: str,
    seconds: float = 2,
    lighting: str = "",
    overlays: bool = False,
    reference: str = "ref.png",
):
    if reference == "ref.png" and not (tmp_path / "ref.png").exists():
        marker_image(tmp_path / "ref.png")
    ref_line = f"reference: {reference}" if reference else ""
    light = f"lighting: {lighting}" if lighting else ""
    (tmp_path / "b.yaml").write_text(f"""\
version: 1
title: T
output: {{size: {W}x{H}, fps: 24}}
render: {{overlays: {str(overlays).lower()}}}
shots:
  - id: s
    seconds: {seconds}
    action: a test
    {ref_line}
    {light}
    beats: {beats}
""")
    board, _ = load_storyboard(tmp_path / "b.yaml")
    prompt = compile_storyboard(board)[0]
    job = RenderJob(board.shots[0], prompt, board.output, None, "k", overlays, "T")
    return prepare_scene(job)


def centroid(frame: np.ndarray) -> tuple[float, float, int]:
    bright = frame.mean(axis=2) > 200
    ys, xs = np.nonzero(bright)
    return float(xs.mean()), float(ys.mean()), int(bright.sum())


HORIZONTAL = [("pan-left", +1), ("truck-left", +1), ("pan-right", -1), ("truck-right", -1)]
VERTICAL = [
    ("tilt-up", +1),
    ("pedestal-up", +1),
    ("crane-up", +1),
    ("tilt-down", -1),
    ("pedestal-down", -1),
    ("crane-down", -1),
]


@pytest.mark.parametrize(("move", "sign"), HORIZONTAL)
def test_horizontal_moves_slide_the_picture_the_right_way(tmp_path, move, sign) -> None:
    # Moving the view left means the content slides right on screen.
    scene = scene_for(tmp_path, f"[{{camera: {move}, seconds: 2}}]")
    x0, y0, _ = centroid(frame_at(scene, 0))
    x1, y1, _ = centroid(frame_at(scene, 2))
    assert sign * (x1 - x0) > 8
    assert abs(y1 - y0) < abs(x1 - x0) / 2


@pytest.mark.parametrize(("move", "sign"), VERTICAL)
def test_vertical_moves_slide_the_picture_the_right_way(tmp_path, move, sign) -> None:
    scene = scene_for(tmp_path, f"[{{camera: {move}, seconds: 2}}]")
    x0, y0, _ = centroid(frame_at(scene, 0))
    x1, y1, _ = centroid(frame_at(scene, 2))
    assert sign * (y1 - y0) > 5
    assert abs(x1 - x0) < 2


@pytest.mark.parametrize(
    ("move", "grows"),
    [("dolly-in", True), ("zoom-in", True), ("dolly-out", False), ("zoom-out", False)],
)
def test_dolly_and_zoom_scale_the_picture(tmp_path, move, grows) -> None:
    scene = scene_for(tmp_path, f"[{{camera: {move}, seconds: 2}}]")
    area0 = centroid(frame_at(scene, 0))[2]
    area1 = centroid(frame_at(scene, 2))[2]
    assert (area1 > area0 * 1.2) if grows else (area1 < area0 / 1.2)


def test_dolly_differs_from_zoom(tmp_path) -> None:
    dolly = frame_at(scene_for(tmp_path, "[{camera: dolly-in, seconds: 2}]"), 2)
    zoom = frame_at(scene_for(tmp_path, "[{camera: zoom-in, seconds: 2}]"), 2)
    assert abs(centroid(dolly)[1] - centroid(zoom)[1]) > 1  # the dolly's centre sits lower


def test_amount_scales_the_move(tmp_path) -> None:
    small = scene_for(tmp_path, "[{camera: pan-left, seconds: 2, amount: 0.2}]")
    big = scene_for(tmp_path, "[{camera: pan-left, seconds: 2, amount: 0.6}]")
    shift = [centroid(frame_at(s, 2))[0] - centroid(frame_at(s, 0))[0] for s in (small, big)]
    assert 0 < shift[0] < shift[1]


def test_ease_in_starts_slow_and_linear_does_not(tmp_path) -> None:
    def early_share(ease: str) -> float:
        scene = scene_for(tmp_path, f"[{{camera: pan-left, seconds: 2, ease: {ease}}}]")
        x = [centroid(frame_at(scene, t))[0] for t in (0, 0.5, 2)]
        return (x[1] - x[0]) / (x[2] - x[0])

    assert early_share("ease-in") < 0.15 < 0.2 < early_share("linear") < 0.3


def test_static_and_the_remainder_hold_still(tmp_path) -> None:
    scene = scene_for(tmp_path, "[{camera: static, seconds: 0.5}, {camera: pan-left, seconds: 1}]")
    assert np.array_equal(frame_at(scene, 0), frame_at(scene, 0.5))
    assert np.array_equal(frame_at(scene, 1.5), frame_at(scene, 2))


def test_handheld_shakes_then_settles(tmp_path) -> None:
    scene = scene_for(tmp_path, "[{camera: handheld, seconds: 2}]")
    start, middle, end = (frame_at(scene, t) for t in (0, 1.1, 2))
    assert np.abs(middle.astype(int) - start).mean() > 0.5
    assert np.array_equal(start, end)


def sharpness(region: np.ndarray) -> float:
    gray = region.mean(axis=2)
    return float(np.abs(np.diff(gray, axis=1)).mean())


def test_rack_focus_moves_the_sharp_plane(tmp_path) -> None:
    checker = (np.indices((180, 320)).sum(axis=0) // 4 % 2 * 255).astype(np.uint8)
    Image.fromarray(np.stack([checker] * 3, axis=2)).save(tmp_path / "checker.png")
    scene = scene_for(tmp_path, "[{camera: rack-focus, seconds: 2}]", reference="checker.png")
    first, last = frame_at(scene, 0), frame_at(scene, 2)
    assert sharpness(first[-20:]) > 2 * sharpness(first[:20])  # foreground (bottom) sharp
    assert sharpness(last[:20]) > 2 * sharpness(last[-20:])  # then the background


def test_frames_are_deterministic(tmp_path) -> None:
    a = frame_at(scene_for(tmp_path, "[{camera: handheld, seconds: 2}]", overlays=True), 1.3)
    b = frame_at(scene_for(tmp_path, "[{camera: handheld, seconds: 2}]", overlays=True), 1.3)
    assert a.shape == (H, W, 3) and np.array_equal(a, b)


def test_overlays_draw_on_the_frame(tmp_path) -> None:
    plain = frame_at(scene_for(tmp_path, "[]"), 0.5)
    marked = frame_at(scene_for(tmp_path, "[]", overlays=True), 0.5)
    assert (plain[:12, :40] != marked[:12, :40]).any()  # the PREVIS mark, top left


def test_a_shot_without_reference_gets_a_card(tmp_path) -> None:
    frame = frame_at(scene_for(tmp_path, "[{camera: pan-left, seconds: 2}]", reference=""), 1)
    assert frame.std() > 5


def test_grade_follows_the_lighting_words() -> None:
    gray = np.full((4, 4, 3), 128, np.uint8)
    warm = apply_grade(gray, grade_for("golden hour, soft rim light"))[0, 0].astype(int)
    night = apply_grade(gray, grade_for("night, moonlight"))[0, 0].astype(int)
    assert warm[0] > 128 > warm[2]
    assert night[2] > night[0] and night.mean() < 100
    color = np.zeros((1, 1, 3), np.uint8) + np.array([200, 100, 60], np.uint8)
    flat = apply_grade(color, grade_for("overcast"))[0, 0].astype(int)
    assert np.ptp(flat) < np.ptp(color[0, 0].astype(int))
    haze = apply_grade(np.zeros((1, 1, 3), np.uint8), grade_for("light haze"))[0, 0]
    assert haze.min() > 10  # lifted blacks
    assert grade_for("a plain room").is_neutral()


def test_graded_frames_get_warmer(tmp_path) -> None:
    Image.new("RGB", (320, 180), (128, 128, 128)).save(tmp_path / "gray.png")
    frame = frame_at(scene_for(tmp_path, "[]", lighting="golden hour", reference="gray.png"), 0)
    r, _, b = frame.reshape(-1, 3).mean(axis=0)
    assert r > b + 20


def test_contain_letterboxes_and_cover_fills(tmp_path) -> None:
    Image.new("RGB", (400, 100), (250, 250, 250)).save(tmp_path / "wide.png")
    scene = scene_for(tmp_path, "[]", reference="wide.png")
    assert frame_at(scene, 0)[0].mean() > 240  # cover: the picture fills the frame
    text = (tmp_path / "b.yaml").read_text()
    contain = text.replace("action: a test", "action: a test\n    fit: contain")
    (tmp_path / "b.yaml").write_text(contain)
    from storyboard.compile import compile_storyboard as compile_

    story, _ = load_storyboard(tmp_path / "b.yaml")
    job = RenderJob(story.shots[0], compile_(story)[0], story.output, None, "k", False, "T")
    frame = frame_at(prepare_scene(job), 0)
    assert frame[0].mean() < 40 and frame[H // 2].mean() > 240  # bars above, picture across


def test_an_extension_starts_on_its_sources_last_frame(tmp_path) -> None:
    marker_image(tmp_path / "ref.png")
    (tmp_path / "b.yaml").write_text("""\
version: 1
title: T
output: {size: 160x90, fps: 24}
render: {overlays: false}
shots:
  - {id: a, seconds: 1, action: x, reference: ref.png, beats: [{camera: pan-left, seconds: 1}]}
  - {id: b, extend_of: a, seconds: 1, beats: [{camera: zoom-in, seconds: 1}]}
""")
    story, _ = load_storyboard(tmp_path / "b.yaml")
    a, b = compile_storyboard(story)
    assert b.text.startswith("Continuation of the source video, from its last frame.\n")
    source = RenderJob(story.shots[0], a, story.output, None, "k", False)
    extension = RenderJob(
        story.shots[1], b, story.output, None, "k", False, source_shot=story.shots[0]
    )
    last = frame_at(prepare_scene(source), 1.0).astype(int)
    first = frame_at(prepare_scene(extension), 0).astype(int)
    assert np.abs(last - first).mean() < 2
    assert centroid(frame_at(prepare_scene(extension), 1))[2] > centroid(first)[2]  # zooms on
