"""What an edit costs to rebuild: a 20-shot previs board, then one shot appended, then one
inserted at the top.

    python bench/incremental.py [--size 640x360] [--seconds 2]

Each build is the real `storyboard build` in a fresh process (wall time). The baseline for a
rebuild is what it cannot avoid: rendering that one new shot alone (`storyboard render
--shot NEW` into an empty folder) plus stitching the whole edit (`storyboard stitch` with the
edit removed). The ratio of each rebuild to that baseline should be at most 1.3x; a rebuild
that renders any other shot again is far above it. The baseline runs two processes and the
rebuild one, so the stricter ratio takes one start-up (a `storyboard status` of the board:
load, validate, compile, hash) off the baseline.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MOVES = ["dolly-in", "pan-left", "tilt-up", "truck-right", "zoom-out", "orbit-left"]
TARGET = 1.3


def board_text(ids: list[str], size: str, seconds: float) -> str:
    lines = ["version: 1", "title: Incremental", f"output: {{size: {size}, fps: 24}}", "shots:"]
    for shot_id in ids:
        move = MOVES[sum(map(ord, shot_id)) % len(MOVES)]  # by id: a shot is the same anywhere
        lines.append(
            f"  - {{id: {shot_id}, seconds: {seconds:g}, action: shot {shot_id}, "
            f"beats: [{{camera: {move}, seconds: {seconds:g}}}]}}"
        )
    return "\n".join(lines) + "\n"


def storyboard(*args: object) -> float:
    """Wall time of one storyboard command in a fresh process."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "storyboard", *map(str, args), "-q"], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"storyboard {' '.join(map(str, args))} failed:\n{result.stderr}")
    return elapsed


def baseline(folder: Path, path: Path, new_id: str) -> tuple[float, float]:
    """(render the one new shot alone, stitch the whole edit)."""
    render = storyboard("render", path, "--shot", new_id, "--out", folder / "alone")
    shutil.rmtree(folder / "alone")
    edit = folder / "renders" / "board" / "board.mp4"
    edit.unlink()
    return render, storyboard("stitch", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    ids = [f"shot{n:02d}" for n in range(1, 21)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "board.yaml"
        path.write_text(board_text(ids, args.size, args.seconds))
        clean = storyboard("build", path)
        print(f"20 shots of {args.seconds:g} s at {args.size}, cuts, previs")
        print(f"clean build                 {clean:6.2f} s")
        for label, order, new_id in (
            ("append one shot", [*ids, "added"], "added"),
            ("insert one at the top", ["opening", *ids, "added"], "opening"),
        ):
            path.write_text(board_text(order, args.size, args.seconds))
            rebuild = storyboard("build", path)
            render, stitch = baseline(folder, path, new_id)
            storyboard("stitch", path)  # put the edit back for the next step
            # the baseline starts two processes, the rebuild one: count one start-up once
            startup = storyboard("status", path)
            ratio = rebuild / (render + stitch)
            strict = rebuild / (render + stitch - startup)
            verdict = "meets" if strict <= TARGET else "MISSES"
            print(
                f"{label:<27} {rebuild:6.2f} s   one shot {render:.2f} s + stitch "
                f"{stitch:.2f} s = {render + stitch:.2f} s   ratio {ratio:.2f}x; "
                f"{strict:.2f}x without the second start-up ({startup:.2f} s) "
                f"({verdict} the {TARGET}x target)"
            )


if __name__ == "__main__":
    main()
