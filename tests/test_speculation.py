"""Speculative STT and smart-turn at the start of a pause (pipelines/speculation.py).

Real Silero VAD, smart-turn v3 and faster-whisper on Piper speech, fed in real time.
"""

import re

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from pipecat.frames.frames import (
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.tests.utils import run_test

import providers
from pipelines.cascaded import user_turn_params
from pipelines.speculation import PauseSignallingSileroVAD, SpeculativeSmartTurnV3
from providers.local import LocalModels
from tests.heard import heard_like
from tests.test_latency_turn_taking import RATE, STEP, Timeline, user_messages


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), np.int16)


def trim(pcm: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Speech without Piper's leading and trailing silence."""
    voiced = np.nonzero(np.abs(pcm) > threshold)[0]
    return pcm[voiced[0] : voiced[-1] + 1]


class Listener:
    def __init__(self):
        self.events = []

    async def on_speech_pause(self, silence_secs: float) -> None:
        self.events.append(("pause", round(silence_secs, 3)))

    async def on_speech_resume(self) -> None:
        self.events.append(("resume", None))

    async def on_voice_onset(self) -> None:
        self.events.append(("onset", None))

    async def on_voice_lost(self) -> None:
        self.events.append(("lost", None))


def echo_vad() -> PauseSignallingSileroVAD:
    """The VAD as Echo's defaults build it, at 16 kHz."""
    vad = PauseSignallingSileroVAD(
        sample_rate=RATE,
        params=VADParams(confidence=0.7, start_secs=0.2, stop_secs=0.2),
        pause_secs=0.064,
    )
    vad.set_sample_rate(RATE)
    return vad


async def test_vad_announces_pauses_and_resumes(speak):
    vad, listener = echo_vad(), Listener()
    vad.add_pause_listener(listener)
    first = trim(speak("I'd like to book"))
    second = trim(speak("an appointment with Doctor Patel."))
    # a 130 ms gap (shorter than the 200 ms stop), then the end of the sentence and silence
    pcm = np.concatenate([silence(0.3), first, silence(0.13), second, silence(0.6)])
    states = []
    for i in range(0, len(pcm) - STEP + 1, STEP):
        states.append(await vad.analyze_audio(pcm[i : i + STEP].tobytes()))
    assert states[-1] == VADState.QUIET
    kinds = [kind for kind, _ in listener.events]
    # Every pause is announced once; speech after it is a resume; the last pause ends in the stop.
    assert kinds[-1] == "pause"
    assert kinds.count("pause") == kinds.count("resume") + 1
    assert "resume" in kinds, "the 120 ms gap inside the sentence must be a pause then a resume"
    assert all(secs >= 0.064 for kind, secs in listener.events if kind == "pause")


async def test_vad_announces_voice_coming_back_before_it_confirms_the_start(speak):
    vad, listener = echo_vad(), Listener()
    vad.add_onset_listener(listener)
    first = trim(speak("Thank you,"))
    second = trim(speak("that's all."))
    # 300 ms: longer than the 200 ms stop, so the VAD stops inside the pause
    pcm = np.concatenate([silence(0.3), first, silence(0.3), second, silence(0.5)])
    timeline = []
    for i in range(0, len(pcm) - STEP + 1, STEP):
        state = await vad.analyze_audio(pcm[i : i + STEP].tobytes())
        timeline.append((i / RATE, state, len(listener.events)))
    # Two onsets (each part's first voiced window); the second comes after a stop and
    # before the VAD confirms speaking again, within a few windows of the voice.
    assert [kind for kind, _ in listener.events] == ["onset", "onset"]
    second_start = (0.3 + len(first) / RATE) + 0.3
    onset_at = next(t for t, _, n in timeline if n == 2)
    speaking_again = next(
        t for t, state, _ in timeline if t > second_start and state == VADState.SPEAKING
    )
    assert second_start <= onset_at < second_start + 0.1
    assert onset_at < speaking_again
    assert any(state == VADState.QUIET for t, state, _ in timeline if t < second_start)


def build(settings, models, *, speculation: bool):
    settings = settings.model_copy(update={"turn_speculation_secs": 0.064 if speculation else -1.0})
    ctx = providers.ProviderContext(settings=settings, models=models, brain=None, lexicon=None)
    stt = providers.select("stt", settings).create(ctx)
    params = user_turn_params(settings, pause_listeners=[stt])
    user = LLMContextAggregatorPair(LLMContext(), user_params=params).user()
    (strategy,) = params.user_turn_strategies.stop
    return stt, strategy._turn_analyzer, Pipeline([stt, user])


def frames_for(pcm: np.ndarray):
    """``pcm`` as 20 ms input frames paced in real time."""
    timeline = Timeline()
    timeline.audio(pcm)
    return timeline.frames


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from config import EchoSettings

    return LocalModels(EchoSettings(data_dir=tmp_path_factory.mktemp("models")))


@pytest.mark.slow
async def test_transcript_and_verdict_computed_at_the_pause_are_used(settings, speak, models):
    speech = speak("What time is it?")
    pcm = np.concatenate([silence(0.4), speech, silence(1.5)])
    stt, analyzer, pipeline = build(settings, models, speculation=True)
    assert isinstance(analyzer, SpeculativeSmartTurnV3)
    down, up = await run_test(pipeline, frames_to_send=frames_for(pcm))

    (transcript,) = user_messages(down)
    assert heard_like(transcript, "What time is it?")
    assert len([f for f in down if isinstance(f, UserStoppedSpeakingFrame)]) == 1
    # The one speculation started at the pause became the transcript and the verdict.
    assert stt.speculations >= 1 and stt.speculation_hits == 1
    assert analyzer.speculations >= 1 and analyzer.hits == 1

    # Same words as without speculation (the same audio transcribed at the VAD stop).
    stt2, analyzer2, pipeline2 = build(settings, models, speculation=False)
    down2, _ = await run_test(pipeline2, frames_to_send=frames_for(pcm))
    (plain,) = user_messages(down2)
    assert plain == transcript
    assert stt2.speculations == 0 and not isinstance(analyzer2, SpeculativeSmartTurnV3)


@pytest.mark.slow
async def test_a_pause_the_user_talks_through_is_not_used(settings, speak, models):
    first = trim(speak("I'd like to book"))
    second = trim(speak("an appointment with Doctor Patel."))
    # 130 ms gap: long enough to start a speculation, too short for the VAD to stop
    pcm = np.concatenate([silence(0.4), first, silence(0.13), second, silence(1.5)])
    stt, analyzer, pipeline = build(settings, models, speculation=True)
    down, up = await run_test(pipeline, frames_to_send=frames_for(pcm))

    stops = [f for f in up + down if isinstance(f, VADUserStoppedSpeakingFrame)]
    assert stops, "the VAD stopped at the end"
    (transcript,) = user_messages(down)
    words = set(re.findall(r"[a-z']+", transcript.lower()))
    # The transcript covers the whole sentence, not the speculation made at the gap: the
    # words after the gap are there, and most of those before it. (Not every one: on
    # another CPU tiny.en heard "I'd like to vote" across the 130 ms gap.)
    assert {"appointment", "patel"} <= words
    assert len(words & {"i'd", "like", "to", "book"}) >= 2
    assert stt.speculations >= 2 and stt.speculation_hits == 1


@pytest.mark.slow
@pytest.mark.parametrize("short_hold", [0.4, 0.0])
async def test_a_thank_you_followed_by_more_is_one_turn(settings, speak, models, short_hold):
    first = trim(speak("Thank you,"))
    second = trim(speak("that's all."))
    # Piper's own comma pause is ~240 ms: longer than the 200 ms VAD stop.
    pcm = np.concatenate([silence(0.4), first, silence(0.25), second, silence(1.5)])
    settings = settings.model_copy(update={"turn_short_hold_secs": short_hold})
    _, _, pipeline = build(settings, models, speculation=True)
    down, _ = await run_test(pipeline, frames_to_send=frames_for(pcm))
    messages = [m.lower() for m in user_messages(down)]
    if short_hold:
        (message,) = messages  # held 0.4 s; the voice onset at 250 ms cancelled the hold
        assert "thank" in message and "all" in message
    else:
        # The control: with no hold the turn splits at the comma pause, but only where the
        # VAD stops inside the 250 ms gap and smart-turn calls "Thank you," complete. Both
        # are model judgements on synthesized audio that vary by CPU; when either did not
        # happen there is no split for the hold to prevent, and nothing to compare.
        if len(messages) == 1:
            pytest.skip("no split without the hold on this CPU (VAD or smart-turn verdict)")
        assert len(messages) == 2 and "thank" in messages[0]  # the split the hold prevents
