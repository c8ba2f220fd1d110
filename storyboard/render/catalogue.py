"""The models each backend knows, as plain data: what ``storyboard models`` prints and what the
README's "Choosing a model" section is generated from (a test keeps the two the same).

A backend lists its models with a ``models()`` classmethod and may ``describe(model)`` them
(a label, its resolution tiers, notes, what could not be verified); a backend without a table
is listed once, with the capabilities of its default model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storyboard.render.capabilities import Capabilities
from storyboard.render.registry import available, load_backend

__all__ = ["ModelInfo", "as_json", "catalogue", "markdown", "table"]


@dataclass(frozen=True)
class ModelInfo:
    backend: str
    model: str  # "" for a backend's default model when it has no table
    label: str
    caps: Capabilities
    resolutions: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()


def catalogue(backend: str | None = None) -> list[ModelInfo]:
    """Every model of ``backend`` (all installed backends when None), in table order."""
    entries: list[ModelInfo] = []
    for name in [backend] if backend else available():
        cls = load_backend(name)
        models = cls.models() if hasattr(cls, "models") else ("",)
        for model in models:
            about: dict[str, Any] = cls.describe(model) if hasattr(cls, "describe") else {}
            entries.append(
                ModelInfo(
                    name,
                    model,
                    str(about.get("label") or model or "(default)"),
                    cls.capabilities(model or None),
                    tuple(about.get("resolutions") or ()),
                    tuple(about.get("unverified") or ()),
                )
            )
    return entries


def _durations(caps: Capabilities) -> str:
    if caps.durations is None:
        return "any"
    whole = [round(d) for d in caps.durations]
    if len(whole) > 3 and whole == list(range(whole[0], whole[-1] + 1)):
        return f"{whole[0]}-{whole[-1]} s"
    return ", ".join(f"{d:g}" for d in caps.durations) + " s"


def _shapes(info: ModelInfo) -> str:
    caps = info.caps
    shapes = ", ".join(caps.sizes or caps.aspect_ratios or ()) or "any"
    if caps.aspect_ratios is None and caps.sizes is None and info.backend not in ("previs",):
        shapes = "any (follows the first frame)" if info.model else "any"
    return shapes + (f" at {'/'.join(info.resolutions)}" if info.resolutions else "")


def _money(value: float) -> str:
    return f"${value:.2f}" if round(value, 2) == value else f"${value:.4g}"


def _price(caps: Capabilities, flagged: bool) -> str:
    mark = "?" if flagged else ""
    if not caps.price_per_second:
        return "unknown" if caps.wait and caps.price_per_second is None else "free"
    silent = _money(caps.price_per_second) + mark
    if caps.audio_price_per_second is not None and caps.audio:
        return f"{silent} / {_money(caps.audio_price_per_second)}{mark} with sound"
    return silent


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


def _row(info: ModelInfo) -> list[str]:
    caps = info.caps
    flagged = any("price" in u for u in info.unverified)
    return [
        info.backend,
        info.model or "(default)",
        info.label,
        _durations(caps),
        _shapes(info),
        _price(caps, flagged),
        _yes(caps.last_frame),
        _yes(caps.audio),
        _yes(caps.seed),
        str(caps.reference_images) if caps.reference_images else "-",
    ]


HEADERS = [
    "backend",
    "model",
    "name",
    "durations",
    "shapes",
    "USD per second",
    "last frame",
    "sound",
    "seed",
    "extra refs",
]


def table(entries: Sequence[ModelInfo]) -> str:
    """A plain-text table, one model a line."""
    rows = [HEADERS] + [_row(e) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines) + "\n\n? a price that could not be checked against the vendor's page\n"


def markdown(entries: Sequence[ModelInfo]) -> str:
    """The same table in Markdown, for the README."""
    rows = [HEADERS, ["---"] * len(HEADERS)] + [
        [f"`{c}`" if i == 1 and e.model else c for i, c in enumerate(_row(e))] for e in entries
    ]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"


def as_json(entries: Sequence[ModelInfo]) -> list[dict[str, Any]]:
    return [
        {
            "backend": e.backend,
            "model": e.model or None,
            "label": e.label,
            "durations": list(e.caps.durations) if e.caps.durations is not None else None,
            "sizes": list(e.caps.sizes) if e.caps.sizes is not None else None,
            "aspect_ratios": list(e.caps.aspect_ratios) if e.caps.aspect_ratios else None,
            "resolutions": list(e.resolutions) or None,
            "price_per_second": e.caps.price_per_second,
            "audio_price_per_second": e.caps.audio_price_per_second,
            "first_frame": e.caps.first_frame,
            "last_frame": e.caps.last_frame,
            "audio": e.caps.audio,
            "seed": e.caps.seed,
            "reference_images": e.caps.reference_images,
            "remix": e.caps.remix,
            "extend": e.caps.extend,
            "unverified": list(e.unverified),
        }
        for e in entries
    ]
