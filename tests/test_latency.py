"""LatencyObserver: per-turn moments, breakdown arithmetic, pauses, barge-ins, missing stages."""

import asyncio
import json

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    FunctionCallInProgressFrame,
    InterruptionFrame,
    LLMTextFrame,
    MetricsFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData, TurnMetricsData
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.filters.identity_filter import IdentityFilter
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from observers.latency import LatencyObserver
from observers.latency_record import (
    ABANDONED,
    ANSWERED,
    MESSAGE_TYPE,
    STAGES,
    UNANSWERED,
    TurnLatency,
    percentile,
    record_from_message,
    summarize,
)


class Clock:
    """A controllable clock: ``clock.t`` is the time, ``advance`` moves it."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Feeder:
    """Pushes synthetic frames into an observer the way the worker's proxy does."""

    def __init__(self, observer: LatencyObserver, clock: Clock):
        self.observer = observer
        self.clock = clock
        self.source = FrameProcessor(name="source")
        self.sink = FrameProcessor(name="sink")

    async def push(self, frame, *, after: float = 0.0, direction=FrameDirection.DOWNSTREAM):
        self.clock.advance(after)
        await self.observer.on_push_frame(
            FramePushed(
                source=self.source,
                destination=self.sink,
                frame=frame,
                direction=direction,
                timestamp=0,
            )
        )

    async def broadcast(self, frame_cls, *, after: float = 0.0, **kwargs):
        down, up = frame_cls(**kwargs), frame_cls(**kwargs)
        down.broadcast_sibling_id, up.broadcast_sibling_id = up.id, down.id
        await self.push(down, after=after)
        await self.push(up, direction=FrameDirection.UPSTREAM)


def transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="", timestamp="", finalized=True)


def audio() -> TTSAudioRawFrame:
    return TTSAudioRawFrame(audio=b"\x01\x00" * 240, sample_rate=24000, num_channels=1)


async def a_turn(f: Feeder, text="What is the capital of France?", *, pause: bool = False):
    """A user turn answered by the bot, with known gaps (stop_secs 0.2)."""
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0, start_secs=0.2)
    await f.broadcast(UserStartedSpeakingFrame, after=0.001)
    if pause:
        await f.broadcast(VADUserStoppedSpeakingFrame, after=0.8, stop_secs=0.2)
        await f.push(transcript("I'd like to book"), after=0.15)
        await f.broadcast(VADUserStartedSpeakingFrame, after=0.25, start_secs=0.2)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.5, stop_secs=0.2)  # speech end: -0.2
    await f.push(transcript(text), after=0.120)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.030)
    await f.push(LLMTextFrame(text="Paris."), after=0.010)
    await f.push(LLMTextFrame(text=" Anything else?"), after=0.001)
    await f.push(audio(), after=0.090)
    await f.push(audio(), after=0.020)
    await f.broadcast(BotStartedSpeakingFrame, after=0.040)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def observed(clock):
    records = []
    observer = LatencyObserver(session_id="s1", clock=clock, on_turn=records.append)
    return observer, Feeder(observer, clock), records


async def test_breakdown_arithmetic(observed):
    observer, f, records = observed
    await a_turn(f)
    assert len(records) == 1
    r = records[0]
    assert r.status == ANSWERED and r.turn == 1 and r.session_id == "s1"
    assert r.transcript == "What is the capital of France?"
    assert r.vad_segments == 1 and not r.barge_in
    stages = r.stages()
    expected = {"vad": 0.2, "stt": 0.12, "turn": 0.03, "llm": 0.01, "tts": 0.091, "output": 0.06}
    assert stages == pytest.approx(expected, abs=1e-9)
    assert r.total == pytest.approx(sum(expected.values()), abs=1e-9)
    assert r.speech_end_at == pytest.approx(r.vad_stop_at - 0.2)
    assert observer.records == records


async def test_dedupes_broadcast_twins_and_repeated_frames(observed, clock):
    observer, f, records = observed
    stop = VADUserStoppedSpeakingFrame(stop_secs=0.2)
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.push(stop, after=1.0)
    vad_stop_at = clock.t
    await f.push(stop, after=0.5)  # the same frame seen at another processor
    assert observer._tracker.current.vad_stop_at == vad_stop_at
    assert observer._tracker.current.vad_segments == 1  # the upstream twin did not count


async def test_unlinked_vad_copies_count_once(observed, clock):
    """The user aggregator queues one VAD frame downstream and pushes another upstream."""
    observer, f, records = observed
    await f.push(VADUserStartedSpeakingFrame(), after=1.0, direction=FrameDirection.UPSTREAM)
    await f.push(VADUserStartedSpeakingFrame(), after=0.002)
    await f.push(VADUserStoppedSpeakingFrame(stop_secs=0.2), after=1.0)
    first_stop = clock.t
    await f.push(VADUserStoppedSpeakingFrame(stop_secs=0.2), after=0.05)  # after smart-turn
    turn = observer._tracker.current
    assert turn.vad_segments == 1
    assert turn.vad_stop_at == first_stop and turn.speech_end_at == first_stop - 0.2


async def test_mid_sentence_pause_is_one_turn(observed):
    _, f, records = observed
    await a_turn(f, "with Doctor Patel", pause=True)
    assert len(records) == 1
    r = records[0]
    assert r.vad_segments == 2
    assert r.transcript == "I'd like to book with Doctor Patel"
    # Dated from the second segment's end, not the pause.
    assert r.stages()["vad"] == pytest.approx(0.2)
    assert r.stages()["stt"] == pytest.approx(0.12)


async def test_premature_end_of_turn_is_abandoned(observed):
    _, f, records = observed
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=0.8, stop_secs=0.2)
    await f.push(transcript("I'd like to book"), after=0.1)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.01)  # cut off mid-sentence
    await f.push(LLMTextFrame(text="Sure."), after=0.01)
    await a_turn(f, "with Doctor Patel")  # the user goes on before the bot speaks
    assert [r.status for r in records] == [ABANDONED, ANSWERED]
    first, second = records
    assert first.total is None and first.bot_started_at is None
    assert first.llm_first_token_at is not None
    assert second.turn == 2 and second.transcript == "with Doctor Patel"
    assert summarize(records)["abandoned"] == 1


async def test_barge_in_is_recorded_on_the_new_turn(observed):
    _, f, records = observed
    await a_turn(f)
    # The bot is still speaking when the user starts again.
    await f.broadcast(VADUserStartedSpeakingFrame, after=0.5)
    await f.push(InterruptionFrame(), after=0.001)
    await f.broadcast(BotStoppedSpeakingFrame, after=0.01)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.0, stop_secs=0.2)
    await f.push(transcript("Stop."), after=0.1)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.01)
    await f.push(LLMTextFrame(text="OK."), after=0.01)
    await f.push(audio(), after=0.05)
    await f.broadcast(BotStartedSpeakingFrame, after=0.02)
    assert [r.barge_in for r in records] == [False, True]
    assert summarize(records)["barge_ins"] == 1


async def test_missing_stages_roll_into_the_next(observed):
    _, f, records = observed
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.0, stop_secs=0.3)
    await f.push(transcript("Spell mississippi"), after=0.2)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.05)
    # No LLM text (e.g. a pre-synthesized phrase): TTS audio straight after the turn.
    await f.push(audio(), after=0.07)
    await f.broadcast(BotStartedSpeakingFrame, after=0.03)
    (r,) = records
    stages = r.stages()
    assert stages["llm"] is None
    assert stages["tts"] == pytest.approx(0.07)
    assert sum(v for v in stages.values() if v is not None) == pytest.approx(r.total)
    assert r.total == pytest.approx(0.3 + 0.2 + 0.05 + 0.07 + 0.03)


async def test_out_of_order_moments_never_give_negative_stages(clock):
    r = TurnLatency(
        session_id="s",
        turn=1,
        speech_end_at=10.0,
        vad_stop_at=10.2,
        transcript_at=10.5,  # transcript after the end of turn (turn did not wait for it)
        turn_end_at=10.3,
        llm_first_token_at=10.6,
        tts_first_audio_at=10.7,
        bot_started_at=10.75,
    )
    stages = r.stages()
    assert all(v >= 0 for v in stages.values())
    assert stages["turn"] == 0.0
    assert sum(stages.values()) == pytest.approx(r.total)


async def test_greeting_is_not_a_turn_and_session_end_flushes(observed):
    _, f, records = observed
    await f.push(LLMTextFrame(text="Hello, this is Echo."), after=0.5)
    await f.push(audio(), after=0.1)
    await f.broadcast(BotStartedSpeakingFrame, after=0.05)
    await f.broadcast(BotStoppedSpeakingFrame, after=2.0)
    assert records == []
    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.0, stop_secs=0.2)
    await f.push(EndFrame(), after=0.1)
    (r,) = records
    assert r.status == UNANSWERED and r.total is None
    assert r.stages()["vad"] == pytest.approx(0.2)


async def test_metrics_tools_and_event_handler(observed):
    observer, f, records = observed
    events = []

    @observer.event_handler("on_turn_latency")
    async def on_turn_latency(obs, record):
        events.append(record)

    await f.broadcast(VADUserStartedSpeakingFrame, after=1.0)
    await f.broadcast(VADUserStoppedSpeakingFrame, after=1.0, stop_secs=0.2)
    await f.push(
        MetricsFrame(
            data=[
                TurnMetricsData(
                    processor="turn",
                    is_complete=True,
                    probability=0.93,
                    e2e_processing_time_ms=61.0,
                ),
                TTFBMetricsData(processor="WhisperSTTService#0", value=0.11),
            ]
        ),
        after=0.06,
    )
    await f.push(transcript("Cancel my appointment"), after=0.05)
    await f.broadcast(UserStoppedSpeakingFrame, after=0.01)
    await f.push(
        FunctionCallInProgressFrame(
            function_name="list_appointments", tool_call_id="c1", arguments={}
        ),
        after=0.01,
    )
    await f.push(LLMTextFrame(text="You have one."), after=0.02)
    await f.push(audio(), after=0.05)
    await f.broadcast(BotStartedSpeakingFrame, after=0.02)
    await asyncio.sleep(0.01)  # event handlers run as tasks
    (r,) = records
    assert events == [r]
    assert r.smart_turn == [{"is_complete": True, "probability": 0.93, "ms": 61.0}]
    assert r.ttfb == {"WhisperSTTService#0": 0.11}
    assert r.function_calls == ["list_appointments"]


async def test_message_round_trip_and_text_free_dict(observed):
    _, f, records = observed
    await a_turn(f)
    (r,) = records
    message = r.to_message()
    assert message["type"] == MESSAGE_TYPE and message["turn"] == 1
    assert set(message["stages_ms"]) == set(STAGES)
    assert message["total_ms"] == pytest.approx(r.total * 1000, abs=0.1)
    json.dumps(message)  # JSON-ready
    back = record_from_message(json.loads(json.dumps(message)))
    assert back.stages() == pytest.approx(r.stages())
    assert back.transcript == r.transcript
    private = r.to_dict(include_text=False)
    assert "transcript" not in private and private["transcript_chars"] == len(r.transcript)
    with pytest.raises(ValueError):
        record_from_message({"type": "something-else"})


async def test_publish_queues_an_urgent_message_on_the_output_transport(clock):
    class Output(BaseOutputTransport):
        """The real output transport class; only its input queue is captured."""

        def __init__(self):
            super().__init__(TransportParams(audio_out_enabled=True), name="output")
            self.queued = []

        async def queue_frame(self, frame, direction=FrameDirection.DOWNSTREAM, callback=None):
            self.queued.append(frame)

    observer = LatencyObserver(session_id="s", clock=clock, publish=True, publish_text=False)
    f = Feeder(observer, clock)
    output = Output()
    await a_turn(f)  # BotStartedSpeakingFrame from a processor without queue_frame override
    f.source = output
    await a_turn(f)
    (sent,) = [q for q in output.queued if isinstance(q, OutputTransportMessageUrgentFrame)]
    assert sent.message["type"] == MESSAGE_TYPE and sent.message["turn"] == 2
    assert "transcript" not in sent.message and sent.message["transcript_chars"] > 0


def test_percentile_and_summary():
    assert percentile([], 50) is None
    assert percentile([3.0], 90) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 90) == pytest.approx(4.6)
    r = TurnLatency(session_id="s", turn=1, status=ANSWERED, speech_end_at=0.0, bot_started_at=0.4)
    stats = summarize([r])["stats"]
    assert stats["total"]["p50"] == pytest.approx(0.4) and stats["total"]["n"] == 1
    assert stats["stt"]["n"] == 0 and stats["stt"]["p50"] is None


async def test_observer_in_a_running_pipeline():
    """Real pipeline, real clock: sleeps between frames show up as lower bounds per stage."""
    records = []
    observer = LatencyObserver(session_id="live", on_turn=records.append)
    frames = [
        VADUserStartedSpeakingFrame(start_secs=0.2),
        UserStartedSpeakingFrame(),
        SleepFrame(0.05),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.12),
        transcript("What is the capital of France?"),
        SleepFrame(0.05),
        UserStoppedSpeakingFrame(),
        SleepFrame(0.05),
        LLMTextFrame(text="Paris."),
        SleepFrame(0.08),
        audio(),
        SleepFrame(0.03),
        BotStartedSpeakingFrame(),
    ]
    await run_test(IdentityFilter(), frames_to_send=frames, observers=[observer])
    (r,) = records
    stages = r.stages()
    assert r.status == ANSWERED and r.transcript == "What is the capital of France?"
    assert stages["vad"] == pytest.approx(0.2)
    assert stages["stt"] >= 0.1 and stages["tts"] >= 0.06 and stages["llm"] >= 0.03
    assert sum(stages.values()) == pytest.approx(r.total)
