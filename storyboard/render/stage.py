"""The render stage: decide which shots need rendering, render them, verify, record.

A shot's render key is what its backend receives (render/identity.py). A finished render is a
take in the store under that key (render/store.py); a shot whose key has a take is picked from
the store without rendering, so only new requests are ever sent. Renders go to a temporary
file, are probed, and only then move into the store; the shot file ``shots/<id>.mp4`` is
changed by this (the main) process alone, when it picks the take the current run expects.
Derived shots (remix_of, extend_of) wait for a real source: on a hosted backend they are sent
only with their source's finished video and its remote id, and are skipped when it failed.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from storyboard.compile import ShotPrompt
from storyboard.errors import JobFailed, KeyRefused, StoryboardError
from storyboard.format.model import Shot, Storyboard
from storyboard.format.targets import select_render
from storyboard.manifest import known_file_sha256, load_manifest, save_manifest
from storyboard.render.base import Backend, BackendConfig, LocalBackend, RenderJob, is_local
from storyboard.render.identity import Identities, is_hosted
from storyboard.render.lifetime import die_with_parent
from storyboard.render.output import partial_path, verify_render
from storyboard.render.registry import load_backend
from storyboard.render.store import TakeStore
from storyboard.render.upgrade import Found, adopt, legacy_renders
from storyboard.scratch import alive, remove_dead_scratch

__all__ = [
    "Event",
    "ShotResult",
    "ShotState",
    "default_out_dir",
    "render_storyboard",
    "shot_keys",
    "shot_states",
    "take_keys",
]

Event = Callable[[str, str, dict[str, Any]], None]  # (kind, shot id, details)


@dataclass(frozen=True)
class ShotResult:
    shot_id: str
    status: str  # rendered | reused | failed | skipped
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


def identities(
    board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str, out_dir: Path
) -> Identities:
    return _identities(board, prompts, load_backend(backend_name), out_dir)


def _identities(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend_cls: type[Backend],
    out_dir: Path | None,
) -> Identities:
    out_dir = out_dir or default_out_dir(board)
    return Identities(
        select_render(board, backend=backend_cls.name), prompts, backend_cls, TakeStore(out_dir)
    )


def shot_keys(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend_cls: type[Backend],
    out_dir: Path | None = None,
) -> dict[str, str]:
    """Every shot's render key (a derived hosted shot's depends on its source's take)."""
    return _identities(board, prompts, backend_cls, out_dir).keys()


def take_keys(
    board: Storyboard,
    prompts: Sequence[ShotPrompt],
    backend_cls: type[Backend],
    out_dir: Path | None = None,
) -> set[str]:
    """The key of every take every shot asks for (takes beyond ``takes:`` are not asked for)."""
    return _identities(board, prompts, backend_cls, out_dir).take_keys()


def shot_states(
    board: Storyboard, prompts: Sequence[ShotPrompt], backend_name: str, out_dir: Path
) -> list[ShotState]:
    ids = identities(board, prompts, backend_name, out_dir)
    keys = ids.keys()
    adoptable = legacy_renders(board, ids, out_dir).adoptable  # the next render takes them over
    entries = load_manifest(out_dir)["shots"]
    states = []
    for shot in board.shots:
        path = _shot_path(out_dir, shot.id)
        entry = entries.get(shot.id, {})
        if shot.id in adoptable and shot.circle == 1:
            state = "rendered"
        elif entry.get("status") == "failed" and entry.get("render_key") == keys[shot.id]:
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
    """Render the shots (all, or ``only`` those ids and the sources they need)."""
    emit = on_event or (lambda kind, shot_id, info: None)
    board = select_render(board, backend=backend_name)
    backend_cls = load_backend(backend_name)
    backend = (
        backend_cls.from_config(config or BackendConfig(render=board.render))
        if is_hosted(backend_cls)
        else None
    )  # ConfigError (no key...) here, before any send
    for folder in (out_dir / "shots", out_dir / "takes"):
        folder.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_partials(folder)
    manifest = load_manifest(out_dir)
    manifest.update(
        storyboard=board.path.name,
        storyboard_sha256=board.sha256,
        title=board.title,
        backend=backend_name,
    )
    ids = Identities(board, prompts, backend_cls, TakeStore(out_dir))
    run = _Run(ids, backend_name, backend, out_dir, manifest, emit)
    run.take_over(legacy_renders(board, ids, out_dir))  # every shot's, before anything is sent
    try:
        results = run.all(_chosen(board, only, ids, emit), jobs, force)
    finally:
        if backend is not None:
            backend.close()
    return [results[s.id] for s in board.shots if s.id in results]


def _chosen(
    board: Storyboard, only: Sequence[str] | None, ids: Identities, emit: Event
) -> list[Shot]:
    """The shots asked for, and the unrendered sources of those that derive from another."""
    if not only:
        return list(board.shots)
    wanted = set(only)
    for shot in reversed(board.shots):  # sources come earlier: one pass from the end
        source = board.shot(shot.source) if shot.id in wanted and shot.source else None
        if source and source.id not in wanted and not ids.store.has(ids.job(source).render_key):
            wanted.add(source.id)
            emit("note", shot.id, {"message": f"renders its source '{source.id}' first"})
    return [s for s in board.shots if s.id in wanted]


class _Run:
    """One render run: builds jobs, dispatches them, records each result as it arrives."""

    def __init__(
        self,
        ids: Identities,
        backend_name: str,
        backend: Any,
        out_dir: Path,
        manifest: dict[str, Any],
        emit: Event,
    ) -> None:
        self.ids, self.store = ids, ids.store
        self.backend_name, self.backend = backend_name, backend
        self.out_dir, self.manifest, self.emit = out_dir, manifest, emit
        self.results: dict[str, ShotResult] = {}

    def all(self, shots: list[Shot], jobs: int, force: bool) -> dict[str, ShotResult]:
        for wave in _waves(shots):
            todo: dict[str, RenderJob] = {}  # render key -> the job that renders it
            sharing: list[RenderJob] = []  # shots whose request another shot sends
            for shot in wave:
                job = self._ready(shot)
                if job is None:
                    continue
                if not force and self.store.has(job.render_key):
                    self._pick(job, "reused")
                elif job.render_key in todo:
                    sharing.append(job)
                else:
                    todo[job.render_key] = job
                for other in self.ids.takes(shot):  # the takes the edit does not use
                    if (
                        other.take != job.take
                        and other.render_key not in todo
                        and (force or not self.store.has(other.render_key))
                    ):
                        todo[other.render_key] = other
            self._render(list(todo.values()), jobs)
            for job in sharing:
                self._share(job)
        for shot in shots:  # takes that finished after their shot's pick
            entry = self.manifest["shots"].get(shot.id)
            if entry and entry.get("status") == "rendered":
                entry["takes"] = self._takes_on_disk(shot)
        save_manifest(self.out_dir, self.manifest)
        return self.results

    def _ready(self, shot: Shot) -> RenderJob | None:
        """The shot's job, or None (recorded as skipped) when its source gives it nothing."""
        source = self.results.get(shot.source or "")
        if source is not None and source.status in ("failed", "skipped"):
            self._skip(shot, f"its source '{shot.source}' {source.status}; nothing sent")
            return None
        job = self.ids.job(shot)
        if self.ids.waiting(job):
            self._skip(
                shot,
                f"its source '{shot.source}' has no finished video on "
                f"{self.backend_name}; render it first (nothing sent)",
            )
            return None
        return job

    def _skip(self, shot: Shot, reason: str) -> None:
        self.results[shot.id] = ShotResult(
            shot.id, "skipped", _shot_path(self.out_dir, shot.id), error=reason, error_code="source"
        )
        self.emit("skipped", shot.id, {"error": reason})

    def _render(self, todo: list[RenderJob], jobs: int) -> None:
        if not todo:
            return
        if self.backend is None and (jobs <= 1 or len(todo) <= 1):
            for job in todo:
                self._record(
                    job,
                    *self._timed(
                        partial(
                            render_local,
                            self.backend_name,
                            job,
                            self.store.path(job.render_key),
                            self.emit,
                        )
                    ),
                )
            return
        pool, start = self._pool(len(todo), jobs)
        with pool:
            futures: list[tuple[RenderJob, float, Future[dict[str, Any]]]] = []
            for job in todo:
                self.emit("start", job.shot.id, {"seconds": job.shot.seconds})
                path = self.store.path(job.render_key)
                futures.append((job, time.perf_counter(), pool.submit(start, job, path)))
            self._gather(futures)

    def _gather(self, futures: list[tuple[RenderJob, float, Future[dict[str, Any]]]]) -> None:
        """Record each outcome; a refused API key stops the run with one message."""
        refused = None
        for job, started, future in futures:
            try:
                self._record(job, _outcome(future.result), time.perf_counter() - started)
            except KeyRefused as exc:
                refused = refused or exc
        if refused is not None:
            raise refused

    def _pool(self, count: int, jobs: int) -> tuple[Executor, Callable[..., dict[str, Any]]]:
        if self.backend is not None:  # hosted: threads waiting on the network
            from storyboard.render.hosted.jobs import render_hosted

            # --jobs bounds the remote jobs under way; downloads run outside that bound
            return ThreadPoolExecutor(max_workers=min(count, 64)), partial(
                render_hosted,
                self.backend,
                out_dir=self.out_dir,
                emit=self.emit,
                slots=threading.BoundedSemaphore(jobs),
            )
        # local: processes (spawn never forks a process holding threads) that die with us
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            initializer=die_with_parent,
            initargs=(os.getpid(),),
            mp_context=multiprocessing.get_context("spawn"),
        )
        return pool, partial(render_local, self.backend_name, emit=None)

    def _timed(self, call: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        return _outcome(call), time.perf_counter() - started

    def _record(self, job: RenderJob, outcome: dict[str, Any], elapsed: float) -> None:
        error = outcome.get("error", "")
        circled = job.take == job.shot.circle
        if not circled:  # a take the edit does not use: in the store, or its failure noted
            self._other_take(job, outcome, elapsed)
        elif error:
            self._failed(job, outcome, elapsed)
        if error:
            return
        self.store.record(
            job.render_key,
            {
                **self._summary(job),
                "elapsed": round(elapsed, 3),
                "remote_video_id": outcome.get("remote_video_id"),
                "cost": self._cost(job),
                "created": time.time(),
                "take": job.take,
                "seed": job.seed,
            },
        )
        if circled:
            self._pick(job, "rendered", elapsed)

    def _other_take(self, job: RenderJob, outcome: dict[str, Any], elapsed: float) -> None:
        error = outcome.get("error", "")
        failures = self.manifest.setdefault("take_failures", {})
        if error:
            failures[job.render_key] = {
                "shot": job.shot.id,
                "take": job.take,
                "error": error,
                "error_code": outcome.get("error_code") or None,
            }
            self.emit("warning", job.shot.id, {"message": f"take {job.take} failed: {error}"})
        else:
            failures.pop(job.render_key, None)
            self.emit("take", job.shot.id, {"take": job.take, "elapsed": elapsed})
        save_manifest(self.out_dir, self.manifest)

    def take_over(self, found: Found) -> None:
        """Adopt the 0.1.0 renders the current jobs would send again; say why not the others."""
        for shot_id, why in found.refused.items():
            self.emit("note", shot_id, {"message": f"its 0.1.0 render is not reused: {why}"})
        for shot_id, old in found.adoptable.items():
            if not adopt(self.store, old):
                continue
            if old.job.take == old.job.shot.circle:
                self._picked(old.job)
            self.emit(
                "note",
                shot_id,
                {
                    "message": "the 0.1.0 render (remote video "
                    f"{old.entry.remote_video_id}) is reused"
                },
            )

    def _pick(self, job: RenderJob, status: str, elapsed: float = 0.0) -> None:
        """Make the take of the job's key the shot's file and record it."""
        path = self._picked(job)
        self.results[job.shot.id] = ShotResult(job.shot.id, status, path, elapsed)
        self.emit(status, job.shot.id, {"elapsed": elapsed})

    def _picked(self, job: RenderJob) -> Path:
        """The shot's file made the take of the job's key, and the manifest says so."""
        path = _shot_path(self.out_dir, job.shot.id)
        self.store.pick(job.render_key, path)
        info = self.store.info(job.render_key) or {}
        self.manifest["shots"][job.shot.id] = {
            **self._summary(job),
            "status": "rendered",
            "render_key": job.render_key,
            "remote_video_id": info.get("remote_video_id"),
            "error": None,
            "error_code": None,
            "output": f"shots/{job.shot.id}.mp4",
            "take": f"takes/{job.render_key}.mp4",
            "output_sha256": info.get("output_sha256"),
            "circle": job.take,
            "takes": self._takes_on_disk(job.shot),
        }
        save_manifest(self.out_dir, self.manifest)
        return path

    def _takes_on_disk(self, shot: Shot) -> list[dict[str, Any]]:
        """The shot's finished takes (the exports offer them beside the circled one)."""
        return [
            {"take": j.take, "render_key": j.render_key, "output": f"takes/{j.render_key}.mp4"}
            for j in self.ids.takes(shot)
            if self.store.has(j.render_key)
        ]

    def _failed(self, job: RenderJob, outcome: dict[str, Any], elapsed: float) -> None:
        shot, error = job.shot, outcome["error"]
        previous = self.manifest["shots"].get(shot.id, {})
        self.manifest["shots"][shot.id] = {
            **self._summary(job),
            "status": "failed",
            "render_key": job.render_key,
            "remote_video_id": outcome.get("remote_video_id"),
            "error": error,
            "error_code": outcome.get("error_code") or None,
            "output": f"shots/{shot.id}.mp4",
            "output_sha256": None,
            # what an earlier good render recorded about the file still on disk
            "previous_output_sha256": previous.get("output_sha256"),
        }
        save_manifest(self.out_dir, self.manifest)
        code = outcome.get("error_code", "")
        self.results[shot.id] = ShotResult(
            shot.id, "failed", _shot_path(self.out_dir, shot.id), elapsed, error, code
        )
        self.emit(
            "failed",
            shot.id,
            {
                "elapsed": elapsed,
                "error": error,
                "code": code,
                "blocked": outcome.get("blocked", False),
            },
        )

    def _share(self, job: RenderJob) -> None:
        """A shot whose request another shot of the run sent: its take, or its failure."""
        if self.store.has(job.render_key):
            self._pick(job, "reused")
            return
        first = next(
            r
            for r in self.results.values()
            if r.status == "failed"
            and self.manifest["shots"][r.shot_id].get("render_key") == job.render_key
        )
        self._failed(job, {"error": first.error, "error_code": first.error_code}, 0.0)

    def _summary(self, job: RenderJob) -> dict[str, Any]:
        shot, sha = job.shot, known_file_sha256  # read once per process, as the key read it
        return {
            "backend": self.backend_name,
            "model": job.model,
            "prompt": job.prompt.text,
            "size": job.output.size,
            "fps": job.output.fps,
            "seconds": shot.seconds,  # the part the edit uses: the file's first seconds
            "media_seconds": job.render_seconds,  # the file's length (with handles)
            "reference": shot.reference.name if shot.reference else None,
            "reference_sha256": sha(shot.reference) if shot.reference else None,
        }

    def _cost(self, job: RenderJob) -> float | None:
        price = self.ids.caps.price_per_second
        return None if price is None else round(price * job.render_seconds, 4)


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


def _outcome(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What a render returned, or what went wrong, as plain data."""
    try:
        return call() or {}
    except KeyRefused:
        raise  # the key, not the shot: nothing recorded, the run stops
    except JobFailed as exc:
        return {
            "error": str(exc),
            "error_code": exc.code,
            "blocked": exc.blocked,
            "remote_video_id": exc.remote_id,
        }
    except StoryboardError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a backend bug must not sink the other shots
        return {"error": f"{type(exc).__name__}: {exc}"}


def render_local(
    backend_name: str, job: RenderJob, path: Path, emit: Event | None = None
) -> dict[str, Any]:
    """Render into a partial file, verify it, then move it into the store (runs in a worker).

    ``path`` is the take of the job's render key: content-addressed, so even a worker that
    outlived its run can only ever put there the render that key names."""
    partial = partial_path(path)
    backend = local_backend(backend_name)
    progress = (lambda f: emit("progress", job.shot.id, {"fraction": f})) if emit else None
    try:
        backend.render(job, partial, progress)
        verify_render(partial, job)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {}


_LOCAL: dict[str, LocalBackend] = {}  # this process's local backends, built once each


def local_backend(name: str) -> LocalBackend:
    """The local backend ``name`` of this process (a worker builds it for its first shot)."""
    if name not in _LOCAL:
        backend_cls = load_backend(name)
        if not is_local(backend_cls):
            raise StoryboardError(f"backend '{name}' is not a local backend")
        _LOCAL[name] = backend_cls.from_config(BackendConfig())
    return _LOCAL[name]


def _intact(entry: dict[str, Any], path: Path) -> bool:
    return (
        entry.get("status") == "rendered"
        and path.is_file()
        and entry.get("output_sha256") == known_file_sha256(path)
    )


def _shot_path(out_dir: Path, shot_id: str) -> Path:
    return out_dir / "shots" / f"{shot_id}.mp4"


def _remove_abandoned_partials(folder: Path) -> None:
    """Partial files and scratch folders of runs that died (killed, crashed) are never taken
    for renders."""
    for leftover in [*folder.glob(".*.mp4"), *folder.glob(".*.json.tmp")]:
        parts = leftover.name.split(".")
        pid = parts[-3]  # .<name>.<pid>.<kind>.mp4 and .<key>.<pid>.json.tmp
        if not pid.isdigit() or not alive(int(pid)):
            leftover.unlink(missing_ok=True)
    remove_dead_scratch(folder, "audio")
