"""The contact sheet through the real CLI: its frames are the shots' own, its pages A4."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from storyboard.review.contact_sheet import MARGIN, PAGE, TEXT_WIDTH

from conftest import run_cli

COLORS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60)}


def colour_board(folder: Path, count: int) -> Path:
    """Plain-colour shots with overlays off, so a frame's pixels say which shot it is."""
    for name, rgb in COLORS.items():
        Image.new("RGB", (32, 18), rgb).save(folder / f"{name}.png")
    names = list(COLORS)
    lines = [
        "version: 1",
        "title: Sheet test",
        "output: {size: 160x90, fps: 24}",
        "render: {overlays: false}",
        "shots:",
    ]
    for n in range(count):
        lines += [
            f"  - id: s{n}",
            "    seconds: 1",
            f"    action: shot {n} in {names[n % 3]}",
            f"    reference: {names[n % 3]}.png",
        ]
    board = folder / "sheet.yaml"
    board.write_text("\n".join(lines) + "\n")
    return board


def test_png_rows_hold_each_shots_frames(tmp_path: Path) -> None:
    board = colour_board(tmp_path, 3)
    assert run_cli("render", board, "-q").returncode == 0
    result = run_cli("contact-sheet", board)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == tmp_path / "renders" / "sheet" / "sheet-contact.png"
    sheet = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert sheet.shape[1] == PAGE[0]
    names = list(COLORS)
    width = (PAGE[0] - 2 * MARGIN - TEXT_WIDTH - 48) // 3
    row_height = round(width * 90 / 160) + 32
    for row in range(3):
        y = MARGIN + 70 + row * row_height + 16 + row_height // 2 - 16
        for column in range(3):  # first, middle, last: all the shot's own colour
            x = MARGIN + TEXT_WIDTH + column * (width + 16) + width // 2
            assert np.abs(sheet[y, x] - COLORS[names[row]]).max() < 40, (row, column)


def test_pdf_pages_are_a4_landscape_and_hold_every_shot(tmp_path: Path) -> None:
    import pypdfium2

    board = colour_board(tmp_path, 9)
    assert run_cli("render", board, "-q", "--shot", "s0").returncode == 0  # the rest missing
    result = run_cli("contact-sheet", board, "--format", "pdf")
    assert result.returncode == 0, result.stderr
    assert "8 without frames" in result.stderr
    pdf = pypdfium2.PdfDocument(result.stdout.strip())
    per_page = (PAGE[1] - 2 * MARGIN - 70) // (
        round(((PAGE[0] - 2 * MARGIN - TEXT_WIDTH - 48) // 3) * 90 / 160) + 32
    )
    assert len(pdf) == math.ceil(9 / per_page) > 1
    for n in range(len(pdf)):
        width, height = pdf[n].get_size()
        assert (round(width * 25.4 / 72), round(height * 25.4 / 72)) == (297, 210)


def test_nothing_rendered_still_makes_a_sheet(tmp_path: Path) -> None:
    result = run_cli("contact-sheet", colour_board(tmp_path, 2))
    assert result.returncode == 0, result.stderr
    assert "2 without frames: s0, s1" in result.stderr
