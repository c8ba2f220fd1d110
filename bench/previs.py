"""Previs render speed against ffmpeg's own zoompan, and memory against shot length.

    python bench/previs.py

Renders an 8 s 1280x720 24 fps shot (a dolly-in, then a pan over a still) with the previs
backend, and the same kind of move with ffmpeg's zoompan filter at the same size, frame rate and
encoder settings (the pure-ffmpeg floor). Prints both times, the ratio, the real-time factor and
peak RSS for an 8 s and a 32 s shot (each render in a fresh process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "images" / "harbor-dusk.jpg"
TARGET_RATIO = 1.5

BOARD = """\
version: 1
title: Bench
output: {{size: 1280x720, fps: 24}}
shots:
  - id: move
    seconds: {seconds}
    reference: ref.jpg
    action: a figure at the end of the pier
    lighting: golden hour
    audio: {{ambient: waves}}
    beats:
      - {{camera: dolly-in, seconds: {half}}}
      - {{camera: pan-left, seconds: {half}}}
"""

CHILD = """
import json, resource, sys, time
from pathlib import Path
from storyboard.compile import compile_storyboard
from storyboard.render.base import RenderJob
from storyboard.render.previs import PrevisBackend
from storyboard.format.validate import load_storyboard
board, _ = load_storyboard(Path(sys.argv[1]))
prompt = compile_storyboard(board)[0]
job = RenderJob(board.shots[0], prompt, board.output, None, "bench", True, board.title)
start = time.perf_counter()
PrevisBackend().render(job, Path(sys.argv[2]))
elapsed = time.perf_counter() - start
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"elapsed": elapsed, "rss_mb": self_kb / 1024, "ffmpeg_rss_mb": child_kb / 1024}))
"""


def previs(folder: Path, seconds: float) -> dict:
    board = folder / f"bench{seconds:g}.yaml"
    board.write_text(BOARD.format(seconds=seconds, half=seconds / 2))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(board), str(folder / "out.mp4")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def zoompan_floor(folder: Path, seconds: float) -> float:
    from storyboard.media import AUDIO_ARGS, ffmpeg_exe, video_args

    frames, half = round(seconds * 24), round(seconds * 12)
    # zoom in over the first half, then pan left over the second: the same kind of work
    zoom = f"if(lt(on,{half}),1+0.28*on/{half},1.28)"
    x = f"if(lt(on,{half}),iw/2-iw/zoom/2,iw/2-iw/zoom/2-0.18*iw/zoom*(on-{half})/{half})"
    start = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-loop",
            "1",
            "-framerate",
            "24",
            "-i",
            str(REFERENCE),
            "-f",
            "lavfi",
            "-i",
            f"anoisesrc=d={seconds}:a=0.05:r=48000",
            "-filter_complex",
            f"[0:v]scale=2560:1440,zoompan=z='{zoom}':x='{x}':y='ih/2-ih/zoom/2':d={frames}"
            f":s=1280x720:fps=24[v]",
            "-map",
            "[v]",
            "-map",
            "1:a",
            "-frames:v",
            str(frames),
            *video_args(24),
            *AUDIO_ARGS,
            "-movflags",
            "+faststart",
            str(folder / "floor.mp4"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def many_shots(folder: Path, jobs: int) -> float:
    """Wall time of `storyboard render --force` on six 2 s 720p shots."""
    shots = "".join(
        f"  - {{id: s{i}, seconds: 2, reference: ref.jpg, action: x, "
        f"beats: [{{camera: pan-left, seconds: 2}}]}}\n"
        for i in range(6)
    )
    board = folder / "many.yaml"
    board.write_text("version: 1\ntitle: Many\noutput: {size: 1280x720, fps: 24}\nshots:\n" + shots)
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "storyboard",
            "render",
            str(board),
            "--force",
            "--quiet",
            "--jobs",
            str(jobs),
        ],
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(REFERENCE, folder / "ref.jpg")
        floor = min(zoompan_floor(folder, 8) for _ in range(3))
        runs = [previs(folder, 8) for _ in range(3)]
        best = min(runs, key=lambda r: r["elapsed"])
        long = previs(folder, 32)
        one_job = min(many_shots(folder, 1) for _ in range(2))
        two_jobs = min(many_shots(folder, 2) for _ in range(2))
    ratio = best["elapsed"] / floor
    print("8 s 1280x720 24 fps shot, dolly-in then pan (best of 3)")
    print(f"  ffmpeg zoompan floor: {floor:.2f} s")
    print(
        f"  previs backend:       {best['elapsed']:.2f} s  ratio {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    print(f"  real-time factor:     {8 / best['elapsed']:.1f}x real time")
    mem_ratio = long["rss_mb"] / best["rss_mb"]
    print("peak RSS of the rendering process (python; ffmpeg's separately)")
    print(f"  8 s shot:  {best['rss_mb']:.0f} MB  (ffmpeg {best['ffmpeg_rss_mb']:.0f} MB)")
    print(
        f"  32 s shot: {long['rss_mb']:.0f} MB  (ffmpeg {long['ffmpeg_rss_mb']:.0f} MB)  "
        f"ratio {mem_ratio:.2f} (target <= 1.1: {'met' if mem_ratio <= 1.1 else 'NOT met'})"
    )
    print(f"  32 s render time: {long['elapsed']:.2f} s")
    print(
        f"six 2 s shots: --jobs 1 {one_job:.2f} s, --jobs 2 {two_jobs:.2f} s "
        f"(speed-up {one_job / two_jobs:.2f}x on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
