"""The render stage: decide which shots need rendering, render them, verify, record.

A shot's render key hashes everything that changes its output. A shot whose key matches a
finished, intact render is reused without touching its file. Renders go to a temporary file,
are probed, and only then renamed into place, so a killed run never leaves a file that looks
finished; the manifest is rewritten atomically after every shot.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..compile import ShotPrompt
from ..errors import MediaError, RenderError, StoryboardError
from ..manifest import file_sha256, load_manifest, save_manifest
from ..media import probe
from ..model import Shot, Storyboard
from .base import RenderJob
from .registry import load_backend

__all__ = ["ShotResult", "ShotState", "render_key", "render_storyboard", "shot_states",
           "default_out_dir", "Event"]

Event = Callable[[str, str, dict[str, Any]], None]  # (kind, shot id, details)


@dataclass(frozen=True)
class ShotResult:
    shot_id: str
    status: str  # rendered | reused | failed
    path: Path
    elapsed: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class ShotState:
    shot_id: str
    state: str  # rendered | stale | missing | failed
    path: Path
    error: str = ""


def default_out_dir(board: Storyboard) -> Path:
    return board.folder / "renders" / board.stem


def render_key(board: Storyboard, shot: Shot, prompt: ShotPrompt, backend: Any) -> str:
    """sha256 of everything that changes the shot's rendered output."""
    fields = asdict(shot)
    for drop in ("origin", "notes", "transition"):  # none of these change the shot's pixels
        fields.pop(drop)
    fields["reference"] = _sha_or_none(shot.reference)
    fields["audio"]["file"] = _sha_or_none(shot.audio.file)
    material = {
        "shot": fields,
        "prompt": prompt.text,
        "backend": [backend.name, backend.version],
        "model": board.render.model,
        "output": asdict(board.output),
        "overlays": board.render.overlays,
        "shot_count": len(board.shots),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def shot_states(board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str,
                out_dir: Path) -> list[ShotState]:
    backend = load_backend(backend_name)
    entries = load_manifest(out_dir)["shots"]
    states = []
    for shot, prompt in zip(board.shots, prompts, strict=True):
        path = _shot_path(out_dir, shot.id)
        entry = entries.get(shot.id, {})
        key = render_key(board, shot, prompt, backend)
        if entry.get("status") == "failed" and entry.get("render_key") == key:
            state = "failed"
        elif _intact(entry, path):
            state = "rendered" if entry.get("render_key") == key else "stale"
        else:
            state = "stale" if path.exists() else "missing"
        states.append(ShotState(shot.id, state, path, entry.get("error") or ""))
    return states


def render_storyboard(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend_name: str,
    out_dir: Path,
    *,
    only: Sequence[str] | None = None,
    jobs: int = 1,
    force: bool = False,
    on_event: Event | None = None,
) -> list[ShotResult]:
    """Render the shots (all, or ``only`` those ids) and return one result per shot."""
    emit = on_event or (lambda kind, shot_id, info: None)
    backend_cls = load_backend(backend_name)
    shots_dir = out_dir / "shots"
    shots_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_partials(shots_dir)
    manifest = load_manifest(out_dir)
    manifest.update(storyboard=board.path.name, storyboard_sha256=board.sha256,
                    title=board.title, backend=backend_name)
    results: dict[str, ShotResult] = {}
    todo: list[tuple[RenderJob, Path]] = []
    for shot, prompt in zip(board.shots, prompts, strict=True):
        if only and shot.id not in only:
            continue
        key = render_key(board, shot, prompt, backend_cls)
        path = _shot_path(out_dir, shot.id)
        entry = manifest["shots"].get(shot.id, {})
        if not force and entry.get("render_key") == key and _intact(entry, path):
            results[shot.id] = ShotResult(shot.id, "reused", path)
            emit("reused", shot.id, {})
            continue
        job = RenderJob(shot, prompt, board.output, board.render.model, key, len(board.shots),
                        board.render.overlays, board.title)
        todo.append((job, path))
    save_manifest(out_dir, manifest)
    for result in _run(backend_name, todo, jobs, manifest, out_dir, emit):
        results[result.shot_id] = result
    return [results[s.id] for s in board.shots if s.id in results]


def _run(backend_name: str, todo: list[tuple[RenderJob, Path]], jobs: int,
         manifest: dict[str, Any], out_dir: Path, emit: Event) -> list[ShotResult]:
    results = []
    if jobs <= 1 or len(todo) <= 1:
        for job, path in todo:
            emit("start", job.shot.id, {"seconds": job.shot.seconds})
            started = time.perf_counter()
            error = _capture(lambda j=job, p=path: _render_one(backend_name, j, p, emit))
            results.append(_record(job, path, error, started, manifest, out_dir, emit))
        return results
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: list[tuple[RenderJob, Path, float, Future[None]]] = []
        for job, path in todo:
            emit("start", job.shot.id, {"seconds": job.shot.seconds})
            futures.append((job, path, time.perf_counter(),
                            pool.submit(_render_one, backend_name, job, path, None)))
        for job, path, started, future in futures:
            error = _capture(future.result)
            results.append(_record(job, path, error, started, manifest, out_dir, emit))
    return results


def _capture(call: Callable[[], None]) -> str:
    try:
        call()
    except StoryboardError as exc:
        return str(exc)
    except Exception as exc:  # a backend bug must not sink the other shots
        return f"{type(exc).__name__}: {exc}"
    return ""


def _render_one(backend_name: str, job: RenderJob, path: Path, emit: Event | None) -> None:
    """Render into a partial file, verify it, then move it into place (runs in a worker)."""
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.mp4")
    backend = load_backend(backend_name)()
    progress = (lambda f: emit("progress", job.shot.id, {"fraction": f})) if emit else None
    try:
        backend.render(job, partial, progress)
        _verify(partial, job)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _verify(path: Path, job: RenderJob) -> None:
    try:
        info = probe(path)
    except MediaError as exc:
        raise RenderError(f"the render is not a playable video: {exc}") from None
    frame = 1.0 / job.output.fps
    if (info.width, info.height) != (job.output.width, job.output.height):
        raise RenderError(f"rendered {info.width}x{info.height}, expected {job.output.size}")
    if abs(info.duration - job.shot.seconds) > frame + 0.05:  # AAC framing adds a few ms
        raise RenderError(f"rendered {info.duration:.3f} s, expected {job.shot.seconds:g} s")


def _record(job: RenderJob, path: Path, error: str, started: float, manifest: dict[str, Any],
            out_dir: Path, emit: Event) -> ShotResult:
    shot, elapsed = job.shot, time.perf_counter() - started
    entry = {
        "status": "failed" if error else "rendered",
        "render_key": job.render_key,
        "prompt": job.prompt.text,
        "model": job.model,
        "size": job.output.size,
        "fps": job.output.fps,
        "seconds": shot.seconds,
        "reference": shot.reference.name if shot.reference else None,
        "reference_sha256": _sha_or_none(shot.reference),
        "remote_video_id": None,
        "error": error or None,
        "output": f"shots/{shot.id}.mp4",
        "output_sha256": None if error else file_sha256(path),
    }
    if error:  # keep what an earlier successful render recorded about the file on disk
        previous = manifest["shots"].get(shot.id, {})
        entry["previous_output_sha256"] = previous.get("output_sha256")
    manifest["shots"][shot.id] = entry
    save_manifest(out_dir, manifest)
    status = "failed" if error else "rendered"
    emit(status, shot.id, {"elapsed": elapsed, "error": error})
    return ShotResult(shot.id, status, path, elapsed, error)


def _intact(entry: dict[str, Any], path: Path) -> bool:
    return (entry.get("status") == "rendered" and path.is_file()
            and entry.get("output_sha256") == file_sha256(path))


def _shot_path(out_dir: Path, shot_id: str) -> Path:
    return out_dir / "shots" / f"{shot_id}.mp4"


def _sha_or_none(path: Path | None) -> str | None:
    return file_sha256(path) if path is not None else None


def _remove_abandoned_partials(shots_dir: Path) -> None:
    """Partial files of runs that died (killed, crashed) are never taken for renders."""
    for partial in shots_dir.glob(".*.partial.mp4"):
        pid = partial.name.split(".")[-3]
        if not pid.isdigit() or not _alive(int(pid)):
            partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
