"""The vision variant end to end over WebRTC loopback.

An aiortc caller shares a camera (frames the test draws) and asks by voice what the screen
says; the caller uploads images into the same call (good and bad ones); the LLM is a local
server speaking OpenAI's streaming chat-completions protocol (the cloud boundary), in
``tool`` mode (it calls ``read_image`` and speaks its answer: the local reader's work) or
``vision`` mode (a multimodal model that gets the images in its context).
"""

import asyncio
import fractions
import hashlib
import json

import aiohttp
import av
import numpy as np
import pytest
from aiortc.mediastreams import VideoStreamTrack
from pydantic import SecretStr

from audit import open_store
from tests.conftest import LiveServer, wait_until
from tests.fake_openai import FakeOpenAI
from tests.test_conversation import say_and_listen
from tests.test_vision_images import png_with_header
from tests.vision_drawings import encoded, error_dialog, pill_label, referral_letter
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


class PictureTrack(VideoStreamTrack):
    """A camera that films one still picture at 5 frames a second."""

    def __init__(self, picture):
        super().__init__()
        self.pixels = np.asarray(picture.convert("RGB"))
        self.pts = 0

    async def recv(self):
        await asyncio.sleep(0.2)
        frame = av.VideoFrame.from_ndarray(self.pixels, format="rgb24")
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, 90000)
        self.pts += 18000
        return frame


class CameraCaller(EchoCaller):
    """An :class:`EchoCaller` that also sends a camera track (after the microphone)."""

    def __init__(self, *args, picture, **kwargs):
        super().__init__(*args, **kwargs)
        self.camera = PictureTrack(picture)

    async def connect(self):
        add_track = self.pc.addTrack

        def add_mic_then_camera(track):
            sender = add_track(track)
            if track is self.mic:
                add_track(self.camera)
            return sender

        self.pc.addTrack = add_mic_then_camera
        return await super().connect()


async def upload(base_url: str, pc_id: str, data: bytes, **headers):
    async with aiohttp.ClientSession() as http:
        url = f"{base_url}/api/vision/image"  # pc_ids hold a "#": let aiohttp quote it
        async with http.post(url, params={"pc_id": pc_id}, data=data, headers=headers) as res:
            return res.status, await res.json()


def cloud_settings(settings, fake, **extra):
    update = {"openai_api_key": SecretStr("test-key"), "openai_base_url": fake.url, **extra}
    return settings.model_copy(update=update)


def tool_results(fake):
    out = []
    for body in fake.requests:
        for m in body["messages"]:
            if m.get("role") == "tool":
                out.append(json.loads(m["content"]))
    return out


async def test_camera_question_is_answered_by_voice_and_audited(settings, speak):
    with FakeOpenAI(mode="tool") as fake, LiveServer(cloud_settings(settings, fake)) as server:
        picture = error_dialog(size=(960, 540))
        caller = CameraCaller(server.url, pipeline="vision", picture=picture)
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            await say_and_listen(caller, speak, "What does the screen say?")
        finally:
            await caller.close()

        results = await wait_until(lambda: tool_results(fake), timeout=30)
        assert results, "read_image was not called"
        reading = results[-1]
        assert reading["ok"] and reading["source"] == "camera"
        assert reading["kind"] == "error_message"
        assert "denied" in reading["answer"].lower()

        audit = open_store(server.settings)
        await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 20)
        records = list(audit.iter_records())
        images = [r.body for r in records if r.kind == "image"]
        read = next(b for b in images if b["event"] == "read")
        assert read["image"]["sha256"] == reading["sha256"]
        assert read["image"]["source"] == "camera"
        assert read["produced"]["kind"] == "error_message"
        # The turn also lists the camera frame(s) taken for it (digest and size, no bytes).
        turn_images = [i for r in records if r.kind == "turn" for i in r.body["images"]]
        assert turn_images and all(len(i["sha256"]) == 64 for i in turn_images)
        spoken = " ".join(r.body["bot"]["spoken_text"] for r in records if r.kind == "turn")
        assert "error" in spoken.lower()
        assert "base64" not in json.dumps([r.body for r in records])  # never the bytes
        audit.close()


async def test_uploads_bad_inputs_and_follow_ups_with_a_vision_model(settings, speak, capfd):
    fake = FakeOpenAI(mode="vision", reply="The label says Metformin.")
    extra = {"vision_base_url": fake.url, "vision_max_image_bytes": 2 * 1024 * 1024}
    with fake, LiveServer(cloud_settings(settings, fake, **extra)) as server:
        caller = EchoCaller(server.url, pipeline="vision")
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            label = encoded(pill_label(), "PNG")

            # Bad inputs: each refused with its status, the call goes on.
            bad = [
                (b"%PDF-1.7 this is a document", 415, "unsupported_type"),
                (png_with_header(10000, 10000), 413, "too_many_pixels"),
                (label[: len(label) // 2], 400, "corrupt_image"),
                (b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024), 413, "too_large"),
            ]
            for data, status, code in bad:
                got, body = await upload(server.url, caller.pc_id, data)
                assert (got, body["code"]) == (status, code), body
            assert (await upload(server.url, "no-such-pc", label))[0] == 404
            sent = []

            async def endless_png():  # chunked, no Content-Length: refused while reading
                yield b"\x89PNG\r\n\x1a\n"
                for _ in range(400):
                    sent.append(64 * 1024)
                    yield b"\0" * 64 * 1024
                    await asyncio.sleep(0.005)

            got, body = await upload(server.url, caller.pc_id, endless_png())
            assert (got, body["code"]) == (413, "too_large")
            assert sum(sent) < 25 * 1024 * 1024  # not all 25 MB were sent

            status, body = await upload(server.url, caller.pc_id, label)
            assert status == 200 and body["image"]["mime"] == "image/png"
            sha = body["image"]["sha256"]
            assert sha == hashlib.sha256(label).hexdigest()
            thumbs = await wait_until(lambda: caller.messages_of_type("echo-vision-image"), 10)
            assert thumbs[-1][1]["thumbnail"].startswith("data:image/jpeg;base64,")

            asked = len(fake.requests)
            await say_and_listen(caller, speak, "Can you read the label on this bottle?")
            first = fake.requests[asked]
            (part,) = fake.image_parts(first)
            assert part["image_url"]["url"].startswith("data:image/png;base64,")
            assert part["image_url"]["detail"] == "auto"
            assert server.settings.vision_model == first["model"]

            asked = len(fake.requests)
            await say_and_listen(caller, speak, "And what about the second line?")
            follow_up = fake.requests[asked]
            assert fake.image_parts(follow_up) == [part]  # same image, not re-sent anew

            letter = encoded(referral_letter(), "JPEG")
            status, body = await upload(server.url, caller.pc_id, letter)
            assert status == 200
            asked = len(fake.requests)
            await say_and_listen(caller, speak, "Who should I book with?")
            latest = fake.requests[asked]
            (newest,) = fake.image_parts(latest)  # the older image's pixels are gone
            assert newest["image_url"]["url"].startswith("data:image/jpeg;base64,")
            assert sha in json.dumps(latest["messages"])  # ... kept by reference
        finally:
            await caller.close()
        assert caller.received.first_voiced(0.0) is not None
    _, logged = capfd.readouterr()
    assert "vision: session" in logged  # the upload was logged: by hash and size only
    assert "base64,iVBOR" not in logged and "base64,/9j/" not in logged  # no PNG/JPEG bytes


async def test_no_camera_shared_is_said_plainly(settings, speak):
    with FakeOpenAI(mode="tool") as fake, LiveServer(cloud_settings(settings, fake)) as server:
        caller = EchoCaller(server.url, pipeline="vision")  # audio only: no camera track
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            await say_and_listen(caller, speak, "Can you see what I'm holding up to the camera?")
        finally:
            await caller.close()
        results = await wait_until(lambda: tool_results(fake), timeout=30)
        assert results, "read_image was not called"
        assert results[-1]["ok"] is False and results[-1]["error"] == "no_camera"
        assert "can't see your camera" in results[-1]["answer"]
