"""The edit plan as data: timecode arithmetic, cut points, handles, markers, its JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import opentimelineio as otio
import pytest

from storyboard.edit.plan import build_plan
from storyboard.edit.timecode import frame_rate, is_drop_frame, timecode, timecode_frames
from storyboard.format.validate import load_storyboard

from conftest import EXAMPLES, run_cli

HARBOR = EXAMPLES / "harbor-short.yaml"

KNOWN = [  # (fps, frame, timecode): published values for each rate
    (23.976, 0, "00:00:00:00"), (23.976, 23, "00:00:00:23"), (23.976, 1439, "00:00:59:23"),
    (23.976, 86400, "01:00:00:00"),
    (24, 24, "00:00:01:00"), (24, 1440, "00:01:00:00"), (24, 86399, "00:59:59:23"),
    (25, 24, "00:00:00:24"), (25, 90000, "01:00:00:00"), (25, 1499, "00:00:59:24"),
    (29.97, 1799, "00:00:59;29"), (29.97, 1800, "00:01:00;02"), (29.97, 3598, "00:02:00;02"),
    (29.97, 17981, "00:09:59;29"), (29.97, 17982, "00:10:00;00"), (29.97, 107892, "01:00:00;00"),
    (30, 1800, "00:01:00:00"), (30, 108000, "01:00:00:00"), (30, 29, "00:00:00:29"),
    (59.94, 3600, "00:01:00;04"), (59.94, 215784, "01:00:00;00"),
]  # fmt: skip


@pytest.mark.parametrize(("fps", "frame", "expected"), KNOWN)
def test_timecode_known_values(fps: float, frame: int, expected: str) -> None:
    assert timecode(frame, fps) == expected
    assert timecode_frames(expected, fps) == frame


@pytest.mark.parametrize("fps", [23.976, 24, 25, 29.97, 30, 59.94])
def test_timecode_agrees_with_opentimelineio(fps: float) -> None:
    rate = float(frame_rate(fps))
    for frame in range(0, 200_000, 997):
        theirs = otio.opentime.to_timecode(
            otio.opentime.RationalTime(frame, rate), rate, is_drop_frame(fps)
        )
        assert timecode(frame, fps) == theirs
        assert timecode_frames(theirs, fps) == frame


def test_drop_frame_only_for_29_97_and_59_94() -> None:
    assert [is_drop_frame(f) for f in (23.976, 24, 25, 29.97, 30, 50, 59.94, 60)] == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
    ]
    assert str(frame_rate(23.976)) == "24000/1001" and str(frame_rate(24)) == "24"


def test_harbor_plan_cut_points_and_handles() -> None:
    board, _ = load_storyboard(HARBOR)
    plan = build_plan(board)
    assert [s.id for s in plan.shots] == [s.id for s in board.shots]
    assert plan.frames == 396  # 5 + 4 + 6 + 3 s, less three 0.5 s dissolves, at 24 fps
    first, second, third, last = plan.shots
    assert (first.record_in, first.record_out) == (0, 114)  # the dissolve's cut in its middle
    assert (second.record_in, second.source_in) == (114, 6)  # 6 frames borrowed as head handle
    assert first.tail_handle == 6 and second.head_handle == 6
    for a, b in zip(plan.shots, plan.shots[1:], strict=False):
        assert a.record_out == b.record_in
        assert a.source_out - a.source_in == a.record_out - a.record_in
    # the last shot fades to black over 1 s: its clip ends where the fade starts
    assert (last.transition.type, last.transition.before, last.record_out) == (
        "fade-black",
        24,
        396 - 24,
    )
    sfx = [m for m in second.markers if m.kind == "sfx"]
    assert [(m.name, m.frame, m.source_frame) for m in sfx] == [("watch clasp click", 132, 24)]
    [line] = [m for m in last.markers if m.kind == "dialogue"]
    assert (line.who, line.frame) == ("mara", last.extent_in + round(0.8 * 24))
    assert plan.music is not None and plan.music.volume == 0.4


def test_fades_between_shots_leave_the_colour_between_the_clips(tmp_path: Path) -> None:
    board_file = tmp_path / "f.yaml"
    board_file.write_text(
        "version: 1\ntitle: f\noutput: {size: 160x90, fps: 25}\nshots:\n"
        "  - {id: a, seconds: 2, action: x, transition: {type: fade-white, "
        "seconds: 0.6}}\n  - {id: b, seconds: 2, action: y}\n"
    )
    board, _ = load_storyboard(board_file)
    a, b = build_plan(board).shots
    assert (a.record_out, b.record_in, b.source_in) == (50 - 7, 50 + 8, 8)
    assert (a.transition.frames, a.transition.color) == (15, "white")


def test_plan_json_through_the_cli() -> None:
    result = run_cli("plan", HARBOR, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["version"], data["command"], data["ok"]) == (1, "plan", True)
    plan = data["plan"]
    assert plan["duration"] == {"frame": 396, "timecode": "00:00:16:12"}
    assert [s["number"] for s in plan["shots"]] == ["1", "2", "3", "4"]
    assert plan["shots"][1]["record_in"] == {"frame": 114, "timecode": "00:00:04:18"}
    assert plan["shots"][0]["media"]["status"] in ("missing", "rendered")
    assert json.loads(run_cli("plan", HARBOR, "--json").stdout) == data
    text = run_cli("plan", HARBOR).stdout
    assert "mara-waits     00:00:04:18  00:00:08:06" in text


def test_json_failure_is_an_object_not_an_empty_stdout() -> None:
    result = run_cli("plan", Path(__file__).parent / "cases" / "unknown-cast.yaml", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["version"] == 1
    [problem] = data["problems"]
    assert (problem["line"], problem["col"]) == (7, 31) and "marra" in problem["message"]


def test_shotlist_agrees_with_the_plan_and_csv_cells_are_inert(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text(
        "version: 1\ntitle: t\noutput: {size: 160x90, fps: 24}\nshots:\n"
        "  - {id: a, seconds: 1, action: '=HYPERLINK(\"http://x\")', "
        "notes: '@SUM(1)'}\n  - {id: b, seconds: 1, action: '-2+3', notes: '+1'}\n"
    )
    rows = list(csv.reader(io.StringIO(run_cli("shotlist", board, "--format", "csv").stdout)))
    assert rows[1][11] == '\'=HYPERLINK("http://x")' and rows[1][15] == "'@SUM(1)"
    assert rows[2][11] == "'-2+3" and rows[2][15] == "'+1"
    assert rows[-1][:2] == ["TRT", "total running time"] and rows[-1][7] == "00:00:02:00"
    data = json.loads(run_cli("shotlist", HARBOR, "--format", "json").stdout)
    plan = json.loads(run_cli("plan", HARBOR, "--format", "json").stdout)["plan"]
    assert [(r["in"], r["out"]) for r in data["shots"]] == [
        (s["record_in"]["timecode"], s["record_out"]["timecode"]) for s in plan["shots"]
    ]


def test_shot_numbers_default_by_position_and_must_be_unique(tmp_path: Path) -> None:
    board = tmp_path / "n.yaml"
    board.write_text(
        "version: 1\ntitle: n\nshots:\n  - {id: a, number: 12, action: x}\n"
        "  - {id: b, number: 12A, action: x}\n  - {id: c, action: x}\n"
    )
    rows = list(csv.reader(io.StringIO(run_cli("shotlist", board, "--format", "csv").stdout)))
    assert [r[0] for r in rows[1:-1]] == ["12", "12A", "3"]
    board.write_text(board.read_text() + "  - {id: d, number: '12', action: x}\n")
    result = run_cli("validate", board)
    assert result.returncode == 1
    assert f"{board}:7:21: error: shot number 12 is already used by shot 'a'" in result.stdout
    board.write_text(board.read_text().replace("number: '12'", "number: '12 B'"))
    assert f"{board}:7:21: error:" in run_cli("validate", board).stdout


def test_a_remix_does_not_inherit_its_sources_number(tmp_path: Path) -> None:
    board = tmp_path / "r.yaml"
    board.write_text(
        "version: 1\ntitle: r\nshots:\n  - {id: a, number: 7A, action: x}\n"
        "  - {id: b, remix_of: a, edit: make it blue}\n"
    )
    loaded, _ = load_storyboard(board)
    assert [s.number for s in loaded.shots] == ["7A", "2"]
