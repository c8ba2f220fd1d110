"""Orphans: takes no shot refers to, and shot files of shots that left the storyboard.

A take is referred to when it is the render key of a shot under the storyboard's render
settings, under any of its ``render.targets``, under the settings of the run asking (``--backend``,
``--target``), or when it is a shot's current pick in the manifest. ``clean`` removes only
what none of these name, so switching between targets never loses a render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard.compile import ShotPrompt
from storyboard.format.model import Storyboard
from storyboard.format.targets import select_render
from storyboard.manifest import load_manifest
from storyboard.render.registry import load_backend
from storyboard.render.stage import take_keys
from storyboard.render.store import TakeStore

__all__ = ["Orphans", "clean", "find_orphans"]


@dataclass(frozen=True)
class Orphans:
    takes: tuple[str, ...]  # render keys
    shot_files: tuple[Path, ...]  # shots/<id>.mp4 of ids no longer in the storyboard
    bytes: int

    def __len__(self) -> int:
        return len(self.takes) + len(self.shot_files)


def find_orphans(
    boards: Sequence[Storyboard], prompts: Sequence[ShotPrompt], out_dir: Path
) -> Orphans:
    """What ``clean`` would remove; ``boards`` are the storyboard under each setting in use."""
    store = TakeStore(out_dir)
    referenced: set[str] = set()
    for board in _with_targets(boards):
        referenced |= take_keys(board, prompts, load_backend(board.render.backend), out_dir)
    ids = {s.id for s in boards[0].shots}
    entries = load_manifest(out_dir)["shots"]
    referenced |= {str(e.get("render_key")) for i, e in entries.items() if i in ids}
    takes = tuple(store.orphans(referenced))
    shot_files = tuple(
        sorted(
            p
            for p in (out_dir / "shots").glob("*.mp4")
            if not p.name.startswith(".") and p.stem not in ids
        )
    )
    size = sum(store.size(k) for k in takes) + sum(p.stat().st_size for p in shot_files)
    return Orphans(takes, shot_files, size)


def clean(orphans: Orphans, out_dir: Path) -> None:
    store = TakeStore(out_dir)
    for key in orphans.takes:
        store.remove(key)
    for path in orphans.shot_files:
        path.unlink(missing_ok=True)


def _with_targets(boards: Sequence[Storyboard]) -> list[Storyboard]:
    found = list(boards)
    for board in boards:
        found += [select_render(board, name) for name in board.render.targets]
    return found
