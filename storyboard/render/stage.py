"""The render stage: decide which shots need rendering, render them, verify, record.

A shot's render key hashes everything that changes its output. A shot whose key matches a
finished, intact render is reused without touching its file. Renders go to a temporary file,
are probed, and only then renamed into place, so a killed run never leaves a file that looks
finished; the manifest is rewritten atomically after every shot. Shots that derive from
another (remix_of, extend_of) wait for their source.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from storyboard.compile import ShotPrompt
from storyboard.errors import JobFailed, KeyRefused, StoryboardError
from storyboard.format.model import Shot, Storyboard
from storyboard.manifest import file_sha256, load_manifest, save_manifest
from storyboard.render.base import BackendConfig, RenderJob
from storyboard.render.output import partial_path, verify_render
from storyboard.render.registry import load_backend

__all__ = ["Event", "ShotResult", "ShotState", "default_out_dir", "render_key",
           "render_storyboard", "shot_keys", "shot_states"]

Event = Callable[[str, str, dict[str, Any]], None]  # (kind, shot id, details)


@dataclass(frozen=True)
class ShotResult:
    shot_id: str
    status: str  # rendered | reused | failed
    path: Path
    elapsed: float = 0.0
    error: str = ""
    error_code: str = ""


@dataclass(frozen=True)
class ShotState:
    shot_id: str
    state: str  # rendered | stale | missing | failed
    path: Path
    error: str = ""


def default_out_dir(board: Storyboard) -> Path:
    return board.folder / "renders" / board.stem


def render_key(board: Storyboard, shot: Shot, prompt: ShotPrompt, backend: Any,
               source_key: str = "", sha: Callable[[Path], str] = file_sha256) -> str:
    """sha256 of everything that changes the shot's rendered output."""
    fields = asdict(shot)
    for drop in ("origin", "notes", "transition"):  # none of these change the shot's pixels
        fields.pop(drop)
    fields["reference"] = _sha_or_none(shot.reference, sha)
    fields["audio"]["file"] = _sha_or_none(shot.audio.file, sha)
    material = {
        "shot": fields,
        "prompt": prompt.text,
        "backend": [backend.name, backend.version],
        "model": board.render.model,
        "output": asdict(board.output),
        "overlays": board.render.overlays,
        "request": [board.render.preset, board.render.extra],  # hosted inputs change the video
        "shot_count": len(board.shots),
        "source": source_key,  # a remix or extension changes with its source
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def shot_keys(board: Storyboard, prompts: Sequence[ShotPrompt], backend_cls: Any,
              sha: Callable[[Path], str] | None = None) -> dict[str, str]:
    """Every shot's render key; a picture that many shots share is read once."""
    sha = sha or cache(file_sha256)
    keys: dict[str, str] = {}
    for shot, prompt in zip(board.shots, prompts, strict=True):
        source = keys.get(shot.source or "", "")
        keys.setdefault(shot.id, render_key(board, shot, prompt, backend_cls, source, sha))
    return keys


def shot_states(board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str,
                out_dir: Path) -> list[ShotState]:
    keys = shot_keys(board, prompts, load_backend(backend_name))
    entries = load_manifest(out_dir)["shots"]
    states = []
    for shot in board.shots:
        path = _shot_path(out_dir, shot.id)
        entry = entries.get(shot.id, {})
        if entry.get("status") == "failed" and entry.get("render_key") == keys[shot.id]:
            state = "failed"
        elif _intact(entry, path):
            state = "rendered" if entry.get("render_key") == keys[shot.id] else "stale"
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
    config: BackendConfig | None = None,
) -> list[ShotResult]:
    """Render the shots (all, or ``only`` those ids) and return one result per shot."""
    emit = on_event or (lambda kind, shot_id, info: None)
    backend_cls = load_backend(backend_name)
    hosted = not callable(getattr(backend_cls, "render", None))  # else submit/poll/download
    backend = backend_cls.from_config(config or BackendConfig(render=board.render)) if hosted \
        else None  # ConfigError (no key...) here, before anything is sent
    shots_dir = out_dir / "shots"
    shots_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_partials(shots_dir)
    manifest = load_manifest(out_dir)
    manifest.update(storyboard=board.path.name, storyboard_sha256=board.sha256,
                    title=board.title, backend=backend_name)
    sha = cache(file_sha256)  # references and audio files, read once per run
    keys = shot_keys(board, prompts, backend_cls, sha)
    results: dict[str, ShotResult] = {}
    todo: list[Shot] = []
    for shot in board.shots:
        if only and shot.id not in only:
            continue
        path = _shot_path(out_dir, shot.id)
        entry = manifest["shots"].get(shot.id, {})
        if not force and entry.get("render_key") == keys[shot.id] and _intact(entry, path):
            results[shot.id] = ShotResult(shot.id, "reused", path)
            emit("reused", shot.id, {})
        else:
            todo.append(shot)
    save_manifest(out_dir, manifest)
    run = _Run(board, prompts, keys, backend_name, backend, out_dir, manifest, emit, sha)
    try:
        for wave in _waves(todo):
            for result in run.wave(wave, jobs):
                results[result.shot_id] = result
    finally:
        if backend is not None:
            backend.close()
    return [results[s.id] for s in board.shots if s.id in results]


def _waves(todo: list[Shot]) -> list[list[Shot]]:
    """Shots in groups that can render at once: a derived shot after its source."""
    waiting = {s.id for s in todo}
    waves, remaining = [], list(todo)
    while remaining:
        ready = [s for s in remaining if s.source not in waiting]
        if not ready:  # cannot happen for a validated storyboard; never loop forever
            ready = remaining
        waves.append(ready)
        waiting -= {s.id for s in ready}
        remaining = [s for s in remaining if s not in ready]
    return waves


class _Run:
    """One render run: builds jobs, dispatches them, records each result as it arrives."""

    def __init__(self, board: Storyboard, prompts: Sequence[ShotPrompt], keys: dict[str, str],
                 backend_name: str, backend: Any, out_dir: Path, manifest: dict[str, Any],
                 emit: Event, sha: Callable[[Path], str]) -> None:
        self.board, self.keys, self.backend_name, self.backend = board, keys, backend_name, backend
        self.prompts = dict(zip((s.id for s in board.shots), prompts, strict=True))
        self.out_dir, self.manifest, self.emit, self.sha = out_dir, manifest, emit, sha
        self.caps = load_backend(backend_name).capabilities(board.render.model).overridden(
            board.render)

    def job(self, shot: Shot) -> RenderJob:
        source = self.manifest["shots"].get(shot.source or "", {})
        return RenderJob(shot, self.prompts[shot.id], self.board.output, self.board.render.model,
                         self.keys[shot.id], len(self.board.shots), self.board.render.overlays,
                         self.board.title, render=self.board.render,
                         source_shot=self.board.shot(shot.source) if shot.source else None,
                         source_video=_shot_path(self.out_dir, shot.source) if shot.source
                         else None,
                         source_remote_id=source.get("remote_video_id"),
                         render_seconds=self.caps.render_seconds(shot.seconds,
                                                                 self.board.render.duration))

    def wave(self, shots: list[Shot], jobs: int) -> list[ShotResult]:
        todo = [(self.job(s), _shot_path(self.out_dir, s.id)) for s in shots]
        if self.backend is None and (jobs <= 1 or len(todo) <= 1):
            return [self._one(job, path) for job, path in todo]
        pool: Executor
        if self.backend is not None:  # hosted: threads waiting on the network
            from storyboard.render.hosted.jobs import render_hosted

            # --jobs bounds the remote jobs under way; downloads run outside that bound, so
            # the next job starts the moment one finishes on the server
            pool = ThreadPoolExecutor(max_workers=min(len(todo), 64))
            start = partial(render_hosted, self.backend, out_dir=self.out_dir, emit=self.emit,
                            slots=threading.BoundedSemaphore(jobs))
        else:  # local: processes; spawn, not fork, never forks a process holding threads
            pool = ProcessPoolExecutor(max_workers=jobs,
                                       mp_context=multiprocessing.get_context("spawn"))
            start = partial(render_local, self.backend_name, emit=None)
        with pool:
            futures: list[tuple[RenderJob, Path, float, Future[dict[str, Any]]]] = []
            for job, path in todo:
                self.emit("start", job.shot.id, {"seconds": job.shot.seconds})
                futures.append((job, path, time.perf_counter(), pool.submit(start, job, path)))
            return self._gather(futures)

    def _gather(self, futures: list[tuple[RenderJob, Path, float, Future[dict[str, Any]]]]
                ) -> list[ShotResult]:
        """Record each outcome; a refused API key stops the run with one message."""
        results, refused = [], None
        for job, path, started, future in futures:
            try:
                results.append(self._record(job, path, started, _outcome(future.result)))
            except KeyRefused as exc:
                refused = refused or exc
        if refused is not None:
            raise refused
        return results

    def _one(self, job: RenderJob, path: Path) -> ShotResult:
        self.emit("start", job.shot.id, {"seconds": job.shot.seconds})
        started = time.perf_counter()
        outcome = _outcome(lambda: render_local(self.backend_name, job, path, self.emit))
        return self._record(job, path, started, outcome)

    def _record(self, job: RenderJob, path: Path, started: float,
                outcome: dict[str, Any]) -> ShotResult:
        shot, elapsed = job.shot, time.perf_counter() - started
        error = outcome.get("error", "")
        previous = self.manifest["shots"].get(shot.id, {})
        entry = {
            "status": "failed" if error else "rendered",
            "render_key": job.render_key,
            "prompt": job.prompt.text,
            "backend": self.backend_name,
            "model": job.model,
            "size": job.output.size,
            "fps": job.output.fps,
            "seconds": shot.seconds,  # the part the edit uses: the file's first seconds
            "media_seconds": job.render_seconds,  # the file's length, longer with handles
            "reference": shot.reference.name if shot.reference else None,
            "reference_sha256": _sha_or_none(shot.reference, self.sha),
            "remote_video_id": outcome.get("remote_video_id"),
            "error": error or None,
            "error_code": outcome.get("error_code") or None,
            "output": f"shots/{shot.id}.mp4",
            "output_sha256": None if error else file_sha256(path),
        }
        if error:  # what an earlier good render recorded about the file still on disk
            entry["previous_output_sha256"] = previous.get("output_sha256")
        self.manifest["shots"][shot.id] = entry
        save_manifest(self.out_dir, self.manifest)
        status = "failed" if error else "rendered"
        self.emit(status, shot.id, {"elapsed": elapsed, "error": error,
                                    "code": outcome.get("error_code", ""),
                                    "blocked": outcome.get("blocked", False)})
        return ShotResult(shot.id, status, path, elapsed, error, outcome.get("error_code", ""))


def _outcome(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What a render returned, or what went wrong, as plain data."""
    try:
        return call() or {}
    except KeyRefused:
        raise  # the key, not the shot: nothing recorded, the run stops
    except JobFailed as exc:
        return {"error": str(exc), "error_code": exc.code, "blocked": exc.blocked,
                "remote_video_id": getattr(exc, "remote_video_id", None)}
    except StoryboardError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a backend bug must not sink the other shots
        return {"error": f"{type(exc).__name__}: {exc}"}


def render_local(backend_name: str, job: RenderJob, path: Path,
                 emit: Event | None = None) -> dict[str, Any]:
    """Render into a partial file, verify it, then move it into place (runs in a worker)."""
    partial = partial_path(path)
    backend = load_backend(backend_name)()
    progress = (lambda f: emit("progress", job.shot.id, {"fraction": f})) if emit else None
    try:
        backend.render(job, partial, progress)
        verify_render(partial, job)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {}


def _intact(entry: dict[str, Any], path: Path) -> bool:
    return (entry.get("status") == "rendered" and path.is_file()
            and entry.get("output_sha256") == file_sha256(path))


def _shot_path(out_dir: Path, shot_id: str) -> Path:
    return out_dir / "shots" / f"{shot_id}.mp4"


def _sha_or_none(path: Path | None, sha: Callable[[Path], str]) -> str | None:
    return sha(path) if path is not None else None


def _remove_abandoned_partials(shots_dir: Path) -> None:
    """Partial files of runs that died (killed, crashed) are never taken for renders."""
    for leftover in shots_dir.glob(".*.mp4"):
        pid = leftover.name.split(".")[-3]
        if not pid.isdigit() or not _alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
