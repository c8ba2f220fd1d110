"""Stitch and build through the real CLI; every edit is checked by probing the real file."""

from __future__ import annotations

import os
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.media import ffmpeg_exe, probe, read_audio

from conftest import EXAMPLES, raw_frame, run_cli

FPS = 24


def make_board(
    folder: Path,
    shots: list[tuple[float, str]],
    extra: str = "",
    colors: tuple[str, ...] = ("red", "blue"),
) -> Path:
    """Plain-colour shots (overlays off) so pixels tell which shot is on screen."""
    for color in colors:
        Image.new("RGB", (32, 18), color).save(folder / f"{color}.png")
    lines = [
        "version: 1",
        "title: Stitch test",
        "output: {size: 160x90, fps: 24}",
        "render: {overlays: false}",
        extra,
        "shots:",
    ]
    for n, (seconds, transition) in enumerate(shots):
        lines += [
            f"  - id: s{n}",
            f"    seconds: {seconds}",
            "    action: x",
            f"    reference: {colors[n % len(colors)]}.png",
            f"    transition: {transition}",
        ]
    board = folder / "edit.yaml"
    board.write_text("\n".join(lines) + "\n")
    return board


def build(board: Path, *args: str) -> Path:
    result = run_cli("build", board, "--jobs", "2", *args)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == board.parent / "renders" / "edit" / "edit.mp4"
    return path


def frame_rgb(path: Path, t: float) -> np.ndarray:
    raw = raw_frame(path, t, "rgb24")
    return np.frombuffer(raw, np.uint8).reshape(90, 160, 3).reshape(-1, 3).mean(axis=0)


DURATIONS = [
    ([(3, "cut"), (4, "cut"), (5, "cut"), (2, "cut")], 14.0),
    (
        [
            (3, "{type: dissolve, seconds: 0.5}"),
            (4, "{type: dissolve, seconds: 0.5}"),
            (5, "{type: dissolve, seconds: 0.5}"),
            (2, "cut"),
        ],
        12.5,
    ),
    (
        [
            (2, "{type: fade-black, seconds: 1}"),
            (2, "{type: fade-white, seconds: 0.5}"),
            (1.5, "{type: fade-black, seconds: 1}"),
        ],
        5.5,
    ),
    (
        [
            (1, "dissolve"),
            (1, "{type: fade-white, seconds: 0.4}"),
            (1.5, "cut"),
            (1, "dissolve"),
            (1, "cut"),
        ],
        4.5,
    ),
]


@pytest.mark.parametrize(
    ("shots", "seconds"), DURATIONS, ids=["cuts", "dissolves", "fades", "mixed"]
)
def test_edit_length_fps_size_and_audio(tmp_path: Path, shots, seconds: float) -> None:
    edit = build(make_board(tmp_path, shots))
    info = probe(edit)
    assert abs(info.frames - seconds * FPS) <= 1
    assert (info.width, info.height, info.fps) == (160, 90, 24.0)
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert abs(len(read_audio(edit)) / 48_000 - seconds) <= 1 / FPS + 0.03


def test_transitions_look_right(tmp_path: Path) -> None:
    edit = build(
        make_board(
            tmp_path,
            [
                (2, "{type: dissolve, seconds: 1}"),
                (2, "{type: fade-black, seconds: 1}"),
                (2, "{type: fade-white, seconds: 1}"),
                (2, "{type: fade-black, seconds: 2}"),
            ],
        )
    )
    red, blue = frame_rgb(edit, 0.5), frame_rgb(edit, 2.2)
    assert red[0] > 200 > 60 > red[2] and blue[2] > 200 > 60 > blue[0]
    middle = frame_rgb(edit, 1.5)  # halfway through the dissolve: both at once
    assert 80 < middle[0] < 180 and 80 < middle[2] < 180
    assert frame_rgb(edit, 2.98).max() < 40  # the end of the fade to black
    assert frame_rgb(edit, 4.98).min() > 215  # the end of the fade to white
    assert frame_rgb(edit, 6.95).max() < 25  # the last shot fades the edit out


def test_music_bed_plays_under_the_shots(tmp_path: Path) -> None:
    t = np.arange(int(2 * 48_000)) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "bed.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(tone.tobytes())
    board = make_board(
        tmp_path, [(2, "cut"), (2.5, "cut")], extra="music: {file: bed.wav, volume: 0.5}"
    )
    audio = read_audio(build(board))
    assert abs(len(audio) / 48_000 - 4.5) < 0.05

    def level(a: float, b: float) -> float:
        part = audio[int(a * 48_000) : int(b * 48_000)]
        spectrum = np.abs(np.fft.rfft(part)) / len(part) * 2
        return float(spectrum[round(440 * (b - a))])

    assert 0.23 < level(1.0, 1.9) < 0.27  # 0.5 amplitude at volume 0.5, after the fade-in
    assert 0.23 < level(2.2, 2.9) < 0.27  # looped: the 2 s bed goes on past its end
    assert level(4.45, 4.5) < level(1.0, 2.0) / 3  # faded out at the end


def test_metadata_traces_the_storyboard(tmp_path: Path) -> None:
    import hashlib

    board = make_board(tmp_path, [(1, "cut"), (1, "cut")])
    edit = build(board)
    header = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(edit)], capture_output=True, text=True
    ).stderr
    sha = hashlib.sha256(board.read_bytes()).hexdigest()
    assert re.search(r"title\s*: Stitch test", header)
    assert re.search(rf"comment\s*: storyboard sha256 {sha}", header)


def test_build_twice_changes_nothing_then_one_shot(tmp_path: Path) -> None:
    board = make_board(tmp_path, [(1, "dissolve"), (1, "cut"), (1, "cut")])
    edit = build(board)
    shots = board.parent / "renders" / "edit" / "shots"
    before = {p.name: p.stat().st_mtime_ns for p in [*shots.glob("*.mp4"), edit]}
    again = run_cli("build", board)
    assert "0 rendered, 3 reused" in again.stderr and "edit up to date" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in [*shots.glob("*.mp4"), edit]} == before
    board.write_text(
        board.read_text().replace(
            "seconds: 1\n    action: x\n    reference: blue",
            "seconds: 1.5\n    action: x\n    reference: blue",
        )
    )
    third = run_cli("build", board)
    assert "1 rendered, 2 reused" in third.stderr and "edit stitched: 3.00 s" in third.stderr
    after = {p.name: p.stat().st_mtime_ns for p in [*shots.glob("*.mp4"), edit]}
    assert [n for n in before if before[n] != after[n]] == ["s1.mp4", "edit.mp4"]


def test_missing_shot_stops_the_stitch_unless_allowed(tmp_path: Path) -> None:
    board = make_board(tmp_path, [(1, "cut"), (1.5, "dissolve"), (1, "cut")])
    run_cli("render", board, "--shot", "s0")
    result = run_cli("stitch", board)
    assert result.returncode == 3 and "not rendered: s1, s2" in result.stderr
    allowed = run_cli("stitch", board, "--allow-missing")
    assert allowed.returncode == 0, allowed.stderr
    assert abs(probe(Path(allowed.stdout.strip())).frames - 3.0 * FPS) <= 1


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_builds(examples_copy: Path, example: Path) -> None:
    board = examples_copy / example.name
    board.write_text(board.read_text().replace("size: 1280x720", "size: 160x90"))
    result = run_cli("build", board)
    assert result.returncode == 0, result.stderr
    info = probe(Path(result.stdout.strip()))
    assert (info.width, info.height, info.has_audio) == (160, 90, True)


def children() -> list[str]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
        except OSError:
            continue
        if int(fields[3]) == os.getpid():
            found.append(fields[1])
    return found


def test_thirty_shots_leave_no_ffmpeg_running(tmp_path: Path) -> None:
    from storyboard.compile import compile_storyboard
    from storyboard.edit.stitch import stitch
    from storyboard.format.validate import load_storyboard
    from storyboard.render.stage import render_storyboard

    board_path = make_board(
        tmp_path, [(0.5, "{type: dissolve, seconds: 0.25}")] * 31 + [(0.5, "cut")]
    )
    board, _ = load_storyboard(board_path)
    out = tmp_path / "renders" / "edit"
    render_storyboard(board, compile_storyboard(board), "previs", out, jobs=2)
    result = stitch(board, out)
    assert abs(probe(result.path).frames - (32 * 0.5 - 31 * 0.25) * FPS) <= 1
    assert "(ffmpeg" not in " ".join(children())


def test_shotlist_formats(tmp_path: Path) -> None:
    board = make_board(tmp_path, [(2, "{type: dissolve, seconds: 0.5}"), (3, "cut")])
    md = run_cli("shotlist", board)
    assert md.returncode == 0
    # in/out are the cut points: a dissolve's cut is in its middle (48 - 12 + 6 = frame 42)
    assert "| 2 | s1 |  |  | static | 3 | 00:00:01:18 | 00:00:04:12 | cut |" in md.stdout
    assert "| TRT | total running time |  |  |  | 4.5 | 00:00:00:00 | 00:00:04:12 |" in md.stdout
    csv = run_cli("shotlist", board, "--format", "csv").stdout.splitlines()
    assert csv[0] == (
        "#,id,type,lens,camera,seconds,in,out,transition,cast,source,action,"
        "lighting,audio,music,notes"
    )
    page = run_cli("shotlist", board, "--format", "html").stdout
    assert page.count('src="data:image/jpeg;base64,') == 2 and "http" not in page


def test_stitch_warns_about_stale_renders(tmp_path: Path) -> None:
    board = make_board(tmp_path, [(1, "cut"), (1, "cut")])
    run_cli("render", board)
    board.write_text(board.read_text().replace("action: x", "action: y", 1))
    result = run_cli("stitch", board)
    assert result.returncode == 0
    assert "renders older than the storyboard: s0 " in result.stderr


def test_a_failed_shot_exits_3_and_keeps_the_others(tmp_path: Path) -> None:
    # Broken inputs are caught by validation now, so s1 fails where only a render can: the
    # (fake) provider refuses its prompt.
    from storyboard.testing.fake_video_api import FakeVideoAPI, Faults

    board = tmp_path / "edit.yaml"
    board.write_text(
        "version: 1\ntitle: T\noutput: {size: 160x90, fps: 24}\nrender:\n"
        "  backend: openai\n  model: wan-test\n"
        "  capabilities: {sizes: [160x90], seconds: [1], price_per_second: 0.1}\n"
        "  poll: {interval: 0.02, max_interval: 0.1, timeout: 30}\nshots:\n"
        "  - {id: s0, seconds: 1, action: a harbor}\n"
        "  - {id: s1, seconds: 1, action: the harbor with forbidden gulls}\n"
    )
    with FakeVideoAPI("sk-test") as api:
        api.faults = Faults(moderation_words=("forbidden",))
        env = {"OPENAI_API_KEY": "sk-test"}
        result = run_cli("build", board, "--base-url", api.url, env=env)
        status = run_cli("status", board, env=env)
    assert result.returncode == 3, result.stderr
    assert "failed   s1: " in result.stderr
    assert "not stitching: 1 shot(s) failed: s1" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "renders" / "edit" / "shots" / "s0.mp4").is_file()
    assert "s1  failed" in status.stdout, status.stderr
