"""The hosted protocol, written once: every hosted backend is "build the request, read the
state, find the video", and this base class does the rest.

It holds the key and the URL (from the environment), attaches the key to each request whose
origin is the API's own (redirects included, never a client-wide header), sends the create
(looking for a job a 5xx may have made before creating again), polls, classifies every refusal
from one small table per backend (auth, blocked, retryable, other), treats 404 as gone, and
saves a video from a URL or inline data with a minimum throughput. Reference images are fitted
to the output before they are sent, and ``key_material`` is the create request by hash.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from storyboard.errors import BackendError, ConfigError, JobFailed, KeyRefused, StoryboardError
from storyboard.format.model import RenderSettings
from storyboard.media import fit_image, load_image
from storyboard.render.base import BackendConfig, Handle, JobState, RenderJob
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.http import Caller, Limits, Pace, redact, retry_delay, time_left
from storyboard.render.hosted.wire import Blob, Call, material

__all__ = [
    "Refusals",
    "RemoteBackend",
    "Video",
    "aspect_ratio",
    "check_url",
    "fitted_image",
    "resolution_tier",
]

Kind = Literal["auth", "blocked", "retryable", "other"]
CREATE_RETRIES = 2  # creates again after a 5xx, only when the job is proven not to exist


@dataclass(frozen=True)
class Refusals:
    """How one API says no: the table ``classify`` reads (codes compared in lower case)."""

    blocked: frozenset[str] = frozenset()  # error codes of a content-policy refusal
    blocked_words: tuple[str, ...] = ()  # words of the message, where an API sends no code
    auth: frozenset[int] = frozenset({401, 403})


@dataclass(frozen=True)
class Video:
    """Where a finished job's video is: a URL (a ``data:`` URI too) or the bytes inline."""

    url: str = ""
    data: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


def check_url(url: str, allow_insecure_http: bool) -> None:
    """No credentials or query in the URL; plain http only to this machine, unless allowed."""
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            "refusing a base URL with credentials, a query or a fragment in it "
            "(it would be written to the run state); give the bare URL and put "
            "the key in the backend's environment variable"
        )
    if parts.scheme == "https" or allow_insecure_http:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ConfigError(
            f"refusing to send an API key over plain http to {host or url}; use "
            "https, a loopback address, or pass --allow-insecure-http"
        )


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def aspect_ratio(width: int, height: int) -> str:
    """1280x720 → '16:9'."""
    d = gcd(width, height)
    return f"{width // d}:{height // d}"


def resolution_tier(short_side: int, tiers: list[str] | tuple[str, ...]) -> str:
    """The smallest offered tier ('720p': 720 on the short side, '4k': 2160) that holds it."""

    def height(tier: str) -> int:
        digits = int("".join(c for c in tier if c.isdigit()) or 0)
        return {2: 1440, 4: 2160, 8: 4320}.get(digits, digits) if tier.endswith("k") else digits

    ranked = sorted(tiers, key=height)
    return next((t for t in ranked if height(t) >= short_side), ranked[-1])


def fitted_image(job: RenderJob, width: int, height: int) -> bytes:
    """The shot's reference fitted to exactly width x height (cover or contain), as PNG."""
    assert job.shot.reference is not None
    return fitted_file(job.shot.reference, job.shot.fit, width, height)


def fitted_file(path: Path, fit: str, width: int, height: int) -> bytes:
    """Any image (a reference, an end frame) fitted to exactly width x height, as PNG."""
    stat = path.stat()
    return _fitted(path, stat.st_mtime_ns, stat.st_size, width, height, fit)


@lru_cache(maxsize=16)  # render keys and the create both need it: fitted once per run
def _fitted(path: Path, mtime: int, size: int, width: int, height: int, fit: str) -> bytes:
    fitted = fit_image(load_image(path), width, height, fit)
    buffer = io.BytesIO()
    fitted.save(buffer, "PNG")
    return buffer.getvalue()


def png(job: RenderJob, width: int, height: int, travels: Any = "base64") -> Blob:
    return Blob(fitted_image(job, width, height), "image/png", travels)


def png_file(path: Path, fit: str, width: int, height: int, travels: Any = "base64") -> Blob:
    return Blob(fitted_file(path, fit, width, height), "image/png", travels)


class RemoteBackend:
    """Base of the hosted backends. A subclass sets the class attributes and writes
    ``request`` (the create), ``handle`` (read its answer), ``state`` (read a poll) and
    ``video`` (where the finished video is)."""

    kind: ClassVar[Literal["hosted"]] = "hosted"
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    key_env: ClassVar[str]  # where the key is, unless render.api_key_env says otherwise
    url_env: ClassVar[str | None] = None  # an environment variable that may hold the base URL
    default_url: ClassVar[str]
    key_header: ClassVar[str] = "Authorization"
    key_prefix: ClassVar[str] = "Bearer "
    key_hosts: ClassVar[tuple[str, ...]] = ()  # other documented hosts of the default API
    refusals: ClassVar[Refusals] = Refusals()
    code_field: ClassVar[str] = "code"  # the field of ``{"error": {...}}`` that names it

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        render: RenderSettings | None = None,
        pace: Pace | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limits: Limits | None = None,
        key_env: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.render = render or RenderSettings()
        self.key_env_name = key_env or self.key_env
        self.key_refused: KeyRefused | None = None
        self.client = httpx.Client(follow_redirects=True, event_hooks={"request": [self._sign]})
        self.caller = Caller(
            self.client, (api_key,), pace or Pace(sleep=sleep), limits=limits or Limits()
        )
        own = {origin(self.base_url)}
        if origin(self.base_url) == origin(self.default_url):
            own |= {origin(f"https://{host}") for host in self.key_hosts}
        self._own = own

    @classmethod
    def price_per_second(cls, model: str | None, size: str, audio: bool = False) -> float | None:
        """The capabilities' figure; a backend whose price depends on the size overrides it."""
        caps = cls.capabilities(model)
        if audio and caps.audio_price_per_second is not None:
            return float(caps.audio_price_per_second)
        return None if caps.price_per_second is None else float(caps.price_per_second)

    @classmethod
    def from_config(cls, config: BackendConfig) -> RemoteBackend:
        env_name = config.render.api_key_env or cls.key_env
        key = config.env.get(env_name, "")
        if not key:
            raise ConfigError(
                f"backend '{cls.name}' needs an API key in ${env_name}; set it "
                "(the key is never written to the storyboard, logs or manifest)"
            )
        url = (
            config.base_url
            or config.render.base_url
            or (config.env.get(cls.url_env) if cls.url_env else None)
            or cls.default_url
        )
        check_url(url, config.allow_insecure_http)
        cls.check_settings(config.render)
        return cls(url, key, render=config.render, key_env=env_name)

    @classmethod
    def check_settings(cls, render: RenderSettings) -> None:
        """Refuse render settings this backend cannot send (ConfigError); none by default."""

    # ---- what a subclass writes ---------------------------------------------------------

    @classmethod
    def capabilities(cls, model: str | None = None) -> Capabilities:
        """What the model can do and what it costs (each backend knows its models)."""
        raise NotImplementedError

    @classmethod
    def request(cls, job: RenderJob) -> Call:
        """The create request for ``job``; pure (no network, no key)."""
        raise NotImplementedError

    def handle(self, job: RenderJob, answer: dict[str, Any]) -> Handle:
        """The handle of the job a create answered with."""
        raise NotImplementedError

    def status_url(self, handle: Handle) -> str:
        raise NotImplementedError

    def state(self, handle: Handle, answer: dict[str, Any], response: httpx.Response) -> JobState:
        """Where the job stands, from a successful poll."""
        raise NotImplementedError

    def video(self, handle: Handle) -> Video:
        """Where the finished job's video is (may ask the server)."""
        raise NotImplementedError

    def look_for(self, job: RenderJob, since: float) -> tuple[Handle | None, bool]:
        """The job a create for ``job`` made since ``since`` (epoch seconds), and whether the
        server's answer proves there is none. Servers that cannot list prove nothing."""
        return None, False

    # ---- the protocol -------------------------------------------------------------------

    @classmethod
    def key_material(cls, job: RenderJob) -> dict[str, Any]:
        """Exactly the create this backend would send for ``job``, images by sha256 (the
        render key adds the backend's name and version)."""
        return {
            "request": material(cls.request(job)),
            "source_remote_id": job.source_remote_id if job.shot.source else None,
        }

    def submit(self, job: RenderJob) -> Handle:
        if job.shot.source and not job.source_remote_id:
            raise BackendError(
                f"shot '{job.shot.id}' derives from '{job.shot.source}', which "
                f"has no render on {self.name} yet; nothing was sent (a derived "
                "shot is never sent as a plain create)"
            )
        call, since = self.request(job), time.time()
        for attempt in range(CREATE_RETRIES + 1):
            response = self._create(call)
            if response.status_code < 500:
                break
            found, absent = self.look_for(job, since)  # the job may exist and be billed
            if found is not None:
                return found
            if not absent or attempt == CREATE_RETRIES:
                raise BackendError(self._unmade(response.status_code, absent, attempt))
            delay = retry_delay(attempt, response.headers)
            left = time_left()
            if left is not None and left <= delay:
                raise BackendError(self._unmade(response.status_code, absent, attempt))
            self.caller.pace.sleep(delay)
        self.check(response)
        return self.handle(job, self.json(response))

    def find(self, job: RenderJob, since: float) -> Handle | None:
        return self.look_for(job, since)[0]

    def poll(self, handle: Handle) -> JobState:
        response = self.get(self.status_url(handle))
        if self.is_gone(response):
            return JobState("gone", error_message=f"{self.name} no longer knows this job")
        self.check(response)
        return self.state(handle, self.json(response), response)

    def download(self, handle: Handle, dest: Path) -> None:
        video = self.video(handle)
        if video.data is not None:
            dest.write_bytes(video.data)
        elif video.url.startswith("data:"):
            dest.write_bytes(_data_uri(video.url))
        elif video.url:
            self._stream(video.url, dest, video.params)
        else:
            raise BackendError(f"the finished job {handle.job_id} names no video")

    def close(self) -> None:
        self.client.close()

    # ---- shared mechanics ---------------------------------------------------------------

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.caller.request("GET", url, **kwargs)

    def is_own_origin(self, url: str) -> bool:
        """Whether ``url`` has the API's own scheme, host and port: only there goes the key."""
        return origin(url) in self._own

    def _sign(self, request: httpx.Request) -> None:
        """Runs for every request httpx sends, each redirect too: the key or nothing."""
        request.headers.pop(self.key_header, None)
        if not self.is_own_origin(str(request.url)):
            return
        if self.key_refused is not None:
            raise self.key_refused  # the key was refused: nothing more goes out with it
        request.headers[self.key_header] = f"{self.key_prefix}{self.api_key}"

    def _create(self, call: Call) -> httpx.Response:
        response = self.caller.request(
            call.method, self.base_url + call.path, creates=True, **call.wire()
        )
        if call.fallback is not None and response.status_code in (404, 405):
            return self._create(call.fallback)  # an older server: its older form of the call
        return response

    def _unmade(self, status: int, absent: bool, attempt: int) -> str:
        if absent:
            return (
                f"the server answered {status} to create {attempt + 1} time(s), and its "
                "listing shows no job was made; run again to retry"
            )
        return (
            f"the server answered {status} to create and no job of ours was found; not "
            "retried, so nothing is paid twice; run again to retry"
        )

    def scrub(self, text: str) -> str:
        return redact(text, (self.api_key,))

    def remote_id(self, value: Any) -> str:
        """An id from the server, as safe to write down as its messages."""
        return self.scrub(str(value))

    def json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendError(
                f"the server sent something that is not JSON (HTTP {response.status_code})"
            ) from None
        if not isinstance(data, dict):
            raise BackendError("the server sent JSON of an unexpected shape")
        return data

    def is_gone(self, response: httpx.Response) -> bool:
        return response.status_code == 404

    def check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 300:
            raise self.refusal(response)
        return response

    def error_fields(self, response: httpx.Response) -> tuple[str, str]:
        """The error code and message of an answer ``{"error": {...}}``, both scrubbed."""
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or response.text[:300])
        return self.scrub(str(error.get(self.code_field) or "")), self.scrub(message)

    def classify(self, response: httpx.Response) -> tuple[Kind, str, str]:
        code, message = self.error_fields(response)
        status, table = response.status_code, self.refusals
        kind: Kind = "other"
        if status in table.auth and self.is_own_origin(str(response.request.url)):
            kind = "auth"  # another host's 401 says nothing about our key (it never got it)
        elif code.lower() in table.blocked or any(
            w in message.lower() for w in table.blocked_words
        ):
            kind = "blocked"
        elif (
            status in (408, 409, 429)
            or status >= 500
            or response.headers.get("x-fal-retryable") == "true"
        ):
            kind = "retryable"
        return kind, code, message

    def refusal(self, response: httpx.Response) -> StoryboardError:
        kind, code, message = self.classify(response)
        status = response.status_code
        if kind == "auth":
            self.key_refused = self.key_refused or KeyRefused(
                f"{self.name}: the server rejected the API key in ${self.key_env_name} (HTTP "
                f"{status}): {message}; check the key; nothing more was sent this run"
            )
            return self.key_refused
        if kind == "blocked":
            return JobFailed(message, code or "blocked", blocked=True)
        label = f"HTTP {status}" + (f" ({code})" if code else "")
        hint = "; the server is busy or failing, run again later" if kind == "retryable" else ""
        return BackendError(f"{label}: {message}{hint}")

    def _stream(self, url: str, dest: Path, params: dict[str, str]) -> None:
        """GET ``url`` into ``dest`` within the download limits; the key only if it is ours."""
        limits = self.caller.limits
        left = time_left()
        budget = limits.download if left is None else min(limits.download, left)
        started = time.monotonic()
        timeout = httpx.Timeout(min(limits.read, budget), connect=min(limits.connect, budget))
        try:
            with self.client.stream("GET", url, params=params or None, timeout=timeout) as response:
                if response.status_code >= 300:
                    response.read()
                    raise self._download_refused(response, url)
                with dest.open("wb") as f:
                    for block in response.iter_bytes():
                        f.write(block)
                        _check_pace(f.tell(), time.monotonic() - started, budget, limits)
        except httpx.TransportError as exc:
            raise BackendError(self.scrub(f"download broke off: {exc}")) from None

    def _download_refused(self, response: httpx.Response, url: str) -> StoryboardError:
        if self.is_own_origin(url):
            return self.refusal(response)
        return BackendError(f"download: HTTP {response.status_code} from {urlsplit(url).hostname}")


def _check_pace(done: int, elapsed: float, budget: float, limits: Limits) -> None:
    if elapsed > budget:
        raise BackendError(f"download took longer than {budget:.0f} s; abandoned")
    if elapsed > limits.grace and done / elapsed < limits.min_rate:
        raise BackendError(f"download slower than {limits.min_rate / 1024:.0f} KiB/s; abandoned")


def _data_uri(url: str) -> bytes:
    try:
        return base64.b64decode(url.split(",", 1)[1], validate=True)
    except (IndexError, ValueError):
        raise BackendError("the server's inline video is not valid base64") from None
