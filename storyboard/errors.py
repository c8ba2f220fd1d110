"""The exceptions storyboard raises, one tree::

    StoryboardError                 anything the user can fix; the CLI prints it, never a traceback
    ├── UsageError                  a command-line mistake: an option naming nothing usable (exit 2)
    ├── LoadError                   the file cannot be read or parsed as safe YAML (has a location)
    ├── ValidationFailed            the storyboard has errors (carries every Problem)
    ├── CompileError                a prompt template failed (has the template's file and line)
    ├── BackendNotFound             no backend registered under that name
    ├── ConfigError                 a backend is not set up to run (no API key, insecure URL)
    │   └── KeyRefused              the server refused the key: the whole run stops
    ├── RenderError                 a shot could not be rendered
    │   ├── BackendError            the backend (or its server) refused or broke
    │   ├── JobFailed               a job ended failed or blocked
    │   └── JobTimeout              a job did not finish before its deadline
    ├── MediaError                  ffmpeg could not read or write a media file
    └── StitchError                 the edit could not be made

Foreign exceptions are wrapped where they enter our code (``raise LoadError(...) from exc``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BackendError",
    "BackendNotFound",
    "CompileError",
    "ConfigError",
    "JobFailed",
    "KeyRefused",
    "JobTimeout",
    "LoadError",
    "Location",
    "MediaError",
    "RenderError",
    "StitchError",
    "StoryboardError",
    "UsageError",
    "ValidationFailed",
]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file: 1-based line and column, as editors count."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


class StoryboardError(Exception):
    """Base of every error a user can act on."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location:
            return f"{self.location}: {self.message}"
        return self.message


class UsageError(StoryboardError):
    """A command-line mistake (exit 2): e.g. ``--templates`` naming no folder."""


class LoadError(StoryboardError):
    """The file is not readable, safe YAML with a mapping at the top."""


class ValidationFailed(StoryboardError):
    """The storyboard has one or more errors; ``problems`` lists all of them."""

    def __init__(self, problems: list) -> None:  # list[Problem]; avoids an import cycle
        count = sum(1 for p in problems if p.severity == "error")
        super().__init__(f"{count} error(s) in the storyboard")
        self.problems = problems


class CompileError(StoryboardError):
    """A prompt template could not be loaded or rendered."""


class BackendNotFound(StoryboardError):
    """No backend is registered under the requested name."""


class ConfigError(StoryboardError):
    """A backend is not set up to run: a missing API key, an insecure URL, ..."""


class KeyRefused(ConfigError):
    """The server refused the API key (401/403): the whole run stops, nothing more is sent."""


class RenderError(StoryboardError):
    """A shot could not be rendered."""


class BackendError(RenderError):
    """The backend or its server refused the request or broke."""


class JobFailed(RenderError):
    """A render job ended failed, or blocked by a content policy."""

    def __init__(
        self, message: str, code: str = "", blocked: bool = False, remote_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.blocked = blocked
        self.remote_id = remote_id  # the job on the server, when there was one


class JobTimeout(RenderError):
    """A render job did not finish before its deadline."""


class MediaError(StoryboardError):
    """ffmpeg could not read or write a media file."""


class StitchError(StoryboardError):
    """The shots could not be joined into the edit."""
