"""What every fake API here shares: a threaded HTTP server on 127.0.0.1 that records each
request, answers through one ``route`` method, and makes real MP4s with the previs renderer."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeServer",
    "Faults",
    "Recorded",
    "Reply",
    "bt601_video",
    "foreign_video",
    "image_size",
    "previs_video",
]


@dataclass
class Faults:
    """What to break. Counters count down as they fire."""

    rate_limit: int = 0  # the next N creates answer 429 with Retry-After
    retry_after: float = 1.0
    error_on_create: int = 0  # the next N creates make the job, then answer 500
    moderation_words: tuple[str, ...] = ()  # prompts with these end failed, moderation_blocked
    never_finish_words: tuple[str, ...] = ()  # prompts with these stay in_progress forever
    cut_downloads: int = 0  # the next N downloads stop half way through the body
    edits_missing: bool = False  # /videos/edits answers 404 (an older server: remix instead)
    poll_after_ms: int | None = None  # sent as openai-poll-after-ms on retrieves
    foreign_video: bool = False  # videos at 25 fps, with B-frames and no sound, as models send
    lost_creates: int = 0  # the next N creates answer 500 and make no job (a listing shows none)
    hang: str = ""  # requests whose "METHOD /path" fullmatches this never get an answer
    trickle: str = ""  # answers to these are sent a byte at a time, ``trickle_every`` apart
    trickle_every: float = 0.5
    trickles: int = -1  # how many answers trickle (-1: all that match)
    elsewhere: str = ""  # an origin the URLs this server hands out (or redirects to) point at
    hostile_errors: bool = False  # error codes and messages repeat the key the client sent
    # videos encoded as ours but in BT.601: "smpte170m" tags it so, "untagged" leaves it bare
    colour: str = ""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorized: bool = False
    status: int = 0
    at: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # send half the body, then close: a download that breaks off
    trickle: float = 0.0  # seconds between single bytes of the body


class FakeServer:
    """Subclasses implement ``authorized``, ``unauthorized`` and ``route``.

    Jobs everywhere move the same way: queued until first polled, under way for ``min_polls``
    polls and at least ``latency`` seconds, then done, unless a fault says otherwise.
    With ``open_access`` the server answers without a key, as another host (a CDN, a
    redirect's target) does; share ``jobs`` with the API's fake to serve its files.
    """

    def __init__(
        self,
        api_key: str,
        *,
        latency: float = 0.0,
        min_polls: int = 1,
        faults: Faults | None = None,
        port: int = 0,
        open_access: bool = False,
    ) -> None:
        self.api_key = api_key
        self.open_access = open_access
        self.released = threading.Event()  # set on stop: hung answers give up
        self.latency = latency  # seconds from create to done
        self.min_polls = min_polls  # polls that still show the job under way
        self.faults = faults or Faults()
        self.jobs: dict[str, Any] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._videos: dict[tuple[Any, ...], bytes] = {}
        # each job's video its own plain colour (takes told apart by their pixels)
        self.distinct_videos = False
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The base URL a backend is pointed at (the origin, or a versioned path under it)."""
        return self.origin

    def start(self) -> FakeServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the ``fake-api`` command)."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def handed_out(self) -> str:
        """The origin of the URLs this server hands out: its own, or ``faults.elsewhere``."""
        return self.faults.elsewhere or self.origin

    def leaked(self, secret: str) -> list[Recorded]:
        """Recorded requests that carried ``secret`` in a header or the query."""
        return [
            r
            for r in self.requests
            if secret in json.dumps(r.headers) or secret in json.dumps(r.query)
        ]

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests whose path matches ``pattern`` (a regular expression)."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def video(
        self, size: str, seconds: float, foreign: bool = False, tint: str = "", colour: str = ""
    ) -> bytes:
        key = (size, seconds, foreign, tint, colour)
        with self.lock:
            if key not in self._videos:
                video = previs_video(size, seconds, tint)
                video = bt601_video(video, colour) if colour else video
                self._videos[key] = foreign_video(video) if foreign else video
            return self._videos[key]

    def fire_trickle(self) -> bool:
        """Whether this answer trickles: every one when ``trickles`` is -1, else counting down."""
        with self.lock:
            if self.faults.trickles < 0:
                return True
        return self.fire("trickles")

    def fire(self, counter: str) -> bool:
        """Whether a countdown fault (``rate_limit``, ``cut_downloads``, ...) fires now."""
        with self.lock:
            left = getattr(self.faults, counter)
            if left:
                setattr(self.faults, counter, left - 1)
            return bool(left)

    def progress(self, created: float, polls: int, prompt: str) -> str:
        """``queued``, ``running`` or ``done``: where a job stands."""
        if any(w in prompt for w in self.faults.never_finish_words):
            return "running"
        if time.time() - created < self.latency or polls <= self.min_polls:
            return "queued" if polls == 0 else "running"
        return "done"

    def refused(self, prompt: str) -> bool:
        """Whether the content policy turns this prompt down."""
        return any(w in prompt for w in self.faults.moderation_words)

    def download(self, size: str, seconds: float, job_id: str = "") -> Reply:
        """A real video of that size and length, cut off half way when a fault says so."""
        tint = job_id if self.distinct_videos else ""
        video = self.video(size, seconds, self.faults.foreign_video, tint, self.faults.colour)
        return Reply(200, video, cut=self.fire("cut_downloads"))

    # ---- for subclasses -------------------------------------------------------------------

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def route(
        self, method: str, path: str, request: Recorded, body: bytes, content_type: str
    ) -> Reply:
        raise NotImplementedError


def image_size(data: bytes) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return f"{image.width}x{image.height}"
    except (UnidentifiedImageError, OSError):
        return None


def previs_video(size: str, seconds: float, tint: str = "") -> bytes:
    """A real MP4 of that size and length, made by the previs renderer (of one plain colour
    chosen by ``tint`` when one is given)."""
    from storyboard.compile import ShotPrompt
    from storyboard.format.model import Output, Shot
    from storyboard.render.base import RenderJob
    from storyboard.render.previs import PrevisBackend

    width, height = (int(n) for n in size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        if tint:
            from PIL import Image

            digest = hashlib.sha256(tint.encode()).digest()
            reference = Path(tmp) / "tint.png"
            Image.new("RGB", (32, 18), tuple(digest[:3])).save(reference)
        shot = Shot(
            id="fake", index=0, seconds=seconds, action="fake video API", reference=reference
        )
        prompt = ShotPrompt("fake", "", "", "", "", "", "", "", "", "")
        job = RenderJob(shot, prompt, Output(width, height, 24.0), None, "fake", overlays=False)
        dest = Path(tmp) / "video.mp4"
        PrevisBackend().render(job, dest)
        return dest.read_bytes()


def foreign_video(video: bytes) -> bytes:
    """The same picture encoded the way other renderers do: 25 fps, B-frames, no sound."""
    from storyboard.media import ffmpeg_exe

    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        source.write_bytes(video)
        subprocess.run(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-i",
                str(source),
                "-an",
                "-r",
                "25",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-bf",
                "3",
                str(dest),
            ],
            check=True,
        )
        return dest.read_bytes()


def bt601_video(video: bytes, tags: str) -> bytes:
    """The same picture in BT.601, encoded as we encode otherwise (a keyframe a second, no
    B-frames, the sound copied); tagged ``smpte170m``, or not at all when ``untagged``."""
    from storyboard.media import ffmpeg_exe

    tag = "smpte170m" if tags == "smpte170m" else "unknown"
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        source.write_bytes(video)
        subprocess.run(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-i",
                str(source),
                "-map",
                "0",
                "-vf",
                "scale=out_color_matrix=bt601:out_range=tv:flags=accurate_rnd,"
                "format=yuv420p,"
                f"setparams=colorspace={tag}:color_primaries={tag}:color_trc={tag}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-bf",
                "0",
                "-sc_threshold",
                "0",
                "-g",
                "24",
                "-c:a",
                "copy",
                str(dest),
            ],
            check=True,
        )
        return dest.read_bytes()


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: tests read server.requests instead

        def do_GET(self) -> None:  # noqa: N802
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._dispatch("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(parts.query)
            record = Recorded(
                method,
                parts.path,
                query,
                at=time.time(),
                authorized=server.authorized(self.headers, query),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            with server.lock:
                server.requests.append(record)
            faults = server.faults
            if faults.hang and re.fullmatch(faults.hang, f"{method} {parts.path}"):
                server.released.wait(120)  # never answers; the client must give up
                self.close_connection = True
                return
            if not record.authorized and not server.open_access:
                reply = server.unauthorized()
            else:
                reply = server.route(
                    method, parts.path, record, body, self.headers.get("content-type", "")
                )
            if (
                faults.trickle
                and re.fullmatch(faults.trickle, f"{method} {parts.path}")
                and server.fire_trickle()
            ):
                reply.trickle = faults.trickle_every
            record.status = reply.status
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            if isinstance(reply.body, bytes):
                data, kind = reply.body, "video/mp4"
            else:
                data, kind = json.dumps(reply.body).encode(), "application/json"
            self.send_response(reply.status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.trickle:
                self._trickle(data, reply.trickle)
                return
            self.wfile.write(data[: len(data) // 2] if reply.cut else data)
            if reply.cut:
                self.close_connection = True

        def _trickle(self, data: bytes, every: float) -> None:
            self.close_connection = True
            for n in range(len(data)):
                if server.released.wait(every):
                    return
                try:
                    self.wfile.write(data[n : n + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up, as it should
                    return

    return Handler
