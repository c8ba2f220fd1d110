"""The render stage through the real CLI: files probed, reuse, atomicity, kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from storyboard.media import probe, read_audio

from conftest import run_cli

BOARD = """\
version: 1
title: Tiny
output: {{size: 160x90, fps: 24}}
shots:
  - id: one
    seconds: 1.5
    reference: ref.png
    action: a door opens
    beats: [{{camera: dolly-in, seconds: 1}}]
    lighting: {light_one}
    audio:
      ambient: wind
      sfx: [{{at: 0.5, cue: knock}}]
  - id: two
    seconds: {seconds_two}
    action: she turns
    beats: [{{camera: pan-left, seconds: 1}}]
    lighting: night
    audio:
      dialogue: [{{at: 0.2, who: mara, line: "Who is it?"}}]
"""


def make_board(folder: Path, light_one: str = "golden hour", seconds_two: float = 1) -> Path:
    if not (folder / "ref.png").exists():
        Image.new("RGB", (320, 180), (90, 120, 160)).save(folder / "ref.png")
    board = folder / "tiny.yaml"
    board.write_text(BOARD.format(light_one=light_one, seconds_two=seconds_two))
    return board


def shots(folder: Path) -> Path:
    return folder / "renders" / "tiny" / "shots"


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in shots(folder).glob("*.mp4")}


def test_render_writes_probed_h264_aac_files(tmp_path: Path) -> None:
    result = run_cli("render", make_board(tmp_path), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "2 rendered, 0 reused, 0 failed" in result.stderr
    for name, seconds in (("one", 1.5), ("two", 1.0)):
        info = probe(shots(tmp_path) / f"{name}.mp4")
        assert (info.width, info.height, info.fps) == (160, 90, 24.0)
        assert (info.video_codec, info.pix_fmt, info.audio_codec) == ("h264", "yuv420p", "aac")
        assert info.frames == round(seconds * 24)
        assert abs(info.duration - seconds) <= 1 / 24 + 0.03
        audio = read_audio(shots(tmp_path) / f"{name}.mp4")
        assert abs(len(audio) / 48_000 - seconds) <= 1 / 24 + 0.03


def test_placeholder_audio_marks_the_cues(tmp_path: Path) -> None:
    run_cli("render", make_board(tmp_path), "--jobs", "1")
    audio = read_audio(shots(tmp_path) / "one.mp4")
    level = lambda a, b: float(np.abs(audio[int(a * 48000) : int(b * 48000)]).max())  # noqa: E731
    assert level(0.5, 0.56) > 3 * level(0.9, 1.2) > 0  # the knock stands over the wind
    speech = read_audio(shots(tmp_path) / "two.mp4")
    assert np.abs(speech[int(0.25 * 48000) : int(0.9 * 48000)]).max() > 0.05


def test_second_render_touches_nothing(tmp_path: Path) -> None:
    board = make_board(tmp_path)
    run_cli("render", board)
    before = mtimes(tmp_path)
    again = run_cli("render", board)
    assert "0 rendered, 2 reused" in again.stderr
    assert mtimes(tmp_path) == before


def test_editing_one_shot_rerenders_only_it(tmp_path: Path) -> None:
    board = make_board(tmp_path)
    run_cli("render", board)
    before = mtimes(tmp_path)
    make_board(tmp_path, light_one="overcast")
    result = run_cli("render", board)
    assert "1 rendered, 1 reused" in result.stderr
    after = mtimes(tmp_path)
    assert after["one.mp4"] != before["one.mp4"] and after["two.mp4"] == before["two.mp4"]


def test_new_reference_bytes_rerender_its_shot(tmp_path: Path) -> None:
    board = make_board(tmp_path)
    run_cli("render", board)
    before = mtimes(tmp_path)
    Image.new("RGB", (320, 180), (200, 40, 40)).save(tmp_path / "ref.png")
    assert "1 rendered, 1 reused" in run_cli("render", board).stderr
    assert mtimes(tmp_path)["two.mp4"] == before["two.mp4"]


def test_force_and_single_shot(tmp_path: Path) -> None:
    board = make_board(tmp_path)
    run_cli("render", board)
    result = run_cli("render", board, "--shot", "two", "--force")
    assert "1 rendered, 0 reused" in result.stderr


def test_status_and_manifest(tmp_path: Path) -> None:
    board = make_board(tmp_path)
    missing = run_cli("status", board, "--check")
    assert missing.returncode == 3 and "missing" in missing.stdout
    run_cli("render", board, "--shot", "one")
    make_board(tmp_path, light_one="neon")
    listed = json.loads(run_cli("status", board, "--json").stdout)["shots"]
    states = {s["id"]: s["state"] for s in listed}
    assert states == {"one": "stale", "two": "missing"}
    run_cli("render", board)
    assert run_cli("status", board, "--check").returncode == 0
    manifest = json.loads((tmp_path / "renders" / "tiny" / "manifest.json").read_text())
    entry = manifest["shots"]["one"]
    assert entry["status"] == "rendered" and entry["seconds"] == 1.5
    assert entry["prompt"].startswith("Shot.\nThe camera dollies in.")
    assert len(entry["reference_sha256"]) == 64 and len(manifest["storyboard_sha256"]) == 64
    assert entry["output_sha256"] == __import__("storyboard.manifest").manifest.file_sha256(
        shots(tmp_path) / "one.mp4"
    )


def test_out_dir_option(tmp_path: Path) -> None:
    result = run_cli("render", make_board(tmp_path), "--out", tmp_path / "elsewhere")
    assert result.returncode == 0
    assert (tmp_path / "elsewhere" / "shots" / "one.mp4").is_file()


def test_invalid_storyboard_renders_nothing(tmp_path: Path) -> None:
    board = make_board(tmp_path, seconds_two=-1)
    result = run_cli("render", board)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "renders").exists()


def test_killed_render_leaves_no_finished_looking_file(tmp_path: Path) -> None:
    # long enough that shot two is still rendering when its partial file is first seen,
    # however fast the machine: the kill comes right then, with no fixed wait
    board = make_board(tmp_path, seconds_two=40)
    process = subprocess.Popen(
        [sys.executable, "-m", "storyboard", "render", str(board), "--jobs", "1"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    takes = shots(tmp_path).parent / "takes"  # renders go to the take store first
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        (shots(tmp_path) / "one.mp4").exists() and list(takes.glob(".*.partial.mp4"))
    ):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (shots(tmp_path) / "two.mp4").exists()
    assert run_cli("status", board, "--check").returncode == 3
    result = run_cli("render", board)
    assert result.returncode == 0, result.stderr
    assert "1 rendered, 1 reused" in result.stderr
    assert not list(shots(tmp_path).glob(".*partial*")) and not list(takes.glob(".*partial*"))
    assert abs(probe(shots(tmp_path) / "two.mp4").duration - 40) <= 1 / 24 + 0.03


def test_faststart_puts_the_index_first(tmp_path: Path) -> None:
    run_cli("render", make_board(tmp_path), "--shot", "two")
    data = (shots(tmp_path) / "two.mp4").read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


def test_a_shots_own_audio_file_replaces_the_placeholders(tmp_path: Path) -> None:
    import wave

    t = np.arange(48_000) / 48_000
    with wave.open(str(tmp_path / "line.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes((0.4 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2").tobytes())
    board = make_board(tmp_path)
    board.write_text(board.read_text().replace("      ambient: wind\n", "      file: line.wav\n"))
    assert run_cli("render", board, "--shot", "one").returncode == 0
    audio = read_audio(shots(tmp_path) / "one.mp4")
    rms = float(np.sqrt(np.mean(audio[1000:40_000] ** 2)))
    assert 0.26 < rms < 0.31  # the file's 0.4-amplitude tone (RMS 0.28), no placeholders
    assert np.abs(audio[int(1.1 * 48_000) :]).max() < 0.02  # padded with silence after 1 s
