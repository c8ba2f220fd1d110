"""``storyboard init``: a small working storyboard, its image, its schema and a .gitignore."""

from __future__ import annotations

from pathlib import Path

from storyboard.format.schema import schema_text
from storyboard.samples import draw_scene

__all__ = ["STARTER", "board_name", "init_project", "write_schema"]

STARTER = """\
# yaml-language-server: $schema=storyboard.schema.json
version: 1
title: My first storyboard
output: {{size: 1280x720, fps: 24}}
render: {{backend: previs}}
defaults:
  seconds: 4
  style: 35mm film, muted teal-and-orange palette
  lighting: golden hour, soft rim light, light haze
cast:
  mara: a woman in her thirties, short silver hair, yellow raincoat
shots:
  - id: harbor
    reference: images/reference.png
    framing: {{type: wide, lens: 24mm, height: eye level}}
    action: Mara stands at the end of the pier, looking out to sea
    cast: [mara]
    beats:
      - {{camera: static, seconds: 1}}
      - {{camera: pan-right, seconds: 3}}
    audio:
      ambient: waves against the pier, distant gulls
    transition: {{type: dissolve, seconds: 0.5}}
  - id: portrait
    reference: images/reference.png
    framing: {{type: close-up, lens: 50mm, depth_of_field: shallow}}
    action: Mara turns toward the camera and smiles
    cast: [mara]
    beats:
      - {{camera: dolly-in, seconds: 3, action: she turns toward the camera}}
    audio:
      dialogue: [{{at: 2.5, who: mara, line: "There you are."}}]
    transition: fade-black
"""


def board_name(folder: Path) -> str:
    """The starter board is named after its folder, so each project's edit has its own name
    (``my-film/my-film.yaml`` renders to ``renders/my-film/my-film.mp4``)."""
    return f"{folder.resolve().name or 'storyboard'}.yaml"


def write_schema(folder: Path) -> Path:
    """Write (or refresh, after an upgrade) the schema copy editors validate against offline."""
    schema = folder / "storyboard.schema.json"
    schema.write_text(schema_text(), encoding="utf-8")
    return schema


def init_project(folder: Path) -> list[Path]:
    """Write the starter files into ``folder``; refuses to overwrite anything."""
    board = folder / board_name(folder)
    image = folder / "images" / "reference.png"
    ignore = folder / ".gitignore"
    for path in (board, image):
        if path.exists():
            raise FileExistsError(0, "exists", str(path))
    image.parent.mkdir(parents=True, exist_ok=True)
    draw_scene("harbor-dusk").save(image, optimize=True)
    board.write_text(STARTER.format(), encoding="utf-8")
    schema = write_schema(folder)
    written = [board, image, schema]
    if not ignore.exists() or "renders/" not in ignore.read_text(encoding="utf-8"):
        with ignore.open("a", encoding="utf-8") as f:
            f.write("# storyboard render outputs\nrenders/\n")
        written.append(ignore)
    return written
