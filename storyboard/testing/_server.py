"""What every fake API here shares: a threaded HTTP server on 127.0.0.1 that records each
request, answers through one ``route`` method, and makes real MP4s with the previs renderer."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeServer", "Recorded", "Reply", "foreign_video", "previs_video"]


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


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # send half the body, then close: a download that breaks off


class FakeServer:
    """Subclasses implement ``authorized(headers)`` and ``route(method, path, request)``."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._videos: dict[tuple[Any, ...], bytes] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
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

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        """Recorded requests whose path matches ``pattern`` (a regular expression)."""
        import re

        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def video(self, size: str, seconds: float, foreign: bool = False) -> bytes:
        key = (size, seconds, foreign)
        with self.lock:
            if key not in self._videos:
                video = previs_video(size, seconds)
                self._videos[key] = foreign_video(video) if foreign else video
            return self._videos[key]

    # ---- for subclasses -------------------------------------------------------------------

    def authorized(self, headers: Any, query: dict[str, list[str]]) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def route(self, method: str, path: str, request: Recorded, body: bytes,
              content_type: str) -> Reply:
        raise NotImplementedError


def previs_video(size: str, seconds: float) -> bytes:
    """A real MP4 of that size and length, made by the previs renderer."""
    from ..compile import ShotPrompt
    from ..model import Output, Shot
    from ..render.base import RenderJob
    from ..render.previs import PrevisBackend

    width, height = (int(n) for n in size.split("x"))
    shot = Shot(id="fake", index=0, seconds=seconds, action="fake video API")
    prompt = ShotPrompt("fake", "", "", "", "", "", "", "", "", "")
    job = RenderJob(shot, prompt, Output(width, height, 24.0), None, "fake", 1, False)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "video.mp4"
        PrevisBackend().render(job, dest)
        return dest.read_bytes()


def foreign_video(video: bytes) -> bytes:
    """The same picture encoded the way other renderers do: 25 fps, B-frames, no sound."""
    from ..media import ffmpeg_exe

    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        source.write_bytes(video)
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(source), "-an", "-r", "25",
                        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", str(dest)],
                       check=True)
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
            record = Recorded(method, parts.path, query, at=time.time(),
                              authorized=server.authorized(self.headers, query))
            with server.lock:
                server.requests.append(record)
            if not record.authorized:
                reply = server.unauthorized()
            else:
                reply = server.route(method, parts.path, record, body,
                                     self.headers.get("content-type", ""))
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
            self.wfile.write(data[: len(data) // 2] if reply.cut else data)
            if reply.cut:
                self.close_connection = True

    return Handler
