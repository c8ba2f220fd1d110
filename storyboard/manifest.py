"""renders/<stem>/manifest.json: provenance of every render, written atomically. Never a secret."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from storyboard import __version__

__all__ = ["MANIFEST", "file_sha256", "load_manifest", "save_manifest"]

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest, or an empty one when there is none yet (or it is unreadable)."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {"shots": {}}
    if not isinstance(data, dict) or not isinstance(data.get("shots"), dict):
        return {"shots": {}}
    return data


def save_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest so that a reader sees the old one or the new one, never half."""
    manifest = {**manifest, "tool_version": __version__}
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".manifest-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a manifest is meant to be read
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, out_dir / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
