"""Issue 13: previs a director trusts. Pixel and sound checks on real frames and real files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard.compile import compile_storyboard
from storyboard.format.validate import load_storyboard, validate_file
from storyboard.media import AUDIO_RATE, audio_channels, read_audio
from storyboard.render.base import RenderJob
from storyboard.render.identity import shot_cast
from storyboard.render.preflight import preflight
from storyboard.render.previs.frames import frame_at, frame_count, prepare_scene
from storyboard.render.previs.sound import shot_audio
from storyboard.render.previs.speech import speech_status, voice_for
from storyboard.review.shotlist import shot_rows

from conftest import run_cli


def board_file(
    folder: Path, body: str, size: str = "160x90", overlays: bool = False, head: str = ""
) -> Path:
    path = folder / "b.yaml"
    path.write_text(
        f"version: 1\ntitle: T\noutput: {{size: {size}, fps: 24}}\n"
        f"render: {{overlays: {str(overlays).lower()}}}\n{head}shots:\n{body}"
    )
    return path


def scenes(path: Path, overlays: bool = False):
    board, _ = load_storyboard(path)
    prompts = compile_storyboard(board)
    return [
        prepare_scene(
            RenderJob(
                s,
                p,
                board.output,
                None,
                "k",
                overlays=overlays,
                title="T",
                cast=shot_cast(board, s),
            )
        )
        for s, p in zip(board.shots, prompts, strict=True)
    ]


def picture(path: Path, size: tuple[int, int] = (320, 180)) -> Path:
    """A picture with structure everywhere: gradients, a bright disc at the centre."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=2)
    img[(x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 8) ** 2] = 255
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def last_frame(scene) -> np.ndarray:
    return frame_at(scene, (frame_count(scene.shot.seconds, scene.fps) - 1) / scene.fps)


def close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# ---- the format: null clears, a plain string replaces, a mapping merges -----------------------


def test_null_clears_inherited_values_and_keys(tmp_path: Path) -> None:
    picture(tmp_path / "ref.png")
    path = board_file(
        tmp_path,
        """\
  - {id: a, action: x}
  - {id: b, action: x, reference: null, lighting: {atmosphere: null}}
""",
        head="defaults:\n  reference: ref.png\n  lighting: {time: dusk, atmosphere: light haze}\n",
    )
    a, b = load_storyboard(path)[0].shots
    assert a.reference == tmp_path / "ref.png" and a.lighting.atmosphere == "light haze"
    assert b.reference is None
    assert (b.lighting.time, b.lighting.atmosphere) == ("dusk", "")


def test_a_plain_string_replaces_and_a_mapping_merges(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - {id: a, action: x, lighting: studio flat even light}
  - {id: b, action: x, lighting: {key: hard side light}}
""",
        head="defaults:\n  lighting: {time: dusk, atmosphere: light haze}\n",
    )
    board = load_storyboard(path)[0]
    a, b = board.shots
    assert a.lighting.words().split() == "studio flat even light".split()
    assert (b.lighting.time, b.lighting.key, b.lighting.atmosphere) == (
        "dusk",
        "hard side light",
        "light haze",
    )
    lighting = compile_storyboard(board)[0].lighting
    assert "haze" not in lighting and "studio flat even light" in lighting.lower()


def test_music_cue_goes_into_prompts_and_the_shot_list(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - {id: a, action: x}
  - {id: b, action: x, audio: {music: solo piano}}
""",
        head="music: {cue: soft acoustic guitar}\n",
    )
    board = load_storyboard(path)[0]
    a, b = compile_storyboard(board)
    assert "soft acoustic guitar" in a.audio and "soft acoustic guitar" not in b.audio
    rows = shot_rows(board)
    assert "soft acoustic guitar" in " ".join(rows[0].values)
    assert "solo piano" in " ".join(rows[1].values)


def test_end_frame_is_checked_against_the_model(tmp_path: Path) -> None:
    picture(tmp_path / "ref.png")
    path = board_file(tmp_path, "  - {id: a, action: x, end_frame: ref.png}\n")
    assert not validate_file(path).errors
    report = validate_file(path, backend="openai", preflight=preflight)
    assert any(
        "cannot take a last frame" in p.message and p.location.line == 6 for p in report.errors
    )
    missing = board_file(tmp_path, "  - {id: a, action: x, end_frame: nope.png}\n")
    assert any("nope.png" in p.message for p in validate_file(missing).errors)


# ---- speech ------------------------------------------------------------------------------------

needs_espeak = pytest.mark.skipif(speech_status() is not None, reason="eSpeak NG not loadable")


@needs_espeak
def test_spoken_length_warning_points_at_the_line(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - id: a
    seconds: 4
    action: x
    audio:
      dialogue:
        - {at: 0.2, who: mara, line: "Hello there."}
        - {at: 3.5, who: mara, line: "We're late, the ferry left without us, again."}
""",
    )
    report = validate_file(path, preflight=preflight)
    (problem,) = [p for p in report.warnings if "to say" in p.message]
    assert (problem.location.line, problem.location.col) == (12, 38)
    assert "the shot ends at 4 s" in problem.message
    assert "'We're late, the ferry…'" in problem.message
    result = run_cli("validate", "--strict", path)
    assert result.returncode == 1 and "b.yaml:12:38: warning:" in result.stdout


@needs_espeak
def test_dialogue_is_speech_and_starts_on_its_frame(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - id: a
    seconds: 3
    action: x
    audio: {dialogue: [{at: 1.0, who: mara, line: "Where were you last night?"}]}
""",
    )
    board = load_storyboard(path)[0]
    sound = shot_audio(board.shots[0], 3.0)
    loud = np.flatnonzero(np.abs(sound) > 0.02)
    assert abs(loud[0] / AUDIO_RATE - 1.0) <= 1 / 24
    window = sound[loud[0] : loud[-1]]
    # spectral spread: a pure tone (or a tone burst) piles its energy in a narrow band;
    # speech spreads it over formants and fricatives
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    freqs = np.fft.rfftfreq(len(window), 1 / AUDIO_RATE)
    centroid = (freqs * spectrum).sum() / spectrum.sum()
    spread = np.sqrt(((freqs - centroid) ** 2 * spectrum).sum() / spectrum.sum())
    assert spread > 400
    tone = np.sin(2 * np.pi * 200 * np.arange(len(window)) / AUDIO_RATE)
    tone_spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone)))) ** 2
    tone_centroid = (freqs * tone_spectrum).sum() / tone_spectrum.sum()
    assert spread > 10 * np.sqrt(
        ((freqs - tone_centroid) ** 2 * tone_spectrum).sum() / tone_spectrum.sum()
    )


def test_voices_are_chosen_from_the_name_and_overridable() -> None:
    assert voice_for("mara") == voice_for("Mara")
    assert voice_for("mara") != voice_for("theo")
    assert voice_for("mara", "en-gb+m2 rate 170").name == "en-gb+m2"
    assert voice_for("mara", "en-gb+m2 rate 170").rate == 170


# ---- pictures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["640x360", "360x640", "480x480"])
def test_card_text_fits_inside_the_frame(tmp_path: Path, size: str) -> None:
    action = (
        "Tess walks along the shoreline carrying a heavy blue cooler, stops, squints "
        "toward the pier where the ferry should be and sets the cooler down in the sand"
    )
    path = board_file(
        tmp_path,
        f"""\
  - id: a
    number: 12A
    action: {action}
    framing: {{type: medium-wide, lens: 35mm}}
    lighting: {{time: late afternoon, key: low sun from camera left, atmosphere: sea haze}}
""",
        size=size,
    )
    (scene,) = scenes(path)
    from storyboard.render.previs.cards import card_text, given_number

    assert card_text(scene.shot, given_number(scene.shot)).heading == "12A · MEDIUM WIDE · 35mm"
    frame = frame_at(scene, 0).astype(np.int16)
    text = frame.min(axis=2) > 200  # the card's ink is near white; its background is grey
    h, w = text.shape
    assert text.sum() > 500
    ys, xs = np.nonzero(text)
    assert xs.min() > 0.02 * w and xs.max() < 0.98 * w
    assert ys.min() > 0.02 * h and ys.max() < 0.98 * h
    # every part is on the card: four rows of text at least (heading, wrapped action, lighting)
    rows = np.flatnonzero(text.any(axis=1))
    assert (np.diff(rows) > 1).sum() >= 3


def test_first_frame_of_a_pan_is_the_reference_framing(tmp_path: Path) -> None:
    ref = picture(tmp_path / "ref.png", (400, 180))
    path = board_file(
        tmp_path,
        """\
  - {id: a, action: x, reference: ref.png, beats: [{camera: pan-right, seconds: 2, amount: 1}]}
  - {id: b, action: x, reference: ref.png, beats: [{camera: dolly-out, seconds: 2, amount: 1}]}
""",
    )
    from PIL import ImageOps

    expected = np.asarray(
        ImageOps.fit(Image.open(ref).convert("RGB"), (160, 90), Image.Resampling.LANCZOS)
    )
    for scene in scenes(path):
        first = frame_at(scene, 0)
        assert close(first, expected) < 4
        assert close(last_frame(scene), expected) > 10  # and the camera did move


def test_last_frame_of_an_end_frame_shot_is_the_end_frame(tmp_path: Path) -> None:
    picture(tmp_path / "ref.png")
    end = np.zeros((180, 320, 3), np.uint8)
    end[:, :160] = (200, 40, 40)
    end[60:120, 200:260] = 255
    Image.fromarray(end).save(tmp_path / "end.png")
    path = board_file(
        tmp_path,
        """\
  - id: a
    action: x
    reference: ref.png
    end_frame: end.png
    beats: [{camera: dolly-in, seconds: 2}]
""",
    )
    (scene,) = scenes(path)
    expected = np.asarray(Image.fromarray(end).resize((160, 90), Image.Resampling.LANCZOS))
    assert close(last_frame(scene), expected) < 4
    assert close(frame_at(scene, 0), expected) > 30
    middle = frame_at(scene, 1.0)
    assert close(middle, expected) > 4 and close(middle, frame_at(scene, 0)) > 4


@pytest.mark.parametrize("move", ["orbit-left", "orbit-right"])
def test_orbit_turns_about_the_centre_subject(tmp_path: Path, move: str) -> None:
    img = np.full((180, 320, 3), 40, np.uint8)
    img[:, ::20] = 120  # a background with structure, so the turn shows
    img[75:105, 145:175] = 255  # the subject at the centre
    Image.fromarray(img).save(tmp_path / "ref.png")
    path = board_file(
        tmp_path,
        f"""\
  - {{id: a, action: x, reference: ref.png, beats: [{{camera: {move}, seconds: 2, amount: 1}}]}}
""",
    )
    (scene,) = scenes(path)
    first, last = frame_at(scene, 0), last_frame(scene)
    for frame in (first, frame_at(scene, 1.0), last):
        ys, xs = np.nonzero(frame.min(axis=2) > 230)
        assert abs(xs.mean() - 80) < 0.1 * 160 and abs(ys.mean() - 45) < 0.1 * 90
    assert close(first, last) > 5  # the background did turn
    # no roll: the subject's top edge stays level
    ys, xs = np.nonzero(last.min(axis=2) > 230)
    left, right = ys[xs < xs.mean()].min(), ys[xs > xs.mean()].min()
    assert abs(int(left) - int(right)) <= 2


def test_transparent_reference_sits_on_the_card_background(tmp_path: Path) -> None:
    rgba = np.zeros((90, 160, 4), np.uint8)
    rgba[30:60, 60:100] = (255, 0, 0, 255)
    Image.fromarray(rgba).save(tmp_path / "cut-out.png")
    path = board_file(tmp_path, "  - {id: a, action: x, reference: cut-out.png}\n")
    (scene,) = scenes(path)
    frame = frame_at(scene, 0)
    assert tuple(frame[45, 80]) == pytest.approx((255, 0, 0), abs=8)
    corner = frame[5:20, 5:20].astype(int)
    assert corner.mean() > 40 and np.abs(corner[..., 0] - corner[..., 2]).mean() < 6  # grey card


def test_cast_reference_is_an_inset_on_the_card(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), (20, 200, 40)).save(tmp_path / "tess.png")
    path = board_file(
        tmp_path,
        "  - {id: a, action: x, cast: [tess]}\n",
        head="cast:\n  tess: {description: a woman, reference: tess.png}\n",
    )
    (scene,) = scenes(path)
    green = (lambda f: (f[..., 1] > 150) & (f[..., 0] < 80))(frame_at(scene, 0).astype(int))
    assert 50 < green.sum() < 0.15 * 160 * 90


def test_overlays_sit_out_a_dissolve(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - {id: a, seconds: 2, action: x, transition: {type: dissolve, seconds: 0.5}}
""",
        overlays=True,
    )
    (scene,) = scenes(path, overlays=True)
    plain = scenes(path, overlays=False)[0]
    assert close(frame_at(scene, 1.0), frame_at(plain, 1.0)) > 1
    assert close(frame_at(scene, 1.8), frame_at(plain, 1.8)) == 0


# ---- files: stereo, the edit's timecode --------------------------------------------------------


def stereo_wav(path: Path, seconds: float = 2.0) -> Path:
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    left, right = 0.3 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(AUDIO_RATE)
        w.writeframes((np.stack([left, right], 1) * 32767).astype("<i2").tobytes())
    return path


def test_stereo_in_stereo_out(tmp_path: Path) -> None:
    stereo_wav(tmp_path / "bed.wav")
    path = board_file(
        tmp_path,
        """\
  - {id: a, seconds: 1, action: x, audio: {file: bed.wav}}
  - {id: b, seconds: 1, action: x}
""",
    )
    result = run_cli("build", path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "renders" / "b"
    assert audio_channels(out / "shots" / "a.mp4") == 2
    assert audio_channels(out / "shots" / "b.mp4") == 1
    assert audio_channels(out / "b.mp4") == 2
    import subprocess

    from storyboard.media import ffmpeg_exe

    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-i",
            str(out / "b.mp4"),
            "-t",
            "0.8",
            "-f",
            "f32le",
            "-ac",
            "2",
            "-",
        ],
        capture_output=True,
    )
    pcm = np.frombuffer(raw.stdout, "<f4").reshape(-1, 2)
    assert np.abs(pcm[:, 0]).mean() > 10 * np.abs(pcm[:, 1]).mean()  # left stays left
    assert len(read_audio(out / "b.mp4")) > 0


def test_the_edit_shows_edit_timecode_not_the_shots(tmp_path: Path) -> None:
    path = board_file(
        tmp_path,
        """\
  - {id: a, seconds: 1, action: x}
  - {id: b, seconds: 1, action: x}
""",
        size="320x180",
        overlays=True,
    )
    assert run_cli("build", path).returncode == 0
    out = tmp_path / "renders" / "b"
    import subprocess

    from storyboard.media import ffmpeg_exe

    def frame(file: Path, index: int) -> np.ndarray:
        raw = subprocess.run(
            [
                ffmpeg_exe(),
                "-loglevel",
                "error",
                "-i",
                str(file),
                "-vf",
                f"select=eq(n\\,{index})",
                "-frames:v",
                "1",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "gray",
                "-",
            ],
            capture_output=True,
        ).stdout
        return np.frombuffer(raw, np.uint8).reshape(180, 320)

    corner = (slice(150, 180), slice(240, 320))
    shot_b, edit_b = frame(out / "shots" / "b.mp4", 5), frame(out / "b.mp4", 29)
    # the shot's own render leaves the corner to the edit; the edit burns its timecode there
    assert close(shot_b[corner], edit_b[corner]) > 5
    assert close(frame(out / "shots" / "a.mp4", 5)[corner], frame(out / "b.mp4", 5)[corner]) > 5
    assert close(shot_b[:, :200], edit_b[:, :200]) < 3


# ---- the examples: every board builds at a tiny size ------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(__file__).parent.parent / "examples").glob("*.yaml"))
)
def test_every_example_builds_tiny(examples_copy: Path, name: str) -> None:
    import re

    board = examples_copy / f"{name}.yaml"
    text = re.sub(r"output: \{[^}]*\}", "output: {size: 160x90, fps: 12}", board.read_text())
    tiny = "\noutput: {size: 160x90, fps: 12}\nshots:"
    board.write_text(text if "output:" in text else text.replace("\nshots:", tiny))
    result = run_cli("build", board, timeout=300)
    assert result.returncode == 0, result.stderr
    edit = Path(result.stdout.strip().splitlines()[-1])
    assert edit.is_file() and read_audio(edit).size > 0
