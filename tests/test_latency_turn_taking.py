"""End of turn: EchoTurnStopStrategy on real speech with the real Silero VAD and smart-turn v3.

The user aggregator runs with ``pipelines.cascaded.user_turn_params``; transcripts are
synthetic frames sent at the moments a slow segmented STT would deliver them.
"""

import asyncio
import dataclasses
import time

import numpy as np
import pytest
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    OutputTransportMessageFrame,
    STTMetadataFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from pipelines.cascaded import user_turn_params
from pipelines.turn_taking import EchoTurnStopStrategy, EndOfTurnHolds, TurnTaking
from pipelines.turn_text import is_acknowledgement, is_question, looks_unfinished

RATE = 16000
STEP = RATE // 50  # 20 ms


def test_looks_unfinished():
    assert looks_unfinished("The medication I take is...")
    assert looks_unfinished("I'd like to see the")
    assert looks_unfinished("my appointment with,")
    assert looks_unfinished("Um")
    assert looks_unfinished("Could you check if-")
    assert not looks_unfinished("What time is it?")
    assert not looks_unfinished("What appointments do I have?")
    assert not looks_unfinished("Who is it for?")
    assert not looks_unfinished("Yes, I do.")
    assert looks_unfinished("The medication I take is.")
    assert not looks_unfinished("I'd like to book an appointment with Doctor Patel.")
    assert not looks_unfinished("")
    # a request verb with no object, whatever Whisper closed it with
    assert looks_unfinished("I'd like to book.")
    assert looks_unfinished("Can I see?")
    assert looks_unfinished("Could you check.")
    assert not looks_unfinished("Can I see it?")
    assert not looks_unfinished("I need to cancel my appointment.")
    assert not looks_unfinished("What do I need to do?")
    # a possessive subject with no verb yet, whatever Whisper closed it with
    assert looks_unfinished("My appointment on Monday.")
    assert looks_unfinished("Our daughter's prescription for metformin?")
    assert not looks_unfinished("My appointment on Monday, I need to cancel it.")
    assert not looks_unfinished("My appointment is on Monday.")
    assert not looks_unfinished("My prescription ran out.")
    assert not looks_unfinished("My arm hurts.")
    assert not looks_unfinished("My knee isn't better.")
    assert not looks_unfinished("The one on Monday.")  # an answer, not a fronted subject


def test_unfinished_clauses_by_their_grammar_not_by_their_words():
    """Sentences in no bench set: what is missing is a part of speech, not a phrase."""
    for fragment in (
        "Could you possibly?",  # inversion, softener, no verb yet
        "Which afternoons does Doctor Amari",  # wh + auxiliary + subject, no verb
        "We'd love",  # wanting with nothing wanted
        "My brother's inhaler",  # possessive subject, no verb
        "The receptionist said that my referral",  # that-clause without its verb
        "Honestly, they're",  # contracted auxiliary at the end
        "Would somebody at the front desk",  # indefinite subject with its phrase
        "If my test results come back normal",  # a lone subordinate clause
        "Remind me",  # a person, and the thing still to come
        "I wanted to ask whether?",  # Whisper's "?" on a rising fragment
    ):
        assert looks_unfinished(fragment), fragment
    for whole in (
        "Could you hold on?",
        "Do we?",
        "Who should I speak with?",
        "I'd like that.",
        "Can you remind me what my copay was?",
        "Since last Thursday.",
        "Please sign me up.",
        "When will Doctor Amari be back?",
    ):
        assert not looks_unfinished(whole), whole


def test_is_question_needs_question_words_not_only_a_question_mark():
    assert is_question("What appointments do I have?")
    assert is_question("Do you have a dermatologist available next week?")
    assert is_question("Is Doctor Nguyen free on Friday morning?")
    assert not is_question("My appointment on Monday?")  # rising intonation, a statement
    assert not is_question("Tuesday at nine?")
    assert not is_question("What time is it")  # no "?": Whisper heard no question
    # openers and a leading statement do not hide the question (sentences in no set)
    assert is_question("Um, so when does the lab open?")
    assert is_question("My son has a fever since Sunday, could someone see him today?")
    assert is_question("Okay. And where do I park?")


def holds(**changes: float) -> EndOfTurnHolds:
    """Every hold off (Pipecat's own strategy) but ``changes``."""
    off = dict.fromkeys((f.name for f in dataclasses.fields(EndOfTurnHolds)), 0.0)
    return EndOfTurnHolds(**{**off, **changes})


def test_knobs_come_from_the_settings(settings):
    changed = settings.model_copy(
        update={
            "vad_confidence": 0.6,
            "vad_start_secs": 0.1,
            "vad_stop_secs": 0.15,
            "smart_turn": False,
            "smart_turn_fallback_secs": 2.5,
            "turn_speculation_secs": -1.0,
            "turn_min_silence_secs": 0.05,
            "turn_unfinished_hold_secs": 1.5,
            "turn_question_silence_secs": 0.35,
            "turn_uncertain_below": 0.8,
            "turn_uncertain_hold_secs": 0.9,
            "turn_short_hold_secs": 0.45,
        }
    )
    assert TurnTaking.from_settings(changed) == TurnTaking(
        vad_confidence=0.6,
        vad_start_secs=0.1,
        vad_stop_secs=0.15,
        smart_turn=False,
        smart_turn_fallback_secs=2.5,
        speculation_secs=-1.0,
        holds=EndOfTurnHolds(
            min_silence_secs=0.05,
            unfinished_hold_secs=1.5,
            question_silence_secs=0.35,
            uncertain_below=0.8,
            uncertain_hold_secs=0.9,
            short_hold_secs=0.45,
        ),
    )


class Timeline:
    """Frames to send: real audio paced at 20 ms, with other frames at chosen moments."""

    def __init__(self):
        self.frames = []

    def audio(self, pcm: np.ndarray) -> None:
        for i in range(0, len(pcm), STEP):
            chunk = pcm[i : i + STEP]
            if len(chunk) < STEP:
                chunk = np.concatenate([chunk, np.zeros(STEP - len(chunk), np.int16)])
            self.frames += [
                InputAudioRawFrame(audio=chunk.tobytes(), sample_rate=RATE, num_channels=1),
                SleepFrame(0.02),
            ]

    def silence(self, seconds: float) -> None:
        self.audio(np.zeros(int(RATE * seconds), np.int16))

    def send(self, frame) -> None:
        self.frames.append(frame)


def transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="", timestamp="", finalized=True)


def paused_request(speak) -> Timeline:
    """'I'd like to book … [0.45 s] … an appointment with Doctor Patel.', where the first
    half's transcript arrives after the user has resumed (a slow segmented STT)."""
    first = speak("I'd like to book")
    second = speak("an appointment with Doctor Patel.")
    t = Timeline()
    # What the STT announces at start: its p99 speech-end → transcript time (safety net).
    t.send(STTMetadataFrame(service_name="stt", ttfs_p99_latency=2.0))
    t.silence(0.3)
    t.audio(first)
    t.silence(0.45)
    t.audio(second[: int(RATE * 0.6)])
    t.send(transcript("I'd like to book"))  # segment 1, late: the VAD restarted already
    t.audio(second[int(RATE * 0.6) :])
    t.silence(0.7)
    t.send(transcript("an appointment with Doctor Patel."))  # segment 2
    t.silence(2.5)
    return t


def user_messages(frames) -> list[str]:
    contexts = [f for f in frames if isinstance(f, LLMContextFrame)]
    if not contexts:
        return []
    messages = contexts[-1].context.get_messages()
    return [m["content"] for m in messages if isinstance(m, dict) and m.get("role") == "user"]


@pytest.mark.slow
async def test_late_transcript_of_a_paused_sentence_keeps_one_turn(settings, speak):
    user = LLMContextAggregatorPair(LLMContext(), user_params=user_turn_params(settings)).user()
    down, _ = await run_test(user, frames_to_send=paused_request(speak).frames)
    stops = [f for f in down if isinstance(f, UserStoppedSpeakingFrame)]
    assert len(stops) == 1
    (message,) = user_messages(down)
    assert "book" in message and "Patel" in message


@pytest.mark.slow
async def test_pipecat_strategy_splits_the_same_sentence(speak):
    """Why Echo has its own strategy: Pipecat 1.14's takes the stale transcript as final."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    params = LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(),
        user_turn_strategies=UserTurnStrategies(
            stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())]
        ),
    )
    user = LLMContextAggregatorPair(LLMContext(), user_params=params).user()
    down, _ = await run_test(user, frames_to_send=paused_request(speak).frames)
    first_turn = user_messages(
        down[: down.index(next(f for f in down if isinstance(f, UserStoppedSpeakingFrame))) + 2]
    )
    assert first_turn and "Patel" not in first_turn[0]


@pytest.mark.slow
async def test_unfinished_transcript_waits_for_the_hold(speak):
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    params = LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(),
        user_turn_strategies=UserTurnStrategies(
            stop=[
                EchoTurnStopStrategy(
                    turn_analyzer=LocalSmartTurnAnalyzerV3(), holds=holds(unfinished_hold_secs=1.5)
                )
            ]
        ),
    )
    user = LLMContextAggregatorPair(LLMContext(), user_params=params).user()
    t = Timeline()
    t.silence(0.3)
    t.audio(speak("The medication I take is"))
    t.silence(0.5)
    t.send(transcript("The medication I take is..."))
    t.silence(0.4)
    t.send(OutputTransportMessageFrame(message="marker"))  # ≥ 0.9 s after the speech
    t.silence(2.5)
    down, _ = await run_test(user, frames_to_send=t.frames)
    marker = next(i for i, f in enumerate(down) if isinstance(f, OutputTransportMessageFrame))
    stops = [i for i, f in enumerate(down) if isinstance(f, UserStoppedSpeakingFrame)]
    assert len(stops) == 1 and stops[0] > marker
    assert user_messages(down) == ["The medication I take is..."]


# --- the strategy's decisions, driven frame by frame with a fixed smart-turn verdict ---------


class FixedVerdict(BaseTurnAnalyzer):
    """A turn analyzer whose verdict the test sets (the model's output is the input here)."""

    def __init__(self, complete: bool, probability: float | None = None):
        super().__init__(sample_rate=RATE)
        self.complete = complete
        self.probability = probability

    @property
    def speech_triggered(self) -> bool:
        return False

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self):
        from pipecat.metrics.metrics import TurnMetricsData

        state = EndOfTurnState.COMPLETE if self.complete else EndOfTurnState.INCOMPLETE
        if self.probability is None:
            return state, None
        metrics = TurnMetricsData(
            processor="fixed",
            is_complete=self.complete,
            probability=self.probability,
            e2e_processing_time_ms=1.0,
        )
        return state, metrics

    def clear(self):
        pass


class Driver:
    """An EchoTurnStopStrategy set up on its own, fed frames, its turn ends recorded."""

    def __init__(self, *, complete: bool, probability: float | None = None, **knobs):
        analyzer = FixedVerdict(complete, probability)
        self.strategy = EchoTurnStopStrategy(turn_analyzer=analyzer, holds=holds(**knobs))
        self.stopped: list[float] = []

    async def start(self):
        from pipecat.clocks.system_clock import SystemClock
        from pipecat.processors.frame_processor import FrameProcessorSetup
        from pipecat.utils.asyncio.task_manager import TaskManager

        setup = FrameProcessorSetup(
            clock=SystemClock(), task_manager=TaskManager(), pipeline_worker=None
        )
        await self.strategy.setup(setup)

        @self.strategy.event_handler("on_user_turn_stopped")
        async def on_stopped(strategy, params):
            self.stopped.append(time.monotonic())

        metadata = STTMetadataFrame(service_name="stt", ttfs_p99_latency=2.0)
        await self.strategy.process_frame(metadata)
        return self

    async def send(self, *frames):
        for frame in frames:
            await self.strategy.process_frame(frame)

    async def close(self):
        await self.strategy.cleanup()


def speech_stopped() -> VADUserStoppedSpeakingFrame:
    return VADUserStoppedSpeakingFrame(stop_secs=0.2)  # timestamp: now


async def test_waits_for_every_segment_transcript():
    d = await Driver(complete=True).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped(), VADUserStartedSpeakingFrame())
        await d.send(transcript("I'd like to book"))  # segment 1's, after segment 2 began
        await d.send(speech_stopped())
        assert d.stopped == [] and d.strategy.pending_segments == 1
        await d.send(transcript("an appointment with Doctor Patel."))
        assert len(d.stopped) == 1
    finally:
        await d.close()


async def test_question_mark_overrules_an_unfinished_verdict():
    d = await Driver(complete=False, question_silence_secs=0.3).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await d.send(transcript("Do you have a dermatologist available next week?"))
        assert d.stopped == []  # 0.2 s of silence so far: the "?" waits for 0.3 s
        await asyncio.sleep(0.3)
        assert len(d.stopped) == 1
    finally:
        await d.close()
    off = await Driver(complete=False, question_silence_secs=0.0).start()
    try:
        await off.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await off.send(transcript("Do you have a dermatologist available next week?"))
        await asyncio.sleep(0.3)
        assert off.stopped == []  # smart-turn's own fallback decides
    finally:
        await off.close()


async def test_unfinished_hold_is_cancelled_by_speech():
    d = await Driver(complete=True, unfinished_hold_secs=0.4).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await d.send(transcript("The medication I take is..."))
        assert d.stopped == [] and d.strategy.required_silence() == 0.4
        await d.send(VADUserStartedSpeakingFrame())  # the user goes on: no end of turn
        await asyncio.sleep(0.4)
        assert d.stopped == []
        await d.send(speech_stopped(), transcript("lisinopril."))
        assert len(d.stopped) == 1  # finished text: no hold
    finally:
        await d.close()


async def test_min_silence_holds_every_turn():
    d = await Driver(complete=True, min_silence_secs=0.45).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        sent = time.monotonic()
        await d.send(transcript("What time is it?"))
        assert d.stopped == []
        await asyncio.sleep(0.4)
        assert len(d.stopped) == 1 and d.stopped[0] - sent >= 0.2
    finally:
        await d.close()


async def test_an_unsure_complete_statement_waits_but_a_question_does_not():
    knobs = {"uncertain_below": 0.85, "uncertain_hold_secs": 0.4}
    d = await Driver(complete=True, probability=0.75, **knobs).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await d.send(transcript("Tuesday at nine."))
        assert d.stopped == [] and d.strategy.required_silence() == 0.4
        await d.send(VADUserStartedSpeakingFrame())  # the user goes on
        await asyncio.sleep(0.4)
        assert d.stopped == []
    finally:
        await d.close()
    declarative = await Driver(complete=True, probability=0.75, **knobs).start()
    try:  # Whisper's "?" on a statement does not make it a question
        await declarative.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await declarative.send(transcript("Tuesday at nine?"))
        assert declarative.stopped == [] and declarative.strategy.required_silence() == 0.4
    finally:
        await declarative.close()
    for text, probability in [("What appointments do I have?", 0.75), ("Tell me a joke.", 0.95)]:
        sure = await Driver(complete=True, probability=probability, **knobs).start()
        try:
            await sure.send(VADUserStartedSpeakingFrame(), speech_stopped())
            await sure.send(transcript(text))
            assert len(sure.stopped) == 1, text  # at once: a question, or a sure statement
        finally:
            await sure.close()


async def test_a_subject_without_its_verb_waits_even_when_smart_turn_is_sure():
    # Over WebRTC smart-turn gave "My appointment on Monday," [pause] up to p=0.89.
    d = await Driver(complete=True, probability=0.95, unfinished_hold_secs=0.4).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await d.send(transcript("My appointment on Monday."))
        assert d.stopped == [] and d.strategy.required_silence() == 0.4
        await d.send(VADUserStartedSpeakingFrame())  # "… I need to cancel it."
        await asyncio.sleep(0.4)
        assert d.stopped == []
        await d.send(speech_stopped(), transcript("I need to cancel it."))
        assert len(d.stopped) == 1  # the sentence has its verb: no hold
    finally:
        await d.close()


def test_is_acknowledgement():
    assert is_acknowledgement("Thank you.") and is_acknowledgement("Yes.")
    assert is_acknowledgement("Okay, thanks!")
    assert not is_acknowledgement("Thank you, that's all.")
    assert not is_acknowledgement("Yes, please book it.")
    assert not is_acknowledgement("")


async def test_a_bare_acknowledgement_waits_and_a_voice_onset_holds_the_turn_open():
    d = await Driver(complete=True, probability=0.97, short_hold_secs=0.3).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())
        await d.send(transcript("Thank you."))
        assert d.stopped == [] and d.strategy.required_silence() == 0.3
        await d.strategy.on_voice_onset()  # "that's all" begins; the VAD is confirming it
        await asyncio.sleep(0.35)
        assert d.stopped == []  # the hold ran out under the caller's voice: no end of turn
        await d.strategy.on_voice_lost()  # it was a breath, not speech
        assert len(d.stopped) == 1  # the silence since the speech end is long enough
    finally:
        await d.close()
    d = await Driver(complete=True, probability=0.97, short_hold_secs=0.3).start()
    try:  # the onset becomes speech: the turn goes on and ends after the rest
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped(), transcript("Thank you."))
        await d.strategy.on_voice_onset()
        await d.send(VADUserStartedSpeakingFrame())
        await asyncio.sleep(0.35)
        assert d.stopped == []
        await d.send(speech_stopped(), transcript("That's all."))
        assert len(d.stopped) == 1
    finally:
        await d.close()


async def test_an_unfinished_hold_never_runs_out_under_a_voice_onset():
    d = await Driver(complete=True, unfinished_hold_secs=0.5).start()
    try:
        await d.send(VADUserStartedSpeakingFrame(), speech_stopped())  # 0.2 s silent already
        await d.send(transcript("The medication I take is..."))
        await asyncio.sleep(0.25)
        await d.strategy.on_voice_onset()  # just before the hold's end
        await asyncio.sleep(0.2)
        assert d.stopped == []
        await d.strategy.on_voice_lost()
        assert len(d.stopped) == 1
    finally:
        await d.close()
