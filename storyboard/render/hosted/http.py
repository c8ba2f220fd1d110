"""HTTP for hosted backends: retries as openai-python does them, a shared slow-down on 429,
deadlines that bound every request, and errors that never carry a secret.

Retried: 408, 409, 429, 5xx and connection errors, at most ``max_retries`` times, waiting what
``retry-after-ms`` / ``retry-after`` ask (up to 120 s), else ``min(0.5 * 2**n, 8)`` seconds
times a random factor in (0.75, 1]; ``x-should-retry: true|false`` overrides. A request that
may create a paid job is retried only where it surely created nothing: a 429, a connection
refused before anything was sent, or the server's own ``x-should-retry: true``.

Inside ``within(deadline)`` no request, retry or wait runs past the deadline: each attempt's
timeouts are cut to the time left, and an answer that trickles in past it is abandoned.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from storyboard.errors import BackendError, JobTimeout

__all__ = ["Caller", "Limits", "Pace", "redact", "retry_delay", "time_left", "within"]

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0
_RETRYABLE = {408, 409, 429}
_DEADLINE: ContextVar[float | None] = ContextVar("storyboard_deadline", default=None)


@dataclass(frozen=True)
class Limits:
    """How long anything may take. Deadlines of a job (``poll.timeout``) cut these further."""

    connect: float = 10.0
    read: float = 60.0  # the longest wait for the next bytes of an answer
    answer_bytes: int = 256 << 20  # an API answer (not a download) larger than this is refused
    download: float = 900.0  # one download attempt, in all
    min_rate: float = 32 << 10  # bytes per second a download keeps up, once past ``grace``
    grace: float = 10.0


@contextmanager
def within(deadline: float | None) -> Iterator[None]:
    """Requests made inside finish by ``deadline`` (``time.monotonic()`` seconds)."""
    outer = _DEADLINE.get()
    if deadline is None or (outer is not None and outer < deadline):
        deadline = outer
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left before the current deadline (None: there is none)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, "[redacted]")
    return text


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait, from retry-after-ms or retry-after."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            if name == "retry-after":
                parsed = email.utils.parsedate_tz(value)
                if parsed is not None:
                    return float(email.utils.mktime_tz(parsed) - time.time())
    return None


def retry_delay(
    attempt: int, headers: httpx.Headers | None, rand: Callable[[], float] = random.random
) -> float:
    asked = retry_after(headers) if headers is not None else None
    if asked is not None and math.isfinite(asked) and 0 < asked <= MAX_RETRY_AFTER:
        return asked
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * rand())


@dataclass
class Pace:
    """Shared by every job of a run: after a 429 nobody sends before ``resume_at``."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    resume_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, seconds: float) -> None:
        with self.lock:
            self.resume_at = max(self.resume_at, self.clock() + seconds)

    def wait(self) -> None:
        while (left := self.resume_at - self.clock()) > 0:
            self.sleep(_bounded(left))


def _bounded(seconds: float) -> float:
    """A wait cut to the deadline; at the deadline, the wait is over (raises)."""
    left = time_left()
    if left is not None and left <= seconds:
        raise JobTimeout("the job's deadline passed while waiting to send a request")
    return seconds


@dataclass
class Caller:
    """Makes requests with retries; every error message is scrubbed of the secrets."""

    client: httpx.Client
    secrets: tuple[str, ...] = ()
    pace: Pace = field(default_factory=Pace)
    max_retries: int = 2
    rand: Callable[[], float] = random.random
    limits: Limits = field(default_factory=Limits)

    def request(
        self, method: str, url: str, *, creates: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """Send, retrying what is safe to retry; returns the last response (any status)."""
        attempt = 0
        while True:
            self.pace.wait()
            try:
                response = self._send(method, url, **kwargs)
            except httpx.ConnectError as exc:  # nothing reached the server
                if attempt >= self.max_retries:
                    raise BackendError(self._scrub(f"cannot connect to {url}: {exc}")) from None
                self._pause(retry_delay(attempt, None, self.rand))
            except httpx.TransportError as exc:
                if creates or attempt >= self.max_retries or _past_deadline():
                    raise self._broke(method, url, exc, creates) from None
                self._pause(retry_delay(attempt, None, self.rand))
            else:
                if attempt >= self.max_retries or not self._should_retry(response, creates):
                    return response
                delay = retry_delay(attempt, response.headers, self.rand)
                log.info(
                    "retrying %s %s after %s in %.2f s", method, url, response.status_code, delay
                )
                left = time_left()
                if left is not None and left <= delay:
                    return response  # no time for another try: the caller sees this answer
                if response.status_code == 429:
                    self.pace.hold(delay)  # the whole run slows down, not just this job
                else:
                    self._pause(delay)
            attempt += 1

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One attempt, its timeouts cut to the deadline, its answer read whole."""
        left = time_left()
        if left is not None and left <= 0:
            raise JobTimeout(f"the job's deadline passed before {method} could be sent")
        limits = self.limits
        cap = limits.read if left is None else max(0.01, min(limits.read, left))
        timeout = httpx.Timeout(cap, connect=min(limits.connect, cap))
        until = None if left is None else time.monotonic() + left
        with self.client.stream(method, url, timeout=timeout, **kwargs) as response:
            body = bytearray()
            for block in response.iter_bytes():
                body += block
                if until is not None and time.monotonic() > until:
                    raise httpx.ReadTimeout("the answer was still arriving at the deadline")
                if len(body) > limits.answer_bytes:
                    raise BackendError(
                        f"the answer to {method} is larger than "
                        f"{limits.answer_bytes >> 20} MiB; refused"
                    )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=bytes(body),
            request=response.request,
        )

    def _pause(self, seconds: float) -> None:
        self.pace.sleep(_bounded(seconds))

    def _broke(self, method: str, url: str, exc: Exception, creates: bool) -> Exception:
        if isinstance(exc, httpx.TimeoutException) and _past_deadline():
            what = (
                (
                    "the create got no answer before the job's deadline; the job may exist: "
                    "run again to look for it (it is not created twice)"
                )
                if creates
                else f"no answer to {method} {url} before the job's deadline"
            )
            return JobTimeout(self._scrub(what))
        return BackendError(self._scrub(f"{method} {url} failed: {exc}"))

    def _should_retry(self, response: httpx.Response, creates: bool) -> bool:
        asked = retry_after(response.headers)
        if asked is not None and asked > MAX_RETRY_AFTER:
            return False
        # the server's own word wins: OpenAI's x-should-retry, fal's X-Fal-Retryable
        header = response.headers.get("x-should-retry") or response.headers.get("x-fal-retryable")
        if header in ("true", "false"):
            return header == "true"
        if creates:
            return response.status_code == 429
        return response.status_code in _RETRYABLE or response.status_code >= 500

    def _scrub(self, text: str) -> str:
        return redact(text, self.secrets)


def _past_deadline() -> bool:
    left = time_left()
    return left is not None and left <= 0.5
