"""The Runway backend: its fake server checked against the official SDK, and the real CLI
against the fake on loopback."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from storyboard.testing.fake_runway import FakeRunway

KEY = "key_LEAK-runway-5a5a5a"


@pytest.fixture
def runway():
    with FakeRunway(KEY) as server:
        yield server


def _data_uri(size: tuple[int, int] = (160, 90)) -> str:
    image = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(image, "PNG")
    return "data:image/png;base64," + base64.b64encode(image.getvalue()).decode()


def test_the_official_sdk_speaks_to_the_fake(runway: FakeRunway) -> None:
    runwayml = pytest.importorskip("runwayml")
    client = runwayml.RunwayML(api_key=KEY, base_url=runway.url, max_retries=0)
    uri = _data_uri()
    created = client.image_to_video.create(
        model="veo3.1", prompt_text="a lighthouse", ratio="1280:720", duration=4, seed=7,
        audio=True, prompt_image=[{"uri": uri, "position": "first"},
                                  {"uri": uri, "position": "last"}])
    [sent] = runway.calls("POST", "/v1/image_to_video")
    assert sent.fields["promptText"] == "a lighthouse" and sent.fields["seed"] == 7
    assert set(sent.files) == {"first", "last"}
    task = client.tasks.retrieve(created.id)
    seen = [task.status]
    while task.status not in ("SUCCEEDED", "FAILED"):
        task = client.tasks.retrieve(created.id)
        seen.append(task.status)
    assert seen[0] == "PENDING" and "RUNNING" in seen and seen[-1] == "SUCCEEDED"
    video = httpx.get(task.output[0])  # a signed URL: no key needed, none sent
    assert video.content[4:8] == b"ftyp" and runway.keyed_downloads == [False]
    text = client.text_to_video.create(model="gen4.5", prompt_text="fog", ratio="720:1280",
                                       duration=2)
    client.tasks.delete(text.id)
    assert client.tasks.retrieve(text.id).status == "CANCELLED"
    with pytest.raises(runwayml.BadRequestError, match="Invalid ratio '1920:1080'"):
        client.image_to_video.create(model="gen4.5", prompt_image=uri, prompt_text="x",
                                     ratio="1920:1080", duration=5)
    with pytest.raises(runwayml.BadRequestError, match="positions must be one of first"):
        client.image_to_video.create(model="gen4_turbo", ratio="960:960", duration=5,
                                     prompt_image=[{"uri": uri, "position": "last"}])
    wrong = runwayml.RunwayML(api_key="key_wrong", base_url=runway.url, max_retries=0)
    with pytest.raises(runwayml.AuthenticationError):
        wrong.tasks.retrieve(created.id)


def test_the_fake_needs_the_version_header(runway: FakeRunway) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    missing = httpx.post(f"{runway.url}/v1/text_to_video", headers=headers,
                         json={"model": "gen4.5", "promptText": "x", "ratio": "1280:720",
                               "duration": 5})
    assert missing.status_code == 400 and "X-Runway-Version" in missing.json()["error"]
    assert not runway.jobs
