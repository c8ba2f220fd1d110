"""One shot through a hosted backend: submit, persist the handle, poll, download, normalise.

The handle is written to ``renders/<stem>/jobs/<id>.json`` before the first poll, so a rerun
after any interruption (even SIGKILL) polls the existing job instead of paying for a new one;
a note written before the create is even sent lets a rerun look for a job whose answer never
arrived.
A job that expired or vanished is reported and created again once. A download that breaks off
or crawls (below the minimum throughput, past its deadline) is retried on its own; a generation
is never repeated because a download failed. Creates and polls run within the job's deadline.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from storyboard.errors import BackendError, JobFailed, JobTimeout, MediaError, RenderError
from storyboard.media import (
    AUDIO_ARGS,
    BT709,
    MOVFLAGS,
    colour_filter,
    ffmpeg_exe,
    keyframe_interval,
    probe,
    untagged_colour,
    video_args,
)
from storyboard.render.base import Handle, JobState, RenderJob
from storyboard.render.hosted.http import within
from storyboard.render.output import check_probe, partial_path, verify_render

__all__ = ["render_hosted", "load_handle", "DOWNLOAD_ATTEMPTS"]

DOWNLOAD_ATTEMPTS = 3


def render_hosted(
    backend: Any,
    job: RenderJob,
    path: Path,
    out_dir: Path,
    emit: Callable[[str, str, dict[str, Any]], None],
    slots: threading.Semaphore | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """One shot, start to finish; ``slots`` bounds the jobs under way on the server."""
    slots = slots or threading.Semaphore(1)
    with slots:
        handle, state = _run_job(backend, job, out_dir, emit, clock, sleep)
    if state.status != "succeeded":
        raise JobFailed(
            _failure_text(state, handle),
            state.error_code or state.status,
            blocked=state.status == "blocked",
            remote_id=handle.job_id,
        )
    _fetch(backend, handle, job, path)
    _drop_handle(out_dir / "jobs", _handle_name(job))
    return {"remote_video_id": handle.job_id}


def _run_job(
    backend: Any,
    job: RenderJob,
    out_dir: Path,
    emit: Callable[[str, str, dict[str, Any]], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[Handle, JobState]:
    """Create (or resume) the job and wait until it ends on the server, all within the job's
    deadline (``poll.timeout``): a create or poll that never answers is cut off there."""
    shot_id = job.shot.id
    jobs_dir = out_dir / "jobs"
    deadline = clock() + job.render.job_timeout
    handle = load_handle(jobs_dir, _handle_name(job), job.render_key, backend.base_url)
    if handle is not None and not handle.job_id:
        # A run died between sending a create and hearing back: the job may exist, paid for.
        with within(deadline):
            handle = backend.find(job, float(handle.extra.get("pending_since", 0)))
    if handle is not None:
        emit("resumed", shot_id, {"job": handle.job_id})
    recreated = False
    while True:
        if handle is None:
            pending = Handle(
                backend.name,
                backend.base_url,
                job.model,
                "",
                job.render_key,
                {"pending_since": time.time()},
            )
            _save_handle(jobs_dir, _handle_name(job), pending)  # before the create is sent
            with within(deadline):
                handle = backend.submit(job)
            _save_handle(jobs_dir, _handle_name(job), handle)  # before the first poll, always
            emit("submitted", shot_id, {"job": handle.job_id})
        state = _wait(backend, handle, job, deadline, clock, sleep, emit)
        if state.status in ("gone", "expired") and not recreated:
            emit(
                "warning",
                shot_id,
                {
                    "message": f"job {handle.job_id} {state.status} on the "
                    "server; creating it again, once"
                },
            )
            _drop_handle(jobs_dir, _handle_name(job))
            handle, recreated = None, True
            deadline = clock() + job.render.job_timeout
            continue
        break
    if state.status != "succeeded":
        _drop_handle(jobs_dir, _handle_name(job))  # a rerun tries afresh
    return handle, state


def _failure_text(state: JobState, handle: Handle) -> str:
    if state.status == "blocked":
        reason = state.error_message or "no reason given"
        return (
            f"blocked by the provider's content policy: {reason}; change the prompt "
            "(the same prompt would be blocked again)"
        )
    detail = f": {state.error_message}" if state.error_message else ""
    code = f" ({state.error_code})" if state.error_code else ""
    return f"job {handle.job_id} ended {state.status}{code}{detail}"


def _wait(
    backend: Any,
    handle: Handle,
    job: RenderJob,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    emit: Callable[[str, str, dict[str, Any]], None],
) -> JobState:
    render = job.render
    interval = render.poll_interval
    while True:
        try:
            with within(deadline):
                state = backend.poll(handle)
        except (JobTimeout, BackendError):
            if clock() < deadline:
                raise
            state = JobState("running")  # a poll cut off at the deadline: out of time
        if state.progress is not None:
            emit("progress", job.shot.id, {"fraction": state.progress / 100})
        if state.done:
            return state
        if clock() >= deadline:
            raise JobTimeout(
                f"job {handle.job_id} did not finish within "
                f"{render.job_timeout:g} s; run again to keep waiting for it "
                "(it is not created again)"
            )
        wait = state.poll_after if state.poll_after is not None else interval
        sleep(max(0.0, min(wait, deadline - clock())))
        interval = min(interval * 1.5, render.poll_max_interval)


def _fetch(backend: Any, handle: Handle, job: RenderJob, path: Path) -> None:
    """Download (retrying the download alone), normalise, verify, move into place."""
    download, partial = partial_path(path, "download"), partial_path(path)
    try:
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:  # each attempt within its own deadline; a slow one is abandoned and retried
                with within(time.monotonic() + backend.caller.limits.download):
                    backend.download(handle, download)
                info = probe(download)
                break
            except (BackendError, JobTimeout, MediaError) as exc:
                if attempt + 1 == DOWNLOAD_ATTEMPTS:
                    raise RenderError(
                        f"download of job {handle.job_id} failed "
                        f"{DOWNLOAD_ATTEMPTS} times: {exc}; run again to retry "
                        "the download (the video is not generated again)"
                    ) from None
        offset = _source_part(info, job)
        exact = abs(info.duration - job.render_seconds) <= 1 / job.output.fps
        if exact and _encoded_like_ours(download, info, job):  # a server running our renderer
            check_probe(info, job)
            os.replace(download, path)
        else:
            normalise(download, partial, info, job, offset)
            verify_render(partial, job)
            os.replace(partial, path)
    finally:
        download.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)


def _source_part(info: Any, job: RenderJob) -> float:
    """How much of a downloaded extension is its source: /v1/videos/extensions returns the
    stitched whole (source + extension); the shot file holds only the new part."""
    if not job.shot.extend_of or job.source_video is None or not job.source_video.is_file():
        return 0.0
    source = probe(job.source_video).duration
    whole = abs(info.duration - (source + job.render_seconds)) <= 2 / job.output.fps + 0.05
    return source if whole else 0.0


def normalise(source: Path, dest: Path, info: Any, job: RenderJob, offset: float = 0.0) -> None:
    """Re-encode a downloaded video once, the way every shot is encoded, so the stitch can
    copy it: exact size, fps and length, a keyframe a second, a sound track, and BT.709
    (converted from what its tags say; an untagged picture is taken as players take it)."""
    out = job.output
    audio_in = [] if info.has_audio else ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono"]
    audio_map = "0:a:0" if info.has_audio else "1:a:0"
    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            *(["-ss", f"{offset:.6f}"] if offset else []),
            "-i",
            str(source),
            *audio_in,
            "-map",
            "0:v:0",
            "-map",
            audio_map,
            "-vf",
            f"{untagged_colour(info.colour, info.width, info.height)}"
            f"scale={out.width}:{out.height}:force_original_aspect_ratio=increase,"
            f"crop={out.width}:{out.height},fps={out.fps:g},tpad=stop=-1:stop_mode=clone,"
            f"{colour_filter()}",
            "-af",
            "apad",
            "-t",
            f"{job.render_seconds:.6f}",
            *video_args(out.fps),
            *AUDIO_ARGS,
            *MOVFLAGS,
            "-f",
            "mp4",
            str(dest),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise MediaError(f"cannot normalise the downloaded video: {result.stderr.strip()[-300:]}")


def _encoded_like_ours(path: Path, info: Any, job: RenderJob) -> bool:
    out = job.output
    if (
        (info.video_codec, info.pix_fmt, info.width, info.height)
        != ("h264", "yuv420p", out.width, out.height)
        or abs(info.fps - out.fps) > 1e-3
        or not info.has_audio
        or info.colour != BT709
    ):  # one set of tags in the edit
        return False
    # x264 writes its settings into the stream: the stitch needs these three to copy it
    with path.open("rb") as f:
        head = f.read(1 << 20)
    settings = re.search(
        rb"x264 - core .*? - H\.264/MPEG-4 AVC codec .*? options: ([^\x00]*)", head
    )
    if settings is None:
        return False
    options = dict(o.split(b"=", 1) for o in settings[1].split() if b"=" in o)
    return (
        options.get(b"bframes") == b"0"
        and options.get(b"scenecut") == b"0"
        and options.get(b"keyint") == str(keyframe_interval(out.fps)).encode()
    )


def _handle_name(job: RenderJob) -> str:
    """The job file of a shot's take: jobs/<id>.json for take 1, jobs/<id>.take<N>.json else."""
    return job.shot.id if job.take == 1 else f"{job.shot.id}.take{job.take}"


def load_handle(jobs_dir: Path, shot_id: str, render_key: str, base_url: str) -> Handle | None:
    try:
        data = json.loads((jobs_dir / f"{shot_id}.json").read_text("utf-8"))
        handle = Handle(**data)
    except (OSError, ValueError, TypeError):
        return None
    if handle.render_key != render_key or handle.base_url != base_url:
        return None  # the shot changed, or another server: that job is not this render
    return handle


def _save_handle(jobs_dir: Path, shot_id: str, handle: Handle) -> None:
    jobs_dir.mkdir(parents=True, exist_ok=True)
    tmp = jobs_dir / f".{shot_id}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(handle), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, jobs_dir / f"{shot_id}.json")


def _drop_handle(jobs_dir: Path, shot_id: str) -> None:
    (jobs_dir / f"{shot_id}.json").unlink(missing_ok=True)
