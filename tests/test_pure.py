"""The pure parts the CLI tests reach only from afar: retry delays, capabilities, render keys.

No server, no key, no render: each is a function of its inputs.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from PIL import Image

from storyboard.compile import compile_storyboard
from storyboard.format.model import RenderSettings
from storyboard.format.validate import load_storyboard
from storyboard.render.capabilities import Capabilities
from storyboard.render.hosted.http import MAX_RETRY_AFTER, retry_delay
from storyboard.render.hosted.openai import OpenAIBackend
from storyboard.render.identity import key_of
from storyboard.render.previs import PrevisBackend
from storyboard.render.stage import shot_keys

# ---- retry delays ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "longest"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]
)
def test_backoff_doubles_to_8_s_with_up_to_a_quarter_of_jitter(
    attempt: int, longest: float
) -> None:
    assert retry_delay(attempt, None, rand=lambda: 0.0) == longest
    assert retry_delay(attempt, None, rand=lambda: 1.0) == 0.75 * longest


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the finer one wins
    ],
)
def test_the_servers_retry_after_is_obeyed(headers: dict[str, str], wait: float) -> None:
    assert retry_delay(5, httpx.Headers(headers), rand=lambda: 0.5) == wait


@pytest.mark.parametrize("value", ["0", "-2", "nan", "inf", "soon", str(MAX_RETRY_AFTER + 1)])
def test_a_retry_after_that_is_no_use_falls_back_to_backoff(value: str) -> None:
    assert retry_delay(1, httpx.Headers({"retry-after": value}), rand=lambda: 0.0) == 1.0


# ---- capabilities ----------------------------------------------------------------------------

SORA = Capabilities(
    durations=(4.0, 8.0, 12.0), sizes=("1280x720", "720x1280"), price_per_second=0.1
)


@pytest.mark.parametrize(
    ("seconds", "mode", "rendered"),
    [
        (4.0, "trim", 4.0),
        (5.0, "trim", 8.0),
        (8.0, "trim", 8.0),
        (0.5, "trim", 4.0),
        (13.0, "trim", 13.0),  # longer than any: validation reports it, nothing is invented
        (5.0, "exact", 5.0),
    ],
)
def test_a_shot_renders_the_shortest_allowed_length_that_holds_it(
    seconds: float, mode: str, rendered: float
) -> None:
    assert SORA.render_seconds(seconds, mode) == rendered


def test_duration_problems_name_the_allowed_lengths() -> None:
    assert SORA.duration_problem(8.0) is None and SORA.duration_problem(5.0) is None
    assert "allowed durations: 4, 8, 12 s" in (SORA.duration_problem(5.0, "exact") or "")
    assert "longer than the longest" in (SORA.duration_problem(13.0) or "")
    assert Capabilities().duration_problem(7.3) is None  # None means any


def test_size_problems() -> None:
    assert SORA.size_problem(1280, 720) is None
    assert "allowed sizes: 1280x720, 720x1280" in (SORA.size_problem(160, 90) or "")
    shaped = Capabilities(aspect_ratios=("16:9",), even_sizes=True)
    assert shaped.size_problem(160, 90) is None
    assert "aspect ratio" in (shaped.size_problem(100, 100) or "")
    assert "odd side" in (Capabilities(even_sizes=True).size_problem(161, 90) or "")


def test_the_storyboard_overrides_the_table_and_keeps_the_rest() -> None:
    caps = SORA.overridden(
        RenderSettings(sizes=("160x90",), durations=(1.0, 2.0), price_per_second=0.0)
    )
    assert (caps.sizes, caps.durations, caps.price_per_second) == (("160x90",), (1.0, 2.0), 0.0)
    preset = SORA.overridden(
        RenderSettings(
            preset={"durations": [5, 10], "seed_field": "seed", "end_image_field": "tail_image_url"}
        )
    )
    assert (preset.durations, preset.seed, preset.last_frame) == ((5.0, 10.0), True, True)
    assert preset.sizes == SORA.sizes
    assert SORA.overridden(RenderSettings()) == SORA


# ---- render keys -----------------------------------------------------------------------------


def keys(folder: Path, shots: str, backend: str = "openai") -> dict[str, str]:
    if not (folder / "ref.png").exists():
        Image.new("RGB", (64, 48), (30, 90, 160)).save(folder / "ref.png")  # 4:3 in 16:9
    path = folder / "board.yaml"
    path.write_text(f"""\
version: 1
title: Keys
output: {{size: 160x90, fps: 24}}
render:
  backend: {backend}
  model: wan-test
  capabilities: {{sizes: [160x90], seconds: [1, 2, 4]}}
shots:
{shots}""")
    board, _ = load_storyboard(path)
    backend_cls = OpenAIBackend if backend == "openai" else PrevisBackend
    return shot_keys(board, compile_storyboard(board), backend_cls, folder / "renders")


A = "  - {id: a, seconds: 1, reference: ref.png, action: a kite rises}\n"
B = "  - {id: b, seconds: 2, action: rain on a window}\n"


def test_a_hosted_key_follows_the_request_not_the_position_or_name(tmp_path: Path) -> None:
    base = keys(tmp_path, A + B)
    assert keys(tmp_path, B + A) == base  # reordered
    assert keys(tmp_path, A.replace("id: a", "id: kite") + B)["kite"] == base["a"]  # renamed
    assert keys(tmp_path, A + B + "  - {id: c, seconds: 1, action: dawn}\n")["a"] == base["a"]
    two = keys(tmp_path, A + B.replace("id: b", "id: b2") + B)  # the same request twice
    assert two["b"] == two["b2"] == base["b"]


@pytest.mark.parametrize(
    "change",
    [
        ("a kite rises", "a kite falls"),  # the prompt
        ("seconds: 1", "seconds: 2"),  # the seconds on the wire
        ("reference: ref.png", "reference: ref.png, fit: contain"),  # the fitted image sent
    ],
)
def test_what_the_backend_receives_changes_the_key(tmp_path: Path, change: tuple[str, str]) -> None:
    assert keys(tmp_path, A.replace(*change))["a"] != keys(tmp_path, A)["a"]


def test_the_reference_counts_by_its_bytes(tmp_path: Path) -> None:
    before = keys(tmp_path, A)["a"]
    Image.new("RGB", (64, 48), (30, 90, 161)).save(tmp_path / "ref.png")
    assert keys(tmp_path, A)["a"] != before
    Image.new("RGB", (64, 36), (30, 90, 161)).save(tmp_path / "ref.png")  # already 16:9:
    assert (
        keys(tmp_path, A)["a"]
        == keys(
            tmp_path,
            A.replace(  # cover and contain send
                "reference: ref.png", "reference: ref.png, fit: contain"
            ),
        )["a"]
    )  # the same bytes


def test_previs_keys_differ_from_hosted_and_take_2_from_take_1(tmp_path: Path) -> None:
    assert keys(tmp_path, A, "previs")["a"] != keys(tmp_path, A)["a"]
    assert key_of(OpenAIBackend, {"x": 1}) != key_of(OpenAIBackend, {"x": 1}, take=2)
    assert key_of(OpenAIBackend, {"x": 1}) == key_of(OpenAIBackend, {"x": 1}, take=1)
