"""The take store: every finished render under its render key, and each shot's current pick.

``renders/<stem>/takes/<key>.mp4`` is a render; ``takes/<key>.json`` beside it says what made
it (backend, model, request summary, remote id, timings, cost) and the file's sha256.
``shots/<id>.mp4`` is a hard link to the take the shot uses now (a copy where links fail), so
switching a backend, a model or the lighting and back renders nothing, and two shots that
send the same request share one take. A take counts only when its sidecar exists and its
bytes still have the recorded sha256; the sidecar is written after the file is in place, so a
run killed in between leaves a take that is made again, never one taken for finished.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storyboard.manifest import file_sha256

__all__ = ["TAKES", "TakeStore"]

TAKES = "takes"


class TakeStore:
    """Content-addressed renders of one render folder."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.folder = out_dir / TAKES
        self._checked: dict[tuple[str, int, int], str] = {}  # (key, size, mtime) -> sha256

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.mp4"

    def info(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder / f"{key}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def has(self, key: str) -> bool:
        """A finished take of ``key`` whose bytes are the ones recorded."""
        info = self.info(key)
        return info is not None and self.sha256(key) == info.get("output_sha256")

    def sha256(self, key: str) -> str | None:
        path = self.path(key)
        try:
            stat = path.stat()
        except OSError:
            return None
        marker = (key, stat.st_size, stat.st_mtime_ns)
        if marker not in self._checked:
            self._checked[marker] = file_sha256(path)
        return self._checked[marker]

    def remote_id(self, key: str) -> str | None:
        info = self.info(key) if self.has(key) else None
        return (info or {}).get("remote_video_id")

    def record(self, key: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Write the sidecar of the take now at ``path(key)``: from here on it counts."""
        info = {**meta, "render_key": key, "output_sha256": self.sha256(key)}
        tmp = self.folder / f".{key}.{os.getpid()}.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / f"{key}.json")
        return info

    def pick(self, key: str, dest: Path) -> None:
        """Make ``dest`` the take of ``key`` (a hard link; a copy where links fail)."""
        take = self.path(key)
        if dest.exists() and os.path.samefile(take, dest):
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.link.mp4")
        tmp.unlink(missing_ok=True)
        try:
            os.link(take, tmp)
        except OSError:
            shutil.copyfile(take, tmp)
        os.replace(tmp, dest)

    def keys(self) -> set[str]:
        """Every take on disk (finished or not)."""
        if not self.folder.is_dir():
            return set()
        return {p.stem for p in self.folder.glob("*.mp4") if not p.name.startswith(".")} | {
            p.stem for p in self.folder.glob("*.json") if not p.name.startswith(".")
        }

    def orphans(self, referenced: Iterable[str]) -> list[str]:
        return sorted(self.keys() - set(referenced))

    def size(self, key: str) -> int:
        return sum(
            p.stat().st_size for p in (self.path(key), self.folder / f"{key}.json") if p.exists()
        )

    def remove(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
        (self.folder / f"{key}.json").unlink(missing_ok=True)
