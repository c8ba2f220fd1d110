"""Validate and compile a generated 1,000-shot storyboard; print the times (target: validate < 1 s).

python bench/compile_scale.py [SHOTS]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MOVES = ["static", "pan-left", "dolly-in", "tilt-up", "truck-right", "zoom-out", "orbit-left"]


def make_board(shots: int) -> str:
    lines = [
        "version: 1",
        "title: Scale test",
        "defaults:",
        "  seconds: 4",
        "  style: 35mm film",
        "cast:",
        "  mara: a woman in a yellow raincoat",
        "shots:",
    ]
    for i in range(shots):
        lines += [
            f"  - id: shot-{i:04d}",
            "    reference: images/harbor-dusk.jpg" if i % 2 else "    seconds: 5",
            "    cast: [mara]",
            "    framing: {type: close-up, lens: 50mm, depth_of_field: shallow}",
            f"    action: Mara does thing number {i}",
            "    beats:",
            f"      - {{camera: {MOVES[i % len(MOVES)]}, seconds: 1.5}}",
            "      - {camera: static, seconds: 1}",
            "    lighting: {time: golden hour, key: soft rim light}",
            "    audio:",
            "      ambient: waves",
            "      sfx: [{at: 1.0, cue: gull cry}]",
            "    transition: {type: dissolve, seconds: 0.5}",
        ]
    return "\n".join(lines) + "\n"


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    shots = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(EXAMPLES / "images", folder / "images")
        board = folder / "scale.yaml"
        board.write_text(make_board(shots))
        cli = [sys.executable, "-m", "storyboard"]
        validate = min(timed([*cli, "validate", "-q", str(board)]) for _ in range(3))
        compile_ = min(timed([*cli, "compile", str(board)]) for _ in range(3))
        startup = min(timed([*cli, "--version"]) for _ in range(3))
    print(f"shots: {shots}")
    print(
        f"validate (whole process, best of 3): {validate:.3f} s  (target < 1 s: "
        f"{'met' if validate < 1 else 'NOT met'})"
    )
    print(f"compile  (whole process, best of 3): {compile_:.3f} s")
    print(f"interpreter + CLI start-up:          {startup:.3f} s")


if __name__ == "__main__":
    main()
