"""Exports read back by OpenTimelineIO itself and by its EDL and FCP 7 XML adapters."""

from __future__ import annotations

import json
import wave
import zipfile
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from storyboard.edit.plan import build_plan
from storyboard.format.validate import load_storyboard
from storyboard.manifest import load_manifest

from conftest import EXAMPLES, run_cli

BOARD = """\
version: 1
title: Export test
output: {size: 160x90, fps: 24}
render: {overlays: false}
music: {cue: a low drone, file: bed.wav, volume: 0.5}
shots:
  - id: open
    number: 10
    seconds: 2
    action: x
    beats: [{camera: dolly-in, seconds: 1}]
    transition: {type: dissolve, seconds: 0.5}
  - id: insert
    number: 10A
    seconds: 1.5
    action: y
    audio: {sfx: [{at: 0.5, cue: door slam}]}
    transition: {type: dissolve, seconds: 0.25}
  - id: close
    seconds: 2
    action: z
    audio: {dialogue: [{at: 1.0, who: ann, line: Hello}]}
    transition: {type: fade-black, seconds: 1}
"""


def write_bed(path: Path, seconds: float, channels: int = 1) -> None:
    t = np.arange(int(48_000 * seconds)) / 48_000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(np.repeat(tone, channels).tobytes())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    write_bed(folder / "bed.wav", 2.0)
    board = folder / "board.yaml"
    board.write_text(BOARD)
    result = run_cli("render", board, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    return board


def plan_of(board: Path):
    loaded, _ = load_storyboard(board)
    out = board.parent / "renders" / board.stem
    return build_plan(loaded, load_manifest(out), out)


def export(board: Path, fmt: str, dest: Path) -> tuple[Path, str]:
    result = run_cli("export", board, "--format", fmt, "--out", dest)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == dest and dest.is_file()
    return dest, result.stderr


def shot_clips(track: otio.schema.Track) -> list[otio.schema.Clip]:
    return [
        c
        for c in track
        if isinstance(c, otio.schema.Clip)
        and not isinstance(c.media_reference, otio.schema.GeneratorReference)
    ]


def test_otio_reads_back_equal_to_the_plan(rendered: Path, tmp_path: Path) -> None:
    path, _ = export(rendered, "otio", tmp_path / "cut.otio")
    plan = plan_of(rendered)
    timeline = otio.adapters.read_from_file(str(path))
    video, sound, music = timeline.tracks
    assert (video.kind, sound.kind, music.kind) == ("Video", "Audio", "Audio")
    clips = shot_clips(video)
    assert [c.name for c in clips] == ["10 open", "10A insert", "3 close"]
    for clip, shot in zip(clips, plan.shots, strict=True):
        where = clip.range_in_parent()
        assert (where.start_time.value, where.end_time_exclusive().value) == (
            shot.record_in,
            shot.record_out,
        )
        assert clip.source_range.start_time.value == shot.source_in
        ref = clip.media_reference
        assert isinstance(ref, otio.schema.ExternalReference)
        assert (
            ref.target_url
            == (rendered.parent / "renders/board/shots" / f"{shot.id}.mp4").resolve().as_uri()
        )
        assert ref.available_range.duration.value == shot.media.frames
        meta = clip.metadata["storyboard"]
        assert meta["shot_id"] == shot.id and meta["backend"] == "previs"
        assert meta["render_key"] == shot.media.render_key and meta["prompt"]
        assert clip.active_media_reference_key == otio.schema.Clip.DEFAULT_MEDIA_KEY
    assert video.duration().value == plan.frames
    transitions = [t for t in video if isinstance(t, otio.schema.Transition)]
    assert [(t.name, t.in_offset.value, t.out_offset.value) for t in transitions] == [
        ("dissolve", 6, 6),
        ("dissolve", 3, 3),
        ("fade-black", 0, 24),
    ]
    assert all(t.transition_type == "SMPTE_Dissolve" for t in transitions)
    # markers: at their edit time, counted from the clip's place on the timeline
    found = {}
    for clip in clips:
        start = clip.range_in_parent().start_time.value - clip.source_range.start_time.value
        for m in clip.markers:
            found[m.name] = start + m.marked_range.start_time.value
    assert found["sfx: door slam"] == plan.shots[1].extent_in + 12
    assert found["dialogue: ann: Hello"] == plan.shots[2].extent_in + 24
    assert found["beat: dolly-in"] == 0
    assert len(shot_clips(sound)) == 3 and sound.duration().value == plan.frames
    assert [c.source_range.duration.value for c in music] == [48, 48, plan.frames - 96]
    assert music[0].metadata["storyboard"]["volume"] == 0.5


def test_edl_round_trip_has_the_same_cuts_and_reels_are_shot_numbers(
    rendered: Path, tmp_path: Path
) -> None:
    path, warnings = export(rendered, "edl", tmp_path / "cut.edl")
    assert "the shot sound (A1) and the music bed (A2) are not in the EDL" in warnings
    plan = plan_of(rendered)
    text = path.read_text()
    assert "001  10       V     C" in text and "002  10A      V     D 012" in text
    timeline = otio.adapters.read_from_file(str(path), rate=24)
    clips = shot_clips(timeline.tracks[0])
    assert [c.metadata["cmx_3600"]["reel"] for c in clips] == ["10", "10A", "3"]
    # an EDL dissolve event starts where the dissolve does: half of it before our cut
    for clip, shot, before in zip(clips, plan.shots, [0, 6, 3], strict=True):
        assert clip.range_in_parent().start_time.value + before == shot.record_in
    assert timeline.tracks[0].duration().value == plan.frames


def test_fcp7_xml_round_trip_has_the_same_cuts(rendered: Path, tmp_path: Path) -> None:
    path, warnings = export(rendered, "fcp7xml", tmp_path / "cut.xml")
    assert "drops the storyboard metadata" in warnings
    plan = plan_of(rendered)
    timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    video = [t for t in timeline.tracks if t.kind == "Video"][0]
    clips = shot_clips(video)
    assert [c.name for c in clips] == ["10 open", "10A insert", "3 close"]
    assert [
        (c.range_in_parent().start_time.value, c.range_in_parent().end_time_exclusive().value)
        for c in clips
    ] == [(s.record_in, s.record_out) for s in plan.shots]
    assert len([t for t in timeline.tracks if t.kind == "Audio"]) == 2


def test_otioz_bundles_the_media(rendered: Path, tmp_path: Path) -> None:
    path, _ = export(rendered, "otioz", tmp_path / "cut.otioz")
    with zipfile.ZipFile(path) as bundle:
        names = set(bundle.namelist())
    assert {"media/open.mp4", "media/insert.mp4", "media/close.mp4", "media/bed.wav"} <= names
    timeline = otio.adapters.read_from_file(str(path))
    urls = {c.media_reference.target_url for c in timeline.find_clips()}
    assert all(u.startswith("media/") for u in urls)


def test_aaf_and_fcpx_write_what_they_can_and_say_what_they_drop(
    rendered: Path, tmp_path: Path
) -> None:
    for fmt, dropped in (("aaf", "the markers"), ("fcpxml", "writes no transitions")):
        path, warnings = export(rendered, fmt, tmp_path / f"cut.{fmt}")
        assert dropped in warnings
        timeline = otio.adapters.read_from_file(str(path))
        video = [t for t in timeline.tracks if t.kind == "Video"][0]
        assert [c.name for c in shot_clips(video)] == ["10 open", "10A insert", "3 close"]


def test_unrendered_shots_are_missing_references_with_their_metadata(tmp_path: Path) -> None:
    board = tmp_path / "board.yaml"
    write_bed(tmp_path / "bed.wav", 2.0)
    board.write_text(BOARD)
    assert run_cli("render", board, "--shot", "insert").returncode == 0
    path, warnings = export(board, "otio", tmp_path / "cut.otio")
    assert "2 shot(s) not rendered yet" in warnings and "open, close" in warnings
    clips = shot_clips(otio.adapters.read_from_file(str(path)).tracks[0])
    kinds = [type(c.media_reference).__name__ for c in clips]
    assert kinds == ["MissingReference", "ExternalReference", "MissingReference"]
    missing = clips[0].media_reference
    assert missing.available_range.duration.value == 48
    assert missing.metadata["storyboard"]["shot_id"] == "open"
    assert clips[0].metadata["storyboard"]["status"] == "missing"


def test_harbor_exports_four_clips_with_the_shotlist_cuts(tmp_path: Path) -> None:
    """The issue's acceptance: cut points equal to `storyboard shotlist`, dissolves, music."""
    harbor = EXAMPLES / "harbor-short.yaml"
    path, _ = export(harbor, "otio", tmp_path / "harbor.otio")
    timeline = otio.adapters.read_from_file(str(path))
    clips = shot_clips(timeline.tracks[0])
    assert len(clips) == 4
    dissolves = [
        t
        for t in timeline.tracks[0]
        if isinstance(t, otio.schema.Transition) and t.name == "dissolve"
    ]
    assert len(dissolves) == 3  # every shot but the last dissolves into the next
    assert [t.name for t in timeline.tracks] == ["V1", "A1 shot sound", "A2 music"]
    shotlist = json.loads(run_cli("shotlist", harbor, "--format", "json").stdout)["shots"]
    rate = 24
    cuts = [
        (
            otio.opentime.to_timecode(c.range_in_parent().start_time, rate),
            otio.opentime.to_timecode(c.range_in_parent().end_time_exclusive(), rate),
        )
        for c in clips
    ]
    assert cuts == [(row["in"], row["out"]) for row in shotlist]


def test_a_missing_adapter_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.edit.export import ExportError, export_plan

    names = otio.adapters.available_adapter_names()
    monkeypatch.setattr(
        otio.adapters, "available_adapter_names", lambda: [n for n in names if n != "AAF"]
    )
    board, _ = load_storyboard(EXAMPLES / "harbor-short.yaml")
    with pytest.raises(ExportError, match="pip install otio-aaf-adapter"):
        export_plan(build_plan(board), "aaf", tmp_path / "x.aaf")
    assert not (tmp_path / "x.aaf").exists()


def test_export_refuses_to_write_over_the_storyboard(tmp_path: Path) -> None:
    board = tmp_path / "b.yaml"
    board.write_text("version: 1\ntitle: t\nshots:\n  - {id: a, action: x}\n")
    result = run_cli("export", board, "--out", board)
    assert result.returncode == 2 and "name a new file" in result.stderr
    assert board.read_text().startswith("version: 1")
