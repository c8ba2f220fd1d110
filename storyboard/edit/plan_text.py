"""The edit plan as a plain-text table, one line per shot (``storyboard plan FILE``)."""

from __future__ import annotations

from storyboard.edit.plan import Plan
from storyboard.edit.timecode import timecode

__all__ = ["plan_table"]


def plan_table(plan: Plan) -> str:
    def tc(frame: int) -> str:
        return timecode(frame, plan.fps)

    header = ("no.", "id", "rec in", "rec out", "src in", "src out", "transition", "media")
    rows = [header]
    for s in plan.shots:
        t = s.transition
        rows.append(
            (
                s.number,
                s.id,
                tc(s.record_in),
                tc(s.record_out),
                tc(s.source_in),
                tc(s.source_out),
                t.type if t.type == "cut" else f"{t.type} {t.frames}f",
                s.media.status,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(
        f"{plan.title}: {len(plan.shots)} shots, {tc(plan.frames)} "
        f"({plan.frames} frames at {plan.fps:g} fps)"
    )
    return "\n".join(lines) + "\n"
