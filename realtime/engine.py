"""The local models behind the offline Realtime server: cascaded inside.

Silero VAD (per connection), faster-whisper (shared), Echo's clinic brain (per connection),
Piper (shared) and the local image reader (OCR, for ``input_image`` parts). Every call here
is blocking: the server runs them with ``asyncio.to_thread`` so the event loop never waits
on a model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from realtime.protocol import SAMPLE_RATE
from realtime.turns import VAD_RATE

NO_SPEECH_PROB = 0.6  # unsure Whisper segments more likely silence than this are dropped


def to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM → float32 in [-1, 1)."""
    return pcm.astype(np.float32) / 32768.0


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] → int16 PCM (clipped)."""
    return np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)


def resample(pcm: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample a whole int16 mono signal."""
    if src == dst or len(pcm) == 0:
        return pcm.astype(np.int16)
    import soxr

    return to_int16(soxr.resample(to_float(pcm), src, dst))


class InputResampler:
    """Streaming 24 kHz → 16 kHz resampler for one connection's input audio."""

    def __init__(self):
        import soxr

        self._stream = soxr.ResampleStream(SAMPLE_RATE, VAD_RATE, 1, dtype="int16")

    def __call__(self, pcm24: bytes) -> np.ndarray:
        """Resample the next chunk; output is 16 kHz int16."""
        return self._stream.resample_chunk(np.frombuffer(pcm24, dtype=np.int16))


class VoiceScorer:
    """Silero voice confidence per 512-sample window of 16 kHz audio (one per connection)."""

    def __init__(self):
        from pipecat.audio.vad.silero import SileroVADAnalyzer

        self._vad = SileroVADAnalyzer(sample_rate=VAD_RATE)
        self._vad.set_sample_rate(VAD_RATE)

    def score(self, windows: list[bytes]) -> list[float]:
        """Confidence for each window, in order (the model is stateful)."""
        return [float(np.asarray(self._vad.voice_confidence(w)).reshape(-1)[0]) for w in windows]

    async def close(self) -> None:
        """Release the model's thread pool."""
        await self._vad.cleanup()


class LocalEngine:
    """The shared local models, and factories for the per-connection parts.

    Args:
        models: ``providers.local.LocalModels`` (shared Whisper and Piper).
        brain_factory: Builds a ``clinic.brain.ClinicBrain`` for a new connection.
        lexicon: Optional ``vocabulary.Lexicon`` to correct rare names in transcripts.

    """

    def __init__(self, *, models: Any, brain_factory: Callable[[], Any], lexicon: Any = None):
        self.models = models
        self.brain_factory = brain_factory
        self.lexicon = lexicon
        self._lock = threading.Lock()
        self._smart_turn: Any = None

    def warm_up(self) -> None:
        """Load Whisper and Piper now rather than on the first turn."""
        self.models.whisper()
        self.models.piper()

    # --- speech in ---------------------------------------------------------------------

    def transcribe(self, pcm16k: np.ndarray, prompt: str | None = None) -> str:
        """Whisper transcript of a committed turn (16 kHz int16), vocabulary-corrected."""
        if len(pcm16k) < VAD_RATE // 10:
            return ""
        if not prompt:
            # The cascaded pipeline's STT path: a short mel window and the vocabulary-biased
            # second pass (speech.transcriber.Transcriber), shared warm with the server.
            text = self.models.transcriber(self.lexicon).transcribe(to_float(pcm16k)).raw
        else:  # a transcription prompt: faster-whisper's own path takes it as initial_prompt
            segments, _ = self.models.whisper().transcribe(
                to_float(pcm16k), language="en", initial_prompt=prompt
            )
            from speech.whisper import is_no_speech

            text = " ".join(
                s.text.strip()
                for s in segments
                if not is_no_speech(s.text, s.no_speech_prob, s.avg_logprob, NO_SPEECH_PROB)
            ).strip()
        if text and self.lexicon is not None:
            from vocabulary import correct

            text = correct(text, self.lexicon).text
        return text

    def turn_complete(self, pcm16k: np.ndarray) -> bool:
        """Whether the smart-turn model hears a finished turn (semantic VAD)."""
        with self._lock:
            if self._smart_turn is None:
                from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import (
                    LocalSmartTurnAnalyzerV3,
                )

                self._smart_turn = LocalSmartTurnAnalyzerV3()
                self._smart_turn.set_sample_rate(VAD_RATE)
            analyzer = self._smart_turn
        result = analyzer._predict_endpoint(to_float(pcm16k))
        return result["prediction"] == 1

    # --- images ------------------------------------------------------------------------

    def read(self, prepared: Any) -> dict:
        """The local reader's reading (OCR, vocabulary matches) of a prepared image."""
        from vision.reader import read_image

        ref = prepared.ref
        image = prepared.pil()
        return read_image(image, lexicon=self.lexicon, source=ref.source, sha256=ref.sha256)

    # --- speech out -------------------------------------------------------------------

    def synthesize(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        """Piper audio of one sentence as 24 kHz int16 PCM."""
        voice = self.models.piper()
        syn_config = None
        if speed != 1.0:
            from piper import SynthesisConfig

            syn_config = SynthesisConfig(length_scale=1.0 / speed)
        chunks = [
            np.frombuffer(c.audio_int16_bytes, dtype=np.int16)
            for c in voice.synthesize(sentence, syn_config=syn_config)
        ]
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return resample(np.concatenate(chunks), voice.config.sample_rate, SAMPLE_RATE)
