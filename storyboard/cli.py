"""The command line: parse arguments, call the library, map errors to exit codes.

Exit codes (SPEC §4): 0 success; 1 the storyboard or its inputs are invalid; 2 usage error;
3 some shots failed to render or the stitch failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from storyboard import __version__
from storyboard.errors import StoryboardError, UsageError, ValidationFailed
from storyboard.format.model import Problem

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class BudgetExceeded(StoryboardError):
    """The estimate is over --budget (exit 1: nothing was sent)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except ValidationFailed as exc:
        _print_problems(exc.problems, sys.stderr)
        _json_failure(args, "the storyboard has errors", exc.problems)
        return EXIT_INVALID
    except UsageError as exc:
        print(f"storyboard: error: {exc}", file=sys.stderr)
        _json_failure(args, str(exc))
        return EXIT_USAGE
    except StoryboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _json_failure(args, str(exc))
        return _exit_code_for(exc)
    except BrokenPipeError:  # e.g. `storyboard compile x.yaml | head`
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted; finished renders are kept, run the command again to resume",
              file=sys.stderr)
        return 130


def _json_failure(args: argparse.Namespace, message: str,
                  problems: Sequence[Problem] = ()) -> None:
    """With --format json, a failure is a JSON object on stdout too, never an empty stdout."""
    from storyboard.jsonout import failure, write_json

    if getattr(args, "format", None) == "json":
        path = getattr(args, "file", None) or (getattr(args, "files", None) or [None])[0]
        write_json(failure(args.command, path, message, problems), sys.stdout)


def _exit_code_for(exc: StoryboardError) -> int:
    from storyboard.errors import MediaError, RenderError, StitchError

    return EXIT_FAILED if isinstance(exc, (RenderError, StitchError, MediaError)) else EXIT_INVALID


# ---- argument parsing -----------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storyboard",
        description="Turn a YAML storyboard into prompts, previs renders and an edit.",
    )
    parser.add_argument("--version", action="version", version=f"storyboard {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, (handler, help_text, add_args) in _COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_args(command)
        command.set_defaults(handler=handler, command=name)
    return parser


def _common(p: argparse.ArgumentParser, *, backend: bool = True) -> None:
    if backend:
        p.add_argument("--backend", metavar="B", help="render backend (overrides render.backend)")
        p.add_argument("--target", metavar="NAME",
                       help="render with the settings of render.targets.NAME")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="let references and audio files lie outside the storyboard's folder")
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")


def _args_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--format", choices=("text", "github", "json"), default="text",
                   help="text (FILE:LINE:COL: error: ...), github (Actions annotations) or json")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument("--only-storyboards", action="store_true",
                   help="skip YAML files whose top level has neither version: nor shots: "
                        "(for hooks that pick files by name)")
    _common(p)


def _args_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument("--templates", type=Path, metavar="DIR", help="override prompt templates")
    _common(p)


def _takes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--takes", type=_positive_int, metavar="N",
                   help="takes of every shot (overrides takes: in the storyboard)")


def _args_takes(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _takes_option(p)
    _out_and_templates(p)
    _common(p)


def _args_render(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="shots rendered at once (default: the number of cores for previs, "
                        "4 for hosted backends)")
    p.add_argument("--force", action="store_true", help="render again even when up to date")
    p.add_argument("--budget", type=_usd, metavar="USD",
                   help="refuse to start when the shots to render would cost more")
    _out_and_templates(p)
    _hosted(p)
    _common(p)


def _hosted(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", metavar="URL",
                   help="hosted backends: the API's base URL (overrides render.base_url)")
    p.add_argument("--allow-insecure-http", action="store_true",
                   help="allow plain http to a host that is not this machine")


def _args_stitch(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--allow-missing", action="store_true",
                   help="put a titled slate in place of a shot that is not rendered")
    _out_and_templates(p)
    _common(p)


def _args_build(p: argparse.ArgumentParser) -> None:
    _args_render(p)
    p.add_argument("--allow-missing", action="store_true",
                   help="stitch even when shots failed, with slates in their place")


def _args_shotlist(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _format_option(p, ("md", "csv", "html", "json"))
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="render folder to take thumbnails from (default: renders/<file stem>/)")
    _common(p)


def _args_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _format_option(p, ("text", "json"))
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="render folder to read (default: renders/<file stem>/)")
    _common(p)


def _args_export(p: argparse.ArgumentParser) -> None:
    from storyboard.edit.export import FORMATS

    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--format", choices=tuple(FORMATS), default="otio",
                   help="otio (Resolve, Premiere), otioz (with the media), edl (CMX 3600), "
                        "fcp7xml, fcpxml or aaf (default otio)")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="the file to write (default: renders/<stem>/<stem>.<format's suffix>)")
    p.add_argument("--renders", type=Path, metavar="DIR",
                   help="render folder to read (default: renders/<file stem>/)")
    _common(p)


def _format_option(p: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    """--format, with --json kept as an alias of --format json."""
    p.add_argument("--format", choices=choices, default=choices[0],
                   help=f"output format: {', '.join(choices)} (default {choices[0]})")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="the same as --format json")


def _args_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--check", action="store_true",
                   help="exit 3 when any shot is not rendered and current")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _out_and_templates(p)
    _common(p)


def _out_and_templates(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: renders/<file stem>/ beside the storyboard)")
    p.add_argument("--templates", type=Path, metavar="DIR", help="override prompt templates")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in USD, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a finite amount of at least 0")
    return value


def _args_estimate(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument("--jobs", type=_positive_int, metavar="N", help="as for render")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _out_and_templates(p)
    _common(p)


def _args_fake_api(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", choices=("openai", "fal", "gemini", "runway"),
                   default="openai",
                   help="which API to fake (default openai: /v1/videos)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--key", default="sk-fake", help="the API key it accepts (default sk-fake)")
    p.add_argument("--latency", type=float, default=2.0,
                   help="seconds from create to completed (default 2)")


def _args_review(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--dest", type=Path, metavar="DIR",
                   help="where the review folder goes (default: review/ in the render folder)")
    _out_and_templates(p)
    _common(p)


def _args_contact_sheet(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--format", choices=("png", "pdf"), default="png")
    p.add_argument("--dest", type=Path, metavar="FILE",
                   help="the file to write (default: <stem>-contact.<format> in the render folder)")
    _out_and_templates(p)
    _common(p)


def _args_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("--write", type=Path, metavar="DIR",
                   help="write DIR/storyboard.schema.json (refresh the copy editors read)")


def _args_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="only this backend's models")
    _format_option(p, ("text", "markdown", "json"))


def _args_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR")
    p.add_argument("-q", "--quiet", action="store_true")


# ---- commands -------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    from storyboard.format.validate import is_storyboard

    _check_backend_name(args.backend)
    files = args.files
    if args.only_storyboards:
        files = [f for f in files if is_storyboard(f) or _skipped(f, args.quiet)]
    reports = [_validate(f, args) for f in files]
    if args.format == "json":
        json.dump([_report_json(r, args.strict) for r in reports], sys.stdout, indent=2)
        print()
    for report in reports:
        if args.format != "json":
            _print_problems(report.problems, sys.stdout, github=args.format == "github")
        if not args.quiet:
            print(_summary(report), file=sys.stderr)
    return EXIT_INVALID if any(r.failed(args.strict) for r in reports) else EXIT_OK


def _skipped(path: Path, quiet: bool) -> bool:
    if not quiet:
        print(f"{path}: skipped: not a storyboard (no version: or shots: at the top level)",
              file=sys.stderr)
    return False


def cmd_compile(args: argparse.Namespace) -> int:
    from storyboard.compile import prompt_record

    board = _load(args)
    prompts = _compile(args, board)
    chosen = _select_shots(board, args.shot)
    backend = args.backend or board.render.backend
    pairs = [(s, p) for s, p in zip(board.shots, prompts, strict=True) if s.id in chosen]
    if args.format == "json":
        records = [prompt_record(board, s, p, backend) for s, p in pairs]
        json.dump({"storyboard": str(board.path), "title": board.title, "shots": records},
                  sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for n, (shot, prompt) in enumerate(pairs):
        if n:
            print()
        print(f"# {shot.number}. {shot.id} ({shot.seconds:g} s)")
        print(prompt.text)
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from storyboard.render.stage import default_out_dir, render_storyboard

    board = _load(args)
    chosen = _select_shots(board, args.shot)
    prompts = _compile(args, board)
    backend = args.backend or board.render.backend
    out_dir = args.out or default_out_dir(board)
    jobs = _check_budget(args, board, prompts, backend, out_dir)
    reporter = Reporter(quiet=args.quiet, total=len(chosen))
    results = render_storyboard(board, prompts, backend, out_dir, only=args.shot, jobs=jobs,
                                force=args.force, on_event=reporter, config=_config(args, board))
    reporter.summary(results)
    return EXIT_FAILED if any(r.status in ("failed", "skipped") for r in results) else EXIT_OK


def _jobs(args: argparse.Namespace, backend: str) -> int:
    from storyboard.render.registry import load_backend

    if args.jobs:
        return int(args.jobs)
    hosted = not callable(getattr(load_backend(backend), "render", None))
    return 4 if hosted else (os.cpu_count() or 1)


def _config(args: argparse.Namespace, board):
    from storyboard.render.base import BackendConfig

    return BackendConfig(render=board.render, base_url=args.base_url,
                         allow_insecure_http=args.allow_insecure_http, env=dict(os.environ))


def _check_budget(args: argparse.Namespace, board, prompts, backend: str,
                  out_dir: Path) -> int:
    """The number of jobs; refuses (exit 1, nothing sent) when --budget is exceeded."""
    from storyboard.render.estimate import estimate

    jobs = _jobs(args, backend)
    if args.budget is None:
        return jobs
    plan = estimate(board, prompts, backend, out_dir, jobs, getattr(args, "shot", None))
    cost = plan.cost if not args.force else sum(
        (s.rendered_seconds * s.price_per_second) if s.price_per_second is not None else math.inf
        for s in plan.shots)
    if cost is None or cost > args.budget:
        shown = "an unknown amount (no price for this model: set render.capabilities."\
                "price_per_second)" if cost is None or math.isinf(cost) else f"${cost:.2f}"
        raise BudgetExceeded(f"the shots to render would cost {shown}, over the budget of "
                             f"${args.budget:.2f}; nothing was sent")
    return jobs


def cmd_stitch(args: argparse.Namespace) -> int:
    from storyboard.edit.stitch import stitch
    from storyboard.render.stage import default_out_dir, shot_states

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    states = shot_states(board, _compile(args, board),
                         args.backend or board.render.backend, out_dir)
    stale = [s.shot_id for s in states if s.state == "stale"]
    if stale and not args.quiet:
        print(f"warning: stitching renders older than the storyboard: {', '.join(stale)} "
              "(storyboard build renders them again first)", file=sys.stderr)
    result = stitch(board, out_dir, allow_missing=args.allow_missing)
    _report_edit(result, args.quiet)
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from storyboard.edit.stitch import stitch
    from storyboard.render.stage import default_out_dir, render_storyboard

    board = _load(args)
    prompts = _compile(args, board)
    out_dir = args.out or default_out_dir(board)
    backend = args.backend or board.render.backend
    jobs = _check_budget(args, board, prompts, backend, out_dir)
    reporter = Reporter(quiet=args.quiet, total=len(board.shots))
    results = render_storyboard(board, prompts, backend, out_dir, jobs=jobs, force=args.force,
                                on_event=reporter, config=_config(args, board))
    reporter.summary(results)
    failed = [r.shot_id for r in results if r.status in ("failed", "skipped")]
    if failed and not args.allow_missing:
        print(f"error: not stitching: {len(failed)} shot(s) failed: {', '.join(failed)}; "
              "fix them and build again (finished shots are kept), or pass --allow-missing",
              file=sys.stderr)
        return EXIT_FAILED
    result = stitch(board, out_dir, allow_missing=args.allow_missing)
    _report_edit(result, args.quiet)
    return EXIT_FAILED if failed else EXIT_OK


def _report_edit(result, quiet: bool) -> None:
    if not quiet:
        state = "up to date" if result.status == "up-to-date" else "stitched"
        slates = f" ({len(result.slates)} slate(s) for missing shots)" if result.slates else ""
        print(f"edit {state}: {result.seconds:.2f} s{slates}", file=sys.stderr)
    print(result.path)


def cmd_shotlist(args: argparse.Namespace) -> int:
    from storyboard.render.stage import default_out_dir
    from storyboard.review.shotlist import render_shotlist

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    if args.format == "json":
        from storyboard.jsonout import envelope, write_json
        from storyboard.review.shotlist import shotlist_record

        write_json(envelope("shotlist", board.path, shotlist_record(board, out_dir)), sys.stdout)
        return EXIT_OK
    sys.stdout.write(render_shotlist(board, args.format, out_dir))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from storyboard.edit.plan import build_plan, plan_record
    from storyboard.edit.plan_text import plan_table
    from storyboard.jsonout import envelope, write_json
    from storyboard.manifest import load_manifest
    from storyboard.render.stage import default_out_dir

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    plan = build_plan(board, load_manifest(out_dir), out_dir)
    if args.format == "json":
        write_json(envelope("plan", board.path, {"plan": plan_record(plan)}), sys.stdout)
    else:
        sys.stdout.write(plan_table(plan))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from storyboard.edit.export import FORMATS, export_plan
    from storyboard.edit.plan import build_plan
    from storyboard.manifest import load_manifest
    from storyboard.render.stage import default_out_dir

    board = _load(args)
    out_dir = args.renders or default_out_dir(board)
    dest = args.out or out_dir / f"{board.stem}{FORMATS[args.format].suffix}"
    if dest.is_dir() or dest.resolve() == board.path.resolve() or \
            dest.resolve().parent == (out_dir / "shots").resolve():
        raise UsageError(f"--out {dest}: name a new file for the export (not a folder, the "
                         "storyboard or a render)")
    result = export_plan(build_plan(board, load_manifest(out_dir), out_dir), args.format, dest)
    if not args.quiet:
        for warning in result.warnings:
            print(f"warning: {args.format}: {warning}", file=sys.stderr)
        print(f"exported {result.clips} shots as {args.format}", file=sys.stderr)
    print(result.path)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from storyboard.render.stage import default_out_dir, shot_states

    board = _load(args)
    prompts = _compile(args, board)
    out_dir = args.out or default_out_dir(board)
    states = shot_states(board, prompts, args.backend or board.render.backend, out_dir)
    if args.json:
        json.dump([{"id": s.shot_id, "state": s.state, "path": str(s.path), "error": s.error}
                   for s in states], sys.stdout, indent=2)
        print()
    else:
        width = max(len(s.shot_id) for s in states)
        for s in states:
            print(f"{s.shot_id:<{width}}  {s.state:<8}  {s.error or s.path}")
        orphans = _orphans(args, board, prompts, out_dir)
        if orphans:
            print(f"{len(orphans)} orphan take(s) ({_megabytes(orphans.bytes)}) no shot refers "
                  f"to; storyboard clean {args.file} removes them")
    behind = [s for s in states if s.state != "rendered"]
    return EXIT_FAILED if args.check and behind else EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from storyboard.render.clean import clean
    from storyboard.render.stage import default_out_dir

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    orphans = _orphans(args, board, _compile(args, board), out_dir)
    for key in orphans.takes:
        print(f"{'would remove' if args.dry_run else 'removing'} takes/{key}.mp4")
    for path in orphans.shot_files:
        print(f"{'would remove' if args.dry_run else 'removing'} shots/{path.name}")
    if not args.dry_run:
        clean(orphans, out_dir)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(orphans.takes)} take(s) and {len(orphans.shot_files)} shot file(s), "
          f"{_megabytes(orphans.bytes)}")
    return EXIT_OK


def _orphans(args: argparse.Namespace, board, prompts, out_dir: Path):
    """Takes that neither this run's settings, render, nor any render target refers to."""
    from storyboard.format.validate import load_storyboard
    from storyboard.render.clean import find_orphans

    boards = [board]
    if args.target or args.backend:
        boards.append(load_storyboard(args.file, allow_outside_paths=args.allow_outside_paths)[0])
    return find_orphans(boards, prompts, out_dir)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _args_clean(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    _out_and_templates(p)
    _common(p)


def cmd_estimate(args: argparse.Namespace) -> int:
    from storyboard.render.estimate import estimate
    from storyboard.render.stage import default_out_dir

    board = _load(args)
    _select_shots(board, args.shot)
    backend = args.backend or board.render.backend
    plan = estimate(board, _compile(args, board), backend,
                    args.out or default_out_dir(board), _jobs(args, backend), args.shot)
    if args.json:
        json.dump({"backend": plan.backend, "model": plan.model, "cost": plan.cost,
                   "wait_seconds": round(plan.wait, 1), "shots": [
                       {"id": s.shot_id, "seconds": s.seconds,
                        "render_seconds": s.rendered_seconds, "rendered": s.rendered,
                        "price_per_second": s.price_per_second, "cost": s.cost}
                       for s in plan.shots]}, sys.stdout, indent=2)
        print()
        return EXIT_OK
    width = max([len(s.shot_id) for s in plan.shots] + [4])
    print(f"{'shot':<{width}}  {'seconds':>7}  {'cost':>8}  state")
    for s in plan.shots:
        fitted = f" (renders {s.rendered_seconds:g} s, uses {s.seconds:g} s)" if s.handles else ""
        print(f"{s.shot_id:<{width}}  {s.seconds:>7g}  {_money(s.cost):>8}  "
              f"{'rendered, free' if s.rendered else 'to render'}{fitted}")
    seconds = sum(s.seconds for s in plan.to_render)
    print(f"{'all':<{width}}  {seconds:>7g}  {_money(plan.cost):>8}  "
          f"{len(plan.to_render)} to render, {len(plan.shots) - len(plan.to_render)} rendered; "
          f"expected wait about {_duration(plan.wait)} ({plan.backend}"
          f"{', ' + plan.model if plan.model else ''})")
    return EXIT_OK


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:.2f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def cmd_fake_api(args: argparse.Namespace) -> int:
    from storyboard.testing.fake_fal import FakeFal
    from storyboard.testing.fake_gemini import FakeGemini
    from storyboard.testing.fake_runway import FakeRunway
    from storyboard.testing.fake_video_api import FakeVideoAPI

    kind = {"openai": FakeVideoAPI, "fal": FakeFal, "gemini": FakeGemini,
            "runway": FakeRunway}[args.protocol]
    api = kind(args.key, latency=args.latency, port=args.port)
    print(f"fake {args.protocol} API on {api.url} (key {args.key!r}); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    api.serve_forever()
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from storyboard.compile import compile_storyboard
    from storyboard.render.stage import default_out_dir
    from storyboard.review.page import write_review

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    page = write_review(board, compile_storyboard(board, args.templates),
                        args.backend or board.render.backend, out_dir,
                        args.dest or out_dir / "review")
    if not args.quiet:
        edit = "the edit and " if page.edit else "no edit (not stitched), "
        print(f"review page: {edit}{page.takes} playable take(s) of {page.shots} shot(s)",
              file=sys.stderr)
    print(page.index)
    return EXIT_OK


def cmd_takes(args: argparse.Namespace) -> int:
    from storyboard.compile import compile_storyboard
    from storyboard.render.stage import default_out_dir
    from storyboard.render.takes import shot_takes

    board = _load(args)
    chosen = _select_shots(board, args.shot)
    takes = shot_takes(board, compile_storyboard(board, args.templates),
                       args.backend or board.render.backend, args.out or default_out_dir(board))
    rows = [t for s in board.shots if s.id in chosen for t in takes[s.id]]
    if args.json:
        json.dump([{"id": t.shot_id, "take": t.number, "state": t.state, "circled": t.circled,
                    "cost": t.cost, "elapsed": t.elapsed, "render_key": t.render_key,
                    "path": str(t.path), "error": t.error or None} for t in rows],
                  sys.stdout, indent=2)
        print()
        return EXIT_OK
    width = max([len(t.shot_id) for t in rows] + [4])
    print(f"{'shot':<{width}}  take  {'state':<8}  {'cost':>8}  circled")
    for t in rows:
        cost = "?" if t.cost is None else f"${t.cost:.2f}"
        print(f"{t.shot_id:<{width}}  {t.number:>4}  {t.state:<8}  {cost:>8}  "
              f"{'◯' if t.circled else ''}{'  ' + t.error if t.error else ''}")
    return EXIT_OK


def cmd_contact_sheet(args: argparse.Namespace) -> int:
    from storyboard.compile import compile_storyboard
    from storyboard.render.stage import default_out_dir
    from storyboard.review.contact_sheet import write_contact_sheet

    board = _load(args)
    out_dir = args.out or default_out_dir(board)
    dest = args.dest or out_dir / f"{board.stem}-contact.{args.format}"
    sheet = write_contact_sheet(board, compile_storyboard(board, args.templates),
                                args.backend or board.render.backend, out_dir, dest, args.format)
    if not args.quiet:
        print(f"contact sheet: {sheet.shots} shot(s) on {sheet.pages} page(s)"
              + (f", {len(sheet.missing)} without frames: {', '.join(sheet.missing)}"
                 if sheet.missing else ""), file=sys.stderr)
    print(sheet.path)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from storyboard.render import catalogue

    entries = catalogue.catalogue(args.backend)
    if args.format == "json":
        print(json.dumps(catalogue.as_json(entries), indent=2))
    else:
        render = catalogue.markdown if args.format == "markdown" else catalogue.table
        sys.stdout.write(render(entries))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from storyboard.format.schema import schema_text
    from storyboard.scaffold import write_schema

    if args.write is None:
        sys.stdout.write(schema_text())
    elif not args.write.is_dir():
        raise UsageError(f"--write {args.write}: no such folder")
    else:
        print(write_schema(args.write))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from storyboard.scaffold import init_project

    try:
        written = init_project(args.dir)
    except FileExistsError as exc:
        raise UsageError(f"{exc.filename} already exists; choose an empty folder") from None
    if not args.quiet:
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        print(f"next: storyboard build {written[0]}", file=sys.stderr)
    print(written[0])
    return EXIT_OK


# ---- helpers --------------------------------------------------------------------------------

def _validate(path: Path, args: argparse.Namespace):
    from storyboard.format.targets import TargetNotFound
    from storyboard.format.validate import validate_file

    try:
        return validate_file(path, backend=args.backend, target=args.target,
                             allow_outside_paths=args.allow_outside_paths)
    except TargetNotFound as exc:
        raise UsageError(exc.message) from None


def _load(args: argparse.Namespace):
    """Validate the storyboard; warnings go to stderr, errors raise ValidationFailed."""
    from storyboard.format.targets import TargetNotFound
    from storyboard.format.validate import load_storyboard

    _check_backend_name(args.backend)
    try:
        board, warnings = load_storyboard(args.file, backend=args.backend, target=args.target,
                                          allow_outside_paths=args.allow_outside_paths)
    except TargetNotFound as exc:
        raise UsageError(exc.message) from None
    if warnings and not args.quiet:
        _print_problems(warnings, sys.stderr)
    return _with_takes(board, getattr(args, "takes", None))


def _with_takes(board, takes: int | None):
    """The board with ``--takes N`` for every shot; a circled take beyond N is a usage error."""
    from dataclasses import replace

    if takes is None:
        return board
    beyond = [s.id for s in board.shots if s.circle > takes]
    if beyond:
        raise UsageError(f"--takes {takes} leaves out the circled take of {', '.join(beyond)}; "
                         "circle another take or ask for more")
    return replace(board, shots=tuple(replace(s, takes=takes) for s in board.shots))


def _compile(args: argparse.Namespace, board):  # -> list[ShotPrompt]
    from storyboard.compile import compile_storyboard

    return compile_storyboard(board, args.templates, allow_outside_paths=args.allow_outside_paths)


def _check_backend_name(name: str | None) -> None:
    from storyboard.errors import BackendNotFound
    from storyboard.render.registry import load_backend

    if name is not None:
        try:
            load_backend(name)
        except BackendNotFound as exc:
            raise UsageError(exc.message) from None


def _select_shots(board, wanted: list[str] | None) -> set[str]:
    from storyboard.format.schema import did_you_mean

    ids = [s.id for s in board.shots]
    for shot_id in wanted or ():
        if shot_id not in ids:
            raise UsageError(f"no shot '{shot_id}' in {board.path}{did_you_mean(shot_id, ids)}")
    return set(wanted or ids)


def _print_problems(problems: Sequence[Problem], stream, github: bool = False) -> None:
    from storyboard.format.report import format_problem

    for p in problems:
        print(format_problem(p, github=github), file=stream)


def _summary(report) -> str:
    from storyboard.format.report import clean_text

    errors, warnings = len(report.errors), len(report.warnings)
    if not errors and not warnings:
        shots = len(report.storyboard.shots) if report.storyboard else 0
        return f"{clean_text(str(report.path))}: ok ({shots} shot{'s' if shots != 1 else ''})"
    return f"{clean_text(str(report.path))}: {errors} error(s), {warnings} warning(s)"


def _report_json(report, strict: bool) -> dict:
    return {
        "file": str(report.path),
        "ok": not report.failed(strict),
        "problems": [
            {"line": p.location.line, "col": p.location.col, "severity": p.severity,
             "message": p.message}
            for p in report.problems
        ],
    }


class Reporter:
    """Shows render progress on stderr: live per shot on a terminal, summaries otherwise."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self.total = total
        self.done = 0

    def __call__(self, kind: str, shot_id: str, info: dict) -> None:
        if kind in ("rendered", "reused", "failed", "skipped"):
            self.done += 1
        if kind in ("failed", "skipped"):
            self._line(f"{kind:<8} {shot_id}: {info['error']}")
        elif kind == "note":
            self._line(f"note     {shot_id}: {info['message']}")
        elif kind == "warning":
            self._line(f"warning  {shot_id}: {info['message']}")
        elif kind in ("submitted", "resumed") and self.live:
            self._line(f"{kind:<8} {shot_id}: job {info['job']}")
        elif kind == "rendered" and self.live:
            self._line(f"rendered {shot_id} in {info['elapsed']:.1f} s "
                       f"[{self.done}/{self.total}]")
        elif kind == "progress" and self.live:
            sys.stderr.write(f"\r\x1b[Krendering {shot_id} {info['fraction']:4.0%}")
            sys.stderr.flush()

    def _line(self, text: str) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")
        if not self.quiet or text.startswith(("failed", "skipped")):
            print(text, file=sys.stderr)

    def summary(self, results: list) -> None:  # list[ShotResult]
        if self.quiet:
            return
        kinds = ("rendered", "reused", "failed", "skipped")
        count = {k: sum(r.status == k for r in results) for k in kinds}
        skipped = f", {count['skipped']} skipped" if count["skipped"] else ""
        print(f"{count['rendered']} rendered, {count['reused']} reused, "
              f"{count['failed']} failed{skipped}", file=sys.stderr)
        failed = [r for r in results if r.status in ("failed", "skipped")]
        if failed:
            width = max([len(r.shot_id) for r in failed] + [4])
            print(f"\n{'shot':<{width}}  {'code':<20}  reason", file=sys.stderr)
            for r in failed:
                print(f"{r.shot_id:<{width}}  {r.error_code or '-':<20}  {r.error}",
                      file=sys.stderr)


Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Handler, str, Callable[[argparse.ArgumentParser], None]]] = {
    "init": (cmd_init, "write a small working storyboard to start from", _args_init),
    "validate": (cmd_validate, "check storyboard files", _args_validate),
    "compile": (cmd_compile, "print the compiled five-part prompts", _args_compile),
    "render": (cmd_render, "render shots, reusing unchanged renders", _args_render),
    "stitch": (cmd_stitch, "stitch rendered shots into the edit", _args_stitch),
    "build": (cmd_build, "validate, compile, render and stitch; prints the edit's path",
              _args_build),
    "shotlist": (cmd_shotlist, "the shot list with timecodes in the edit (md, csv or html)",
                 _args_shotlist),
    "plan": (cmd_plan, "the edit plan: shots in edit order with record and source in/out, "
             "transitions, markers, audio", _args_plan),
    "export": (cmd_export, "the edit for an editing room: otio, otioz, edl, fcp7xml, fcpxml, aaf",
               _args_export),
    "estimate": (cmd_estimate, "seconds, cost and expected wait per shot and in all",
                 _args_estimate),
    "models": (cmd_models, "the models each backend knows: durations, sizes, prices, "
               "capabilities", _args_models),
    "fake-api": (cmd_fake_api, "serve a fake hosted video API on 127.0.0.1 for tests",
                 _args_fake_api),
    "status": (cmd_status, "each shot: rendered / stale / missing / failed", _args_status),
    "clean": (cmd_clean, "remove takes and shot files no shot refers to (--dry-run: list them)",
              _args_clean),
    "schema": (cmd_schema, "print the JSON Schema of the format", _args_schema),
    "review": (cmd_review, "write a static review page: the edit, every shot and its takes",
               _args_review),
    "contact-sheet": (cmd_contact_sheet, "key frames of every shot in a grid (png or pdf)",
                      _args_contact_sheet),
    "takes": (cmd_takes, "each shot's takes: state, cost, which one is circled", _args_takes),
}
