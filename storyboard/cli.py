"""The command line: parse arguments, call the library, map errors to exit codes.

Exit codes (SPEC §4): 0 success; 1 the storyboard or its inputs are invalid; 2 usage error;
3 some shots failed to render or the stitch failed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from storyboard import __version__, jsonout
from storyboard.errors import StoryboardError, UsageError, ValidationFailed
from storyboard.format.model import Problem

if TYPE_CHECKING:
    from storyboard.edit.stitch import StitchResult
    from storyboard.events import Event
    from storyboard.format.validate import Report
    from storyboard.pipeline import CompiledStoryboard, Options
    from storyboard.render.stage import ShotResult

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except BrokenPipeError:  # e.g. `storyboard compile x.yaml | head`, even while failing
        sys.stderr.close()
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    """The command, its errors mapped to messages and exit codes."""
    try:
        return int(args.handler(args))
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
    except KeyboardInterrupt:
        print(
            "interrupted; finished renders are kept, run the command again to resume",
            file=sys.stderr,
        )
        return 130


def _json_failure(args: argparse.Namespace, message: str, problems: Sequence[Problem] = ()) -> None:
    """With --format json, a failure is a JSON object on stdout too, never an empty stdout."""
    if getattr(args, "format", None) == "json":
        path = getattr(args, "file", None) or (getattr(args, "files", None) or [None])[0]
        jsonout.write_json(jsonout.failure(args.command, path, message, problems), sys.stdout)


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
        p.add_argument(
            "--target", metavar="NAME", help="render with the settings of render.targets.NAME"
        )
    p.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let references and audio files lie outside the storyboard's folder",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")


def _args_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _format_option(p, ("text", "github", "json"))
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument(
        "--only-storyboards",
        action="store_true",
        help="skip YAML files whose top level has neither version: nor shots: "
        "(for hooks that pick files by name)",
    )
    _common(p)


def _args_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _format_option(p, ("text", "json"))
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument("--templates", type=Path, metavar="DIR", help="override prompt templates")
    _common(p)


def _takes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--takes",
        type=_positive_int,
        metavar="N",
        help="takes of every shot (overrides takes: in the storyboard)",
    )


def _args_takes(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    _format_option(p, ("text", "json"))
    _takes_option(p)
    _out_and_templates(p)
    _common(p)


def _args_render(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--shot", action="append", metavar="ID", help="only this shot (repeatable)")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="shots rendered at once (default: the number of cores for previs, "
        "4 for hosted backends)",
    )
    p.add_argument("--force", action="store_true", help="render again even when up to date")
    p.add_argument(
        "--budget",
        type=_usd,
        metavar="USD",
        help="refuse to start when the shots to render would cost more",
    )
    _out_and_templates(p)
    _hosted(p)
    _common(p)


def _hosted(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="hosted backends: the API's base URL (overrides render.base_url)",
    )
    p.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http to a host that is not this machine",
    )


def _args_stitch(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="put a titled slate in place of a shot that is not rendered",
    )
    _out_and_templates(p)
    _common(p)


def _args_build(p: argparse.ArgumentParser) -> None:
    _args_render(p)
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="stitch even when shots failed, with slates in their place",
    )


def _args_shotlist(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _format_option(p, ("md", "csv", "html", "json"))
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="render folder to take thumbnails from (default: renders/<file stem>/)",
    )
    _common(p)


def _args_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _format_option(p, ("text", "json"))
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="render folder to read (default: renders/<file stem>/)",
    )
    _common(p)


def _args_export(p: argparse.ArgumentParser) -> None:
    from storyboard.edit.export import FORMATS

    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default="otio",
        help="otio (Resolve, Premiere), otioz (with the media), edl (CMX 3600), "
        "fcp7xml, fcpxml or aaf (default otio)",
    )
    p.add_argument(
        "--out",
        dest="dest",
        type=Path,
        metavar="PATH",
        help="the file to write (default: renders/<stem>/<stem>.<format's suffix>)",
    )
    p.add_argument(
        "--renders",
        dest="out",
        type=Path,
        metavar="DIR",
        help="render folder to read (default: renders/<file stem>/)",
    )
    _common(p)


def _format_option(p: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    """--format, with --json kept as an alias of --format json."""
    p.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"output format: {', '.join(choices)} (default {choices[0]})",
    )
    p.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="the same as --format json",
    )


def _args_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument(
        "--check", action="store_true", help="exit 3 when any shot is not rendered and current"
    )
    _format_option(p, ("text", "json"))
    _out_and_templates(p)
    _common(p)


def _out_and_templates(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: renders/<file stem>/ beside the storyboard)",
    )
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
    _format_option(p, ("text", "json"))
    _out_and_templates(p)
    _common(p)


def _args_fake_api(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--protocol",
        choices=("openai", "fal", "gemini", "runway"),
        default="openai",
        help="which API to fake (default openai: /v1/videos)",
    )
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--key", default="sk-fake", help="the API key it accepts (default sk-fake)")
    p.add_argument(
        "--latency", type=float, default=2.0, help="seconds from create to completed (default 2)"
    )


def _args_review(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument(
        "--dest",
        type=Path,
        metavar="DIR",
        help="where the review folder goes (default: review/ in the render folder)",
    )
    _out_and_templates(p)
    _common(p)


def _args_contact_sheet(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    _takes_option(p)
    p.add_argument("--format", choices=("png", "pdf"), default="png")
    p.add_argument(
        "--dest",
        type=Path,
        metavar="FILE",
        help="the file to write (default: <stem>-contact.<format> in the render folder)",
    )
    _out_and_templates(p)
    _common(p)


def _args_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--write",
        type=Path,
        metavar="DIR",
        help="write DIR/storyboard.schema.json (refresh the copy editors read)",
    )


def _args_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="only this backend's models")
    _format_option(p, ("text", "markdown", "json"))


def _args_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR")
    p.add_argument("-q", "--quiet", action="store_true")


# ---- commands -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from storyboard import pipeline
    from storyboard.format.validate import is_storyboard

    files = args.files
    if args.only_storyboards:
        files = [f for f in files if is_storyboard(f) or _skipped(f, args.quiet)]
    reports = pipeline.validate(files, _options(args))
    if args.format == "json":
        _write(
            jsonout.envelope(
                "validate",
                files[0] if len(files) == 1 else None,
                jsonout.validate_body(reports, args.strict),
                ok=not any(r.failed(args.strict) for r in reports),
                problems=[p for r in reports for p in r.problems],
            )
        )
    for report in reports:
        if args.format != "json":
            _print_problems(report.problems, sys.stdout, github=args.format == "github")
        if not args.quiet:
            print(_summary(report), file=sys.stderr)
    return EXIT_INVALID if any(r.failed(args.strict) for r in reports) else EXIT_OK


def _skipped(path: Path, quiet: bool) -> bool:
    if not quiet:
        print(
            f"{path}: skipped: not a storyboard (no version: or shots: at the top level)",
            file=sys.stderr,
        )
    return False


def cmd_compile(args: argparse.Namespace) -> int:
    compiled = _compiled(args)
    if args.format == "json":
        _write_result(args, jsonout.compile_body(compiled), compiled)
        return EXIT_OK
    for n, c in enumerate(compiled.chosen):
        if n:
            print()
        print(f"# {c.shot.number}. {c.shot.id} ({c.shot.seconds:g} s)")
        print(c.prompt.text)
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    pipeline.check_budget(compiled)
    reporter = Reporter(quiet=args.quiet, total=len(compiled.chosen))
    results = pipeline.render(compiled, on_event=reporter).shots
    reporter.summary(results)
    return EXIT_FAILED if any(r.status in ("failed", "skipped") for r in results) else EXIT_OK


def cmd_stitch(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    _report_edit(pipeline.stitch(compiled, on_event=Reporter(args.quiet, 0)), args.quiet)
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    reporter = Reporter(quiet=args.quiet, total=0)
    result = pipeline.build(
        args.file, _options(args), on_event=reporter, on_problem=_warner(args.quiet)
    )
    reporter.summary(result.rendered.shots)
    failed = [r.shot_id for r in result.rendered.shots if r.status in ("failed", "skipped")]
    if result.edit is None:
        print(
            f"error: not stitching: {len(failed)} shot(s) failed: {', '.join(failed)}; "
            "fix them and build again (finished shots are kept), or pass --allow-missing",
            file=sys.stderr,
        )
        return EXIT_FAILED
    _report_edit(result.edit, args.quiet)
    return EXIT_FAILED if failed else EXIT_OK


def _report_edit(result: StitchResult, quiet: bool) -> None:
    if not quiet:
        state = "up to date" if result.status == "up-to-date" else "stitched"
        slates = f" ({len(result.slates)} slate(s) for missing shots)" if result.slates else ""
        print(f"edit {state}: {result.seconds:.2f} s{slates}", file=sys.stderr)
    print(result.path)


def cmd_shotlist(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    if args.format == "json":
        _write_result(args, pipeline.shotlist_record(compiled), compiled)
    else:
        sys.stdout.write(pipeline.shotlist(compiled, args.format))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from storyboard import pipeline
    from storyboard.edit.plan import plan_record
    from storyboard.edit.plan_text import plan_table

    compiled = _compiled(args)
    plan = pipeline.plan(compiled)
    if args.format == "json":
        _write_result(args, {"plan": plan_record(plan)}, compiled)
    else:
        sys.stdout.write(plan_table(plan))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    result = pipeline.export(_compiled(args), args.format, args.dest)
    if not args.quiet:
        for warning in result.warnings:
            print(f"warning: {args.format}: {warning}", file=sys.stderr)
        print(f"exported {result.clips} shots as {args.format}", file=sys.stderr)
    print(result.path)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    states = pipeline.status(compiled)
    if args.format == "json":
        _write_result(args, jsonout.status_body(states), compiled)
    else:
        width = max(len(s.shot_id) for s in states)
        for s in states:
            print(f"{s.shot_id:<{width}}  {s.state:<8}  {s.error or s.path}")
        orphans = pipeline.orphans(compiled)
        if orphans:
            print(
                f"{len(orphans)} orphan take(s) ({_megabytes(orphans.bytes)}) no shot refers "
                f"to; storyboard clean {args.file} removes them"
            )
    behind = [s for s in states if s.state != "rendered"]
    return EXIT_FAILED if args.check and behind else EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    orphans = pipeline.orphans(compiled)
    for key in orphans.takes:
        print(f"{'would remove' if args.dry_run else 'removing'} takes/{key}.mp4")
    for path in orphans.shot_files:
        print(f"{'would remove' if args.dry_run else 'removing'} shots/{path.name}")
    if not args.dry_run:
        pipeline.clean(compiled, orphans)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} {len(orphans.takes)} take(s) and {len(orphans.shot_files)} shot file(s), "
        f"{_megabytes(orphans.bytes)}"
    )
    return EXIT_OK


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _args_clean(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    _out_and_templates(p)
    _common(p)


def cmd_estimate(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    plan = pipeline.estimate(compiled)
    if args.format == "json":
        _write_result(args, jsonout.estimate_body(plan), compiled)
        return EXIT_OK
    width = max([len(s.shot_id) for s in plan.shots] + [4])
    print(f"{'shot':<{width}}  {'seconds':>7}  {'cost':>8}  state")
    for s in plan.shots:
        fitted = f" (renders {s.rendered_seconds:g} s, uses {s.seconds:g} s)" if s.handles else ""
        print(
            f"{s.shot_id:<{width}}  {s.seconds:>7g}  {_money(s.cost):>8}  "
            f"{'rendered, free' if s.rendered else 'to render'}{fitted}"
        )
    seconds = sum(s.seconds for s in plan.to_render)
    print(
        f"{'all':<{width}}  {seconds:>7g}  {_money(plan.cost):>8}  "
        f"{len(plan.to_render)} to render, {len(plan.shots) - len(plan.to_render)} rendered; "
        f"expected wait about {_duration(plan.wait)} ({plan.backend}"
        f"{', ' + plan.model if plan.model else ''})"
    )
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

    kind = {"openai": FakeVideoAPI, "fal": FakeFal, "gemini": FakeGemini, "runway": FakeRunway}[
        args.protocol
    ]
    api = kind(args.key, latency=args.latency, port=args.port)
    print(
        f"fake {args.protocol} API on {api.url} (key {args.key!r}); Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    api.serve_forever()
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    page = pipeline.review(_compiled(args), args.dest)
    if not args.quiet:
        edit = "the edit and " if page.edit else "no edit (not stitched), "
        print(
            f"review page: {edit}{page.takes} playable take(s) of {page.shots} shot(s)",
            file=sys.stderr,
        )
    print(page.index)
    return EXIT_OK


def cmd_takes(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    compiled = _compiled(args)
    rows = pipeline.takes(compiled)
    if args.format == "json":
        _write_result(args, jsonout.takes_body(rows), compiled)
        return EXIT_OK
    width = max([len(t.shot_id) for t in rows] + [4])
    print(f"{'shot':<{width}}  take  {'state':<8}  {'cost':>8}  circled")
    for t in rows:
        cost = "?" if t.cost is None else f"${t.cost:.2f}"
        print(
            f"{t.shot_id:<{width}}  {t.number:>4}  {t.state:<8}  {cost:>8}  "
            f"{'◯' if t.circled else ''}{'  ' + t.error if t.error else ''}"
        )
    return EXIT_OK


def cmd_contact_sheet(args: argparse.Namespace) -> int:
    from storyboard import pipeline

    sheet = pipeline.contact_sheet(_compiled(args), args.format, args.dest)
    if not args.quiet:
        print(
            f"contact sheet: {sheet.shots} shot(s) on {sheet.pages} page(s)"
            + (
                f", {len(sheet.missing)} without frames: {', '.join(sheet.missing)}"
                if sheet.missing
                else ""
            ),
            file=sys.stderr,
        )
    print(sheet.path)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from storyboard.render import catalogue

    entries = catalogue.catalogue(args.backend)
    if args.format == "json":
        _write(jsonout.envelope("models", None, {"models": catalogue.as_json(entries)}))
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


def _options(args: argparse.Namespace) -> Options:
    """The library's options from whatever of them this command takes."""
    from storyboard.pipeline import Options

    given = vars(args)
    return Options(
        backend=given.get("backend"),
        target=given.get("target"),
        out=given.get("out"),
        templates=given.get("templates"),
        shots=tuple(given.get("shot") or ()),
        takes=given.get("takes"),
        jobs=given.get("jobs"),
        force=bool(given.get("force")),
        budget=given.get("budget"),
        allow_missing=bool(given.get("allow_missing")),
        allow_outside_paths=bool(given.get("allow_outside_paths")),
        base_url=given.get("base_url"),
        allow_insecure_http=bool(given.get("allow_insecure_http")),
    )


def _compiled(args: argparse.Namespace) -> CompiledStoryboard:
    """The storyboard compiled under this command's options; warnings go to stderr."""
    from storyboard import pipeline

    return pipeline.compile(
        args.file, _options(args), on_problem=_warner(getattr(args, "quiet", False))
    )


def _warner(quiet: bool) -> Callable[[Problem], None]:
    def warn(problem: Problem) -> None:
        if not quiet:
            _print_problems([problem], sys.stderr)

    return warn


def _write(data: dict[str, Any]) -> None:
    jsonout.write_json(data, sys.stdout)


def _write_result(
    args: argparse.Namespace, body: dict[str, Any], compiled: CompiledStoryboard
) -> None:
    """The command's JSON: its own keys in the one envelope, with the storyboard's warnings."""
    _write(jsonout.envelope(args.command, args.file, body, problems=compiled.warnings))


def _print_problems(problems: Sequence[Problem], stream: IO[str], github: bool = False) -> None:
    from storyboard.format.report import format_problem

    for p in problems:
        print(format_problem(p, github=github), file=stream)


def _summary(report: Report) -> str:
    from storyboard.format.report import clean_text

    errors, warnings = len(report.errors), len(report.warnings)
    if not errors and not warnings:
        shots = len(report.storyboard.shots) if report.storyboard else 0
        return f"{clean_text(str(report.path))}: ok ({shots} shot{'s' if shots != 1 else ''})"
    return f"{clean_text(str(report.path))}: {errors} error(s), {warnings} warning(s)"


class Reporter:
    """Shows progress on stderr: a line per finished shot and for the stitch; on a terminal
    also the shot under way and its percentage."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self.total = total
        self.done = 0

    def __call__(self, event: Event) -> None:
        kind, shot_id = event.kind, event.shot_id
        if kind == "begin":
            self.total = event.count
        elif kind in ("rendered", "reused", "failed", "skipped"):
            self.done += 1
        if kind in ("failed", "skipped"):
            self._line(f"{kind:<8} {shot_id}: {event.error}")
        elif kind == "note":
            self._line(f"note     {shot_id}: {event.message}")
        elif kind == "warning":
            self._line(f"warning  {shot_id + ': ' if shot_id else ''}{event.message}")
        elif kind in ("submitted", "resumed") and self.live:
            self._line(f"{kind:<8} {shot_id}: job {event.job}")
        elif kind == "rendered":
            self._line(f"rendered {shot_id} in {event.elapsed:.1f} s [{self.done}/{self.total}]")
        elif kind == "stitch":
            self._line(f"stitching {shot_id} ({event.seconds:.2f} s of edit)")
        elif kind == "progress" and self.live:
            sys.stderr.write(f"\r\x1b[Krendering {shot_id} {event.fraction:4.0%}")
            sys.stderr.flush()

    def _line(self, text: str) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")
        if not self.quiet or text.startswith(("failed", "skipped")):
            print(text, file=sys.stderr)

    def summary(self, results: Sequence[ShotResult]) -> None:
        if self.quiet:
            return
        kinds = ("rendered", "reused", "failed", "skipped")
        count = {k: sum(r.status == k for r in results) for k in kinds}
        skipped = f", {count['skipped']} skipped" if count["skipped"] else ""
        print(
            f"{count['rendered']} rendered, {count['reused']} reused, "
            f"{count['failed']} failed{skipped}",
            file=sys.stderr,
        )
        failed = [r for r in results if r.status in ("failed", "skipped")]
        if failed:
            width = max([len(r.shot_id) for r in failed] + [4])
            print(f"\n{'shot':<{width}}  {'code':<20}  reason", file=sys.stderr)
            for r in failed:
                print(
                    f"{r.shot_id:<{width}}  {r.error_code or '-':<20}  {r.error}", file=sys.stderr
                )


Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Handler, str, Callable[[argparse.ArgumentParser], None]]] = {
    "init": (cmd_init, "write a small working storyboard to start from", _args_init),
    "validate": (cmd_validate, "check storyboard files", _args_validate),
    "compile": (cmd_compile, "print the compiled five-part prompts", _args_compile),
    "render": (cmd_render, "render shots, reusing unchanged renders", _args_render),
    "stitch": (cmd_stitch, "stitch rendered shots into the edit", _args_stitch),
    "build": (
        cmd_build,
        "validate, compile, render and stitch; prints the edit's path",
        _args_build,
    ),
    "shotlist": (
        cmd_shotlist,
        "the shot list with timecodes in the edit (md, csv or html)",
        _args_shotlist,
    ),
    "plan": (
        cmd_plan,
        "the edit plan: shots in edit order with record and source in/out, "
        "transitions, markers, audio",
        _args_plan,
    ),
    "export": (
        cmd_export,
        "the edit for an editing room: otio, otioz, edl, fcp7xml, fcpxml, aaf",
        _args_export,
    ),
    "estimate": (
        cmd_estimate,
        "seconds, cost and expected wait per shot and in all",
        _args_estimate,
    ),
    "models": (
        cmd_models,
        "the models each backend knows: durations, sizes, prices, capabilities",
        _args_models,
    ),
    "fake-api": (
        cmd_fake_api,
        "serve a fake hosted video API on 127.0.0.1 for tests",
        _args_fake_api,
    ),
    "status": (cmd_status, "each shot: rendered / stale / missing / failed", _args_status),
    "clean": (
        cmd_clean,
        "remove takes and shot files no shot refers to (--dry-run: list them)",
        _args_clean,
    ),
    "schema": (cmd_schema, "print the JSON Schema of the format", _args_schema),
    "review": (
        cmd_review,
        "write a static review page: the edit, every shot and its takes",
        _args_review,
    ),
    "contact-sheet": (
        cmd_contact_sheet,
        "key frames of every shot in a grid (png or pdf)",
        _args_contact_sheet,
    ),
    "takes": (cmd_takes, "each shot's takes: state, cost, which one is circled", _args_takes),
}
