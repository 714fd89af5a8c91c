"""Every ending told truly: how each session ended is what the audit trail says."""

import asyncio
import sys

import numpy as np
import pytest
from aiortc import RTCPeerConnection

from audit import open_store
from config import PROJECT_DIR, EchoSettings
from tests.conftest import LiveServer, wait_until, write_wav
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
    for _ in range(50):  # the audit record is written just before the session slot is freed
        status, body = await request(quick, "GET", "/healthz")
        if body["sessions"] == 0:
            break
        await asyncio.sleep(0.1)
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


def records(settings, kind: str) -> list[dict]:
    store = open_store(settings)
    try:
        return [r.body for r in store.iter_records(kinds=[kind])]
    finally:
        store.close()


QUESTION = "Which insurance plans do you take?"  # the local brain's answer: ~7 s, one sentence


def assert_cut_by_hang_up(settings) -> dict:
    """The asked turn's reply is recorded as cut by the hang-up, shorter than generated."""
    turns = records(settings, "turn")
    bot = [t for t in turns if t["trigger"] == "user" and t["bot"]["generated_text"]][-1]["bot"]
    full = bot["generated_text"]
    assert len(full.split()) >= 8, f"the reply is too short to cut ({len(full)} chars)"
    assert bot["status"] == "interrupted", bot["status"]
    assert bot["interrupted_by"] == "hung_up"
    assert len(bot["spoken_text"]) < len(full)
    assert bot["spoken_words"] < len(full.split())
    return bot


@pytest.fixture
def patient(tmp_path):
    """Idle and call limits well beyond the test's length."""
    return EchoSettings(_env_file=None, data_dir=tmp_path / "data", idle_timeout_secs=60.0)


async def test_a_reply_cut_by_a_hang_up_is_told_as_cut(patient, speak):
    with LiveServer(patient) as server:
        caller = EchoCaller(server.url, pipeline="cascaded")
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.0, timeout=30)
            asked = await caller.say(speak(QUESTION), 16000)
            assert await caller.wait_for_voice(since=asked, timeout=30), "no reply"
            await asyncio.sleep(1.0)
        finally:
            await caller.close()  # hang up ~1 s into the reply
        assert await wait_until(lambda: endings(patient) == ["hung_up"], timeout=10)
    assert_cut_by_hang_up(patient)


# A caller in its own process, killed mid-reply: no DTLS close, no RTCP BYE, nothing.
KILLED_CALLER = """
import asyncio, sys, wave
import numpy as np
from transports.webrtc_client import EchoCaller

async def main(url, wav):
    with wave.open(wav) as w:
        pcm, rate = np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()
    caller = EchoCaller(url, pipeline="cascaded")
    await caller.connect()
    await caller.wait_for_voice(since=0.0, timeout=30)
    await caller.wait_for_silence(quiet=1.0, timeout=30)
    asked = await caller.say(pcm, rate)
    if await caller.wait_for_voice(since=asked, timeout=30) is None:
        sys.exit("no reply")
    await asyncio.sleep(1.0)
    print("replying", flush=True)
    await asyncio.sleep(120)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_killed_caller_is_hung_up_within_seconds(patient, speak, tmp_path):
    wav = write_wav(tmp_path / "question.wav", speak(QUESTION))
    with LiveServer(patient) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            KILLED_CALLER,
            server.url,
            str(wav),
            stdout=asyncio.subprocess.PIPE,
            cwd=PROJECT_DIR,
        )
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
            assert line.strip() == b"replying", "the caller got no reply"
        finally:
            proc.kill()  # ~1 s into the reply
            await proc.wait()
        # Caller audio stops: the call ends after peer_silence_secs (3 s), not ICE's ~30 s.
        assert await wait_until(lambda: endings(patient) == ["hung_up"], timeout=12)
    bot = assert_cut_by_hang_up(patient)
    assert bot["unheard_secs"] > 0, "the audio sent after the caller died counts as heard"


@pytest.mark.parametrize("caller_still_there", [False, True])
async def test_a_reply_finished_after_the_caller_left_is_not_heard(tmp_path, caller_still_there):
    from pipecat.frames.frames import (
        CancelFrame,
        LLMFullResponseEndFrame,
        LLMFullResponseStartFrame,
        LLMTextFrame,
        TranscriptionFrame,
        TTSStartedFrame,
        TTSStoppedFrame,
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
    )
    from pipecat.tests.utils import SleepFrame, run_test

    from audit.recorder import AuditRecorder
    from audit.store import SQLiteAuditStore
    from observers.audit import AuditObserver
    from tests.test_audit_observer import PacedOutput, tts_sentence, user_audio

    first, second = "We accept Aetna and Cigna.", "The billing office can confirm yours."
    frames = [
        UserStartedSpeakingFrame(),
        *user_audio(5),
        UserStoppedSpeakingFrame(),
        TranscriptionFrame("which plans do you take", "patient", "t"),
        LLMFullResponseStartFrame(),
        LLMTextFrame(f"{first} {second}"),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence(first, 0.6, 3),
        *tts_sentence(second, 0.6, 4),
        TTSStoppedFrame(),
        SleepFrame(1.8),  # played in full and the bot stopped: the turn is closed
        *(user_audio(3) if caller_still_there else []),  # the caller's mic after the reply
        SleepFrame(0.1),
        CancelFrame(),  # the transport reports the hang-up
    ]
    store = SQLiteAuditStore(tmp_path / "audit.db")
    recorder = AuditRecorder(store, session_id="call-1", variant="cascaded", config_hash="abc")
    await recorder.start()
    observer = AuditObserver(recorder=recorder, ending=lambda: "hung_up")
    await run_test(PacedOutput(), frames_to_send=frames, observers=[observer], send_end_frame=False)
    observer.flush()
    await recorder.close("hung_up")
    (turn,) = [r.body for r in store.iter_records("call-1", kinds=["turn"])]
    store.close()
    bot = turn["bot"]
    if caller_still_there:  # caller audio after the reply: it was heard
        assert bot["status"] == "complete" and bot["spoken_text"] == f"{first} {second}"
        assert bot["unheard_secs"] is None
    else:  # the caller's last audio came before the reply: nobody heard it
        assert bot["status"] == "interrupted" and bot["interrupted_by"] == "hung_up"
        assert bot["spoken_text"] == ""
        assert bot["unheard_secs"] >= 0.5  # of 1 s sent


async def test_offers_that_never_connect_give_back_their_sockets(tmp_path):
    import gc
    import os

    from aiortc import RTCPeerConnection

    from benchmarks.offer_flood import flood, server_settings

    overrides = server_settings(6, connect_timeout=2.0)
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data", **overrides)
    with LiveServer(settings) as server:  # in this process: its sockets are ours to count
        samples, statuses = await flood(
            server.url, os.getpid(), offers=6, rate=3.0, connect_timeout=2.0, settle=1.0
        )
        gc.collect()
        left = [o for o in gc.get_objects() if isinstance(o, RTCPeerConnection)]
    before, peak, *_, after = samples
    assert statuses == {200: 6}
    assert peak.udp_sockets >= before.udp_sockets + 6, "the offers held no sockets"
    assert abs(after.udp_sockets - before.udp_sockets) <= 1, samples
    assert after.sessions == 0
    assert not left, f"{len(left)} peer connections still alive"
