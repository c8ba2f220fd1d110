"""ffmpeg, from the imageio-ffmpeg wheel: where it is, what a file holds, and reading audio back.

There is no ffprobe in that wheel, so probing reads ``ffmpeg -i``'s stream summary and counts
frames with a stream copy (fast: nothing is decoded).
"""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

from storyboard.errors import MediaError

__all__ = [
    "AUDIO_ARGS",
    "AUDIO_RATE",
    "BT709",
    "Colour",
    "IMAGE_FORMATS",
    "MAX_IMAGE_PIXELS",
    "MOVFLAGS",
    "Probe",
    "X264_PARAMS",
    "audio_channels",
    "audio_problem",
    "colour_filter",
    "colour_of",
    "cover_extent",
    "ffmpeg_exe",
    "fit_image",
    "fps_fraction",
    "image_problem",
    "keyframe_interval",
    "load_image",
    "probe",
    "raw_video_input",
    "read_audio",
    "stream_header",
    "untagged_colour",
    "video_args",
]

# One encoding for everything we write, so shots, transitions and the edit can be joined by
# stream copy. A keyframe every second (and none elsewhere) lets the stitch copy shot bodies
# and re-encode only near transitions. No B-frames: with them decode order differs from display
# order and the concat demuxer's outpoint keeps a frame or two past the cut.
# Colour: BT.709 primaries, transfer and matrix, limited range, at every size (an SD or tiny
# previs is a proxy of an HD edit; one rule keeps one set of tags in an edit). The tags go in
# the H.264 stream and in the MP4's colr box, so no player or editor has to guess.
X264_PARAMS = [
    "-crf",
    "20",
    "-pix_fmt",
    "yuv420p",
    "-sc_threshold",
    "0",
    "-bf",
    "0",
    "-colorspace",
    "bt709",
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-color_range",
    "tv",
]
X264_PRESET = "veryfast"
AUDIO_RATE = 48_000
AUDIO_ARGS = ["-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE)]
# ffmpeg writes a colr box only when primaries, transfer and matrix are all set: always, here
MOVFLAGS = ["-movflags", "+faststart+write_colr"]


def keyframe_interval(fps: float) -> int:
    """Frames between keyframes: one second's worth."""
    return max(1, round(fps))


def video_args(fps: float) -> list[str]:
    """ffmpeg output options for the project's H.264 encoding at ``fps``.

    They tag the stream but, from ffmpeg 7 on, primaries and transfer come from the frames:
    end the filter graph with ``colour_filter()`` (or feed ``raw_video_input``) as well.
    """
    return [
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        *X264_PARAMS,
        "-g",
        str(keyframe_interval(fps)),
    ]


def colour_filter() -> str:
    """The end of every encode's filter graph: whatever comes in (RGB, BT.601, full range)
    is converted to limited-range BT.709 YUV 4:2:0 (swscale reads the frames' tags; it does
    nothing to a picture that is already so), and all four colour tags are set."""
    # accurate_rnd: without it a BT.601 -> BT.709 conversion comes out 2 levels dark
    return (
        "scale=out_color_matrix=bt709:out_range=tv:"
        "flags=bicubic+accurate_rnd+full_chroma_int,format=yuv420p,"
        "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
    )


def untagged_colour(colour: Colour, width: int, height: int) -> str:
    """For a picture with no matrix tag: a filter naming the one players assume (BT.709 from
    HD up, BT.601 below), for ``colour_filter`` to convert from; else nothing."""
    if colour.tagged:
        return ""
    matrix = "bt709" if height >= 720 or width >= 1280 else "smpte170m"
    return f"setparams=colorspace={matrix}:range=tv,"


def raw_video_input(width: int, height: int, fps: float) -> list[str]:
    """ffmpeg input options for YUV 4:2:0 frames we made ourselves: BT.709, limited range."""
    return [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps_fraction(fps)),
        "-color_range",
        "tv",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-colorspace",
        "bt709",
    ]


@cache
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise MediaError("imageio-ffmpeg is not installed; reinstall storyboard") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def fps_fraction(fps: float) -> Fraction:
    """24 → 24, 29.97 → 30000/1001, 23.976 → 24000/1001: the rate ffmpeg should be told."""
    from storyboard.edit.timecode import frame_rate

    return frame_rate(fps)


@dataclass(frozen=True)
class Colour:
    """A video stream's colour tags as ffmpeg names them ("unknown" when a tag is missing)."""

    range: str = "unknown"  # tv (limited) or pc (full)
    primaries: str = "unknown"
    transfer: str = "unknown"
    matrix: str = "unknown"

    @property
    def tagged(self) -> bool:
        """Whether the matrix is known: the one tag a conversion needs."""
        return self.matrix not in ("unknown", "reserved")


BT709 = Colour("tv", "bt709", "bt709", "bt709")  # every file we write


def colour_of(path: Path) -> Colour:
    """The colour tags of the first video stream of ``path`` (all unknown if it has none).

    A file we wrote says BT.709 in its colr box, read here without starting ffmpeg (the stitch
    asks for every shot: 15-20 ms a file otherwise); anything else is as ffmpeg reports it.
    """
    if _colr_says_bt709(path):
        return BT709
    header = stream_header(path)
    video = _VIDEO.search(header)
    return _colour(video[3] or "") if video else Colour()


_BOX_PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
_BT709_NCLX = b"nclx" + struct.pack(">HHHB", 1, 1, 1, 0)  # primaries, transfer, matrix, tv


def _colr_says_bt709(path: Path, head: int = 1 << 20) -> bool:
    """Whether the first track's first sample entry (an avc1) carries colr nclx BT.709 in
    limited range; False when it says otherwise or its moov is not in the first MiB
    (+faststart puts it there)."""
    try:
        with path.open("rb") as f:
            data = f.read(head)
    except OSError:
        return False
    start, end = 0, len(data)
    for kind in _BOX_PATH:
        found = _find_box(data, start, end, kind)
        if found is None:
            return False
        start, end = found
    entry = start + 8  # stsd: version and flags, entry count
    if data[entry + 4 : entry + 8] != b"avc1":
        return False
    size = int.from_bytes(data[entry : entry + 4], "big")
    colr = _find_box(data, entry + 8 + 78, min(entry + size, end), b"colr")  # after its fields
    return colr is not None and data[colr[0] : colr[0] + 11] == _BT709_NCLX


def _find_box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """The body (start, end) of the first ``kind`` box among those from ``start`` to ``end``."""
    while start + 8 <= end:
        size, name = int.from_bytes(data[start : start + 4], "big"), data[start + 4 : start + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[start + 8 : start + 16], "big"), 16
        elif size == 0:
            size = end - start
        if size < header:
            return None
        if name == kind:
            return start + header, min(start + size, end)
        start += size
    return None


@dataclass(frozen=True)
class Probe:
    duration: float  # the container's
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    sample_rate: int | None
    colour: Colour = Colour()

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\w+)(?:\(([^)]*)\))?, (\d+)x(\d+)")
_FPS = re.compile(r"([\d.]+) fps")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: (\w+).*?, (\d+) Hz")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def probe(path: Path) -> Probe:
    """What ``path`` holds, read by ffmpeg itself; MediaError when it is not a playable video."""
    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        errors="replace",
    )
    head = result.stderr
    duration, video = _DURATION.search(head), _VIDEO.search(head)
    if result.returncode != 0 or not duration or not video:
        last = head.strip().splitlines()[-1:] or ["no output"]
        raise MediaError(f"{path} is not a playable video: {last[0]}")
    h, m, s = duration.groups()
    fps = _FPS.search(head[video.start() :])
    audio = _AUDIO.search(head)
    frames = _FRAMES.findall(head)
    return Probe(
        duration=int(h) * 3600 + int(m) * 60 + float(s),
        width=int(video[4]),
        height=int(video[5]),
        fps=float(fps[1]) if fps else 0.0,
        frames=int(frames[-1]) if frames else 0,
        video_codec=video[1],
        pix_fmt=video[2],
        audio_codec=audio[1] if audio else None,
        sample_rate=int(audio[2]) if audio else None,
        colour=_colour(video[3] or ""),
    )


_NOT_COLOUR = {
    "progressive",
    "top first",
    "bottom first",
    "top coded first",
    "bottom coded first",
    "left",
    "center",
    "topleft",
    "top",
    "bottomleft",
    "bottom",
    "unknown",
}


def _colour(details: str) -> Colour:
    """Colour tags from ffmpeg's "yuv420p(tv, bt709, progressive)": the range, then one name
    when matrix, primaries and transfer agree, else "matrix/primaries/transfer"."""
    fields = {
        "range": "unknown",
        "primaries": "unknown",
        "transfer": "unknown",
        "matrix": "unknown",
    }
    for item in (part.strip() for part in details.split(",")):
        if item in ("tv", "pc"):
            fields["range"] = item
        elif item.count("/") == 2:
            fields["matrix"], fields["primaries"], fields["transfer"] = item.split("/")
        elif item and item not in _NOT_COLOUR and not item.startswith(("top ", "bottom ")):
            fields["matrix"] = fields["primaries"] = fields["transfer"] = item
    return Colour(**fields)


_CHANNELS = re.compile(r"Stream #\S+.*?: Audio: .*?, \d+ Hz, ([^,]+)")


def stream_header(path: Path) -> str:
    """What ffmpeg says of ``path``'s streams when it opens it (durations, codecs, layouts)."""
    return subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    ).stderr


def audio_channels(path: Path) -> int:
    """1 for a mono first audio stream (or none), 2 for stereo or more (we mix to stereo)."""
    header = stream_header(path)
    match = _CHANNELS.search(header)
    if not match:
        return 1
    layout = match[1].strip()
    return 1 if layout in ("mono", "1 channels") else 2


def read_audio(path: Path, rate: int = 48_000):  # -> ndarray; numpy is imported lazily
    """The audio of ``path`` as mono float32 samples in [-1, 1] (empty when it has none)."""
    import numpy as np

    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0?",
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-",
        ],
        capture_output=True,
    )
    if result.returncode != 0:
        raise MediaError(f"cannot read the audio of {path}: {result.stderr.decode()[-200:]}")
    return np.frombuffer(result.stdout, dtype="<f4")


# ---- pictures: reading references and fitting them to a frame ------------------------------

# 8192 x 8192: an 8K frame fits; a decompression bomb (30000 x 30000 PNG in a few KB) does not.
MAX_IMAGE_PIXELS = 8192 * 8192
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
FILL = (20, 20, 22)


def image_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable reference image (decoded in full, at a reduced scale), or None.

    Catches what would otherwise fail at render: other formats, too many pixels, a file cut
    short or damaged after a valid header.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                fmt, (width, height) = image.format, image.size
                if fmt not in IMAGE_FORMATS:
                    return f"is a {fmt} image; use a JPEG, PNG or WEBP file"
                if width * height > MAX_IMAGE_PIXELS:
                    return _too_many_pixels(width, height)
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # JPEG: fast
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "has too many pixels to open safely; use an image of at most 8192x8192"
    except UnidentifiedImageError:
        return "is not a readable image; use a JPEG, PNG or WEBP file"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return f"is damaged or cut short ({exc}); export it again"
    return None


def _too_many_pixels(width: int, height: int) -> str:
    return (
        f"is {width}x{height} pixels, more than {MAX_IMAGE_PIXELS:,}; use an image of at "
        "most 8192x8192"
    )


def load_image(path: Path, keep_alpha: bool = False):  # -> PIL.Image.Image, upright
    """The image at ``path``, upright (EXIF orientation applied) in RGB, or RGBA when
    ``keep_alpha`` and it has transparency; MediaError if too big."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        if opened.width * opened.height > MAX_IMAGE_PIXELS:
            raise MediaError(f"{path} {_too_many_pixels(opened.width, opened.height)}")
        transparent = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
        upright = ImageOps.exif_transpose(opened)
        return upright.convert("RGBA" if keep_alpha and transparent else "RGB")


def cover_extent(
    iw: int, ih: int, width: float, height: float, margin: float = 1.0
) -> tuple[float, float]:
    """The size an iw x ih picture covers a width x height frame at: scaled to cover it, and
    clipped to ``margin`` times the frame on each side (so a 1000x1 strip stays small)."""
    k = max(width / iw, height / ih)
    return min(iw * k, width * margin), min(ih * k, height * margin)


def fit_image(image, width: float, height: float, fit: str = "cover", margin: float = 1.0):
    """``image`` fitted to ``width`` x ``height``: ``cover`` crops (in the source, *before* it
    scales, so memory follows the frame, not the picture) and ``contain`` letterboxes.

    With ``margin`` > 1, cover keeps up to that much of the picture beyond the frame on each
    side (previs moves its camera over it): the result is then ``cover_extent`` in size.
    Exact fits are Pillow's ``ImageOps.fit`` and ``pad`` (both crop or shrink before scaling),
    so the bytes a hosted backend sends, and its render keys, stay what they were.
    """
    from PIL import Image, ImageOps

    size = (max(1, round(width)), max(1, round(height)))
    if fit == "contain":
        return ImageOps.pad(image, size, color=FILL)
    if margin <= 1:
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    iw, ih = image.size
    ew, eh = cover_extent(iw, ih, width, height, margin)
    k = max(width / iw, height / ih)
    cw, ch = min(iw, ew / k), min(ih, eh / k)  # the part that shows (float error clipped)
    box = ((iw - cw) / 2, (ih - ch) / 2, (iw + cw) / 2, (ih + ch) / 2)
    return image.resize((max(1, round(ew)), max(1, round(eh))), Image.Resampling.LANCZOS, box=box)


def audio_problem(path: Path, timeout: float = 120.0) -> str | None:
    """Why ffmpeg cannot decode the audio of ``path`` to its end, or None.

    A valid header over a garbage body passes a look at the magic bytes; decoding (no output)
    finds it at validation instead of in the middle of a render.
    """
    try:
        result = subprocess.run(
            [
                ffmpeg_exe(),
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-xerror",
                "-i",
                str(path),
                "-map",
                "0:a:0",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"could not be decoded within {timeout:g} s"
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "ffmpeg found no audio"
    if "matches no streams" in last:
        return "has no audio stream"
    return f"cannot be decoded as audio ({last.replace(str(path), 'the file')[:120]})"
