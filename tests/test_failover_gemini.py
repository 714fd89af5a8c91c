"""The speech-native variant fails over from Gemini Live to Echo's local Realtime server.

The "cloud" is a local server speaking Gemini Live's BidiGenerateContent WebSocket over TLS
(``tests/fake_gemini.py``), which Pipecat's service reaches through google-genai's
``http_options.base_url`` (``ECHO_GEMINI_LIVE_BASE_URL``): it refuses the key at the
handshake, answers ``setup`` and then nothing, or closes the session when Echo asks for
the greeting and refuses the reconnect. Per fault, one short WebRTC call (one server for
all): the local server greets (and, after the drop, answers one question), the
``failover`` record names ``gemini``, the audit chain verifies, and the caller heard at
most one apology.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

import pipelines
from config import EchoSettings
from pipelines.failover import APOLOGY
from tests.conftest import LiveServer, wait_until
from tests.fake_gemini import LIVE_PATH, FaultyGeminiLive
from tests.test_conversation import say_and_listen
from tests.test_failover_realtime import all_records, assert_answered, assert_realtime_failover
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow

KEY = "gemini-test-key-4711"


@pytest.fixture(scope="module")
def gemini(tmp_path_factory):
    """One Echo server whose speech-native calls use the faulty Gemini Live API."""
    base = EchoSettings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("gemini-failover"),
        provider_timeout_secs=2.0,  # the fake answers nothing: no cloud latency to allow for
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(pipelines.PIPELINES, "speech_native", "pipelines.speech_native")
        with FaultyGeminiLive(tmp_path_factory.mktemp("gemini-tls")) as fake:
            # google-genai trusts the certificates of SSL_CERT_FILE (else certifi's).
            mp.setenv("SSL_CERT_FILE", str(fake.cert_file))
            settings = base.model_copy(
                update={
                    "realtime_provider": "gemini",
                    "google_api_key": SecretStr(KEY),
                    "gemini_live_base_url": fake.base_url,
                }
            )
            with LiveServer(settings) as server:
                yield server, fake


@pytest.mark.parametrize(
    "fault,reason,pending",
    [("refuse", "refused", False), ("silent", "timeout", True), ("drop", "dropped", True)],
)
async def test_gemini_live_fails_over_to_the_local_server(
    gemini, speak, capfd, fault, reason, pending
):
    """``refuse``: the local server greets, no apology; ``silent`` and ``drop``: the
    greeting Echo asked Gemini for never comes, the caller hears one apology and the
    local server greets with the conversation so far; after the drop, one question too."""
    server, fake = gemini
    fake.mode = fault
    handshakes = fake.handshakes
    before = {r.session_id for r in all_records(server.settings)}
    caller = EchoCaller(server.url, pipeline="speech_native", request_data={"patient_id": "p-gl"})
    try:
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
        # An apology, then the local server's greeting: wait through the gap between them.
        await caller.wait_for_silence(quiet=4.0, timeout=40)  # the gap: seconds on a busy CPU
        if fault == "drop":
            await say_and_listen(caller, speak, "Which doctors do dermatology?")
    finally:
        await caller.close()
    runtime = server.app.state.runtime
    assert await wait_until(lambda: not runtime.sessions, timeout=30)

    # Echo spoke Gemini Live's protocol to the fake: the key in its header, a setup.
    assert fake.handshakes > handshakes
    assert set(fake.keys[handshakes:]) == {KEY} and set(fake.paths) == {LIVE_PATH}
    if fault != "refuse":
        assert fake.setups and fake.setups[-1]["model"].startswith("models/")
        assert "clientContent" in fake.received  # Echo asked for the greeting

    records = [r for r in all_records(server.settings) if r.session_id not in before]
    turns = assert_realtime_failover(records, "gemini", reason, pending)
    spoken = " ".join(t["bot"]["spoken_text"] for t in turns if t["bot"])
    assert spoken.replace(APOLOGY, "").strip(), "the local server did not greet"
    if fault == "drop":  # and it answered the question
        assert_answered(turns)
    assert KEY not in capfd.readouterr().err  # the key is never logged


def test_connection_faults_are_described_and_classed():
    """Pure: what escaped Gemini Live's connection task becomes a clear, classed error."""
    from google.genai import errors
    from pipecat.utils.errors import ErrorCategory
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    from realtime.gemini import describe_fault

    def status(code: int) -> InvalidStatus:
        return InvalidStatus(Response(code, "", Headers(), b""))

    text, category = describe_fault(status(401))
    assert "GOOGLE_API_KEY" in text and category is ErrorCategory.AUTHENTICATION
    assert describe_fault(status(503))[1] is ErrorCategory.SERVER
    closed = errors.APIError(1008, "API key not valid. Please pass a valid API key.", None)
    assert describe_fault(closed)[1] is ErrorCategory.INVALID_REQUEST  # refused at setup
    text, category = describe_fault(status(503), reconnecting=True)
    assert text.startswith("the Gemini Live session dropped and its reconnect failed")
    assert describe_fault(ConnectionRefusedError())[1] is ErrorCategory.CONNECTIVITY


def test_a_tool_result_asks_for_a_reply_unless_told_not_to():
    from pipecat.frames.frames import FunctionCallResultFrame, FunctionCallResultProperties

    from pipelines.failover_realtime import result_asks_reply

    def result(**kwargs) -> FunctionCallResultFrame:
        return FunctionCallResultFrame(
            function_name="find_provider", tool_call_id="c1", arguments={}, result={}, **kwargs
        )

    assert result_asks_reply(result())
    assert not result_asks_reply(result(run_llm=False))
    assert not result_asks_reply(result(properties=FunctionCallResultProperties(run_llm=False)))
    assert not result_asks_reply(result(properties=FunctionCallResultProperties(is_final=False)))
