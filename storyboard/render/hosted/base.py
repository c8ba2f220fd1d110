"""What every hosted backend shares: its key and URL from the environment, one httpx client
with timeouts and retries, lenient JSON, and reference images fitted before they are sent."""

from __future__ import annotations

import io
import ipaddress
import time
from collections.abc import Callable
from math import gcd
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from storyboard.errors import BackendError, ConfigError
from storyboard.render.base import BackendConfig, Handle, RenderJob
from storyboard.render.hosted.http import Caller, Pace, redact

__all__ = ["RemoteBackend", "aspect_ratio", "check_url", "fitted_image"]


def check_url(url: str, allow_insecure_http: bool) -> None:
    """Plain http only to this machine, unless the user says otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "https" or allow_insecure_http:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ConfigError(f"refusing to send an API key over plain http to {host or url}; use "
                          "https, a loopback address, or pass --allow-insecure-http")


def aspect_ratio(width: int, height: int) -> str:
    """1280x720 → '16:9'."""
    d = gcd(width, height)
    return f"{width // d}:{height // d}"


def fitted_image(job: RenderJob, width: int, height: int) -> bytes:
    """The shot's reference fitted to exactly width x height (cover or contain), as PNG."""
    from PIL import Image, ImageOps

    assert job.shot.reference is not None
    with Image.open(job.shot.reference) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    if job.shot.fit == "contain":
        fitted = ImageOps.pad(image, (width, height), color=(20, 20, 22))
    else:
        fitted = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    fitted.save(buffer, "PNG")
    return buffer.getvalue()


class RemoteBackend:
    """Base of the hosted backends. Subclasses set the class attributes and ``headers``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    key_env: ClassVar[str]  # where the key is, unless render.api_key_env says otherwise
    url_env: ClassVar[str | None] = None  # an environment variable that may hold the base URL
    default_url: ClassVar[str]

    def __init__(self, base_url: str, api_key: str, *, pace: Pace | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.client = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0),
                                   follow_redirects=True, headers=self.headers(api_key))
        self.caller = Caller(self.client, (api_key,), pace or Pace(sleep=sleep))

    @classmethod
    def headers(cls, api_key: str) -> dict[str, str]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: BackendConfig) -> RemoteBackend:
        env_name = config.render.api_key_env or cls.key_env
        key = config.env.get(env_name, "")
        if not key:
            raise ConfigError(f"backend '{cls.name}' needs an API key in ${env_name}; set it "
                              "(the key is never written to the storyboard, logs or manifest)")
        url = (config.base_url or config.render.base_url
               or (config.env.get(cls.url_env) if cls.url_env else None) or cls.default_url)
        check_url(url, config.allow_insecure_http)
        return cls(url, key)

    def find(self, job: RenderJob, since: float) -> Handle | None:
        """Servers that cannot list their jobs cannot find one whose answer was lost."""
        return None

    def close(self) -> None:
        self.client.close()

    def scrub(self, text: str) -> str:
        return redact(text, (self.api_key,))

    def json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendError(f"the server sent something that is not JSON "
                               f"(HTTP {response.status_code})") from None
        if not isinstance(data, dict):
            raise BackendError("the server sent JSON of an unexpected shape")
        return data

    def error_of(self, response: httpx.Response) -> tuple[dict[str, Any], str]:
        """The ``{"error": {...}}`` object of an answer (or {}), and its message, scrubbed."""
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        error = error if isinstance(error, dict) else {}
        return error, self.scrub(str(error.get("message") or response.text[:300]))

    def is_own_host(self, url: str) -> bool:
        """Whether ``url`` is on the API's own host: only there does the key go."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.hostname, a.port) == (b.hostname, b.port)

    def stream_to(self, url: str, dest: Any, *, params: dict[str, str] | None = None,
                  with_key: bool = True) -> httpx.Response:
        """Stream a GET to ``dest``; the key goes only where ``with_key`` says it may."""
        client = self.client if with_key else httpx.Client(
            timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True)
        try:
            with client.stream("GET", url, params=params) as response:
                if response.status_code < 300:
                    with dest.open("wb") as f:
                        for block in response.iter_bytes(1 << 16):
                            f.write(block)
                else:
                    response.read()
                return response
        except httpx.TransportError as exc:
            raise BackendError(self.scrub(f"download broke off: {exc}")) from None
        finally:
            if not with_key:
                client.close()
