"""Hosted concurrency: 12 shots against the fake /v1/videos server, 1 s per job, --jobs 4.

    python bench/hosted.py

Prints the wall time of `storyboard render` against the ideal ceil(12 / 4) x 1 s, the ratio
(target <= 1.10), and how many status requests each job needed. The server tells the client
when to look again (openai-poll-after-ms), as the real API does.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storyboard.testing.fake_video_api import FakeVideoAPI

SHOTS, JOBS, LATENCY = 12, 4, 1.0
TARGET = 1.10


def board(folder: Path, size: str) -> Path:
    shots = "".join(
        f"  - {{id: s{i:02d}, seconds: 4, action: shot number {i}}}\n" for i in range(SHOTS)
    )
    path = folder / "hosted.yaml"
    path.write_text(
        f"version: 1\ntitle: Bench\noutput: {{size: {size}, fps: 24}}\n"
        "render: {backend: openai, model: sora-2}\nshots:\n" + shots
    )
    return path


def run(size: str) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeVideoAPI("sk-bench", latency=LATENCY, min_polls=0) as api,
    ):
        path = board(Path(tmp), size)
        api.video(size, 4.0)  # the fake's own rendering of its answer, outside the timing
        start = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "storyboard",
                "render",
                str(path),
                "--jobs",
                str(JOBS),
                "--base-url",
                api.url,
                "--quiet",
            ],
            env={**os.environ, "OPENAI_API_KEY": "sk-bench"},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(result.stderr)
        polls = len(api.calls("GET", r"/v1/videos/[^/]+"))
        startup = _startup()
    ideal = math.ceil(SHOTS / JOBS) * LATENCY
    ratio = wall / ideal
    print(f"{SHOTS} shots of 4 s at {size}, --jobs {JOBS}, {LATENCY:g} s per job")
    print(
        f"  wall {wall:.2f} s (of which {startup:.2f} s is starting the command), ideal "
        f"{ideal:.2f} s, ratio {ratio:.2f} (target <= {TARGET}: "
        f"{'met' if ratio <= TARGET else 'NOT met'})"
    )
    print(f"  status requests per job: {polls / SHOTS:.2f}")


def _startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "storyboard", "--version"], capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    run("1280x720")
