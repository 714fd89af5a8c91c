"""Every ending told truly: how each session ended is what the audit trail says."""

import numpy as np
import pytest
from aiortc import RTCPeerConnection

from audit import open_store
from config import EchoSettings
from tests.conftest import LiveServer, wait_until
from tests.test_server import request
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


def endings(settings) -> list[str]:
    store = open_store(settings)
    try:
        return [r.body["status"] for r in store.iter_records() if r.kind == "session_end"]
    finally:
        store.close()


@pytest.fixture
def quick(tmp_path):
    settings = EchoSettings(
        _env_file=None,
        data_dir=tmp_path / "data",
        connect_timeout_secs=2.0,
        idle_timeout_secs=3.0,
        max_call_secs=60.0,
    )
    with LiveServer(settings) as server:
        yield server


async def test_an_offer_that_never_connects_is_freed(quick):
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    status, _ = await request(quick, "POST", "/api/offer", json=offer)
    await pc.close()  # the answer is never applied: no ICE, no DTLS, no media
    assert status == 200
    assert await wait_until(lambda: endings(quick.settings) == ["never_connected"], timeout=20)
    status, body = await request(quick, "GET", "/healthz")
    assert body["sessions"] == 0


async def test_hang_up_and_silence_are_told_apart(quick):
    caller = EchoCaller(quick.url, pipeline="cascaded")
    await caller.connect()
    greeting = await caller.wait_for_voice(since=0.0, timeout=30)
    await caller.wait_for_silence(quiet=1.0, timeout=30)
    # Silent for longer than the idle timeout: asked once ("Are you still there?"), then ended.
    nudge = await caller.wait_for_voice(since=greeting + 3.0, timeout=30)
    assert nudge is not None, "no prompt after the silence"
    assert await wait_until(lambda: "idle_timeout" in endings(quick.settings), timeout=30)
    await caller.close()

    second = EchoCaller(quick.url, pipeline="cascaded")
    await second.connect()
    assert await second.wait_for_voice(since=0.0, timeout=30)
    await second.say(np.zeros(1600, np.int16), 16000)
    await second.close()
    assert await wait_until(lambda: "hung_up" in endings(quick.settings), timeout=20)
    assert sorted(endings(quick.settings)) == ["hung_up", "idle_timeout"]


async def test_the_longest_call_ends_at_the_limit(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data", max_call_secs=4.0)
    with LiveServer(settings) as server:
        caller = EchoCaller(server.url, pipeline="cascaded")
        try:
            await caller.connect()
            assert await wait_until(lambda: endings(settings) == ["max_duration"], timeout=30)
        finally:
            await caller.close()
