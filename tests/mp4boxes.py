"""A small ISO-BMFF (MP4) box reader for tests: what players read, without ffmpeg's view."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


@dataclass
class Track:
    handler: str = ""
    timescale: int = 0
    media_duration: int = 0
    edits: list[tuple[int, int]] = field(default_factory=list)  # (segment duration, media time)
    channels: int = 0
    # (type, primaries, transfer, matrix, full range) of an nclx colr box
    colr: tuple[str, int, int, int, bool] | None = None


@dataclass
class Movie:
    timescale: int
    duration: int
    tracks: list[Track]

    @property
    def seconds(self) -> float:
        return self.duration / self.timescale


def _boxes(data: bytes, start: int, end: int):
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[start + 8 : start + 16])[0], 16
        elif size == 0:
            size = end - start
        yield kind, start + header, start + size
        start += size


def read_movie(path: Path) -> Movie:
    data = path.read_bytes()
    movie = Movie(0, 0, [])
    _walk(data, 0, len(data), movie, None)
    return movie


def _walk(data: bytes, start: int, end: int, movie: Movie, track: Track | None) -> None:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"trak":
            track = Track()
            movie.tracks.append(track)
        if kind in CONTAINERS:
            _walk(data, body, stop, movie, track)
        elif kind == b"mvhd":
            v = data[body]
            movie.timescale, movie.duration = (
                struct.unpack(">II", data[body + 12 : body + 20])
                if v == 0
                else struct.unpack(">IQ", data[body + 20 : body + 32])
            )
        elif track is not None:
            _leaf(data, kind, body, stop, track)


def _leaf(data: bytes, kind: bytes, body: int, stop: int, track: Track) -> None:
    if kind == b"mdhd":
        v = data[body]
        track.timescale, track.media_duration = (
            struct.unpack(">II", data[body + 12 : body + 20])
            if v == 0
            else struct.unpack(">IQ", data[body + 20 : body + 32])
        )
    elif kind == b"hdlr":
        track.handler = data[body + 8 : body + 12].decode()
    elif kind == b"elst":
        v, count = data[body], struct.unpack(">I", data[body + 4 : body + 8])[0]
        fmt, size = (">Ii", 12) if v == 0 else (">Qq", 20)
        for n in range(count):
            at = body + 8 + n * size
            track.edits.append(struct.unpack(fmt, data[at : at + size - 4]))
    elif kind == b"stsd":
        entry = body + 8
        entry_kind = data[entry + 4 : entry + 8]
        if entry_kind == b"mp4a":
            track.channels = struct.unpack(">H", data[entry + 24 : entry + 26])[0]
        elif entry_kind == b"avc1":
            size = struct.unpack(">I", data[entry : entry + 4])[0]
            for child, cbody, _ in _boxes(data, entry + 8 + 78, entry + size):
                if child == b"colr":
                    kind4 = data[cbody : cbody + 4].decode()
                    p, t, m = struct.unpack(">HHH", data[cbody + 4 : cbody + 10])
                    track.colr = (kind4, p, t, m, bool(data[cbody + 10] & 0x80))
