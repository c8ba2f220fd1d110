"""Where every shot sits in the edit, in frames, and which parts must be re-encoded.

Pure arithmetic on the storyboard, kept by the edit plan (``storyboard.edit.plan``). A shot's
*body* (whole GOPs untouched by any transition) is copied as it was encoded; everything between
two bodies (the ends of shots around a transition) is a *gap* that is composited and encoded
again.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyboard.format.model import Shot, Transition

__all__ = ["Copy", "EditPlan", "Gap", "Piece", "Span", "plan_edit"]


@dataclass(frozen=True)
class Span:
    """One shot in the edit: its length, start, and the transitions at its ends (in frames)."""

    index: int
    frames: int
    start: int  # first edit frame
    fade_in: int = 0  # frames faded in from a colour (second half of an incoming fade)
    fade_out: int = 0  # frames faded out to a colour (first half of an outgoing fade)
    fade_in_color: str = ""
    fade_out_color: str = ""
    dissolve_in: int = 0  # frames overlapped with the previous shot
    dissolve_out: int = 0  # frames overlapped with the next shot
    cut_in: bool = True  # a hard cut (or the edit's start) at the head
    cut_out: bool = True

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class Piece:
    """Frames [first, last) of shot ``index``."""

    index: int
    first: int
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first


@dataclass(frozen=True)
class Copy:
    piece: Piece


@dataclass(frozen=True)
class Gap:
    pieces: tuple[Piece, ...]
    frames: int  # its length in the edit (dissolves overlap its pieces)


@dataclass(frozen=True)
class EditPlan:
    fps: float
    gop: int
    spans: tuple[Span, ...]
    segments: tuple[Copy | Gap, ...]
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


def plan_edit(shots: tuple[Shot, ...], fps: float, gop: int) -> EditPlan:
    spans = _spans(shots, fps)
    segments: list[Copy | Gap] = []
    pending: list[Piece] = []
    for span in spans:
        head = _round_up(span.dissolve_in + span.fade_in, gop)
        tail_need = span.dissolve_out + span.fade_out
        tail = span.frames if not tail_need else (span.frames - tail_need) // gop * gop
        if head < tail:
            if head:
                pending.append(Piece(span.index, 0, head))
            if pending:
                segments.append(_gap(pending, spans))
                pending = []
            segments.append(Copy(Piece(span.index, head, tail)))
            if tail < span.frames:
                pending.append(Piece(span.index, tail, span.frames))
        else:
            pending.append(Piece(span.index, 0, span.frames))
    if pending:
        segments.append(_gap(pending, spans))
    total = spans[-1].end if spans else 0
    return EditPlan(fps, gop, tuple(spans), tuple(segments), total)


def _spans(shots: tuple[Shot, ...], fps: float) -> list[Span]:
    spans: list[Span] = []
    start = 0
    incoming = Transition()
    for i, shot in enumerate(shots):
        frames = max(1, round(shot.seconds * fps))
        last = i == len(shots) - 1
        out = shot.transition
        length = round(out.seconds * fps)
        fade = out.type.startswith("fade-")
        in_length = round(incoming.seconds * fps)
        span = Span(
            index=i, frames=frames, start=start,
            fade_in=in_length - in_length // 2 if incoming.type.startswith("fade-") else 0,
            fade_in_color=incoming.type.removeprefix("fade-"),
            fade_out=(length if last else length // 2) if fade else 0,
            fade_out_color=out.type.removeprefix("fade-") if fade else "",
            dissolve_in=in_length if incoming.type == "dissolve" else 0,
            dissolve_out=length if out.type == "dissolve" and not last else 0,
            cut_in=incoming.type == "cut" or not in_length,
            cut_out=not last and (out.type == "cut" or not length),
        )  # fmt: skip
        spans.append(span)
        start = span.end - span.dissolve_out
        incoming = out if not last else Transition()
    return spans


def _gap(pieces: list[Piece], spans: list[Span]) -> Gap:
    frames = sum(p.frames for p in pieces)
    frames -= sum(spans[a.index].dissolve_out for a, b in zip(pieces, pieces[1:], strict=False))
    return Gap(tuple(pieces), frames)


def _round_up(frames: int, gop: int) -> int:
    return -(-frames // gop) * gop
