"""Every file we write is BT.709, limited range, tagged so (H.264 VUI, MP4 colr box, what
ffmpeg reports), and its pixels are BT.709: a known colour decodes back to itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mp4boxes import read_movie
from PIL import Image

from storyboard.manifest import file_sha256, load_manifest, save_manifest
from storyboard.media import ffmpeg_exe, probe
from storyboard.testing._server import bt601_video
from storyboard.testing.fake_video_api import FakeVideoAPI, Faults

from conftest import raw_frame, run_cli

COLOUR = (220, 40, 60)  # saturated: BT.601 and BT.709 decode it 20+ levels apart
TOLERANCE = 4  # levels: 4:2:0 and 8-bit rounding, twice
BT709 = ("tv", "bt709", "bt709", "bt709")
KR, KB = 0.2126, 0.0722  # BT.709's luma weights of red and blue


def make_board(folder: Path, shots: str, size: str = "160x90", extra: str = "") -> Path:
    Image.new("RGB", (32, 18), COLOUR).save(folder / "colour.png")
    path = folder / "colour.yaml"
    path.write_text(
        f"version: 1\ntitle: Colour\noutput: {{size: {size}, fps: 24}}\n{extra}\nshots:\n{shots}"
    )
    return path


def out_dir(folder: Path) -> Path:
    return folder / "renders" / "colour"


def vui(path: Path) -> dict[str, int]:
    """The colour fields of the H.264 stream's VUI, as ffmpeg's trace_headers reads them."""
    log = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-bsf:v",
            "trace_headers",
            "-frames:v",
            "1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    ).stderr
    fields = (
        "video_full_range_flag",
        "colour_primaries",
        "transfer_characteristics",
        "matrix_coefficients",
    )
    found = re.findall(rf"({'|'.join(fields)})\s+\S+ = (\d+)", log)
    return {name: int(value) for name, value in found}


def assert_tagged_bt709(path: Path) -> None:
    colour = probe(path).colour
    assert (colour.range, colour.primaries, colour.transfer, colour.matrix) == BT709
    [video] = [t for t in read_movie(path).tracks if t.handler == "vide"]
    assert video.colr == ("nclx", 1, 1, 1, False)  # BT.709 x3, limited range
    assert vui(path) == {
        "video_full_range_flag": 0,
        "colour_primaries": 1,
        "transfer_characteristics": 1,
        "matrix_coefficients": 1,
    }


def decoded_yuv(path: Path, t: float, width: int, height: int) -> np.ndarray:
    """The frame at ``t`` as stored (Y, Cb, Cr per pixel, chroma repeated), no conversion."""
    planes = np.frombuffer(raw_frame(path, t, "yuv420p"), np.uint8).astype(np.float64)
    luma = planes[: width * height].reshape(height, width)
    quarter = width * height // 4
    cb, cr = (
        planes[width * height + k * quarter :][:quarter]
        .reshape(height // 2, width // 2)
        .repeat(2, 0)
        .repeat(2, 1)
        for k in (0, 1)
    )
    return np.stack([luma, cb, cr], axis=-1)


def standard_rgb(yuv: np.ndarray, kr: float = KR, kb: float = KB) -> np.ndarray:
    """Limited-range Y'CbCr -> R'G'B' by the standard's own equations (BT.709 unless told)."""
    y = (yuv[..., 0] - 16) / 219
    cb, cr = (yuv[..., 1] - 128) / 224, (yuv[..., 2] - 128) / 224
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.stack([r, g, b], axis=-1) * 255


def ffmpeg_rgb(path: Path, t: float, width: int, height: int) -> np.ndarray:
    """The frame at ``t`` converted to RGB by ffmpeg, which follows the file's tags (rounding
    accurately: its default is up to 6 levels off)."""
    raw = raw_frame(path, t, "rgb24", "scale=flags=accurate_rnd+full_chroma_int")
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3).astype(np.float64)


def centre(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3).mean(axis=0)


def assert_pixels_are(
    path: Path, t: float, width: int, height: int, colour: tuple[int, int, int] = COLOUR
) -> None:
    by_standard = centre(standard_rgb(decoded_yuv(path, t, width, height)))
    by_tags = centre(ffmpeg_rgb(path, t, width, height))
    assert np.abs(by_standard - colour).max() <= TOLERANCE, by_standard
    assert np.abs(by_tags - colour).max() <= TOLERANCE, by_tags


ONE = "  - {id: a, seconds: 0.5, action: x, reference: colour.png}\n"


@pytest.mark.parametrize("size", ["160x90", "1280x720"])
def test_a_previs_shot_is_bt709_tags_and_pixels(tmp_path: Path, size: str) -> None:
    result = run_cli("render", make_board(tmp_path, ONE, size, "render: {overlays: false}"))
    assert result.returncode == 0, result.stderr
    shot = out_dir(tmp_path) / "shots" / "a.mp4"
    assert_tagged_bt709(shot)
    width, height = map(int, size.split("x"))
    assert_pixels_are(shot, 0.2, width, height)


SAME_COLOUR_DISSOLVE = """\
  - id: a
    seconds: 1
    action: x
    reference: colour.png
    transition: {type: dissolve, seconds: 0.5}
  - {id: b, seconds: 1, action: y, reference: colour.png}
"""


def test_the_stitched_edit_bodies_and_transitions_are_bt709(tmp_path: Path) -> None:
    result = run_cli(
        "build",
        make_board(tmp_path, SAME_COLOUR_DISSOLVE, extra="render: {overlays: false}"),
        "--jobs",
        "2",
    )
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip())
    assert_tagged_bt709(edit)
    assert_pixels_are(edit, 0.2, 160, 90)  # a shot body, copied as rendered
    assert_pixels_are(edit, 0.75, 160, 90)  # the middle of the dissolve, composited again


def test_the_timecode_pass_keeps_the_tags_and_the_pixels(tmp_path: Path) -> None:
    result = run_cli("build", make_board(tmp_path, SAME_COLOUR_DISSOLVE), "--jobs", "2")
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip())
    assert_tagged_bt709(edit)
    assert_pixels_are(edit, 0.2, 160, 90)  # the overlays leave the middle of the frame


def test_a_slate_is_bt709(tmp_path: Path) -> None:
    result = run_cli("stitch", make_board(tmp_path, ONE), "--allow-missing")
    assert result.returncode == 0, result.stderr
    [slate] = (out_dir(tmp_path) / "slates").glob("*.mp4")
    assert_tagged_bt709(slate)
    assert_tagged_bt709(Path(result.stdout.strip()))


def bt601_copy(source: Path, dest: Path) -> None:
    """``source`` as the project encoded it before: BT.601 pixels, smpte170m tags."""
    dest.write_bytes(bt601_video(source.read_bytes(), "smpte170m"))


def test_an_older_bt601_render_is_converted_by_the_stitch(tmp_path: Path) -> None:
    board = make_board(tmp_path, SAME_COLOUR_DISSOLVE, extra="render: {overlays: false}")
    assert run_cli("render", board).returncode == 0
    shot = out_dir(tmp_path) / "shots" / "a.mp4"
    older = tmp_path / "older.mp4"
    bt601_copy(shot, older)
    shot.write_bytes(older.read_bytes())  # in place: the take it links to changes with it
    manifest = load_manifest(out_dir(tmp_path))
    manifest["shots"]["a"]["output_sha256"] = file_sha256(shot)
    save_manifest(out_dir(tmp_path), manifest)
    result = run_cli("stitch", board)
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip())
    assert_tagged_bt709(edit)
    assert_pixels_are(edit, 0.2, 160, 90)  # the older shot's body, converted
    assert_pixels_are(edit, 1.3, 160, 90)  # the newer one's, copied


HOSTED = """\
version: 1
title: Colour
output: {size: 160x90, fps: 24}
render:
  backend: openai
  model: wan-test
  capabilities: {sizes: [160x90], seconds: [1, 2], price_per_second: 0.1}
  poll: {interval: 0.02, max_interval: 0.1, timeout: 30}
shots:
  - {id: one, seconds: 1, action: a harbor at dusk}
"""


@pytest.mark.parametrize("colour", ["", "smpte170m", "untagged"])
def test_downloads_end_up_bt709_with_their_colours(tmp_path: Path, colour: str) -> None:
    with FakeVideoAPI("sk-colour") as api:
        api.faults = Faults(colour=colour)
        board = tmp_path / "colour.yaml"
        board.write_text(HOSTED)
        result = run_cli(
            "render", board, "--base-url", api.url, env={"OPENAI_API_KEY": "sk-colour"}
        )
        assert result.returncode == 0, result.stderr
        served = tmp_path / "served.mp4"
        served.write_bytes(api.video("160x90", 1, colour=colour))
    shot = out_dir(tmp_path) / "shots" / "one.mp4"
    assert_tagged_bt709(shot)
    if not colour:  # encoded exactly as we encode: kept as it came
        assert shot.read_bytes() == served.read_bytes()
        return
    # re-encoded: its picture, decoded by the standard, is the served one's as its tags say
    # (an untagged SD download is taken as BT.601, as players take it)
    seen = centre(ffmpeg_rgb(served, 0.5, 160, 90))
    if colour == "untagged":
        seen = centre(standard_rgb(decoded_yuv(served, 0.5, 160, 90), 0.299, 0.114))
    assert_pixels_are(shot, 0.5, 160, 90, tuple(int(round(v)) for v in seen))
