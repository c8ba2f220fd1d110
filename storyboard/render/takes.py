"""A shot's takes: which exist, in what state, what each cost, and which one is circled.

Every take is an entry of the take store (``takes/<key>.mp4`` and its sidecar); its key is the
shot's request with the take number. The review page, the contact sheet and ``storyboard
takes`` read this; none of them renders or sends anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard.compile import ShotPrompt
from storyboard.format.model import Storyboard
from storyboard.manifest import load_manifest
from storyboard.render.stage import identities

__all__ = ["Take", "shot_takes"]


@dataclass(frozen=True)
class Take:
    shot_id: str
    number: int  # 1-based, as a script supervisor counts takes
    state: str  # rendered | missing | failed
    path: Path  # where its video is (or would be) in the take store
    circled: bool
    seconds: float  # the length the edit uses
    cost: float | None = None  # USD it cost; None when the price is unknown, 0 when not made
    error: str = ""
    error_code: str = ""
    render_key: str = ""
    elapsed: float | None = None  # seconds it took to render

    @property
    def playable(self) -> bool:
        return self.state == "rendered" and self.path.is_file()


def shot_takes(
    board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str, out_dir: Path
) -> dict[str, tuple[Take, ...]]:
    """Every shot's takes, in take order (the circled one even beyond ``takes``)."""
    ids = identities(board, prompts, backend_name, out_dir)
    manifest = load_manifest(out_dir)
    failures = manifest.get("take_failures") or {}
    result: dict[str, tuple[Take, ...]] = {}
    for shot in board.shots:
        entry = manifest["shots"].get(shot.id, {})
        takes = []
        for job in ids.takes(shot):
            key, circled = job.render_key, job.take == shot.circle
            info = ids.store.info(key) if ids.store.has(key) else None
            failed = failures.get(key) or (
                entry
                if circled and entry.get("status") == "failed" and entry.get("render_key") == key
                else None
            )
            state = "rendered" if info else "failed" if failed else "missing"
            takes.append(Take(
                shot.id, job.take, state, ids.store.path(key), circled, shot.seconds,
                cost=(info or {}).get("cost") if info else 0.0,
                error=(failed or {}).get("error") or "" if not info else "",
                error_code=(failed or {}).get("error_code") or "" if not info else "",
                render_key=key, elapsed=(info or {}).get("elapsed"),
            ))  # fmt: skip
        result[shot.id] = tuple(takes)
    return result
