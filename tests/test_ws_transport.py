"""The plain WebSocket transport: a client speaking Pipecat's protobuf frames to ``/ws``."""

import aiohttp
import numpy as np
import pytest

from audit import open_store
from tests.conftest import wait_until
from transports.ws_clients import ProtobufCaller

pytestmark = pytest.mark.slow


async def test_protobuf_client_hears_a_spoken_answer(live_server, speak):
    caller = ProtobufCaller(live_server.url, pipeline="cascaded")
    try:
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
        await caller.wait_for_silence(quiet=1.0, timeout=30)
        # Not a protobuf frame, a text message, an audio frame with no channels: dropped.
        await caller.ws.send_bytes(b"\xff\x00 definitely not protobuf")
        await caller.ws.send_str("hello")
        import pipecat.frames.protobufs.frames_pb2 as frames_pb2

        bad = frames_pb2.Frame()
        bad.audio.audio = b"\x00" * 640
        bad.audio.sample_rate = 16000
        bad.audio.num_channels = 0
        await caller.ws.send_bytes(bad.SerializeToString())

        pcm = np.concatenate([speak("Which doctors do dermatology?"), np.zeros(8000, np.int16)])
        sent = await caller.say(pcm, 16000)
        assert await caller.wait_for_voice(since=sent - 0.3, timeout=30), "no spoken answer"
        await caller.wait_for_silence(quiet=1.0, timeout=40)
    finally:
        await caller.close()

    voiced = [c for _, c in caller.received.chunks if len(c) and np.abs(c).max() > 2000]
    assert len(voiced) > 20

    runtime = live_server.app.state.runtime
    await wait_until(lambda: not runtime.sessions, timeout=10)
    assert not runtime.sessions, "closing the socket did not end the session"
    audit = open_store(live_server.settings)
    await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 10)
    records = list(audit.iter_records())
    assert next(r for r in records if r.kind == "session_start").body["transport"] == "websocket"
    turns = [r.body for r in records if r.kind == "turn" and r.body["trigger"] == "user"]
    assert turns and turns[0]["user"]["final_transcript"]
    audit.close()


async def test_unknown_pipeline_is_refused_with_json(live_server):
    url = live_server.url.replace("http", "ws", 1) + "/ws?pipeline=telepathy"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
    assert refused.value.status == 422


async def test_stereo_48k_audio_is_converted(live_server, speak):
    """A client sending 48 kHz stereo frames is heard too (converted to 16 kHz mono)."""
    caller = ProtobufCaller(live_server.url, rate=48000, channels=2)
    try:
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
        await caller.wait_for_silence(quiet=1.0, timeout=30)
        pcm = np.concatenate([speak("Which doctors do dermatology?"), np.zeros(8000, np.int16)])
        sent = await caller.say(pcm, 16000)
        assert await caller.wait_for_voice(since=sent - 0.3, timeout=30), "no spoken answer"
    finally:
        await caller.close()
    audit = open_store(live_server.settings)
    await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 10)
    turns = [r.body for r in audit.iter_records() if r.kind == "turn"]
    heard = [t["user"]["final_transcript"] for t in turns if t["trigger"] == "user"]
    assert heard and any(h.strip() for h in heard), heard
    audit.close()
