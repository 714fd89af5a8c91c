"""The cascaded pipeline on real audio with the embedded local models.

Everything between the transports is the real pipeline (Silero VAD + smart-turn, faster-whisper,
vocabulary correction, context aggregators, local brain + clinic tools, Piper). Audio is a Piper
recording fed as 20 ms input frames in real time; the WebRTC loopback test covers the transports.
"""

from datetime import date

import numpy as np
import pytest
from pipecat.frames.frames import (
    FunctionCallResultFrame,
    InputAudioRawFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.tests.utils import SleepFrame, run_test

import providers
from clinic.dialogue.brain import ClinicBrain
from clinic.store import ClinicStore
from clinic.tool_schemas import TOOLS_SCHEMA
from clinic.tools import ClinicTools
from pipelines.cascaded import SYSTEM_PROMPT, user_turn_params
from processors.vocabulary_correction import VocabularyCorrectionProcessor
from providers.local import LocalModels
from runtime import load_lexicon, load_vocabulary
from tests.heard import heard_like

pytestmark = pytest.mark.slow


class Collector(BaseObserver):
    """Records each frame once, at the processor that pushed it."""

    def __init__(self):
        super().__init__()
        self.frames = []
        self._seen = set()

    async def on_push_frame(self, data: FramePushed):
        if data.frame.id not in self._seen:
            self._seen.add(data.frame.id)
            self.frames.append(data.frame)

    def of(self, cls):
        return [f for f in self.frames if isinstance(f, cls)]


def paced_audio(pcm: np.ndarray, rate: int = 16000):
    """Input audio frames of 20 ms, each followed by a 20 ms sleep (real-time pacing)."""
    step = rate // 50
    frames = []
    for i in range(0, len(pcm), step):
        chunk = pcm[i : i + step].tobytes()
        frames.append(InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=1))
        frames.append(SleepFrame(0.02))
    return frames


async def test_spoken_booking_request_through_local_pipeline(settings, speak):
    today = date(2026, 11, 30)  # a Monday
    store = ClinicStore(settings.resolved_clinic_db())
    store.seed(load_vocabulary(settings), start=today)
    brain = ClinicBrain.for_store(store, today=today)
    models = LocalModels(settings)
    lexicon = load_lexicon(settings)
    ctx = providers.ProviderContext(settings=settings, models=models, brain=brain, lexicon=lexicon)
    stt = providers.select("stt", settings).create(ctx)
    llm = providers.select("llm", settings).create(ctx)
    tts = providers.select("tts", settings).create(ctx)
    ClinicTools(store, patient_id="patient-audio", today=today).register(llm)
    system = [{"role": "system", "content": SYSTEM_PROMPT}]
    context = LLMContext(messages=system, tools=TOOLS_SCHEMA)
    pair = LLMContextAggregatorPair(context, user_params=user_turn_params(settings))
    pipeline = Pipeline(
        [
            stt,
            VocabularyCorrectionProcessor(lexicon=lexicon),
            pair.user(),
            llm,
            tts,
            pair.assistant(),
        ]
    )

    speech = speak("I'd like to book an appointment with Doctor Patel.")
    pcm = np.concatenate([np.zeros(8000, np.int16), speech, np.zeros(16000, np.int16)])
    collector = Collector()
    await run_test(
        pipeline,
        frames_to_send=[*paced_audio(pcm), SleepFrame(6.0)],
        observers=[collector],
    )

    transcripts = collector.of(TranscriptionFrame)
    assert len(transcripts) == 1
    assert heard_like(transcripts[0].text, "I'd like to book an appointment with Doctor Patel.")
    # The brain looked the provider up through the real tool and answered about Dr. Patel.
    results = collector.of(FunctionCallResultFrame)
    assert any(r.function_name in ("find_provider", "list_open_slots") for r in results)
    said = " ".join(f.text for f in collector.of(LLMTextFrame))
    assert "Patel" in said
    assert "*" not in said and "#" not in said
    # Piper spoke it: audio frames with real signal.
    audio = b"".join(f.audio for f in collector.of(TTSAudioRawFrame))
    samples = np.frombuffer(audio, dtype=np.int16)
    assert len(samples) / 24000 > 0.5
    assert np.abs(samples).max() > 2000
