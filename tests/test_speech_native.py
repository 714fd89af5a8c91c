"""The speech-native variant: provider choice, session settings, and a real WebRTC call.

The call test runs the whole variant over a WebRTC loopback (aiortc caller ↔ Echo's server)
against Echo's in-process offline Realtime server: Pipecat's OpenAI Realtime client, the
real protocol, the local models, the real clinic tools and store, and the audit observer.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from pipecat.pipeline.worker import PipelineWorker
from pydantic import SecretStr

import pipelines
from clinic.identity import make_token
from config import EchoSettings
from pipelines import speech_native
from realtime.client import EchoOpenAIRealtimeLLMService, describe_error
from tests.conftest import LiveServer, wait_until
from tests.heard import heard_like
from transports.webrtc_client import EchoCaller

# --- provider choice and settings (no network) -------------------------------------------------


def make_settings(tmp_path, **values) -> EchoSettings:
    return EchoSettings(_env_file=None, data_dir=tmp_path / "data", **values)


def test_fresh_machine_uses_the_local_server(tmp_path):
    settings = make_settings(tmp_path)
    assert speech_native.provider(settings) == "local"
    assert speech_native.requirements(settings) == []


def test_openai_key_selects_the_real_api(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = make_settings(tmp_path)
    assert speech_native.provider(settings) == "openai"
    assert speech_native.requirements(settings) == []


def test_options_read_settings_with_defaults(tmp_path):
    settings = make_settings(tmp_path)
    opts = speech_native.RealtimeOptions.from_settings(settings)
    assert opts.vad_threshold == 0.5 and opts.interruptions is True
    changed = settings.model_copy(update={"realtime_voice": "coral"})
    assert speech_native.RealtimeOptions.from_settings(changed).voice == "coral"


def options(**changes) -> speech_native.RealtimeOptions:
    """The default options (EchoSettings' defaults) with ``changes``."""
    return speech_native.RealtimeOptions.from_settings(EchoSettings(_env_file=None), **changes)


def test_session_properties_carry_audio_voice_transcription_and_turns():
    opts = options(voice="coral", silence_duration_ms=700)
    props = speech_native.session_properties(opts)
    audio = props.audio
    assert audio.input.format.type == "audio/pcm" and audio.input.format.rate == 24000
    assert audio.output.format.rate == 24000 and audio.output.voice == "coral"
    assert audio.input.transcription.model == "gpt-realtime-whisper"
    td = audio.input.turn_detection
    assert (td.type, td.threshold, td.silence_duration_ms, td.prefix_padding_ms) == (
        "server_vad",
        0.5,
        700,
        300,
    )
    semantic = speech_native.session_properties(
        options(turn_detection="semantic_vad", eagerness="low")
    )
    assert semantic.audio.input.turn_detection.type == "semantic_vad"
    assert semantic.audio.input.turn_detection.eagerness == "low"
    with pytest.raises(ValueError, match="server_vad or semantic_vad"):
        speech_native.session_properties(options(turn_detection="x"))


def test_unknown_provider_is_a_clear_error(tmp_path):
    class Settings(EchoSettings):
        realtime_provider: str = "azure"

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    assert speech_native.requirements(settings) == ["ECHO_REALTIME_PROVIDER"]
    with pytest.raises(ValueError, match="unknown realtime provider 'azure': use one of auto"):
        speech_native.provider(settings)


def test_gemini_needs_its_key(tmp_path, monkeypatch):
    class Settings(EchoSettings):
        realtime_provider: str = "gemini"

    assert speech_native.requirements(Settings(_env_file=None, data_dir=tmp_path)) == [
        "GOOGLE_API_KEY"
    ]
    monkeypatch.setenv("GOOGLE_API_KEY", "g-test")
    assert speech_native.requirements(Settings(_env_file=None, data_dir=tmp_path)) == []


def fake_session(settings, tmp_path):
    """A Session on a real store and models, with a real (unconnected) WebRTC transport."""
    from datetime import date

    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    from clinic.store import ClinicStore
    from providers.local import LocalModels
    from runtime import load_vocabulary
    from transports import TRANSPORTS

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = ClinicStore(settings.resolved_clinic_db())
    store.seed(load_vocabulary(settings), start=date(2026, 11, 30))
    transport = TRANSPORTS["smallwebrtc"].create(connection=SmallWebRTCConnection(ice_servers=[]))
    return pipelines.Session(
        session_id="s1",
        settings=settings,
        transport=transport,
        models=LocalModels(settings),
        clinic_store=store,
        lexicon=None,
        patient_id="p1",
        today=date(2026, 11, 30),
    )


def service_of(worker: PipelineWorker, cls):
    from pipecat.pipeline.pipeline import Pipeline

    def walk(processors):
        for p in processors:
            yield p
            if isinstance(p, Pipeline):
                yield from walk(p.processors)

    found = [p for p in walk(worker.pipeline.processors) if isinstance(p, cls)]
    assert len(found) == 1, found
    return found[0]


def test_build_with_gemini_key_uses_gemini_live_without_network(tmp_path, monkeypatch):
    from pipecat.pipeline.llm_switcher import LLMSwitcher
    from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService

    class Settings(EchoSettings):
        realtime_provider: str = "gemini"

    monkeypatch.setenv("GOOGLE_API_KEY", "g-test")
    session = fake_session(Settings(_env_file=None, data_dir=tmp_path / "d"), tmp_path)
    worker = speech_native.build(session)
    # Gemini first, the local server as its failover (pipelines/failover_realtime.py).
    llm, local = service_of(worker, LLMSwitcher).services
    assert isinstance(llm, GeminiLiveLLMService)
    assert local.base_url.startswith("ws://127.0.0.1:")
    assert llm._settings.voice == "Charon"
    assert llm._settings.vad.silence_duration_ms == 500
    assert "find_provider" in llm._functions  # the clinic tools are registered


def test_build_with_openai_key_talks_to_the_real_api(tmp_path, monkeypatch):
    from pipecat.pipeline.llm_switcher import LLMSwitcher

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    session = fake_session(make_settings(tmp_path), tmp_path)
    # The cloud first, the local server as its failover (pipelines/failover_realtime.py).
    llm, local = service_of(speech_native.build(session), LLMSwitcher).services
    assert llm.base_url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert llm.api_key == "sk-test"
    assert local.base_url.startswith("ws://127.0.0.1:")
    assert "book_appointment" in llm._functions and "book_appointment" in local._functions


def test_build_without_key_points_at_a_loopback_server(tmp_path):
    session = fake_session(make_settings(tmp_path), tmp_path)
    llm = service_of(speech_native.build(session), EchoOpenAIRealtimeLLMService)
    assert llm.base_url.startswith("ws://127.0.0.1:")
    assert llm.base_url.endswith("/v1/realtime?model=gpt-realtime")


def test_error_descriptions_name_the_setting():
    assert "ECHO_REALTIME_VOICE" in describe_error(
        "invalid_value", "unknown voice 'zeus'", "session.audio.output.voice"
    )
    assert "ECHO_REALTIME_MODEL" in describe_error("model_not_found", "no such model", "model")
    assert describe_error(None, "boom", None) == "Realtime API error (unknown): boom"


# --- the whole variant over WebRTC -----------------------------------------------------------


SECRET = "host-application-secret"


@pytest.fixture
def speech_native_server(settings, monkeypatch):
    """Echo's server with speech_native registered (its sessions are audited by the server)."""
    monkeypatch.setitem(pipelines.PIPELINES, "speech_native", "pipelines.speech_native")
    vouching = settings.model_copy(update={"patient_token_secret": SecretStr(SECRET)})
    with LiveServer(vouching) as live:
        yield live


async def say_and_hear(caller: EchoCaller, pcm: np.ndarray) -> float:
    silence = np.zeros(16000, dtype=np.int16)
    end = await caller.say(np.concatenate([pcm, silence]), 16000)
    voice_at = await caller.wait_for_voice(since=end - 1.0, timeout=60)
    assert voice_at is not None, "no spoken answer"
    await caller.wait_for_silence(quiet=1.5, timeout=60)
    return voice_at


@pytest.mark.slow
async def test_spoken_booking_over_webrtc_against_local_realtime_server(
    speech_native_server, speak
):
    live = speech_native_server
    caller = EchoCaller(
        live.url,
        pipeline="speech_native",
        request_data={"patient_token": make_token("patient-sn", SECRET)},
    )
    try:
        await caller.connect()
        greeting_at = await caller.wait_for_voice(since=0.0, timeout=60)
        assert greeting_at is not None, "no greeting"
        await caller.wait_for_silence(quiet=1.5, timeout=60)

        first = await say_and_hear(
            caller, speak("I'd like to book an appointment with Doctor Patel.")
        )
        reply = caller.received.pcm(since=first)
        assert (np.abs(reply.astype(np.int32)) > 500).sum() / 48000 > 0.5  # a spoken answer
        await say_and_hear(caller, speak("The first one, please."))
        await say_and_hear(caller, speak("Yes, please."))
    finally:
        await caller.close()

    runtime = live.app.state.runtime
    assert await wait_until(lambda: not runtime.sessions, timeout=30)
    booked = runtime.clinic_store.appointments_for("patient-sn")
    assert len(booked) == 1 and booked[0].provider_name == "Dr. Patel"

    from audit.store import SQLiteAuditStore

    store = SQLiteAuditStore(live.settings.resolved_audit_db())
    try:
        turns = [r.body for r in store.iter_records(kinds=["turn"])]
        starts = [r.body for r in store.iter_records(kinds=["session_start"])]
    finally:
        store.close()
    heard = [(t["user"] or {}).get("final_transcript", "") for t in turns]
    spoken = " ".join(t["bot"]["spoken_text"] for t in turns)
    for said in ("I'd like to book an appointment with Doctor Patel.", "The first one, please."):
        assert any(heard_like(h, said) for h in heard), (said, heard)
    assert any(heard_like(h, "Yes, please.", 0.5) for h in heard), heard
    assert spoken.startswith("Hi, this is Echo") or "Hi, this is Echo" in spoken
    assert "booked with Doctor Patel" in spoken
    calls = [c for t in turns for c in t["tool_calls"]]
    assert [c["name"] for c in calls].count("book_appointment") == 1
    assert json.dumps(calls).count(booked[0].id.split("-")[-1]) >= 1
    assert starts and starts[0]["variant"] == "speech_native"


@pytest.mark.slow
async def test_barge_in_cuts_the_bot_off_and_the_record_keeps_what_was_heard(
    speech_native_server, speak
):
    live = speech_native_server
    caller = EchoCaller(live.url, pipeline="speech_native", request_data={"patient_id": "p-barge"})
    try:
        await caller.connect()
        greeting_at = await caller.wait_for_voice(since=0.0, timeout=60)
        assert greeting_at is not None, "no greeting"
        await asyncio.sleep(1.0)  # the greeting is several seconds long: talk over it
        request = speak("I want to cancel my appointment.")
        await say_and_hear(caller, request)
    finally:
        await caller.close()

    runtime = live.app.state.runtime
    assert await wait_until(lambda: not runtime.sessions, timeout=30)
    from audit.store import SQLiteAuditStore

    store = SQLiteAuditStore(live.settings.resolved_audit_db())
    try:
        turns = [r.body for r in store.iter_records(kinds=["turn"])]
    finally:
        store.close()
    greeting = turns[0]["bot"]
    assert greeting["status"] == "interrupted"
    full = "Hi, this is Echo, the clinic's appointment line."
    heard = greeting["spoken_text"]
    assert heard and full.startswith(heard.split(" I can")[0])
    assert greeting["spoken_words"] < 12  # cut off well before the end of the greeting
    user_turns = [t for t in turns if t["user"] and t["user"]["final_transcript"]]
    assert heard_like(user_turns[0]["user"]["final_transcript"], "I want to cancel my appointment.")
