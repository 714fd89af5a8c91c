"""Images in the speech_native variant, end to end over WebRTC loopback.

The caller uploads a photo, or shares a camera, during a speech_native call; Pipecat's
OpenAI Realtime service forwards it as an ``input_image`` item to Echo's offline Realtime
server (the stand-in for the cloud model), whose spoken answer is about the image. The
audit trail keeps each image by reference (digest, size, source), never the bytes.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from audit import open_store
from tests.conftest import LiveServer, wait_until
from tests.test_conversation import say_and_listen
from tests.test_vision_webrtc import CameraCaller, upload
from tests.vision_drawings import encoded, error_dialog, pill_label
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


def local_realtime(settings):
    return settings.model_copy(update={"realtime_provider": "local"})


async def records_when_ended(settings) -> list:
    audit = open_store(settings)
    try:
        await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 20)
        return list(audit.iter_records())
    finally:
        audit.close()


def spoken(records) -> str:
    return " ".join(r.body["bot"]["spoken_text"] for r in records if r.kind == "turn").lower()


async def test_an_uploaded_label_is_answered_by_voice(settings, speak):
    with LiveServer(local_realtime(settings)) as server:
        caller = EchoCaller(server.url, pipeline="speech_native")
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            label = encoded(pill_label(), "PNG")
            status, body = await upload(server.url, caller.pc_id, label)
            assert status == 200 and body["image"]["source"] == "upload"
            assert (await upload(server.url, caller.pc_id, b"GIF89a broken"))[0] == 400
            forged = {"X-Echo-PC-Token": "0" * 64}  # someone else's call: not theirs to show
            assert (await upload(server.url, caller.pc_id, label, **forged))[0] == 403
            thumbs = await wait_until(lambda: caller.messages_of_type("echo-vision-image"), 10)
            assert thumbs[-1][1]["image"]["sha256"] == hashlib.sha256(label).hexdigest()
            await say_and_listen(caller, speak, "Could you tell me what this bottle is?")
        finally:
            await caller.close()

        records = await records_when_ended(server.settings)
        images = [r.body for r in records if r.kind == "image"]
        assert [i["image"]["sha256"] for i in images] == [hashlib.sha256(label).hexdigest()]
        assert "metformin" in spoken(records)  # the reply was read off the label
        assert "base64" not in json.dumps([r.body for r in records])


async def test_the_camera_is_shown_to_the_model_when_the_caller_speaks(settings, speak):
    with LiveServer(local_realtime(settings)) as server:
        picture = error_dialog(size=(960, 540))
        caller = CameraCaller(server.url, pipeline="speech_native", picture=picture)
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            await say_and_listen(caller, speak, "I'm getting this on my screen, any idea?")
            await say_and_listen(caller, speak, "Okay, and what should I do about it?")
        finally:
            await caller.close()

        records = await records_when_ended(server.settings)
        images = [r.body for r in records if r.kind == "image"]
        # One frame per change of scene: the same picture is sent once, not every turn.
        assert len(images) == 1 and images[0]["image"]["source"] == "camera"
        assert "denied" in spoken(records)
