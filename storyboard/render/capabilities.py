"""What a backend (with a given model) can render, as data that validation checks offline."""

from __future__ import annotations

from dataclasses import dataclass, replace

from storyboard.format.model import RenderSettings

__all__ = ["Capabilities"]


@dataclass(frozen=True)
class Capabilities:
    """Limits of one backend/model. ``None`` means "any"."""

    durations: tuple[float, ...] | None = None  # exact allowed durations, e.g. (4, 8, 12)
    sizes: tuple[str, ...] | None = None  # exact allowed WIDTHxHEIGHT
    aspect_ratios: tuple[str, ...] | None = None  # e.g. ("16:9", "9:16"): any size of that shape
    even_sizes: bool = False  # H.264 yuv420p needs even dimensions
    first_frame: bool = True  # a reference image can anchor the first frame
    remix: bool = False  # remix_of: a focused edit of an earlier render
    extend: bool = False  # extend_of: continue an earlier render
    audio: bool = False  # the backend makes sound
    price_per_second: float | None = None  # USD; None when unknown (silent, if sound costs more)
    last_frame: bool = False  # an end frame can anchor the last frame
    reference_images: int = 0  # extra reference images (characters, objects) the model takes
    seed: bool = False  # a seed is sent: takes can be reproduced
    audio_price_per_second: float | None = None  # USD with sound; None: as price_per_second
    wait: float = 0.0  # assumed turnaround of one job in seconds (estimates only)

    def overridden(self, render: RenderSettings) -> Capabilities:
        """These capabilities with the storyboard's render.preset and render.capabilities."""
        changes: dict[str, object] = {}
        preset = render.preset or {}
        if preset.get("durations"):
            changes["durations"] = tuple(float(d) for d in preset["durations"])
        if preset.get("aspect_ratios"):
            changes["aspect_ratios"] = tuple(preset["aspect_ratios"])
        for name in ("price_per_second", "wait", "audio", "audio_price_per_second"):
            if preset.get(name) is not None:
                changes[name] = preset[name]
        if "end_image_field" in preset or "last_frame_model" in preset:
            changes["last_frame"] = bool(
                preset.get("end_image_field") or preset.get("last_frame_model")
            )
        if "seed_field" in preset:
            changes["seed"] = bool(preset["seed_field"])
        if render.sizes is not None:
            changes["sizes"] = render.sizes
        if render.durations is not None:
            changes["durations"] = render.durations
        for name in ("price_per_second", "remix", "extend"):
            if getattr(render, name) is not None:
                changes[name] = getattr(render, name)
        return replace(self, **changes)  # type: ignore[arg-type]

    def render_seconds(self, seconds: float, mode: str = "trim") -> float:
        """What to render for a shot of ``seconds``: the shortest allowed length that holds it
        (``trim``: the edit uses its first ``seconds``, the rest is handle), else ``seconds``."""
        if self.durations is None or mode != "trim":
            return seconds
        fitting = [d for d in self.durations if d >= seconds - 1e-9]
        return min(fitting) if fitting else seconds

    def duration_problem(self, seconds: float, mode: str = "trim") -> str | None:
        if self.durations is None or any(abs(seconds - d) < 1e-9 for d in self.durations):
            return None
        allowed = ", ".join(f"{d:g}" for d in self.durations)
        longest = max(self.durations)
        if seconds > longest + 1e-9:
            return (
                f"{seconds:g} s is longer than the longest length the model renders "
                f"({longest:g} s; allowed: {allowed} s); split the shot, or continue it "
                "in a shot with extend_of"
            )
        if mode == "trim":
            return None
        return (
            f"{seconds:g} s cannot be rendered; allowed durations: {allowed} s "
            "(render.duration: trim renders the next longer one and uses its start)"
        )

    def size_problem(self, width: int, height: int) -> str | None:
        size = f"{width}x{height}"
        if self.sizes is not None and size not in self.sizes:
            return f"{size} cannot be rendered; allowed sizes: {', '.join(self.sizes)}"
        if self.aspect_ratios is not None and not any(
            abs(width / height - _ratio(r)) < 0.01 for r in self.aspect_ratios
        ):
            return (
                f"{size} is not of an aspect ratio the model renders: "
                f"{', '.join(self.aspect_ratios)}"
            )
        if self.even_sizes and (width % 2 or height % 2):
            return f"{size} has an odd side; H.264 needs even width and height"
        return None


def _ratio(text: str) -> float:
    w, h = text.split(":")
    return float(w) / float(h)
