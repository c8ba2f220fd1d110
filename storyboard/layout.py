"""The layout of a render folder, ``renders/<stem>/``: the one place that names its files.

```
renders/<stem>/
  manifest.json        provenance of every render (storyboard.manifest reads and writes it)
  manifest.journal     shot results since manifest.json was last written, one JSON per line
  shots/<id>.mp4       the current render of each shot
  takes/               renders kept by render key
  jobs/<id>.json       the handle of a hosted job under way
  slates/<id>-<k>.mp4  titled cards standing in for missing shots
  <stem>.mp4           the edit (<stem>.<target>.mp4 for a render target)
  review/              the static review page
  <stem>-contact.png   the contact sheet (or .pdf)
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RenderDir"]


@dataclass(frozen=True)
class RenderDir:
    """Paths inside one storyboard's render folder; building a RenderDir touches no disk."""

    root: Path
    stem: str
    target: str | None = None  # each render target's edit is its own file

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def journal(self) -> Path:
        return self.root / "manifest.journal"

    @property
    def lock(self) -> Path:
        return self.root / ".manifest.lock"

    @property
    def shots(self) -> Path:
        return self.root / "shots"

    def shot(self, shot_id: str) -> Path:
        return self.shots / f"{shot_id}.mp4"

    @property
    def takes(self) -> Path:
        return self.root / "takes"

    def take(self, render_key: str) -> Path:
        return self.takes / f"{render_key}.mp4"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def job(self, shot_id: str) -> Path:
        return self.jobs / f"{shot_id}.json"

    @property
    def slates(self) -> Path:
        return self.root / "slates"

    def slate(self, shot_id: str, key: str) -> Path:
        return self.slates / f"{shot_id}-{key}.mp4"

    @property
    def edit(self) -> Path:
        name = f"{self.stem}.{self.target}.mp4" if self.target else f"{self.stem}.mp4"
        return self.root / name

    @property
    def review(self) -> Path:
        return self.root / "review"

    def contact_sheet(self, fmt: str) -> Path:
        return self.root / f"{self.stem}-contact.{fmt}"

    def relative(self, path: Path) -> str:
        """``path`` as the manifest records it: relative to the folder, with forward slashes."""
        return path.relative_to(self.root).as_posix()
