"""Camera moves as math: where the virtual camera looks at time t, as a 3x3 homography.

Pure functions of the beats; no images here. Coordinates: output pixels with the origin at the
frame's centre, y down. A positive ``tx`` moves the view right, so the picture slides left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from storyboard.format.model import Beat

__all__ = ["CameraState", "camera_at", "ease", "homography", "reach", "MOVE_DELTAS"]


@dataclass(frozen=True)
class CameraState:
    tx: float = 0.0  # view centre offset, fraction of frame width
    ty: float = 0.0  # fraction of frame height
    log_zoom: float = 0.0
    rot: float = 0.0  # degrees
    gx: float = 0.0  # perspective (keystone) terms: pans and orbits swing, dollies go deep
    gy: float = 0.0
    focus: float = 0.0  # 0 = foreground sharp, 1 = background sharp (rack focus)
    yaw: float = 0.0  # degrees the picture plane turns about the vertical axis through its centre

    def __add__(self, other: CameraState) -> CameraState:
        return CameraState(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def scaled(self, k: float) -> CameraState:
        return CameraState(*(v * k for v in self._values()))

    def _values(self) -> tuple[float, ...]:
        return (self.tx, self.ty, self.log_zoom, self.rot, self.gx, self.gy, self.focus, self.yaw)


# The full move of each camera verb at the default amount (0.5); `amount` scales it linearly.
MOVE_DELTAS: dict[str, CameraState] = {
    "static": CameraState(),
    "pan-left": CameraState(tx=-0.18, gx=-0.03),
    "pan-right": CameraState(tx=0.18, gx=0.03),
    "truck-left": CameraState(tx=-0.18),
    "truck-right": CameraState(tx=0.18),
    "tilt-up": CameraState(ty=-0.15, gy=-0.05),
    "tilt-down": CameraState(ty=0.15, gy=0.05),
    "pedestal-up": CameraState(ty=-0.15),
    "pedestal-down": CameraState(ty=0.15),
    "crane-up": CameraState(ty=-0.15, log_zoom=-0.08),
    "crane-down": CameraState(ty=0.15, log_zoom=0.08),
    # A dolly pushes toward a point just below the centre with a slight keystone, where a zoom
    # magnifies about the exact centre: with one picture that is the difference we can show.
    "dolly-in": CameraState(ty=0.03, log_zoom=0.25, gy=0.10),
    "dolly-out": CameraState(ty=-0.03, log_zoom=-0.25, gy=-0.10),
    "zoom-in": CameraState(log_zoom=0.3),
    "zoom-out": CameraState(log_zoom=-0.3),
    # An orbit circles the subject at the centre: the picture plane turns about it (a yaw, with
    # its perspective), so the subject stays put while the sides swing; no roll, no slide.
    "orbit-left": CameraState(yaw=18.0, log_zoom=0.04),
    "orbit-right": CameraState(yaw=-18.0, log_zoom=0.04),
    "handheld": CameraState(),  # shake only, added in camera_at
    "rack-focus": CameraState(focus=1.0),
}


def ease(kind: str, p: float) -> float:
    p = min(max(p, 0.0), 1.0)
    if kind == "linear":
        return p
    if kind == "ease-in":
        return p * p
    if kind == "ease-out":
        return 1 - (1 - p) * (1 - p)
    return p * p * (3 - 2 * p)


def camera_at(beats: tuple[Beat, ...], t: float, seed: int = 0) -> CameraState:
    """The camera at ``t`` seconds: every beat's move, eased, added up; handheld adds shake.

    ``seed`` (a take's) moves the shake along its wobble, so each take shakes its own way."""
    state = CameraState()
    for beat in beats:
        if t <= beat.start:
            break
        p = ease(beat.ease, (t - beat.start) / beat.seconds)
        k = beat.amount / 0.5
        delta = MOVE_DELTAS[beat.camera]
        if beat.camera == "rack-focus":  # each rack flips the focus plane
            flip = 1.0 - 2.0 * state.focus
            state = state + CameraState(focus=flip * p)
        else:
            state = state + delta.scaled(k * p)
        if beat.camera == "handheld" and t < beat.end:
            state = state + _shake(
                t + 7.31 * seed, (t - beat.start) / beat.seconds, beat.end - t, k
            )
    return state


def _shake(t: float, p: float, left: float, k: float) -> CameraState:
    # Smooth, deterministic wobble: incommensurate sines, faded in and out over 0.25 s.
    fade = min(1.0, p * 4 if p < 0.25 else 1.0, left / 0.25)

    def wave(f1: float, f2: float, f3: float, phase: float) -> float:
        return (
            0.5 * math.sin(2 * math.pi * f1 * t + phase)
            + 0.3 * math.sin(2 * math.pi * f2 * t + 2 * phase)
            + 0.2 * math.sin(2 * math.pi * f3 * t + 3 * phase)
        )

    a = 0.012 * k * fade
    return CameraState(
        tx=a * wave(0.7, 1.3, 2.9, 0.4),
        ty=a * wave(0.9, 1.7, 3.1, 1.9),
        rot=0.6 * k * fade * wave(0.5, 1.1, 2.3, 2.7),
    )


def homography(
    state: CameraState,
    width: int,
    height: int,
    base_zoom: float,
    src_scale: float,
    src_w: int,
    src_h: int,
) -> np.ndarray:
    """3x3 matrix taking an output pixel (x, y, 1) to a source-image pixel (homogeneous).

    ``src_scale`` is source pixels per canvas pixel; the canvas is the frame-sized fit of the
    source, centred on the frame.
    """
    shift = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]], dtype=float)
    # The yaw: a plane turned by θ about its vertical centre line, seen from a distance of one
    # frame width, maps an output pixel x to x / cos θ / (1 - x tan θ / width).
    yaw = math.radians(max(-50.0, min(50.0, state.yaw)))
    persp = np.array(
        [
            [1 / math.cos(yaw), 0, 0],
            [0, 1, 0],
            [state.gx / width - math.tan(yaw) / width, state.gy / height, 1],
        ],
        dtype=float,
    )
    s = 1.0 / (base_zoom * math.exp(state.log_zoom))
    c, n = math.cos(math.radians(state.rot)), math.sin(math.radians(state.rot))
    view = np.array(
        [[c * s, -n * s, state.tx * width], [n * s, c * s, state.ty * height], [0, 0, 1]],
        dtype=float,
    )
    to_src = np.array(
        [[src_scale, 0, src_w / 2], [0, src_scale, src_h / 2], [0, 0, 1]], dtype=float
    )
    return to_src @ view @ persp @ shift


def reach(
    beats: tuple[Beat, ...], seconds: float, fps: float, width: int, height: int
) -> tuple[float, float]:
    """How far from the canvas centre (x, y, in canvas pixels) any frame's corner reaches.

    The first frame shows exactly the canvas; a move that looks past it needs the canvas
    extended this far (the previs fills the extension instead of cropping in).
    """
    times = np.arange(0, max(1, round(seconds * fps)) + 1) / fps
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float).T
    far_x, far_y = width / 2, height / 2
    last: CameraState | None = None
    for t in times:
        state = camera_at(beats, float(t))
        if state == last:
            continue
        last = state
        pts = homography(state, width, height, 1.0, 1.0, 0, 0) @ corners
        xy = pts[:2] / np.maximum(pts[2], 1e-3)
        far_x = max(far_x, float(np.abs(xy[0]).max()))
        far_y = max(far_y, float(np.abs(xy[1]).max()))
    return far_x, far_y
