"""Fitting a reference to a frame: memory follows the frame, never the picture's aspect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from storyboard.media import cover_extent, fit_image

from conftest import run_cli


def test_cover_crops_before_it_scales() -> None:
    strip = Image.new("RGB", (1000, 1), "red")
    fitted = fit_image(strip, 1280, 720)
    assert fitted.size == (1280, 720)
    wide = fit_image(strip, 1280, 720, margin=2.0)
    assert wide.size == (2560, 720)  # not 720000 x 720
    assert cover_extent(65000, 2, 160, 90, 2.0) == (320, 90)


def test_exact_fits_are_pillows_so_hosted_bytes_do_not_change() -> None:
    image = Image.effect_noise((300, 170), 60).convert("RGB")
    assert (
        fit_image(image, 160, 90).tobytes()
        == ImageOps.fit(image, (160, 90), Image.Resampling.LANCZOS).tobytes()
    )
    assert (
        fit_image(image, 160, 160, "contain").tobytes()
        == ImageOps.pad(image, (160, 160), color=(20, 20, 22)).tobytes()
    )


def test_a_margin_keeps_an_ordinary_picture_whole() -> None:
    image = Image.new("RGB", (400, 300))  # 4:3 in a 16:9 frame
    assert fit_image(image, 160, 90, margin=2.0).size == (160, 120)


@pytest.mark.parametrize("size", [(1000, 1), (65000, 2)])
def test_previs_of_an_extreme_strip_stays_small(tmp_path: Path, size: tuple[int, int]) -> None:
    Image.new("RGB", size, "orange").save(tmp_path / "strip.png")
    board = tmp_path / "b.yaml"
    board.write_text(
        "version: 1\ntitle: T\noutput: {size: 320x180, fps: 12}\nshots:\n"
        "  - {id: a, action: x, seconds: 0.5, reference: strip.png,\n"
        "     beats: [{camera: pan-left, seconds: 0.5}]}\n"
    )
    script = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'storyboard', 'render', sys.argv[1],"
        " '--jobs', '1'])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(board)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    peak_mib = int(result.stdout.split()[-1]) // 1024
    assert peak_mib < 400, f"{size} peaked at {peak_mib} MiB"
    assert run_cli("status", board).returncode == 0
