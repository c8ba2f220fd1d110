"""Build the harbor short through the Python API instead of the command line.

    python examples/build_api.py [STORYBOARD] [--jobs N]

The same steps as ``storyboard build``: validate, compile, render (reusing what is current),
stitch. Progress arrives as typed events; this script chooses how to show them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storyboard import pipeline
from storyboard.errors import StoryboardError, ValidationFailed
from storyboard.events import Event

HARBOR = Path(__file__).resolve().parent / "harbor-short.yaml"


def show(event: Event) -> None:
    if event.kind in ("rendered", "reused", "failed", "warning"):
        detail = event.error or event.message or (f"{event.elapsed:.1f} s" if event.elapsed else "")
        print(f"{event.kind:<8} {event.shot_id} {detail}".rstrip(), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storyboard", nargs="?", type=Path, default=HARBOR)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    try:
        compiled = pipeline.compile(args.storyboard, pipeline.Options(jobs=args.jobs))
        print(
            f"{compiled.board.title}: {len(compiled.shots)} shots on "
            f"{compiled.settings.backend_name}",
            file=sys.stderr,
        )
        rendered = pipeline.render(compiled, on_event=show)
        if rendered.failed:
            print(f"not stitching: {len(rendered.failed)} shot(s) failed", file=sys.stderr)
            return 3
        edit = pipeline.stitch(compiled, on_event=show)
    except ValidationFailed as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except StoryboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(edit.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
