"""The typed, versioned manifest: reading old versions, damage, the journal, concurrency."""

from __future__ import annotations

import json
from pathlib import Path

from storyboard.layout import RenderDir
from storyboard.manifest import (
    MANIFEST_VERSION,
    ManifestStore,
    ShotEntry,
    parse_manifest,
    read_manifest,
)

from conftest import run_cli

V010_ENTRY = {  # what storyboard 0.1.0 wrote for one shot
    "status": "rendered",
    "render_key": "k1",
    "prompt": "Wide shot.",
    "backend": "openai",
    "model": "sora-2",
    "size": "1280x720",
    "fps": 24,
    "seconds": 4,
    "reference": None,
    "reference_sha256": None,
    "remote_video_id": "video_1",
    "error": None,
    "error_code": None,
    "output": "shots/one.mp4",
    "output_sha256": "ab" * 32,
}


def entry(key: str, status: str = "rendered") -> ShotEntry:
    return ShotEntry(
        status=status,
        render_key=key,
        backend="previs",  # type: ignore[arg-type]
        model=None,
        prompt="p",
        size="160x90",
        fps=24,
        seconds=1,
    )


def test_a_010_manifest_is_upgraded_when_read() -> None:
    old = {
        "storyboard": "b.yaml",
        "storyboard_sha256": "x",
        "backend": "openai",
        "tool_version": "0.1.0",
        "shots": {"one": V010_ENTRY},
        "edit": {
            "key": "e",
            "output": "b.mp4",
            "output_sha256": "cd",
            "frames": 96,
            "seconds": 4.0,
            "slates": [],
        },
    }
    manifest = parse_manifest(old)
    one = manifest.shots["one"]
    assert manifest.manifest_version == 1 and one.legacy
    assert one.media_seconds == 4 and one.remote_video_id == "video_1"
    assert manifest.edit is not None and manifest.edit.frames == 96
    written = manifest.to_json(["one"])
    assert written["manifest_version"] == MANIFEST_VERSION
    assert "legacy" not in written["shots"]["one"]


def test_a_010_entry_stays_legacy_once_a_later_write_carried_it_over() -> None:
    """A stitch by this version rewrites a 0.1.0 manifest as version 2 before any render: its
    entries name no take, so the upgrade (render/upgrade.py) still knows them for 0.1.0's."""
    carried = parse_manifest(parse_manifest({"shots": {"one": V010_ENTRY}}).to_json(["one"]))
    assert carried.manifest_version == MANIFEST_VERSION and carried.shots["one"].legacy
    current = {**V010_ENTRY, "take": "takes/k.mp4"}
    later = parse_manifest({"manifest_version": 2, "shots": {"one": current}})
    assert not later.shots["one"].legacy


def test_results_go_to_the_journal_and_are_folded_in_on_save(tmp_path: Path) -> None:
    folder = RenderDir(tmp_path / "out", "b")
    store = ManifestStore(folder)
    store.record("a", entry("ka"))
    store.record("b", entry("kb", "failed"))
    assert not folder.manifest.exists()  # nothing rewritten per shot
    assert len(folder.journal.read_text().splitlines()) == 2
    assert read_manifest(folder)[0].shots["b"].status == "failed"  # a reader replays it
    with folder.journal.open("ab") as f:
        f.write(b'{"shot": "c", "entry": {"sta')  # a run killed mid-write
    assert set(read_manifest(folder)[0].shots) == {"a", "b"}
    store.order = ["b", "a"]
    store.save(title="T")
    data = json.loads(folder.manifest.read_text())
    assert list(data["shots"]) == ["b", "a"] and data["title"] == "T"
    assert not folder.journal.exists()


def test_two_runs_on_one_folder_keep_each_others_shots(tmp_path: Path) -> None:
    folder = RenderDir(tmp_path / "out", "b")
    first, second = ManifestStore(folder), ManifestStore(folder)
    first.record("a", entry("ka"))
    second.record("b", entry("kb"))
    first.save()
    second.save()
    assert set(read_manifest(folder)[0].shots) == {"a", "b"}


def test_a_damaged_manifest_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    board = Path(run_cli("init", tmp_path / "film", "-q").stdout.strip())
    board.write_text(board.read_text().replace("1280x720", "160x90"))
    assert run_cli("render", board, "--shot", "harbor").returncode == 0
    folder = board.parent / "renders" / board.stem
    (folder / "manifest.json").write_text('{"shots": {"harbor": {"status": "rend')
    status = run_cli("status", board)
    assert status.returncode == 0
    assert "manifest.json is damaged" in status.stderr and "Traceback" not in status.stderr
    again = run_cli("render", board, "--shot", "harbor")
    assert again.returncode == 0, again.stderr
    kept = list(folder.glob("manifest.damaged-*.json"))
    assert len(kept) == 1 and kept[0].read_text().startswith('{"shots"')
    assert (
        json.loads((folder / "manifest.json").read_text())["shots"]["harbor"]["status"]
        == "rendered"
    )
