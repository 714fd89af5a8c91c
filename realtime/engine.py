"""The local models behind the offline Realtime server: the cascaded pipeline's own pieces.

Speech in is the cascaded pipeline's STT path: the shared warm
:class:`speech.transcriber.Transcriber` (short mel window, vocabulary-biased second pass)
from ``providers.local.LocalModels``, then :func:`vocabulary.correct`, as the pipeline's
``VocabularyCorrectionProcessor`` runs it. Speech out is its Piper path:
:func:`providers.local.synthesize_pcm` through the shared phrase cache. Images go to the
local reader (:mod:`vision.reader`); voice activity is Pipecat's Silero VAD and the end of a
turn Pipecat's smart-turn v3. Each connection gets its own VAD and clinic brain. Every call
here is blocking: the server runs them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from realtime.turns import VAD_RATE


def to_float(pcm16k: bytes) -> np.ndarray:
    """int16 PCM bytes → float32 samples in [-1, 1), as the speech models take them."""
    return np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768.0


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
        models: ``providers.local.LocalModels`` (shared Whisper, Piper and phrase cache).
        brain_factory: Builds a ``ClinicBrain`` for a new connection.
        lexicon: Optional ``vocabulary.Lexicon``: biases and corrects the transcripts.
        image_limits: ``vision.images.prepare``'s limits for a client's images, the upload
            path's (:func:`vision.images.upload_limits`); None: ``prepare``'s defaults.

    """

    def __init__(
        self,
        *,
        models: Any,
        brain_factory: Callable[[], Any],
        lexicon: Any = None,
        image_limits: Mapping[str, int] | None = None,
    ):
        self.models = models
        self.brain_factory = brain_factory
        self.lexicon = lexicon
        self.image_limits = dict(image_limits or {})
        self._lock = threading.Lock()
        self._smart_turn: Any = None

    # --- speech in ---------------------------------------------------------------------

    def transcribe(self, pcm16k: bytes, bot_line: str = "") -> str:
        """The corrected transcript of a committed turn (16 kHz int16 PCM).

        ``bot_line``: what the assistant said last, the context the caller answers
        (:class:`vocabulary.ConversationContext`).
        """
        if len(pcm16k) < VAD_RATE // 10 * 2:
            return ""
        said = None
        if self.lexicon is not None:
            from vocabulary import ConversationContext

            said = ConversationContext.from_bot_text(bot_line, self.lexicon)
        transcriber = self.models.transcriber(self.lexicon)
        text = transcriber.transcribe(to_float(pcm16k), context=said).raw
        if text and self.lexicon is not None:
            from vocabulary import correct

            text = correct(text, self.lexicon, context=said).text
        return text

    def turn_complete(self, pcm16k: bytes) -> bool:
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

    def synthesize(self, piece: str, speed: float = 1.0) -> tuple[bytes, int]:
        """Piper audio of one piece of a reply: 16-bit PCM and its sample rate.

        At the normal rate the piece comes from (and goes into) the shared phrase cache, so
        the phrases Echo warms at start-up cost nothing here either.
        """
        from providers.local import synthesize_pcm

        voice = self.models.piper()
        if speed == 1.0:
            pcm = self.models.phrases.pcm(voice, piece)
        else:
            from piper import SynthesisConfig

            pcm = synthesize_pcm(voice, piece, syn_config=SynthesisConfig(length_scale=1 / speed))
        return pcm, voice.config.sample_rate
