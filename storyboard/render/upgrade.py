"""Hosted renders made by storyboard 0.1.0, taken over without being paid for again.

0.1.0 kept one file per shot (``shots/<id>.mp4``) and a manifest entry saying what it sent:
prompt, backend, model, size, fps, seconds, the reference's sha256, the remote video id and
the file's sha256. Its render keys hashed other things than today's, so they never match a
current key. A 0.1.0 render becomes the take of the current render key only when its entry
proves that the current job would send the very same request; whatever differs, or whatever
the entry cannot vouch for, leaves the shot stale as before (it is rendered again).

For ``openai`` (0.1.0 sent model, prompt, seconds, size and the reference fitted to the size):

- the request is rebuilt from the entry and compared, field by field, with the one the current
  backend would send (a changed prompt, or a field the current request adds, is a difference);
- the reference image by its sha256; its ``fit`` is in no entry, so a shot with a reference is
  taken over only while the storyboard file is the one 0.1.0 rendered (0.1.0's manifest's
  ``storyboard_sha256``, kept with each entry: later runs rewrite the manifest's own). 0.1.0
  itself rewrote it on every run, so a ``fit`` changed under 0.1.0 before rendering only other
  shots cannot be seen here;
- the video: the shot file still has the recorded sha256, a remote id, and probes as the job's
  size and length.

Not taken over: derived shots (their entry does not record the source id they were sent with),
renders on other hosted backends (their 0.1.0 requests are not rebuilt here), and previs renders
(they cost nothing: made again once).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard.errors import StoryboardError
from storyboard.format.model import Shot, Storyboard
from storyboard.layout import RenderDir
from storyboard.manifest import ShotEntry, file_sha256, known_file_sha256, read_manifest
from storyboard.media import probe
from storyboard.render.base import Backend, RenderJob
from storyboard.render.identity import Identities
from storyboard.render.output import check_probe
from storyboard.render.store import TakeStore

__all__ = ["Legacy", "adopt", "legacy_renders"]

V010_OPENAI_MODEL = "sora-2"  # what 0.1.0 sent when the storyboard named no model
ADOPTED = "storyboard 0.1.0"


@dataclass(frozen=True)
class Legacy:
    """A 0.1.0 render that is exactly the current job's: its file becomes the job's take."""

    job: RenderJob
    path: Path  # shots/<id>.mp4, as 0.1.0 left it
    entry: ShotEntry


@dataclass(frozen=True)
class Found:
    adoptable: dict[str, Legacy]  # by shot id
    refused: dict[str, str]  # shot id -> why its hosted 0.1.0 render is rendered again

    def keys(self) -> set[str]:
        return {legacy.job.render_key for legacy in self.adoptable.values()}


def legacy_renders(board: Storyboard, ids: Identities, out_dir: Path) -> Found:
    """The shots whose 0.1.0 render the current job would send again (read only)."""
    manifest, _ = read_manifest(RenderDir(out_dir, ""))
    adoptable, refused = {}, {}
    for shot in board.shots:
        entry = manifest.shots.get(shot.id)
        if (
            entry is None
            or not entry.legacy
            or not ids.hosted
            or entry.backend != ids.backend_cls.name
        ):
            continue  # nothing of 0.1.0's, or previs (made again), or another backend's
        job = ids.take(shot, 1)  # 0.1.0 knew one take a shot
        if ids.store.has(job.render_key):
            continue
        path = out_dir / "shots" / f"{shot.id}.mp4"
        why = _differs(board, ids.backend_cls, entry, job, path)
        if why is None:
            adoptable[shot.id] = Legacy(job, path, entry)
        else:
            refused[shot.id] = why
    return Found(adoptable, refused)


def _differs(
    board: Storyboard,
    backend_cls: type[Backend],
    entry: ShotEntry,
    job: RenderJob,
    path: Path,
) -> str | None:
    """Why the 0.1.0 render is not the current job's, or None when every fact matches."""
    shot = job.shot
    rebuild = V010_REQUESTS.get(entry.backend)
    if rebuild is None:
        return f"0.1.0 renders on {entry.backend} are not recognised"
    if shot.source:
        return "a remix or extension: 0.1.0 did not record the source video it was sent with"
    if not entry.remote_video_id:
        return "its 0.1.0 entry has no remote video id"
    if not path.is_file() or file_sha256(path) != entry.output_sha256:
        return f"{path.name} is not the file 0.1.0 recorded"
    why = _reference_differs(board, shot, entry)
    if why:
        return why
    if entry.fps != job.output.fps:
        return f"0.1.0 rendered it at {entry.fps:g} fps, the storyboard now asks {job.output.fps:g}"
    try:
        current = dict(backend_cls.key_material(job))
    except StoryboardError as exc:
        return str(exc)
    request = rebuild(entry, current)
    if {"request": request, "source_remote_id": None} != current:
        return "0.1.0 sent " + _difference(request, current.get("request") or {})
    try:
        check_probe(probe(path), job)
    except StoryboardError as exc:
        return f"{path.name}: {exc}"
    return None


def _reference_differs(board: Storyboard, shot: Shot, entry: ShotEntry) -> str | None:
    if shot.reference is None:
        return "0.1.0 sent a reference image, the shot has none" if entry.reference_sha256 else None
    if entry.reference_sha256 != known_file_sha256(shot.reference):
        return f"{shot.reference.name} is not the reference image 0.1.0 sent"
    if entry.storyboard_sha256 != board.sha256:  # the only record of the reference's fit
        return (
            "the storyboard changed since 0.1.0 rendered it, and 0.1.0 did not record how "
            "the reference was fitted (fit: cover or contain)"
        )
    return None


def _difference(sent: dict[str, Any], current: dict[str, Any]) -> str:
    """Which parts of the request differ: 'prompt', 'seconds, size'."""
    old, new = sent.get("form") or {}, current.get("form") or {}
    fields = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    where = [k for k in ("method", "path") if sent.get(k) != current.get(k)]
    return "another " + (", ".join([*where, *fields]) or "request")


def _openai_v010(entry: ShotEntry, current: dict[str, Any]) -> dict[str, Any]:
    """The create 0.1.0's openai backend sent for a plain shot, from its manifest entry."""
    form: dict[str, Any] = {
        "model": entry.model or V010_OPENAI_MODEL,
        "prompt": entry.prompt,
        "seconds": f"{entry.seconds:g}",
        "size": entry.size,
    }
    if entry.reference_sha256:  # the same file, fitted the same way: vouched for above
        fitted = ((current.get("request") or {}).get("form") or {}).get("input_reference")
        if fitted is not None:
            form["input_reference"] = fitted
    return {"method": "POST", "path": "/videos", "form": form}


V010_REQUESTS: dict[str, Callable[[ShotEntry, dict[str, Any]], dict[str, Any]]] = {
    "openai": _openai_v010
}


def adopt(store: TakeStore, legacy: Legacy) -> bool:
    """Make the 0.1.0 file the take of the job's key; the shot file itself is left in place."""
    key, entry = legacy.job.render_key, legacy.entry
    take = store.path(key)
    take.parent.mkdir(parents=True, exist_ok=True)
    tmp = take.with_name(f".{key}.{os.getpid()}.adopt.mp4")
    tmp.unlink(missing_ok=True)
    try:
        os.link(legacy.path, tmp)
    except OSError:
        shutil.copyfile(legacy.path, tmp)
    if file_sha256(tmp) != entry.output_sha256:  # changed since it was checked: not ours
        tmp.unlink(missing_ok=True)
        return False
    os.replace(tmp, take)
    store.record(
        key,
        {
            "backend": entry.backend,
            "model": entry.model,
            "prompt": entry.prompt,
            "size": entry.size,
            "fps": entry.fps,
            "seconds": entry.seconds,
            "media_seconds": entry.media_seconds,
            "reference": entry.reference,
            "reference_sha256": entry.reference_sha256,
            "remote_video_id": entry.remote_video_id,
            "elapsed": None,
            "cost": None,
            "created": legacy.path.stat().st_mtime,
            "take": 1,
            "seed": None,
            "adopted": ADOPTED,
        },
    )
    return True
