"""A real WebRTC call (aiortc client ↔ Echo server) on loopback, with spoken audio."""

import numpy as np
import pytest

from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


async def test_spoken_request_gets_spoken_answer(live_server, speak):
    caller = EchoCaller(live_server.url, pipeline="cascaded")
    try:
        answer = await caller.connect()
        assert answer["type"] == "answer" and answer["pc_id"]
        # The bot greets first.
        greeting_at = await caller.wait_for_voice(since=0.0, timeout=30)
        assert greeting_at is not None, "no greeting audio received"
        await caller.wait_for_silence(quiet=1.0, timeout=30)

        request = speak("I'd like to book an appointment with Doctor Patel.")
        silence = np.zeros(16000 * 2, dtype=np.int16)
        spoken_end = await caller.say(np.concatenate([request, silence[:8000]]), 16000)
        voice_at = await caller.wait_for_voice(since=spoken_end - 0.5, timeout=30)
        assert voice_at is not None, "no answer audio received"
        await caller.wait_for_silence(quiet=1.0, timeout=30)
        reply = caller.received.pcm(since=voice_at)
        # A spoken sentence, not a click: over half a second of audio above the noise floor.
        voiced = np.abs(reply.astype(np.int32)) > 500
        assert voiced.sum() / 48000 > 0.5
        rms = float(np.sqrt(np.mean(reply.astype(np.float64) ** 2)))
        assert rms > 300
    finally:
        await caller.close()
