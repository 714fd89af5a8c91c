"""Embedded local models, loaded once per server and shared by every session.

``LocalModels`` keeps the Whisper and Piper weights warm so a new call does not pay the
model load; per-call services wrap the shared models.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.piper.tts import PiperTTSSettings
from pipecat.services.tts_service import TTSService

from config import EchoSettings
from models import piper_voice_dir, whisper_model_dir


class LocalModels:
    """Lazily loaded, thread-safe holder of the embedded models."""

    def __init__(self, settings: EchoSettings):
        self._settings = settings
        self._lock = threading.Lock()
        self._whisper: Any = None
        self._piper: Any = None
        self._transcribers: dict[int, Any] = {}

    def whisper(self):
        """The shared ``faster_whisper.WhisperModel``."""
        with self._lock:
            if self._whisper is None:
                from faster_whisper import WhisperModel

                path = whisper_model_dir(self._settings.whisper_model)
                logger.info(f"Loading Whisper '{self._settings.whisper_model}' from {path}")
                self._whisper = WhisperModel(
                    path, device="cpu", compute_type=self._settings.whisper_compute_type
                )
            return self._whisper

    def transcriber(self, lexicon: Any = None):
        """The shared :class:`vocabulary.stt.Transcriber` (short window, biasing) for a lexicon.

        Correction is left to the pipeline's ``VocabularyCorrectionProcessor``.
        """
        model = self.whisper()
        with self._lock:
            key = id(lexicon)
            if key not in self._transcribers:
                from vocabulary.stt import Transcriber

                s = self._settings
                self._transcribers[key] = Transcriber(
                    model,
                    pad_seconds=s.whisper_pad_seconds,
                    lexicon=lexicon,
                    biasing=s.whisper_biasing,
                    correction=False,
                )
            return self._transcribers[key]

    def piper(self):
        """The shared ``piper.PiperVoice``."""
        with self._lock:
            if self._piper is None:
                from piper import PiperVoice

                voice = self._settings.piper_voice
                path = piper_voice_dir(voice) / f"{voice}.onnx"
                logger.info(f"Loading Piper voice '{voice}' from {path}")
                self._piper = PiperVoice.load(path)
            return self._piper

    def warm_up(self) -> None:
        """Load the models and run each once so the first call is not slow."""
        import numpy as np

        for transcriber in [self.transcriber(), *self._transcribers.values()]:
            transcriber.transcribe(np.zeros(16000, dtype=np.float32))
        for _ in self.piper().synthesize("Hello."):
            pass


class LocalPiperTTSService(TTSService):
    """Piper TTS on a voice loaded once for the whole server (no download path at all)."""

    Settings = PiperTTSSettings

    def __init__(self, *, voice: Any, voice_name: str, **kwargs):
        """Initialize with an already loaded ``piper.PiperVoice``.

        Args:
            voice: The shared ``PiperVoice``.
            voice_name: Its name, reported in settings/metrics.
            **kwargs: Passed to ``TTSService``.

        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=PiperTTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = voice

    def can_generate_metrics(self) -> bool:
        """Piper reports TTFB and usage."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize ``text`` chunk by chunk off the event loop."""
        chunks = iter(self._voice.synthesize(text))

        def next_chunk():
            return next(chunks, None)

        async def audio() -> AsyncIterator[bytes]:
            while (chunk := await asyncio.to_thread(next_chunk)) is not None:
                yield chunk.audio_int16_bytes

        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                audio(), in_sample_rate=self._voice.config.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as e:
            yield ErrorFrame(error=f"Piper TTS failed: {e}")
        finally:
            await self.stop_ttfb_metrics()
