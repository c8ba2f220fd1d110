"""Problems written for the outside world: a terminal, or GitHub's workflow-command parser.

User text reaches these lines (cast names, ids, paths), so nothing in it may act on the reader:
no terminal escape sequence, no line break that starts a forged second problem or annotation.
"""

from __future__ import annotations

import re

from storyboard.format.model import Problem

__all__ = ["clean_text", "format_problem", "github_data", "github_property"]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """``text`` safe for one line of a terminal: escape sequences removed, other control
    characters (line breaks too) shown as escapes (``\\n``) rather than obeyed."""
    text = _ESCAPES.sub("", text)
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode(), text)


def github_data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command's property value (file=...): also ':' and ',', which end one."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def format_problem(problem: Problem, *, github: bool = False) -> str:
    """One problem as a line: ``FILE:LINE:COL: severity: message``, or a GitHub annotation."""
    if not github:
        where = f"{clean_text(str(problem.location))}: " if problem.location else ""
        return f"{where}{problem.severity}: {clean_text(problem.message)}"
    props = []
    loc = problem.location
    if loc is not None:
        props.append(f"file={github_property(loc.file)}")
        if loc.line:  # a file that cannot be read has no line: no line=0
            props += [f"line={loc.line}", f"col={loc.col}"]
    head = f"::{problem.severity} {','.join(props)}" if props else f"::{problem.severity}"
    return f"{head}::{github_data(problem.message)}"
