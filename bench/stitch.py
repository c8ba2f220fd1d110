"""Stitch speed against ffmpeg floors, and stitch memory against the number of shots.

    python bench/stitch.py [--no-overlays]

Ten 4 s 1280x720 24 fps previs shots (rendered first, not timed). (a) a cut-only edit against
the floor of ffmpeg's concat demuxer with stream copy; (b) the same with 0.5 s dissolves against
one ffmpeg filtergraph (xfade + acrossfade) with the same encoder settings. Each stitch runs in
a fresh process; the time is the stitch() call (and, in brackets, the whole `storyboard stitch`
command). Then peak RSS of stitching 10 and 60 shots with dissolves. The shots have previs's
overlays, so the edit gets its timecode burned in (a second encode of the whole edit);
``--no-overlays`` measures the stitch without that pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOVES = ["dolly-in", "pan-left", "tilt-up", "truck-right", "zoom-out", "orbit-left"]

CHILD = """
import json, resource, sys, time
from pathlib import Path
from storyboard.edit.stitch import stitch
from storyboard.format.validate import load_storyboard
board, _ = load_storyboard(Path(sys.argv[1]))
start = time.perf_counter()
stitch(board, Path(sys.argv[2]))
print(json.dumps({"elapsed": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def board_text(shots: int, transition: str) -> str:
    lines = ["version: 1", "title: Bench", "output: {size: 1280x720, fps: 24}", "shots:"]
    if "--no-overlays" in sys.argv:  # no burn-ins: the stitch alone, without the timecode pass
        lines.insert(3, "render: {overlays: false}")
    for i in range(shots):
        lines += [
            f"  - id: s{i:02d}",
            "    seconds: 4",
            "    reference: ref.jpg",
            f"    action: shot {i}",
            "    audio: {ambient: waves}",
            f"    beats: [{{camera: {MOVES[i % len(MOVES)]}, seconds: 3}}]",
            f"    transition: {transition}",
        ]
    return "\n".join(lines) + "\n"


def prepare(folder: Path, shots: int, transition: str, name: str) -> tuple[Path, Path]:
    board = folder / f"{name}.yaml"
    board.write_text(board_text(shots, transition))
    out = folder / "renders" / name
    subprocess.run(
        [sys.executable, "-m", "storyboard", "render", str(board), "--quiet"], check=True
    )
    return board, out


def measure(board: Path, out: Path) -> dict:
    (out / f"{board.stem}.mp4").unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(board), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(result.stdout)
    (out / f"{board.stem}.mp4").unlink()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "storyboard", "stitch", str(board), "--quiet"],
        check=True,
        capture_output=True,
    )
    stats["command"] = time.perf_counter() - start
    return stats


def floor_concat(out: Path, folder: Path) -> float:
    from storyboard.media import ffmpeg_exe

    listing = folder / "floor.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in sorted((out / "shots").glob("*.mp4"))))
    start = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(folder / "floor-a.mp4"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def floor_xfade(out: Path, folder: Path, shots: int) -> float:
    from storyboard.media import AUDIO_ARGS, ffmpeg_exe, video_args

    files = sorted((out / "shots").glob("*.mp4"))[:shots]
    inputs = [a for f in files for a in ("-i", str(f))]
    graph, v, a = [], "[0:v]", "[0:a]"
    for i in range(1, len(files)):
        offset = i * 4 - i * 0.5
        graph.append(f"{v}[{i}:v]xfade=transition=fade:duration=0.5:offset={offset}[v{i}]")
        graph.append(f"{a}[{i}:a]acrossfade=d=0.5[a{i}]")
        v, a = f"[v{i}]", f"[a{i}]"
    start = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            *inputs,
            "-filter_complex",
            ";".join(graph),
            "-map",
            v,
            "-map",
            a,
            *video_args(24),
            *AUDIO_ARGS,
            "-movflags",
            "+faststart",
            str(folder / "floor-b.mp4"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(ROOT / "examples" / "images" / "harbor-dusk.jpg", folder / "ref.jpg")
        cuts = prepare(folder, 10, "cut", "cuts")
        dissolves = prepare(folder, 10, "{type: dissolve, seconds: 0.5}", "dissolves")
        a = min((measure(*cuts) for _ in range(3)), key=lambda s: s["elapsed"])
        fa = min(floor_concat(cuts[1], folder) for _ in range(3))
        b = min((measure(*dissolves) for _ in range(2)), key=lambda s: s["elapsed"])
        fb = min(floor_xfade(dissolves[1], folder, 10) for _ in range(2))
        sixty = prepare(folder, 60, "{type: dissolve, seconds: 0.5}", "sixty")
        m60 = measure(*sixty)

    def line(name: str, ours: dict, floor: float, target: float) -> None:
        ratio = ours["elapsed"] / floor
        verdict = "met" if ratio <= target else "NOT met"
        print(
            f"{name}: stitch {ours['elapsed']:.2f} s (command {ours['command']:.2f} s), "
            f"floor {floor:.2f} s, ratio {ratio:.2f}x (target <= {target}x: {verdict})"
        )

    print("ten 4 s 1280x720 24 fps shots")
    line("(a) cuts      vs concat stream copy", a, fa, 1.5)
    line("(b) dissolves vs xfade filtergraph ", b, fb, 1.0)
    ratio = m60["rss_mb"] / b["rss_mb"]
    print(
        f"peak RSS of the stitch process: 10 shots {b['rss_mb']:.0f} MB, 60 shots "
        f"{m60['rss_mb']:.0f} MB, ratio {ratio:.2f} (target <= 1.2: "
        f"{'met' if ratio <= 1.2 else 'NOT met'}); largest ffmpeg child "
        f"{b['child_rss_mb']:.0f} / {m60['child_rss_mb']:.0f} MB"
    )
    print(f"60-shot dissolve stitch: {m60['elapsed']:.2f} s")


if __name__ == "__main__":
    main()
