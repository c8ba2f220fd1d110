"""The shot list: one row per shot with its timecodes in the edit, as Markdown, CSV or HTML.

The HTML version is one self-contained file: each thumbnail (the shot's first rendered frame
when there is a render, else its reference image) is embedded as a data URI.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storyboard.edit.plan import Plan, PlannedShot, build_plan
from storyboard.edit.timecode import timecode
from storyboard.format.model import Shot, Storyboard
from storyboard.manifest import load_manifest
from storyboard.media import ffmpeg_exe

__all__ = ["COLUMNS", "Row", "shot_rows", "render_shotlist", "shotlist_record"]

COLUMNS = (
    "#",
    "id",
    "type",
    "lens",
    "camera",
    "seconds",
    "in",
    "out",
    "transition",
    "cast",
    "source",
    "action",
    "lighting",
    "audio",
    "music",
    "notes",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


@dataclass(frozen=True)
class Row:
    shot: Shot | None  # None on the total running time row
    values: tuple[str, ...]


def shot_rows(board: Storyboard, plan: Plan | None = None) -> list[Row]:
    """One row per shot in edit order (in/out are the cut points), then the running time."""
    plan = plan or build_plan(board)
    rows = [Row(p.shot, _values(board, p, plan.fps)) for p in plan.shots]
    total = [
        "TRT",
        "total running time",
        "",
        "",
        "",
        f"{plan.seconds:g}",
        timecode(0, plan.fps),
        timecode(plan.frames, plan.fps),
    ]
    rows.append(Row(None, (*total, *[""] * (len(COLUMNS) - len(total)))))
    return rows


def _values(board: Storyboard, planned: PlannedShot, fps: float) -> tuple[str, ...]:
    shot, f, t = planned.shot, planned.shot.framing, planned.transition
    source = (
        f"remix of {shot.remix_of}: {shot.edit}"
        if shot.remix_of
        else f"extends {shot.extend_of}"
        if shot.extend_of
        else ""
    )
    music = shot.audio.music or (board.music.cue if board.music else "")
    return (
        planned.number, shot.id, f.type or f.text, f.lens,
        ", ".join(f"{b.camera} {b.seconds:g}s" for b in shot.beats) or "static",
        f"{shot.seconds:g}", timecode(planned.record_in, fps), timecode(planned.record_out, fps),
        t.type if t.type == "cut" else f"{t.type} {t.frames / fps:g}s", ", ".join(shot.cast),
        source, shot.action or shot.edit, _lighting(shot), _audio(shot), music, shot.notes,
    )  # fmt: skip


def render_shotlist(board: Storyboard, fmt: str, out_dir: Path) -> str:
    plan = build_plan(board, load_manifest(out_dir), out_dir)
    rows = shot_rows(board, plan)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([_inert(v) for v in r.values] for r in rows)
        return buffer.getvalue()
    if fmt == "html":
        return _html(board, rows, out_dir)
    return _markdown(board, rows)


def shotlist_record(board: Storyboard, out_dir: Path) -> dict[str, object]:
    """The shot list as JSON-able data: one mapping per shot keyed by column, and the total."""
    plan = build_plan(board, load_manifest(out_dir), out_dir)
    rows = [dict(zip(COLUMNS, r.values, strict=True)) for r in shot_rows(board, plan)]
    return {
        "title": board.title,
        "columns": list(COLUMNS),
        "shots": rows[:-1],
        "total": {"seconds": plan.seconds, "frames": plan.frames, "out": rows[-1]["out"]},
    }


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text: a leading ' stops =, +, -, @ starting a formula."""
    return f"'{cell}" if cell.startswith(_FORMULA) else cell


def _lighting(shot: Shot) -> str:
    lit = shot.lighting
    return lit.text or ", ".join(v for v in (lit.time, lit.key, lit.atmosphere, lit.palette) if v)


def _audio(shot: Shot) -> str:
    a = shot.audio
    cues = [a.text, a.ambient and f"ambient: {a.ambient}", a.music and f"music: {a.music}"]
    cues += [f"{c.at:g}s sfx: {c.cue}" for c in a.sfx]
    cues += [f"{d.at:g}s {d.who or 'line'}: “{d.line}”" for d in a.dialogue]
    return "; ".join(c for c in cues if c)


def _markdown(board: Storyboard, rows: list[Row]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# {board.title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(v) for v in r.values) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# Printed: A4 landscape; every column wraps inside the page (long notes included), rows are
# never split across pages, and the header row repeats on each page.
PRINT_CSS = """@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { margin: 0; font-size: 8pt; line-height: 1.25; }
  h1 { font-size: 13pt; margin: 0 0 3mm; }
  th, td { padding: 1mm; overflow-wrap: break-word; }
  td.long { overflow-wrap: anywhere; }
  img { width: 30mm; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
"""


def _cell(value: str) -> str:
    """A cell; one holding a very long word (a URL) may break it anywhere, so it never clips."""
    long = any(len(word) > 24 for word in value.split())
    attribute = ' class="long"' if long else ""
    return f"<td{attribute}>{html.escape(value)}</td>"


def _html(board: Storyboard, rows: list[Row], out_dir: Path) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("frame", *COLUMNS))
    body = []
    for row in rows:
        thumb = _thumbnail(row.shot, out_dir) if row.shot else ""
        img = f'<img alt="{html.escape(row.shot.id)}" src="{thumb}">' if row.shot and thumb else ""
        cells = "".join(_cell(v) for v in row.values)
        body.append(f"<tr><td>{img}</td>{cells}</tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(board.title)} — shot list</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .4rem; vertical-align: top; text-align: left; }}
th {{ background: #f3f3f3; }} img {{ width: 192px; display: block; }}
{PRINT_CSS}</style></head><body>
<h1>{html.escape(board.title)}</h1>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def _thumbnail(shot: Shot, out_dir: Path) -> str:
    """A small JPEG data URI of the first rendered frame, or of the reference image."""
    render = out_dir / "shots" / f"{shot.id}.mp4"
    data = b""
    if render.is_file():
        result = subprocess.run(
            [
                ffmpeg_exe(),
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                str(render),
                "-frames:v",
                "1",
                "-vf",
                "scale=384:-2",
                "-f",
                "image2pipe",
                "-c:v",
                "mjpeg",
                "-",
            ],
            capture_output=True,
        )
        data = result.stdout if result.returncode == 0 else b""
    if not data and shot.reference is not None:
        from PIL import Image

        with Image.open(shot.reference) as image:
            image = image.convert("RGB")
            image.thumbnail((384, 384))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=80)
            data = buffer.getvalue()
    return f"data:image/jpeg;base64,{base64.b64encode(data).decode()}" if data else ""
