"""HTTP for hosted backends: retries as openai-python does them, a shared slow-down on 429,
and errors that never carry a secret.

Retried: 408, 409, 429, 5xx and connection errors, at most ``max_retries`` times, waiting what
``retry-after-ms`` / ``retry-after`` ask (up to 120 s), else ``min(0.5 * 2**n, 8)`` seconds
times a random factor in (0.75, 1]; ``x-should-retry: true|false`` overrides. A request that
may create a paid job is retried only where it surely created nothing: a 429, a connection
refused before anything was sent, or the server's own ``x-should-retry: true``.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from storyboard.errors import BackendError

__all__ = ["Caller", "Pace", "redact", "retry_delay"]

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0
_RETRYABLE = {408, 409, 429}


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
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


def retry_delay(attempt: int, headers: httpx.Headers | None,
                rand: Callable[[], float] = random.random) -> float:
    asked = retry_after(headers) if headers is not None else None
    if asked is not None and math.isfinite(asked) and 0 < asked <= MAX_RETRY_AFTER:
        return asked
    return min(0.5 * 2.0 ** attempt, 8.0) * (1 - 0.25 * rand())


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
            self.sleep(left)


@dataclass
class Caller:
    """Makes requests with retries; every error message is scrubbed of the secrets."""

    client: httpx.Client
    secrets: tuple[str, ...] = ()
    pace: Pace = field(default_factory=Pace)
    max_retries: int = 2
    rand: Callable[[], float] = random.random

    def request(self, method: str, url: str, *, creates: bool = False,
                **kwargs: Any) -> httpx.Response:
        """Send, retrying what is safe to retry; returns the last response (any status)."""
        attempt = 0
        while True:
            self.pace.wait()
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.ConnectError as exc:  # nothing reached the server
                if attempt >= self.max_retries:
                    raise BackendError(self._scrub(f"cannot connect to {url}: {exc}")) from None
                self.pace.sleep(retry_delay(attempt, None, self.rand))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                if creates or attempt >= self.max_retries:
                    raise BackendError(self._scrub(f"{method} {url} failed: {exc}")) from None
                self.pace.sleep(retry_delay(attempt, None, self.rand))
                attempt += 1
                continue
            if attempt >= self.max_retries or not self._should_retry(response, creates):
                return response
            delay = retry_delay(attempt, response.headers, self.rand)
            log.info("retrying %s %s after %s in %.2f s", method, url, response.status_code, delay)
            if response.status_code == 429:
                self.pace.hold(delay)  # the whole run slows down, not just this job
            else:
                self.pace.sleep(delay)
            attempt += 1

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
