"""The page in headless Chromium with a fake camera and microphone, on the vision pipeline.

The camera films an error dialog the test draws (a Y4M file Chromium loops); the
microphone asks what the screen says. The LLM is a local server speaking OpenAI's streaming
protocol that calls ``read_image`` and speaks its answer (:mod:`tests.fake_openai`).
"""

import numpy as np
import pytest
from PIL import Image

from tests.browser import fake_media, launch, needs_chromium
from tests.conftest import LiveServer, wait_until, write_wav
from tests.fake_openai import FakeOpenAI
from tests.test_vision_webrtc import cloud_settings, tool_results
from tests.vision_drawings import error_dialog

pytestmark = pytest.mark.slow


def write_y4m(path, picture: Image.Image, frames: int = 2):
    """A YUV4MPEG2 (4:2:0) file of a still picture, as Chromium's fake camera reads."""
    w, h = picture.size
    ycc = np.asarray(picture.convert("YCbCr"))
    y = ycc[:, :, 0]
    u = ycc[::2, ::2, 1]
    v = ycc[::2, ::2, 2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes())
    return path


@needs_chromium
async def test_page_camera_question_gets_a_voiced_answer(settings, speak, tmp_path):
    from playwright.async_api import async_playwright

    camera = write_y4m(tmp_path / "camera.y4m", error_dialog(size=(1280, 720)))
    quiet = np.zeros(16000 * 7, dtype=np.int16)
    question = speak("What does the screen say?")
    mic = write_wav(tmp_path / "mic.wav", np.concatenate([quiet, question, quiet]))

    with FakeOpenAI(mode="tool") as fake, LiveServer(cloud_settings(settings, fake)) as server:
        async with async_playwright() as p:
            browser = await launch(p, *fake_media(audio=mic, video=camera))
            page = await browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(server.url + "/")
            await page.wait_for_function(
                "[...document.querySelectorAll('#pipeline option')].some(o => o.value === 'vision')"
            )
            await page.select_option("#pipeline", "vision")
            await page.click("#connect")
            await page.wait_for_function(
                "document.getElementById('status').textContent === 'connected'", timeout=30000
            )
            await page.wait_for_function("!document.getElementById('camera').disabled")
            await page.click("#camera")

            reading = await wait_until(lambda: tool_results(fake), timeout=60)
            assert reading, "read_image was not called"
            reading = reading[-1]
            assert reading["ok"] and reading["source"] == "camera"
            assert reading["kind"] == "error_message", reading["lines"]
            # The page shows the camera frame Echo read as the current image.
            await page.wait_for_function(
                "document.getElementById('thumb').src.startsWith('data:image/jpeg')",
                timeout=30000,
            )
            energy_js = """async () => {
                let e = 0;
                (await echoPage.pc.getStats()).forEach(r => {
                    if (r.type === 'inbound-rtp' && r.kind === 'audio') e = r.totalAudioEnergy || 0;
                });
                return e;
            }"""
            await page.wait_for_function(f"({energy_js})().then(e => e > 0.01)", timeout=60000)
            await page.click("#disconnect")
            await browser.close()
    assert errors == []
