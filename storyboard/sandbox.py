"""The sandbox every prompt template runs in, ours and the user's.

A template sees plain data only (strings, numbers, lists and mappings built for it, see
``compile.template_view``) and may do very little with it:

- read keys of mappings and items of lists; nothing else has attributes;
- call only its own macros, ``super()`` / ``self.block()`` and ``range()``: no methods, no
  ``cycler``, ``joiner``, ``lipsum``, ``namespace`` or ``dict``;
- use only the filters in ``ALLOWED_FILTERS`` plus the project's own;
- build no value over ``MAX_VALUE`` characters or items (``*``, ``**``, ``+``, ``~``, ``replace``,
  ``join`` and captured output are checked *before* they allocate), write no part over
  ``MAX_OUTPUT`` characters, and run at most ``MAX_SECONDS`` per part while the process grows by
  at most ``MAX_GROWTH`` bytes (checked from a trace hook as the template's code runs);
- load templates only from the package and from the ``--templates`` folder: no file that
  resolves outside it (a symlink to ``/proc/self/environ`` is refused), none over
  ``MAX_TEMPLATE_BYTES``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import BlockReference, LoopContext, Macro, TemplateReference
from jinja2.sandbox import SandboxedEnvironment, SecurityError

__all__ = ["ALLOWED_FILTERS", "TemplateLimit", "TemplateSandbox", "guarded", "FolderLoader"]

MAX_VALUE = 100_000  # characters of a string, or items of a list, made inside a template
MAX_OUTPUT = 100_000  # characters of one rendered part
MAX_SECONDS = 2.0  # per rendered part
MAX_GROWTH = 256 * 2**20  # bytes the process may grow by while one part renders
MAX_TEMPLATE_BYTES = 256 * 2**10
MAX_RANGE = 100_000
MAX_INT_BITS = 4_096

ALLOWED_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "int", "items",
    "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
    "replace", "reverse", "round", "select", "selectattr", "sort", "string", "sum", "title",
    "trim", "truncate", "unique", "upper", "wordcount",
)  # fmt: skip


class TemplateLimit(SecurityError):
    """A template went over one of the sandbox's bounds (size, time or memory)."""


class _Generator(CodeGenerator):
    """Compiles ``a ~ b ~ c`` to a size-checked join instead of jinja's unchecked one."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class TemplateSandbox(SandboxedEnvironment):
    """A SandboxedEnvironment that allows a short list of things instead of refusing a few."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})
    code_generator_class = _Generator

    def __init__(
        self,
        loader: jinja2.BaseLoader,
        filters: dict[str, Callable[..., Any]],
        untrusted: Path | None = None,
    ) -> None:
        self.untrusted = f"{untrusted}{os.sep}" if untrusted is not None else None
        super().__init__(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        builtin = {name: self.filters[name] for name in ALLOWED_FILTERS}
        builtin["join"], builtin["replace"] = _bounded_join, _bounded_replace
        self.filters = {**builtin, **filters}
        self.globals = {"range": _bounded_range}
        self.concat = _bounded_concat  # type: ignore[method-assign]  # joins captured output

    def render(self, template: jinja2.Template, context: dict[str, Any]) -> str:
        """The template's output: the user's templates also bounded in time and memory.

        Ours are trusted to loop only over the shot's data (and are cheaper unguarded: the trace
        hook makes a part about four times slower).
        """
        parts = template.generate(context)
        users = self.untrusted and (template.filename or "").startswith(self.untrusted)
        return guarded(parts) if users else _joined(parts)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and isinstance(obj, _JINJA_OBJECTS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            return self.getitem(obj, attribute)
        if isinstance(obj, _JINJA_OBJECTS) and not attribute.startswith("_"):
            return super().getattr(obj, attribute)
        return self._refuse(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            if isinstance(argument, str) and argument in obj:
                return obj[argument]
            return self.undefined(obj=obj, name=argument)
        if isinstance(obj, (list, tuple, str, range)) and isinstance(argument, (int, slice)):
            try:
                return obj[argument]
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(argument, str):
            return self._refuse(obj, argument)
        return self.undefined(obj=obj, name=argument)

    def _refuse(self, obj: Any, name: str) -> Any:
        if isinstance(obj, jinja2.Undefined):
            return obj._fail_with_undefined_error()
        raise SecurityError(
            f"'{name}' is not allowed: in a template only mappings have fields "
            f"(this is a {_kind(obj)}); use filters (| upper, | length, ...)"
        )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if isinstance(__obj, jinja2.Undefined):
            __obj._fail_with_undefined_error()
        if not (isinstance(__obj, (Macro, BlockReference)) or __obj is _bounded_range):
            raise SecurityError(
                f"calling {_describe(__obj)} is not allowed: a template may call only its own "
                "macros, super() and range(); use filters (| upper, | join(', '), ...) instead "
                "of methods"
            )
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError(
                "'%' string formatting is not allowed in templates; join values with ~ instead"
            )
        _check_binop(operator, left, right)
        return self.binop_table[operator](left, right)


_JINJA_OBJECTS = (LoopContext, TemplateReference, BlockReference, Macro)


def _kind(obj: Any) -> str:
    return {
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        list: "list",
        tuple: "list",
        range: "range",
    }.get(type(obj), type(obj).__name__)


def _describe(obj: Any) -> str:
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return f"'{name}'"


def _size(value: Any) -> int:
    """Characters of a string, or items of a list (strings inside counted by length)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sum(len(v) if isinstance(v, str) else 1 for v in value)
    return 0


def _too_big(what: str, size: float) -> TemplateLimit:
    return TemplateLimit(
        f"{what} would make a value of {size:,.0f} characters or items; a "
        f"template may make at most {MAX_VALUE:,}"
    )


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                if _size(seq) * times > MAX_VALUE:
                    raise _too_big("'*'", _size(seq) * times)
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
        _check_bits(max(0, right) * math.log2(abs(left)))
    elif operator == "+" and isinstance(left, (str, list, tuple)):
        if _size(left) + _size(right) > MAX_VALUE:
            raise _too_big("'+'", _size(left) + _size(right))


def _check_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimit(f"a number of about {bits:,.0f} bits is too big for a template")


def _bounded_concat(pieces: Iterable[Any]) -> str:
    pieces = [p if isinstance(p, str) else str(p) for p in pieces]
    total = sum(len(p) for p in pieces)
    if total > MAX_VALUE:
        raise _too_big("joining text", total)
    return "".join(pieces)


def _bounded_join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = []
    total = 0
    for item in value:
        text = str(item[attribute] if attribute is not None else item)
        total += len(text) + len(d)
        if total > MAX_VALUE:
            raise _too_big("join", total)
        items.append(text)
    return str(d).join(items)


def _bounded_replace(s: Any, old: str, new: str, count: int | None = None) -> str:
    s, old, new = str(s), str(old), str(new)
    hits = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    size = len(s) + hits * (len(new) - len(old))
    if size > MAX_VALUE:
        raise _too_big("replace", size)
    return s.replace(old, new, -1 if count is None else count)


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimit(
            f"range() of {len(rng):,} numbers; a template may count to {MAX_RANGE:,}"
        )
    return rng


# ---- bounds on time, memory and output ------------------------------------------------------


def guarded(parts: Iterator[str], seconds: float | None = None) -> str:
    """Join a template's output while holding it to the time, memory and output bounds."""
    guard = _Guard(MAX_SECONDS if seconds is None else seconds)
    previous = sys.gettrace()
    sys.settrace(guard.trace)
    try:
        return _joined(parts)
    finally:
        sys.settrace(previous)


def _joined(parts: Iterator[str]) -> str:
    out: list[str] = []
    total = 0
    for piece in parts:
        total += len(piece)
        if total > MAX_OUTPUT:
            raise TemplateLimit(f"the template wrote more than {MAX_OUTPUT:,} characters")
        out.append(piece)
    return "".join(out)


class _Guard:
    """A trace hook that stops the template past its deadline or its memory growth."""

    EVERY = 256  # events between checks of the clock and the process size

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.base = _rss()
        self.events = 0

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        self.events += 1
        if not self.events % self.EVERY:
            self._check()
        return self.trace_lines if frame.f_code.co_filename.endswith(_TEMPLATE_SUFFIXES) else None

    def trace_lines(self, frame: FrameType, event: str, arg: Any) -> Any:
        self.events += 1
        if not self.events % self.EVERY:
            self._check()
        return self.trace_lines

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template ran longer than {self.seconds:g} s")
        if self.base and _rss() - self.base > MAX_GROWTH:
            raise TemplateLimit(f"the template used more than {MAX_GROWTH // 2**20} MiB")


_TEMPLATE_SUFFIXES = (".j2", "<template>")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    """The process's resident size in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


# ---- where templates come from --------------------------------------------------------------


class FolderLoader(jinja2.BaseLoader):
    """Templates from one folder: regular files that resolve inside it, of a bounded size."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = jinja2.loaders.split_template_path(template)
        path = self.folder.joinpath(*pieces)
        if not path.is_file():
            raise jinja2.TemplateNotFound(template)
        real = path.resolve()
        if not real.is_relative_to(self.folder):
            raise SecurityError(
                f"template {template} resolves to {real}, outside the templates "
                "folder; copy the file in instead of linking to it"
            )
        if real.stat().st_size > MAX_TEMPLATE_BYTES:
            raise TemplateLimit(f"template {template} is over {MAX_TEMPLATE_BYTES // 1024} KiB")
        try:
            source = real.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SecurityError(f"template {template} is not UTF-8 text") from None
        return source, str(path), lambda: True
