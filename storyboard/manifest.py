"""renders/<stem>/manifest.json: provenance of every render, typed and versioned. Never a secret.

The one module that reads and writes it. ``manifest.json`` is rewritten atomically (a reader sees
the old one or the new one, never half); between two writes each finished shot is appended as one
JSON line to ``manifest.journal``, so a 10,000-shot build does not rewrite the whole file 10,000
times, and a build killed at any point loses no finished shot. Readers replay the journal over the
file. A flock on ``.manifest.lock`` keeps concurrent builds from losing each other's entries.

Version history: 1 (storyboard 0.1.0, no ``manifest_version`` key) → 2 (``manifest_version``,
``media_seconds``); older versions are upgraded when read. A manifest that cannot be read is
treated as absent, with a warning, and kept beside the new one as ``manifest.damaged-*.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from storyboard import __version__
from storyboard.layout import RenderDir

__all__ = [
    "MANIFEST_VERSION",
    "EditEntry",
    "Manifest",
    "ManifestStore",
    "ShotEntry",
    "ShotStatus",
    "file_sha256",
    "known_file_sha256",
    "load_manifest",
    "read_manifest",
    "save_manifest",
]

MANIFEST_VERSION = 2
ShotStatus = Literal["rendered", "failed"]
logger = logging.getLogger(__name__)
JOURNAL_LIMIT = 1 << 20  # bytes of journal after which a run folds it into manifest.json


@dataclass(frozen=True)
class ShotEntry:
    """What the manifest records about one shot's latest render."""

    status: ShotStatus
    render_key: str
    backend: str
    model: str | None
    prompt: str
    size: str
    fps: float
    seconds: float  # the part of the file the edit uses
    media_seconds: float | None = None  # the file's length (longer when it has handles)
    reference: str | None = None
    reference_sha256: str | None = None
    remote_video_id: str | None = None  # the job's id on a hosted backend's server
    error: str | None = None
    error_code: str | None = None
    output: str = ""  # relative to the render folder
    output_sha256: str | None = None
    previous_output_sha256: str | None = None  # a failed rerun: the earlier good file's hash
    take: str | None = None  # the take in the store the shot file is (takes/<key>.mp4)
    # every finished take of the shot: {take, render_key, output}; the exports offer them
    takes: tuple[dict[str, Any], ...] = ()
    circle: int = 1  # which of them the shot file is
    # a 0.1.0 entry: the storyboard 0.1.0 rendered it from (its manifest's storyboard_sha256,
    # kept with the entry because every later run rewrites the manifest's own)
    storyboard_sha256: str | None = None
    # written by 0.1.0: read from a version-1 manifest, or carried over from one by a later
    # write (a rendered entry that names no take); render/upgrade.py may adopt its file
    legacy: bool = field(default=False, compare=False)

    @property
    def rendered(self) -> bool:
        return self.status == "rendered"


@dataclass(frozen=True)
class EditEntry:
    key: str
    output: str
    output_sha256: str
    frames: int
    seconds: float
    slates: tuple[str, ...] = ()
    plan: dict[str, Any] | None = None  # the edit plan it was cut from (edit.plan.plan_record)


@dataclass
class Manifest:
    shots: dict[str, ShotEntry] = field(default_factory=dict)
    edit: EditEntry | None = None
    storyboard: str = ""
    storyboard_sha256: str = ""
    title: str = ""
    backend: str = ""
    tool_version: str = __version__
    manifest_version: int = MANIFEST_VERSION

    def to_json(self, order: Sequence[str] = ()) -> dict[str, Any]:
        """Plain JSON data; shots in ``order`` (the edit's) first, then any others."""
        ids = [i for i in order if i in self.shots] + sorted(set(self.shots) - set(order))
        return {
            "manifest_version": MANIFEST_VERSION,
            "tool_version": __version__,
            "storyboard": self.storyboard,
            "storyboard_sha256": self.storyboard_sha256,
            "title": self.title,
            "backend": self.backend,
            "shots": {i: _entry_json(self.shots[i]) for i in ids},
            "edit": None if self.edit is None else asdict(self.edit),
        }


def _entry_json(entry: ShotEntry) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("legacy")
    return data


# ---- reading ---------------------------------------------------------------------------------


class Damaged(ValueError):
    """The manifest is not one this version can read."""


def read_manifest(folder: RenderDir) -> tuple[Manifest, str | None]:
    """The manifest with its journal replayed, and a warning when it was damaged."""
    try:
        text = folder.manifest.read_text("utf-8")
    except FileNotFoundError:
        manifest, warning = Manifest(), None
    except (OSError, UnicodeDecodeError) as exc:
        manifest, warning = Manifest(), _damaged(folder, str(exc))
    else:
        try:
            manifest, warning = parse_manifest(json.loads(text)), None
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError and Damaged are ValueErrors
            manifest, warning = Manifest(), _damaged(folder, str(exc))
    for shot_id, entry in _journal(folder):
        manifest.shots[shot_id] = entry
    return manifest, warning


def _damaged(folder: RenderDir, why: str) -> str:
    return (
        f"{folder.manifest} is damaged ({why[:200]}); treating it as absent: shots are checked "
        "and rendered again as needed, and the damaged file is kept beside the new one"
    )


def parse_manifest(data: Any) -> Manifest:
    """A Manifest from its JSON data, upgrading older versions; Damaged when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("shots"), dict):
        raise Damaged("not a manifest: no 'shots' mapping")
    version = data.get("manifest_version", 1)
    if not isinstance(version, int) or version < 1:
        raise Damaged(f"unknown manifest_version {version!r}")
    shots = {str(k): parse_entry(v, legacy=version < 2) for k, v in data["shots"].items()}
    if version < 2:
        rendered_from = str(data.get("storyboard_sha256") or "") or None
        shots = {
            k: replace(e, storyboard_sha256=e.storyboard_sha256 or rendered_from)
            for k, e in shots.items()
        }
    edit = data.get("edit")
    return Manifest(
        shots=shots,
        edit=_parse_edit(edit) if isinstance(edit, dict) else None,
        storyboard=str(data.get("storyboard", "")),
        storyboard_sha256=str(data.get("storyboard_sha256", "")),
        title=str(data.get("title", "")),
        backend=str(data.get("backend", "")),
        tool_version=str(data.get("tool_version", "")),
        manifest_version=version,
    )


_ENTRY_FIELDS = {f.name for f in fields(ShotEntry)} - {"legacy"}
_STATUSES = get_args(ShotStatus)


def parse_entry(data: Any, *, legacy: bool = False) -> ShotEntry:
    if not isinstance(data, dict) or data.get("status") not in _STATUSES:
        raise Damaged("a shot entry without a known status")
    known = {k: v for k, v in data.items() if k in _ENTRY_FIELDS}
    if isinstance(known.get("takes"), list):
        known["takes"] = tuple(t for t in known["takes"] if isinstance(t, dict))
    try:
        entry = ShotEntry(
            **{
                "render_key": "",
                "backend": "",
                "model": None,
                "prompt": "",
                "size": "",
                "fps": 0.0,
                "seconds": 0.0,
                **known,
            },
            legacy=legacy,
        )
    except TypeError as exc:
        raise Damaged(str(exc)) from None
    if entry.media_seconds is None:  # version 1 rendered exactly the shot's seconds
        entry = replace(entry, media_seconds=entry.seconds)
    if entry.rendered and entry.take is None:  # every render since 0.1.0 is a take
        entry = replace(entry, legacy=True)
    return entry


def _parse_edit(data: dict[str, Any]) -> EditEntry | None:
    try:
        return EditEntry(
            str(data["key"]),
            str(data["output"]),
            str(data["output_sha256"]),
            int(data.get("frames", 0)),
            float(data.get("seconds", 0)),
            tuple(data.get("slates") or ()),
            data["plan"] if isinstance(data.get("plan"), dict) else None,
        )
    except (KeyError, TypeError, ValueError):
        return None  # the edit is simply stitched again


def _journal(folder: RenderDir) -> Iterator[tuple[str, ShotEntry]]:
    try:
        lines = folder.journal.read_bytes().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            record = json.loads(line)
            yield str(record["shot"]), parse_entry(record["entry"])
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a kill mid-write: that shot is simply not recorded


# ---- writing ---------------------------------------------------------------------------------


class ManifestStore:
    """A render folder's manifest while a run records into it."""

    def __init__(self, folder: RenderDir) -> None:
        self.folder = folder
        self.manifest, self.warning = read_manifest(folder)
        self.order: Sequence[str] = ()  # the edit's order of shots, for the file
        self._changed: set[str] = set()
        self._edit_changed = False

    @property
    def shots(self) -> Mapping[str, ShotEntry]:
        return self.manifest.shots

    def record(self, shot_id: str, entry: ShotEntry) -> None:
        """Note one shot's result durably: one appended line, not a rewrite of the whole file."""
        self.manifest.shots[shot_id] = entry
        self._changed.add(shot_id)
        line = (
            json.dumps(
                {"shot": shot_id, "entry": _entry_json(entry)},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
            + b"\n"
        )
        self.folder.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.folder, fcntl.LOCK_SH):
            fd = os.open(self.folder.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)  # one write: appends never interleave with other runs'
            finally:
                os.close(fd)
        if self.folder.journal.stat().st_size > JOURNAL_LIMIT:
            self.save()

    def set_edit(self, edit: EditEntry) -> None:
        self.manifest.edit, self._edit_changed = edit, True

    def save(self, **header: str) -> None:
        """Fold the journal into manifest.json, keeping what other runs wrote, atomically.

        ``header``: storyboard, storyboard_sha256, title, backend."""
        self.folder.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.folder, fcntl.LOCK_EX):
            if self.warning is not None:
                _keep_damaged(self.folder)
            latest, _ = read_manifest(self.folder)  # with entries other runs wrote meanwhile
            latest.shots.update({i: self.manifest.shots[i] for i in self._changed})
            if self._edit_changed:
                latest.edit = self.manifest.edit
            for name, value in header.items():
                setattr(latest, name, value)
            _write_atomic(self.folder.manifest, latest.to_json(self.order))
            self.folder.journal.unlink(missing_ok=True)
        self.manifest, self.warning = latest, None
        self._changed, self._edit_changed = set(), False


@contextlib.contextmanager
def _locked(folder: RenderDir, how: int) -> Iterator[None]:
    fd = os.open(folder.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _keep_damaged(folder: RenderDir) -> None:
    if folder.manifest.exists():
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        os.replace(folder.manifest, folder.root / f"manifest.damaged-{stamp}-{os.getpid()}.json")


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a manifest is meant to be read
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- as plain JSON data, for callers that work on dicts ---------------------------------------


def load_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of the render folder ``out_dir`` as JSON data, upgraded to this version
    (an empty one when there is none, or when it is damaged: see read_manifest)."""
    manifest, warning = read_manifest(RenderDir(out_dir, ""))
    if warning:
        logger.warning("%s", warning)
        _DAMAGED.add(out_dir.resolve())  # set aside, not overwritten, at the next save
    return manifest.to_json(list(manifest.shots))


_DAMAGED: set[Path] = set()


def save_manifest(out_dir: Path, data: dict[str, Any]) -> None:
    """Write JSON data as the manifest, atomically, typed and versioned on the way."""
    folder = RenderDir(out_dir, "")
    manifest = parse_manifest({**data, "manifest_version": MANIFEST_VERSION})
    folder.root.mkdir(parents=True, exist_ok=True)
    with _locked(folder, fcntl.LOCK_EX):
        if out_dir.resolve() in _DAMAGED:
            _keep_damaged(folder)
            _DAMAGED.discard(out_dir.resolve())
        _write_atomic(folder.manifest, manifest.to_json(list(data.get("shots") or ())))
        folder.journal.unlink(missing_ok=True)


# ---- hashes ----------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def known_file_sha256(path: Path) -> str:
    """file_sha256, read once per process while the file keeps its size and time."""
    stat = path.stat()
    return _sha_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _sha_of(path: Path, size: int, mtime_ns: int) -> str:
    return file_sha256(path)
