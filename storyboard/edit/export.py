"""``storyboard export``: the edit for an editing room, through OpenTimelineIO and its adapters.

Formats: ``otio`` (OTIO JSON: DaVinci Resolve 18.5+, Premiere Pro 25.6+), ``otioz`` (the same
with the media bundled, to mail), ``edl`` (CMX 3600), ``fcp7xml`` (Final Cut Pro 7 XML, which
Premiere and Resolve import), ``fcpxml`` (Final Cut Pro X) and ``aaf`` (Avid). What a format
cannot hold is said in the warnings instead of being lost silently.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard.edit.plan import Plan
from storyboard.errors import StoryboardError

__all__ = ["FORMATS", "ExportError", "ExportResult", "export_plan"]


class ExportError(StoryboardError):
    """The edit could not be written in the asked format (exit 1)."""


@dataclass(frozen=True)
class Format:
    adapter: str
    suffix: str
    package: str  # the pip package that brings the adapter
    warnings: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {
    "otio": Format("otio_json", ".otio", "opentimelineio"),
    "otioz": Format("otioz", ".otioz", "opentimelineio"),
    "edl": Format(
        "cmx_3600",
        ".edl",
        "otio-cmx3600-adapter",
        (
            "CMX 3600 keeps one picture track: the shot sound (A1) and the music bed (A2) are not "
            "in the EDL; use otio or fcp7xml to carry them",
            "a fade to black is written as a dissolve to black (BL); the storyboard metadata "
            "(prompt, backend, model, render key) is not in an EDL",
        ),
    ),
    "fcp7xml": Format(
        "fcp_xml",
        ".xml",
        "otio-fcp-adapter",
        (
            "FCP 7 XML drops the storyboard metadata (prompt, backend, model, render key) and "
            "marker colours",
        ),
    ),
    "fcpxml": Format(
        "fcpx_xml",
        ".fcpxml",
        "otio-fcpx-xml-adapter",
        (
            "FCPXML drops the storyboard metadata and writes no transitions: dissolves and "
            "fades become cuts",
        ),
    ),
    "aaf": Format(
        "AAF", ".aaf", "otio-aaf-adapter", ("AAF drops the storyboard metadata and the markers",)
    ),
}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    clips: int
    warnings: tuple[str, ...]


def export_plan(plan: Plan, fmt: str, dest: Path) -> ExportResult:
    """Write ``plan`` as ``fmt`` to ``dest`` (atomically: a reader never sees half a file)."""
    import opentimelineio as otio

    from storyboard.edit.timeline import build_timeline

    spec = FORMATS[fmt]
    _check_adapter(otio, fmt, spec)
    timeline = build_timeline(plan)
    warnings = list(spec.warnings)
    warnings += _missing_warnings(plan, fmt)
    writer = _writers(otio).get(fmt, _plain_writer(otio, spec.adapter))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-", suffix=spec.suffix)
    except OSError as exc:
        raise ExportError(
            f"cannot write {dest}: {exc.strerror or exc}; choose another --out"
        ) from None
    os.close(fd)
    os.unlink(tmp)  # otioz refuses to write over a file, even an empty one
    try:
        writer(timeline, Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except StoryboardError:
        raise
    except Exception as exc:  # an adapter's own exception: say which format could not be made
        raise ExportError(f"could not write {fmt}: {type(exc).__name__}: {exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return ExportResult(dest, fmt, len(plan.shots), tuple(warnings))


def _check_adapter(otio: Any, fmt: str, spec: Format) -> None:
    if spec.adapter not in otio.adapters.available_adapter_names():
        raise ExportError(
            f"the {fmt} export needs the OpenTimelineIO adapter "
            f"'{spec.adapter}', which is not installed: pip install "
            f"{spec.package}"
        )


Writer = Callable[[Any, Path], None]


def _plain_writer(otio: Any, adapter: str) -> Writer:
    def write(timeline: Any, path: Path) -> None:
        otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)

    return write


def _writers(otio: Any) -> dict[str, Writer]:
    from opentimelineio.adapters.file_bundle_utils import MediaReferencePolicy

    def otioz(timeline: Any, path: Path) -> None:
        otio.adapters.write_to_file(
            timeline,
            str(path),
            adapter_name="otioz",
            media_policy=MediaReferencePolicy.MissingIfNotFile,
        )

    def edl(timeline: Any, path: Path) -> None:
        # the EDL writer edits the timeline it is given, and reads only the picture track
        only_picture = copy.deepcopy(timeline)
        while len(only_picture.tracks) > 1:
            del only_picture.tracks[-1]
        otio.adapters.write_to_file(
            only_picture, str(path), adapter_name="cmx_3600", style="avid", reelname_len=8
        )

    def aaf(timeline: Any, path: Path) -> None:
        timeline = copy.deepcopy(timeline)
        for track in timeline.tracks:
            for item in track:
                if isinstance(item, otio.schema.Transition):
                    item.metadata["AAF"] = _aaf_dissolve(item, track.kind == "Audio")
                elif isinstance(item, otio.schema.Clip):
                    item.metadata["AAF"] = {"MobID": _mob_id(item.media_reference)}
        otio.adapters.write_to_file(timeline, str(path), adapter_name="AAF")

    return {"otioz": otioz, "edl": edl, "aaf": aaf}


def _mob_id(reference: Any) -> str:
    """A source mob id named by the media file (the same file, the same mob, every export)."""
    import uuid

    import aaf2.mobid

    mob = aaf2.mobid.MobID.new()
    key = getattr(reference, "target_url", None) or f"missing:{reference.name}"
    mob.material = uuid.uuid5(uuid.NAMESPACE_URL, key)
    return str(mob)


def _aaf_dissolve(transition: Any, audio: bool) -> dict[str, Any]:
    """What the AAF writer needs to know of a dissolve: the AAF spec's dissolve effects."""
    ident, name = (
        ("0c3bea41-fc05-11d2-8a29-0050040ef7d2", "Mono Audio Dissolve")
        if audio
        else ("0c3bea40-fc05-11d2-8a29-0050040ef7d2", "Video Dissolve")
    )
    return {
        "CutPoint": int(transition.in_offset.value),
        "PointList": [{"Time": 0, "Value": 0}, {"Time": 1, "Value": 1}],
        "OperationGroup": {
            "Operation": {
                "DataDefinition": {"Name": "Sound" if audio else "Picture"},
                "Description": name,
                "Identification": ident,
                "Name": name,
                "IsTimeWarp": False,
                "Bypass": 1,
                "NumberInputs": 2,
                "OperationCategory": "OperationCategory_Effect",
            }
        },
    }


def _missing_warnings(plan: Plan, fmt: str) -> list[str]:
    missing = [s.id for s in plan.shots if s.media.status != "rendered"]
    if not missing:
        return []
    where = "MissingReference clips" if fmt in ("otio", "otioz") else "offline clips"
    return [
        f"{len(missing)} shot(s) not rendered yet, written as {where} that keep their "
        f"length: {', '.join(missing)} (storyboard render fills them in)"
    ]
