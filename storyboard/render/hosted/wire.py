"""A hosted request as plain data: built once per shot, then either sent or digested.

A backend describes the create it would make as a ``Call``: JSON, form fields and files, with
every image a ``Blob``. Sending turns blobs into what the API takes (a file part, base64, a
data URI); ``material`` turns them into the sha256 of those bytes, so a shot's render key is
the request itself, built by the same code, with no network and no key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Blob", "Call", "digested", "encoded", "material"]


@dataclass(frozen=True)
class Blob:
    """Bytes inside a request, and how they travel."""

    data: bytes
    mime: str
    travels: Literal["base64", "data_uri", "file"] = "base64"
    filename: str = "reference.png"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Call:
    """One HTTP request relative to the API base: method, path, JSON or a multipart form."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    form: dict[str, str | Blob] | None = None
    fallback: Call | None = None  # sent instead when the server does not know ``path``

    def wire(self) -> dict[str, Any]:
        """Keyword arguments for httpx: blobs encoded the way the API takes them."""
        if self.form is not None:
            files = [
                (name, (value.filename, value.data, value.mime))
                if isinstance(value, Blob)
                else (name, (None, value))
                for name, value in self.form.items()
            ]
            return {"files": files}
        return {} if self.json is None else {"json": encoded(self.json)}


def encoded(value: Any) -> Any:
    """``value`` with every blob as its wire form."""
    if isinstance(value, Blob):
        text = base64.b64encode(value.data).decode()
        return f"data:{value.mime};base64,{text}" if value.travels == "data_uri" else text
    return _walk(value, encoded)


def digested(value: Any) -> Any:
    """``value`` with every blob as the sha256 of the bytes it carries."""
    if isinstance(value, Blob):
        return {"sha256": value.sha256, "mime": value.mime, "travels": value.travels}
    return _walk(value, digested)


def _walk(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {k: leaf(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [leaf(v) for v in value]
    return value


def material(call: Call) -> dict[str, Any]:
    """The request as JSON-able data, images by hash: what a render key is made of."""
    body: dict[str, Any] = {"method": call.method, "path": call.path}
    if call.json is not None:
        body["json"] = digested(call.json)
    if call.form is not None:
        body["form"] = digested(call.form)
    return body
