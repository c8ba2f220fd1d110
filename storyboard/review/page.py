"""The review page: a static folder (index.html, its assets, the media) that opens from disk.

Nothing on the page is fetched from anywhere but the folder itself: no server, no CDN, no font
service. The folder is assembled beside its destination and swapped in whole, so a reader never
sees half a page, and a folder that is not a review page is never replaced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from storyboard import __version__
from storyboard.compile import PART_NAMES, ShotPrompt
from storyboard.edit.plan import PlannedShot, build_plan
from storyboard.edit.stitch import edit_path
from storyboard.edit.timecode import timecode
from storyboard.errors import MediaError, StoryboardError
from storyboard.format.model import Shot, Storyboard
from storyboard.manifest import file_sha256, load_manifest
from storyboard.render.takes import Take, shot_takes
from storyboard.review.frames import frame_image, jpeg_bytes

__all__ = ["MARKER", "ReviewPage", "write_review"]

MARKER = ".storyboard-review"  # names a folder this module wrote, and may replace
THUMB_WIDTH = 320
PART_TITLES = {
    "framing": "Framing",
    "action": "Action",
    "timing": "Timing",
    "lighting": "Lighting",
    "audio": "Audio",
}


@dataclass(frozen=True)
class ReviewPage:
    index: Path
    shots: int
    takes: int  # playable takes on the page
    edit: bool  # the edit is on the page (it was stitched and is current)


def write_review(
    board: Storyboard, prompts: Sequence[ShotPrompt], backend: str, out_dir: Path, dest: Path
) -> ReviewPage:
    """Write the review folder ``dest`` from the renders in ``out_dir``."""
    _check_replaceable(dest)
    takes = shot_takes(board, prompts, backend, out_dir)
    staging = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        context = _Assembler(board, prompts, backend, out_dir, staging, takes).context()
        _write_text(staging / "index.html", _template().render(context))
        _copy_assets(staging / "assets")
        (staging / MARKER).write_text("written by storyboard review; safe to delete\n")
        _swap_in(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    playable = sum(t.playable for group in takes.values() for t in group)
    return ReviewPage(dest / "index.html", len(board.shots), playable, bool(context["edit"]["src"]))


class _Assembler:
    """Gathers what the template shows, and copies each video and still into the folder."""

    def __init__(
        self,
        board: Storyboard,
        prompts: Sequence[ShotPrompt],
        backend: str,
        out_dir: Path,
        root: Path,
        takes: dict[str, tuple[Take, ...]],
    ) -> None:
        self.board, self.backend, self.out_dir, self.root = board, backend, out_dir, root
        self.prompts = dict(zip((s.id for s in board.shots), prompts, strict=True))
        self.takes = takes
        self.manifest = load_manifest(out_dir)
        self.plan = build_plan(board, self.manifest, out_dir)
        self.height = round(THUMB_WIDTH * board.output.height / board.output.width)
        (root / "media").mkdir(parents=True)
        (root / "thumbs").mkdir()

    def context(self) -> dict[str, Any]:
        board = self.board
        shots = [self._shot(planned) for planned in self.plan.shots]
        costs = [t.cost for group in self.takes.values() for t in group]
        return {
            "version": __version__, "title": board.title, "description": board.description,
            "size": board.output.size, "fps": f"{board.output.fps:g}", "backend": self.backend,
            "model": board.render.model, "source": board.path.name, "sha": board.sha256[:12],
            "cost": "cost unknown" if None in costs else _money(sum(c or 0 for c in costs)),
            "edit": self._edit(), "shots": shots,
            "thumb_width": THUMB_WIDTH, "thumb_height": self.height,
        }  # fmt: skip

    def _edit(self) -> dict[str, Any]:
        seconds = self.plan.seconds
        info: dict[str, Any] = {
            "seconds": f"{seconds:.6f}",
            "length": _length(seconds),
            "src": "",
            "missing": "",
        }
        path = edit_path(self.board, self.out_dir)
        recorded = self.manifest.get("edit") or {}
        if not path.is_file():
            info["missing"] = "The edit is not stitched yet: run storyboard stitch (or build)."
        elif recorded.get("frames") != self.plan.frames or recorded.get(
            "output_sha256"
        ) != file_sha256(path):
            info["missing"] = (
                "The edit on disk is older than the storyboard: run storyboard "
                "stitch to bring it up to date."
            )
        else:
            info["src"] = self._media(path, f"media/{self.board.stem}.mp4")
        return info

    def _shot(self, planned: PlannedShot) -> dict[str, Any]:
        shot, fps = planned.shot, self.plan.fps
        first, last = planned.record_in, planned.record_out
        prompt = self.prompts[shot.id]
        takes = self.takes[shot.id]
        circled = next((t for t in takes if t.circled), None)
        anchor = f"shot-{shot.id}"
        cards = [self._take(shot, t) for t in takes]
        poster = next((t["poster"] for t in cards if t["circled"] and t["poster"]), "")
        return {
            "id": shot.id, "number": planned.number, "anchor": anchor,
            "in_seconds": f"{first / fps:.6f}", "tc_in": timecode(first, fps),
            "tc_out": timecode(last, fps), "length": f"{shot.seconds:g} s",
            "transition": _transition(shot), "backend": self.backend,
            "model": self.board.render.model, "cost": _cost(takes),
            "parts": [(PART_TITLES[n], getattr(prompt, n)) for n in PART_NAMES]
            + [(name, text) for name, text in (
                ("Style", prompt.style.removeprefix("Style:").strip()),
                ("Keep / change", prompt.constraints), ("Edit", prompt.edit)) if text],
            "beats": [{"at": f"{b.start:g} s", "camera": b.camera, "seconds": f"{b.seconds:g} s",
                       "action": b.action} for b in shot.beats],
            "dialogue": [{"at": f"{d.at:g} s", "who": d.who, "line": d.line}
                         for d in shot.audio.dialogue],
            "notes": shot.notes, "problem": _problem(circled),
            "takes": cards, "thumb": poster or self._still(shot),
        }  # fmt: skip

    def _take(self, shot: Shot, take: Take) -> dict[str, Any]:
        src = poster = ""
        if take.playable:
            name = f"{shot.number}-{shot.id}-take{take.number}"
            src = self._media(take.path, f"media/{name}.mp4")
            poster = self._thumb(lambda: frame_image(take.path, 0.0, THUMB_WIDTH), name)
        return {
            "number": take.number,
            "circled": take.circled,
            "state": take.state,
            "cost": _money(take.cost),
            "src": src,
            "poster": poster,
            "why": _why(take),
        }

    def _still(self, shot: Shot) -> str:
        """The reference image stands in for a shot with no playable circled take."""
        reference = shot.reference
        if reference is None:
            return ""
        return self._thumb(
            lambda: _reference_still(reference, THUMB_WIDTH, self.height),
            f"{shot.number}-{shot.id}-reference",
        )

    def _thumb(self, make: Callable[[], Any], name: str) -> str:
        try:
            image = make()
        except (MediaError, OSError):
            return ""
        path = f"thumbs/{name}.jpg"
        (self.root / path).write_bytes(jpeg_bytes(image))
        return path

    def _media(self, source: Path, name: str) -> str:
        """A copy of ``source`` in the folder (a hard link where the file system allows)."""
        target = self.root / name
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        return name


def _reference_still(path: Path, width: int, height: int):
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return ImageOps.fit(image.convert("RGB"), (width, height))


def _problem(take: Take | None) -> dict[str, str] | None:
    if take is None:
        return {"title": "No take", "text": "this shot has no takes"}
    if take.state == "failed":
        title = "Blocked" if take.error_code == "moderation_blocked" else "Failed"
        return {"title": title, "text": take.error or "the render failed"}
    if take.state == "missing":
        return {"title": "Not rendered", "text": "run storyboard render to make this take"}
    if take.state == "stale":
        return {
            "title": "Stale",
            "text": "the storyboard changed since this take was rendered; "
            "storyboard render makes it again",
        }
    return None


def _why(take: Take) -> str:
    if take.state == "failed":
        return f"failed: {take.error}" if take.error else "failed"
    return "not rendered yet" if take.state == "missing" else "no video on disk"


def _transition(shot: Shot) -> str:
    t = shot.transition
    return "" if t.type == "cut" and not t.seconds else f"{t.type} {t.seconds:g} s"


def _cost(takes: Sequence[Take]) -> str:
    costs = [t.cost for t in takes]
    return "unknown" if None in costs else _money(sum(c or 0 for c in costs))


def _money(value: float | None) -> str:
    return "cost unknown" if value is None else f"${value:.2f}"


def _length(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.1f} s" if minutes else f"{rest:.2f} s"


def _template():
    import jinja2

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(_asset("review.html.j2"))


def _asset(name: str) -> str:
    return resources.files("storyboard.review").joinpath("assets", name).read_text("utf-8")


def _copy_assets(folder: Path) -> None:
    folder.mkdir()
    for name in ("review.css", "review.js"):
        _write_text(folder / name, _asset(name))


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _check_replaceable(dest: Path) -> None:
    if (
        dest.exists()
        and not (dest / MARKER).is_file()
        and (not dest.is_dir() or any(dest.iterdir()))
    ):
        raise StoryboardError(
            f"{dest} exists and is not a review folder written by storyboard; "
            "choose another --dest or remove it"
        )


def _swap_in(staging: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)
