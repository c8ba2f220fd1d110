"""Hostile templates: each one fails with a clean, located error and reads or writes nothing.

Every reproduction from the hardening issue, plus the classic Jinja sandbox escapes. The board
and its templates folder sit in tmp_path next to a secret file and with a secret in the
environment; neither may ever show up, and no file may change.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storyboard import sandbox
from storyboard.compile import compile_storyboard, template_view
from storyboard.errors import CompileError, UsageError
from storyboard.format.validate import load_storyboard

from conftest import EXAMPLES, run_cli

SECRET = "CANARY-7f3a"

HOSTILE = {
    # the reproductions
    "path-read": "{{ board.path.joinpath('/etc/passwd').read_text() }}",
    "path-write": "{{ shot.reference.write_text('x') }}",
    "path-unlink": "{{ shot.reference.unlink() }}",
    "path-iterdir": "{{ board.folder.iterdir() | list }}",
    "environ": "{{ board.path.joinpath('/proc/self/environ').read_text() }}",
    # the classic escapes
    "dunder-class": "{{ shot.__class__.__init__.__globals__ }}",
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "getitem-dunder": "{{ ''['__class__'] }}",
    "cycler": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner": "{{ joiner.__init__.__globals__ }}",
    "lipsum": "{{ lipsum.__globals__['os'].environ }}",
    "lipsum-call": "{{ lipsum(10000, false, 1, 1000000) }}",
    "namespace": "{% set ns = namespace(x=1) %}{{ ns.__init__.__globals__ }}",
    "self": "{{ self.__init__.__globals__ }}",
    "self-context": "{{ self._TemplateReference__context.environment }}",
    "range-globals": "{{ range.__globals__ }}",
    "loop-call": "{% for i in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "method-call": "{{ shot.action.upper() }}",
    "list-append": "{{ shot.keep.append('x') }}",
    "dict-update": "{{ shot.update({'id': 'x'}) }}",
    "dict-items": "{% for k, v in shot.items() %}{{ k }}{% endfor %}",
    "attr-filter": "{{ shot | attr('__class__') }}",
    "format-filter": "{{ '%s' | format(shot) }}",
    "str-format": "{{ '{0.__class__.__init__.__globals__}'.format(shot) }}",
    "percent-format": "{{ '%s' % shot }}",
    "percent-width": "{{ '%*d' % (100000000, 1) }}",
    "include-abs": "{% include '/etc/passwd' %}",
    "include-up": "{% include '../secret.txt' %}",
    # bombs: time, size and memory
    "range-bomb": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "range-huge": "{{ range(10**9) | length }}",
    "macro-bomb": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
    "{{ f(60) }}",
    "string-bomb": "{{ ('x'*10**8*10**2)|length }}",
    "list-bomb": "{{ (range(100000) | list) * 100000 }}",
    "pow-bomb": "{{ 2 ** 100000000 }}",
    "concat-bomb": "{% set s = 'x' * 100000 %}{{ s ~ s ~ s }}",
    "replace-bomb": "{{ ('x' * 1000) | replace('', 'y' * 1000) }}",
    "join-bomb": "{{ range(100000) | map('string') | join('y' * 1000) }}",
    "capture-bomb": "{% set x %}{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}"
    "{% endset %}{{ x | length }}",
    "output-bomb": "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}",
    "center-bomb": "{{ 'x' | center(10**9) }}",
    "recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
}


@pytest.fixture
def board_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "board"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("renders"))
    (folder / "t").mkdir()
    (tmp_path / "secret.txt").write_text(SECRET)
    (folder / "secret.txt").write_text(SECRET)
    return folder


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def compile_with(board_dir: Path, name: str, text: str):
    (board_dir / "t" / name).write_text(text)
    board, _ = load_storyboard(board_dir / "portrait.yaml")
    return compile_storyboard(board, board_dir / "t")


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=str)
def test_hostile_template_fails_cleanly_and_touches_nothing(
    board_dir: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.5)
    monkeypatch.setenv("STORYBOARD_TEST_SECRET", SECRET)
    (board_dir / "t" / "style.j2").write_text(HOSTILE[case])
    before = snapshot(board_dir.parent)
    with pytest.raises(CompileError) as info:
        compile_with(board_dir, "style.j2", HOSTILE[case])
    assert snapshot(board_dir.parent) == before
    assert SECRET not in str(info.value) and "root:" not in str(info.value)
    where = info.value.location
    if case.startswith("include"):
        assert "not found" in info.value.message
    else:
        assert where is not None and where.file == str(board_dir.resolve() / "t" / "style.j2")
        assert where.line == (0 if case == "output-bomb" else 1)  # too much output: no one line


def test_hostile_templates_through_the_cli_exit_1_without_traceback(board_dir: Path) -> None:
    (board_dir / "t" / "style.j2").write_text(HOSTILE["environ"])
    result = run_cli(
        "compile",
        board_dir / "portrait.yaml",
        "--templates",
        board_dir / "t",
        env={"STORYBOARD_TEST_SECRET": SECRET},
    )
    assert result.returncode == 1, result.stdout
    assert "style.j2:1:1: template error" in result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("case", ["range-bomb", "string-bomb", "capture-bomb", "list-bomb"])
def test_bombs_are_bounded_in_time_and_memory(board_dir: Path, case: str) -> None:
    """Measured in a fresh process: its peak size, not this test process's."""
    (board_dir / "t" / "style.j2").write_text(HOSTILE[case])
    script = (
        "import resource, sys\nfrom storyboard.cli import main\ncode = main(sys.argv[1:])\n"
        "print('peak-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "file=sys.stderr)\nsys.exit(code)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "compile",
            str(board_dir / "portrait.yaml"),
            "--templates",
            str(board_dir / "t"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    peak_kb = int(result.stderr.split("peak-kb ")[1].split()[0])
    assert peak_kb < 700 * 1024, f"{case} peaked at {peak_kb // 1024} MiB"
    assert "Traceback" not in result.stderr


def test_a_symlink_out_of_the_templates_folder_is_refused(board_dir: Path) -> None:
    (board_dir / "t" / "style.j2").symlink_to(board_dir.parent / "secret.txt")
    with pytest.raises(CompileError, match="outside the templates folder") as info:
        board, _ = load_storyboard(board_dir / "portrait.yaml")
        compile_storyboard(board, board_dir / "t")
    assert SECRET not in str(info.value)


def test_a_device_as_a_template_is_refused(board_dir: Path) -> None:
    (board_dir / "t" / "style.j2").mkdir()  # not a regular file: falls back to ours
    board, _ = load_storyboard(board_dir / "portrait.yaml")
    assert compile_storyboard(board, board_dir / "t")[0].style.startswith("Style:")


def test_templates_outside_the_board_folder_need_the_flag(board_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "style.j2").write_text("OUTSIDE")
    board, _ = load_storyboard(board_dir / "portrait.yaml")
    with pytest.raises(UsageError, match="outside the storyboard's folder"):
        compile_storyboard(board, outside)
    assert compile_storyboard(board, outside, allow_outside_paths=True)[0].style == "OUTSIDE"
    result = run_cli("compile", board_dir / "portrait.yaml", "--templates", outside)
    assert result.returncode == 2 and "--allow-outside-paths" in result.stderr


def test_a_missing_templates_folder_is_a_usage_error(board_dir: Path) -> None:
    result = run_cli("compile", board_dir / "portrait.yaml", "--templates", board_dir / "nope")
    assert result.returncode == 2
    assert "no such folder" in result.stderr and "Traceback" not in result.stderr


def test_templates_see_plain_data_only(board_dir: Path) -> None:
    board, _ = load_storyboard(board_dir / "portrait.yaml")
    for shot in board.shots:
        view = template_view(board, shot)
        plain(view)
        assert view["shot"]["reference"] == "images/harbor-dusk.jpg"
        assert str(board_dir) not in repr(view)  # no absolute path: it would reach the prompt


def plain(value: object) -> None:
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            plain(v)
    elif isinstance(value, list):
        for v in value:
            plain(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)


def test_ordinary_template_features_still_work(board_dir: Path) -> None:
    text = (
        "{% macro tag(x) %}[{{ x | upper }}]{% endmacro %}"
        "{% for k in shot.keep %}{{ tag(k) if loop.first else k }}{% endfor %} "
        "{{ range(3) | map('string') | join('-') }} {{ shot.beats | length }} "
        "{{ cast | map(attribute='name') | join(', ') }} {{ shot.framing['type'] }}"
    )
    [prompt] = compile_with(board_dir, "style.j2", text)
    assert prompt.style == (
        "[THE YELLOW RAINCOAT]the lighthouse in the background 0-1-2 4 mara close-up"
    )


def test_guard_restores_an_existing_trace_function(board_dir: Path) -> None:
    calls: list[str] = []

    def tracer(frame, event, arg):
        calls.append(event)

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        compile_with(board_dir, "style.j2", "{{ shot.id }}")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
