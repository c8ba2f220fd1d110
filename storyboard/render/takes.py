"""A shot's takes: which exist, in what state, what each cost, and which one is circled.

The review page, the contact sheet and ``storyboard takes`` read this; none of them renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard.compile import ShotPrompt
from storyboard.format.model import Storyboard
from storyboard.manifest import load_manifest
from storyboard.render.estimate import estimate
from storyboard.render.stage import shot_states

__all__ = ["Take", "shot_takes"]


@dataclass(frozen=True)
class Take:
    shot_id: str
    number: int  # 1-based, as a script supervisor counts takes
    state: str  # rendered | stale | missing | failed
    path: Path  # where its video is (or would be)
    circled: bool
    seconds: float  # the length the edit uses
    cost: float | None = None  # USD spent on it; None when the price is unknown
    error: str = ""
    error_code: str = ""

    @property
    def playable(self) -> bool:
        return self.state in ("rendered", "stale") and self.path.is_file()


def shot_takes(board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str,
               out_dir: Path) -> dict[str, tuple[Take, ...]]:
    """Every shot's takes, in take order."""
    states = shot_states(board, prompts, backend_name, out_dir)
    prices = {s.shot_id: s.price_per_second
              for s in estimate(board, prompts, backend_name, out_dir, 1).shots}
    entries = load_manifest(out_dir)["shots"]
    takes: dict[str, tuple[Take, ...]] = {}
    for shot, state in zip(board.shots, states, strict=True):
        entry = entries.get(shot.id, {})
        price = prices.get(shot.id)
        spent = state.state != "missing"
        takes[shot.id] = (Take(
            shot.id, 1, state.state, state.path, True, shot.seconds,
            cost=price * shot.seconds if price is not None and spent else (0.0 if not spent
                                                                           else None),
            error=state.error, error_code=entry.get("error_code") or "",
        ),)
    return takes
