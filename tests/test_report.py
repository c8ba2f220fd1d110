"""Problems as a terminal and GitHub's runner read them: user text cannot forge a line."""

from __future__ import annotations

from pathlib import Path

from storyboard.errors import Location
from storyboard.format.model import Problem
from storyboard.format.report import clean_text, format_problem, github_data, github_property

from conftest import run_cli


def unescape_data(text: str) -> str:  # what the Actions runner does to a message
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def test_github_escaping_is_the_runners() -> None:
    assert github_data("50%\r\nx") == "50%25%0D%0Ax"
    assert github_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"
    assert unescape_data(github_data("100% sure\n::error::x")) == "100% sure\n::error::x"


def test_a_forged_annotation_stays_one_line(tmp_path: Path) -> None:
    board = tmp_path / "b,c.yaml"  # a comma would end the file= property
    board.write_text(
        'version: 1\ntitle: T\n"x\\n::error file=README.md,line=1::owned": 1\n'
        "shots: [{id: a, action: x}]\n"
    )
    result = run_cli("validate", "--format", "github", board.name, cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("::error file=b%2Cc.yaml,line=3,col=1::the top level: unknown key")
    assert "%0A::error file=README.md,line=1::owned" in line


def test_a_missing_file_has_no_line_zero(tmp_path: Path) -> None:
    result = run_cli("validate", "--format", "github", "nope.yaml", cwd=tmp_path)
    assert result.stdout.splitlines() == ["::error file=nope.yaml::no such file"]


def test_text_output_shows_control_characters_instead_of_obeying_them() -> None:
    assert clean_text("red \x1b[31mtext\x1b[0m\x1b]0;title\x07 done") == "red text done"
    assert clean_text("two\nlines\r") == "two\\nlines\\r"
    problem = Problem((), "cast 'a\nb:1:1: error: forged'", location=Location("f.yaml", 2, 3))
    assert format_problem(problem) == "f.yaml:2:3: error: cast 'a\\nb:1:1: error: forged'"
    assert format_problem(Problem((), "m")) == "error: m"
