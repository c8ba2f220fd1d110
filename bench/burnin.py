"""What burning the edit's timecode costs, against the stitch it follows.

    python bench/burnin.py [SECONDS]

Builds a 1280x720 24 fps previs edit of four shots (SECONDS long in all, default 24) with
overlays off, then times: the stitch alone (shot bodies copied, transitions composited), and
the timecode pass over the stitched edit (decode, paint the label into the YUV planes,
re-encode). Prints both, their ratio, and the pass's speed in frames per second and x real time.
The timecode is burned after the stitch because it depends on the shot's place in the edit:
keeping it out of the shot renders is what lets an inserted shot re-render only itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOARD = """\
version: 1
title: Burn-in bench
output: {{size: 1280x720, fps: 24}}
render: {{overlays: false}}
shots:
""" + "".join(
    f"""\
  - id: s{n}
    seconds: {{each}}
    reference: ref.jpg
    action: shot {n}
    beats: [{{{{camera: dolly-in, seconds: {{each}}}}}}]
    transition: {{{{type: dissolve, seconds: 0.5}}}}
"""
    for n in range(4)
)


def main() -> None:
    from storyboard.edit.stitch import stitch
    from storyboard.format.validate import load_storyboard
    from storyboard.render.previs.burnin import burn_edit_timecode

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 24.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "examples" / "images" / "harbor-dusk.jpg", folder / "ref.jpg")
        (folder / "b.yaml").write_text(BOARD.format(each=seconds / 4))
        board, _ = load_storyboard(folder / "b.yaml")
        out = folder / "renders" / "b"
        subprocess.run(
            [sys.executable, "-m", "storyboard", "render", "--quiet", str(folder / "b.yaml")],
            check=True,
            cwd=ROOT,
        )
        start = time.perf_counter()
        result = stitch(board, out)
        stitched = time.perf_counter() - start
        frames = round(result.seconds * board.output.fps)
        start = time.perf_counter()
        burn_edit_timecode(result.path, folder / "burned.mp4", 1280, 720, 24.0, frames)
        burned = time.perf_counter() - start
    print(f"edit: {result.seconds:.1f} s, {frames} frames at 1280x720")
    print(f"stitch (copy + gaps):   {stitched:6.2f} s")
    print(
        f"timecode burn-in pass:  {burned:6.2f} s  ({frames / burned:.0f} fps, "
        f"{result.seconds / burned:.1f}x real time)"
    )
    print(f"ratio burn-in / stitch: {burned / stitched:.2f}")


if __name__ == "__main__":
    main()
