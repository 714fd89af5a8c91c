"""LatencyObserver on speech-to-speech sessions: the frames Pipecat's OpenAI Realtime service
and the user aggregator push, by Realtime event (see docs/speech_native.md), with a
controllable clock.

speech_started → UserStartedSpeakingFrame (+ InterruptionFrame); speech_stopped →
UserStoppedSpeakingFrame; input transcription → TranscriptionFrame *upstream*; first
output_audio.delta → TTSStartedFrame + TTSAudioRawFrame (24 kHz); audio transcript delta →
LLMTextFrame; first audio played → BotStartedSpeakingFrame.
"""

import json

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    FunctionCallInProgressFrame,
    InterruptionFrame,
    LLMServiceMetadataFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSStartedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.processors.frame_processor import FrameDirection

from observers.latency import LatencyObserver, server_vad_silence_secs
from observers.latency_record import (
    ABANDONED,
    ANSWERED,
    CASCADED,
    SPEECH_TO_SPEECH,
    SPEECH_TO_SPEECH_STAGES,
    STAGES,
    UNANSWERED,
    record_from_message,
    summarize,
)
from tests.test_latency import Clock, Feeder, a_turn, audio, transcript

SILENCE = 0.5  # realtime_silence_duration_ms = 500


async def realtime_session(f: Feeder, *, source=None) -> None:
    """The service's metadata broadcast at pipeline start (both directions), from ``source``."""
    previous, f.source = f.source, source or f.source
    await f.broadcast(LLMServiceMetadataFrame, service_name="realtime", is_realtime_service=True)
    f.source = previous


def upstream_transcript(text: str):
    """The service's input transcription: pushed upstream, user id ""."""
    return transcript(text)


async def user_speaks(f: Feeder, *, speech_secs: float = 1.4) -> None:
    """speech_started ... speech_stopped (the server waited SILENCE after the speech)."""
    await f.broadcast(UserStartedSpeakingFrame, after=1.0)
    await f.broadcast(UserStoppedSpeakingFrame, after=speech_secs + SILENCE)


async def bot_answers(f: Feeder, *, model: float = 0.3, output: float = 0.04) -> None:
    """First audio delta after ``model`` seconds, played ``output`` seconds later."""
    await f.push(LLMTextFrame(text="Paris"), after=model - 0.005)  # transcript delta first
    await f.push(TTSStartedFrame(), after=0.005)
    await f.push(audio())
    await f.push(audio(), after=0.02)
    await f.push(LLMTextFrame(text=" is the capital."), after=0.001)
    await f.broadcast(BotStartedSpeakingFrame, after=output - 0.021)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def observed(clock):
    records = []
    observer = LatencyObserver(
        session_id="rt", clock=clock, on_turn=records.append, speech_end_offset_secs=SILENCE
    )
    return observer, Feeder(observer, clock), records


async def test_realtime_turn_arithmetic(observed, clock):
    observer, f, records = observed
    await realtime_session(f)
    await user_speaks(f)
    stopped = clock.t
    await f.push(
        upstream_transcript("What is the capital of France?"),
        after=0.12,
        direction=FrameDirection.UPSTREAM,
    )
    await f.push(MetricsFrame(data=[TTFBMetricsData(processor="realtime", value=0.29)]))
    await bot_answers(f, model=0.18, output=0.04)  # 0.12 + 0.18 after speech_stopped
    (r,) = records
    assert r.kind == SPEECH_TO_SPEECH and r.status == ANSWERED and r.turn == 1
    assert r.transcript == "What is the capital of France?"
    assert r.vad_segments == 1 and not r.barge_in
    assert r.turn_end_at == stopped and r.vad_stop_at == stopped
    assert r.speech_end_at == pytest.approx(stopped - SILENCE)
    assert r.vad_stop_secs == SILENCE
    assert r.llm_first_token_at == pytest.approx(stopped + 0.295)  # recorded, not a stage
    stages = r.stages()
    assert list(stages) == list(SPEECH_TO_SPEECH_STAGES)
    assert stages == pytest.approx({"vad": SILENCE, "model": 0.3, "output": 0.04}, abs=1e-9)
    assert r.total == pytest.approx(SILENCE + 0.3 + 0.04, abs=1e-9)
    assert sum(stages.values()) == pytest.approx(r.total)
    assert r.ttfb == {"realtime": 0.29}

    message = json.loads(json.dumps(r.to_message()))
    assert message["kind"] == SPEECH_TO_SPEECH
    assert message["stages_ms"] == pytest.approx({"vad": 500.0, "model": 300.0, "output": 40.0})
    back = record_from_message(message)
    assert back.kind == SPEECH_TO_SPEECH and back.stages() == pytest.approx(stages)
    stats = summarize(records)["stats"]
    assert stats["model"]["n"] == 1 and stats["model"]["p50"] == pytest.approx(0.3)
    assert stats["stt"]["n"] == 0 and stats["total"]["p50"] == pytest.approx(r.total)


async def test_late_upstream_transcript_never_delays_or_opens_a_turn(observed, clock):
    observer, f, records = observed
    await realtime_session(f)
    await user_speaks(f)
    await bot_answers(f)
    # The record went out at BotStartedSpeakingFrame, before the transcription completed.
    (r,) = records
    assert r.status == ANSWERED and r.transcript == "" and r.transcript_at is None
    published = r.to_message()
    await f.push(upstream_transcript("Late words"), after=0.2, direction=FrameDirection.UPSTREAM)
    assert observer._tracker.current is None and len(records) == 1
    assert r.transcript == "" and r.to_message() == published

    # Next turn: the previous turn's transcript arriving after the user started again
    # (before this turn ended) is not this turn's either; this turn's own one is.
    await f.broadcast(BotStoppedSpeakingFrame, after=1.0)
    await f.broadcast(UserStartedSpeakingFrame, after=1.0)
    await f.push(upstream_transcript("stale"), after=0.1, direction=FrameDirection.UPSTREAM)
    await f.broadcast(UserStoppedSpeakingFrame, after=1.0)
    await f.push(upstream_transcript("Thanks."), after=0.1, direction=FrameDirection.UPSTREAM)
    await bot_answers(f, model=0.25)
    second = records[1]
    assert second.turn == 2 and second.transcript == "Thanks."
    # The transcript came inside the model stage: it moves no stage boundary.
    assert second.stages() == pytest.approx({"vad": SILENCE, "model": 0.35, "output": 0.04})


async def test_barge_in_and_abandoned_turn(observed, clock):
    observer, f, records = observed
    await realtime_session(f)
    await user_speaks(f)
    await bot_answers(f)
    # speech_started while the bot speaks: a new turn, then the interruption.
    await f.broadcast(UserStartedSpeakingFrame, after=0.8)
    await f.push(InterruptionFrame(), after=0.001)
    await f.broadcast(BotStoppedSpeakingFrame, after=0.02)
    await f.broadcast(UserStoppedSpeakingFrame, after=1.0)
    # The user resumes before any answer: the ended turn is abandoned (premature end).
    await f.broadcast(UserStartedSpeakingFrame, after=0.2)
    await f.broadcast(UserStoppedSpeakingFrame, after=1.2)
    await bot_answers(f, model=0.4)
    await f.push(EndFrame(), after=2.0)
    assert [r.status for r in records] == [ANSWERED, ABANDONED, ANSWERED]
    assert [r.barge_in for r in records] == [False, True, False]
    abandoned = records[1]
    assert abandoned.total is None and abandoned.stages()["vad"] == pytest.approx(SILENCE)
    assert records[2].stages()["model"] == pytest.approx(0.4)
    assert summarize(records)["barge_ins"] == 1 and summarize(records)["abandoned"] == 1


async def test_function_call_turn(observed, clock):
    _, f, records = observed
    await realtime_session(f)
    await user_speaks(f)
    await f.push(
        upstream_transcript("Book me with Doctor Patel."),
        after=0.1,
        direction=FrameDirection.UPSTREAM,
    )
    await f.push(
        FunctionCallInProgressFrame(
            function_name="find_provider", tool_call_id="c1", arguments={"name": "Patel"}
        ),
        after=0.2,
    )
    await f.push(
        FunctionCallInProgressFrame(
            function_name="book_appointment", tool_call_id="c2", arguments={}
        ),
        after=0.1,
    )
    await bot_answers(f, model=0.3)  # the second response, after the tool results
    (r,) = records
    assert r.function_calls == ["find_provider", "book_appointment"]
    assert r.transcript == "Book me with Doctor Patel."
    # The model stage holds the tool round trips: speech_stopped → first audio delta.
    assert r.stages() == pytest.approx({"vad": SILENCE, "model": 0.7, "output": 0.04})


async def test_unanswered_turn_and_greeting(observed):
    _, f, records = observed
    await realtime_session(f)
    await bot_answers(f)  # the greeting: no user turn
    await f.broadcast(BotStoppedSpeakingFrame, after=2.0)
    assert records == []
    await user_speaks(f)
    await f.push(EndFrame(), after=3.0)
    (r,) = records
    assert r.status == UNANSWERED and r.kind == SPEECH_TO_SPEECH and r.total is None
    assert r.stages() == {"vad": pytest.approx(SILENCE), "model": None, "output": None}


async def test_local_vad_frames_are_ignored_in_a_realtime_session(observed, clock):
    """A transport-side VAD must not re-date the server VAD's turn."""
    observer, f, records = observed
    await realtime_session(f)
    await f.broadcast(UserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStartedSpeakingFrame, after=0.01)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.0, stop_secs=0.2)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.3)
    await bot_answers(f)
    (r,) = records
    assert r.vad_segments == 1 and r.turn_end_at - r.speech_end_at == pytest.approx(SILENCE)


async def test_offset_comes_from_the_realtime_service_settings(clock):
    """No offset given: the real service's server VAD silence is used; given: it wins."""
    from config import EchoSettings
    from pipelines.speech_native import RealtimeOptions, session_properties
    from realtime.client import EchoOpenAIRealtimeLLMService

    def service(**options):
        return EchoOpenAIRealtimeLLMService(
            api_key="echo-local",
            base_url="ws://127.0.0.1:9/v1/realtime",
            settings=EchoOpenAIRealtimeLLMService.Settings(
                model="gpt-realtime",
                session_properties=session_properties(
                    RealtimeOptions.from_settings(EchoSettings(_env_file=None), **options)
                ),
            ),
        )

    learnt = service(silence_duration_ms=350)
    assert server_vad_silence_secs(learnt.settings) == pytest.approx(0.35)
    semantic = service(turn_detection="semantic_vad")
    assert server_vad_silence_secs(semantic.settings) is None
    assert server_vad_silence_secs(None) is None

    for given, src, expected_vad in ((None, learnt, 0.35), (0.5, learnt, 0.5), (None, semantic, 0)):
        records = []
        observer = LatencyObserver(
            clock=clock, on_turn=records.append, speech_end_offset_secs=given
        )
        f = Feeder(observer, clock)
        await realtime_session(f, source=src)
        await user_speaks(f)
        await bot_answers(f)
        (r,) = records
        assert r.stages()["vad"] == pytest.approx(expected_vad)
        assert r.stages()["model"] == pytest.approx(0.3)
        assert r.vad_stop_secs == (None if src is semantic and given is None else expected_vad)


async def test_cascaded_sessions_are_unchanged(clock):
    """No realtime metadata: cascaded stages; a TTS's early TTSStartedFrame is not audio."""
    records = []
    observer = LatencyObserver(clock=clock, on_turn=records.append, speech_end_offset_secs=0.5)
    f = Feeder(observer, clock)
    cascaded_llm = LLMServiceMetadataFrame(service_name="llm", is_realtime_service=False)
    await f.push(cascaded_llm)
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.5, stop_secs=0.2)
    await f.push(transcript("Hello"), after=0.1)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.01)
    await f.push(LLMTextFrame(text="Hi."), after=0.01)
    await f.push(TTSStartedFrame(), after=0.001)  # before synthesis
    await f.push(audio(), after=0.08)
    await f.broadcast(BotStartedSpeakingFrame, after=0.02)
    await a_turn(f)
    first, second = records
    assert first.kind == second.kind == CASCADED
    assert list(first.stages()) == list(STAGES)
    assert first.stages()["tts"] == pytest.approx(0.081)
    assert first.stages()["vad"] == pytest.approx(0.2)  # the local VAD's stop_secs, not 0.5
