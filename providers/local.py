"""Embedded local models, loaded once per server and shared by every session.

``LocalModels`` keeps the Whisper and Piper weights warm so a new call does not pay the
model load; per-call services wrap the shared models.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.piper.tts import PiperTTSSettings
from pipecat.services.tts_service import TTSService

from config import EchoSettings
from models import piper_voice_dir
from providers.phrasing import speakable, split_first_clause

INFLIGHT_WAIT_SECS = 2.0  # longest wait for a piece being synthesized ahead of time


class PhraseCache:
    """A bounded, thread-safe LRU of synthesized phrases: text → 16-bit PCM.

    A clinic line says the same sentences again and again ("Is there anything else I can
    help with?"); each is synthesized once per server, then played from memory.
    """

    def __init__(self, max_entries: int = 512, max_chars: int = 160):
        """Initialize.

        Args:
            max_entries: Phrases kept (least recently used dropped first).
            max_chars: Longer texts are not cached (they are rarely repeated verbatim).
        """
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._inflight: dict[str, threading.Event] = {}  # being synthesized ahead of time
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str) -> str:
        """Cache key: the text with its whitespace normalized."""
        return " ".join(text.split())

    def get(self, text: str) -> bytes | None:
        """The cached audio for ``text``, or None."""
        with self._lock:
            pcm = self._entries.get(self.key(text))
            if pcm is None:
                self.misses += 1
                return None
            self._entries.move_to_end(self.key(text))
            self.hits += 1
            return pcm

    def put(self, text: str, pcm: bytes) -> None:
        """Keep ``pcm`` for ``text`` (if short enough); ends an ahead-of-time synthesis."""
        key = self.key(text)
        if len(text) <= self._max_chars and pcm:
            with self._lock:
                self._entries[key] = pcm
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        self.drop(text)

    def begin(self, text: str) -> bool:
        """Claim ``text`` for an ahead-of-time synthesis; end it with :meth:`put` or :meth:`drop`.

        Returns:
            False when it is cached, already claimed, or too long to cache.
        """
        key = self.key(text)
        with self._lock:
            if len(text) > self._max_chars or key in self._entries or key in self._inflight:
                return False
            self._inflight[key] = threading.Event()
            return True

    def drop(self, text: str) -> None:
        """End a claim on ``text`` (:meth:`put` does it; call it when the synthesis failed)."""
        with self._lock:
            done = self._inflight.pop(self.key(text), None)
        if done is not None:
            done.set()

    def wait(self, text: str, timeout: float) -> bytes | None:
        """The cached audio for ``text``, after up to ``timeout`` s for a synthesis under way.

        ``None`` when that synthesis did not finish in time or failed (blocking: call it off
        the event loop).
        """
        with self._lock:
            done = self._inflight.get(self.key(text))
        if done is not None and not done.wait(timeout):
            return None
        return self.get(text)

    def inflight(self, text: str) -> bool:
        """Whether ``text`` is being synthesized ahead of time."""
        with self._lock:
            return self.key(text) in self._inflight

    def pcm(self, voice: Any, text: str) -> bytes:
        """The audio for ``text``: cached, or synthesized with ``voice`` and kept (blocking)."""
        pcm = self.get(text)
        if pcm is None:
            pcm = synthesize_pcm(voice, text)
            self.put(text, pcm)
        return pcm

    def __len__(self) -> int:
        """Number of cached phrases."""
        with self._lock:
            return len(self._entries)


def trim_silence(
    pcm: bytes, rate: int, *, lead_ms: float = 10, tail_ms: float = 150, threshold: int = 100
) -> bytes:
    """Cut Piper's leading and trailing silence down to ``lead_ms`` / ``tail_ms``.

    Silence is what is not louder than ``threshold`` before the first and after the last
    loud sample. Piper starts every sentence with 40–60 ms of silence (the caller waits for
    it) and ends it with 150–250 ms; between a clause and the rest of its sentence that is a
    long gap.
    """
    samples = np.frombuffer(pcm, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if len(loud) == 0:
        return pcm
    start = max(0, int(loud[0]) - int(rate * lead_ms / 1000))
    end = min(len(samples), int(loud[-1]) + 1 + int(rate * tail_ms / 1000))
    return samples[start:end].tobytes()


def synthesize_pcm(voice: Any, text: str, *, syn_config: Any = None) -> bytes:
    """Piper's 16-bit PCM for ``text`` with its silences trimmed (blocking).

    ``syn_config`` is an optional ``piper.SynthesisConfig`` (e.g. another speaking rate).
    """
    pcm = b"".join(
        chunk.audio_int16_bytes
        for chunk in voice.synthesize(speakable(text), syn_config=syn_config)
    )
    return trim_silence(pcm, voice.config.sample_rate)


class LocalModels:
    """Lazily loaded, thread-safe holder of the embedded models."""

    def __init__(self, settings: EchoSettings):
        self._settings = settings
        self._lock = threading.Lock()
        self._whispers: dict[str, Any] = {}  # model name → WhisperModel
        self._piper: Any = None
        self._transcribers: dict[tuple[str, int], Any] = {}
        self._intents: Any = None
        self.phrases = PhraseCache()

    def whisper(self, name: str | None = None):
        """The shared ``faster_whisper.WhisperModel`` (``name``: default ``whisper_model``)."""
        name = name or self._settings.whisper_model
        with self._lock:
            if name not in self._whispers:
                from faster_whisper import WhisperModel

                from models import whisper_model_dir

                path = whisper_model_dir(name, cache_dir=self._settings.models_dir())
                logger.info(f"Loading Whisper '{name}' from {path}")
                self._whispers[name] = WhisperModel(
                    path, device="cpu", compute_type=self._settings.whisper_compute_type
                )
            return self._whispers[name]

    def transcriber(self, lexicon: Any = None, model: str | None = None):
        """The shared :class:`speech.transcriber.Transcriber` (short window, biasing).

        One per Whisper model (``model``: default ``whisper_model``) and lexicon. Correction
        is left to the pipeline's ``VocabularyCorrectionProcessor``.
        """
        name = model or self._settings.whisper_model
        whisper = self.whisper(name)
        with self._lock:
            key = (name, id(lexicon))
            if key not in self._transcribers:
                from speech.transcriber import Transcriber

                s = self._settings
                self._transcribers[key] = Transcriber(
                    whisper,
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

    def intents(self):
        """The shared ``IntentClassifier`` (:mod:`clinic.understanding.meaning`)."""
        with self._lock:
            if self._intents is None:
                from clinic.understanding.encoder import SentenceEncoder
                from clinic.understanding.meaning import IntentClassifier

                self._intents = IntentClassifier(
                    SentenceEncoder(), cache_dir=self._settings.models_dir()
                )
            return self._intents

    def warm_up(self) -> None:
        """Load the models and run each once so the first call is not slow."""
        import numpy as np

        self.intents().classify("Hello.")
        if self._settings.telephony_whisper_model:  # phone calls' own model, loaded now
            self.transcriber(model=self._settings.telephony_whisper_model)
        for transcriber in [self.transcriber(), *self._transcribers.values()]:
            transcriber.transcribe(np.zeros(16000, dtype=np.float32))
        for _ in self.piper().synthesize("Hello."):
            pass

    def warm_phrases(
        self,
        phrases: Iterable[str],
        *,
        stop: threading.Event | None = None,
        pause: Callable[[], bool] | None = None,
        poll_secs: float = 0.1,
    ) -> int:
        """Synthesize fixed phrases into the phrase cache (split as the TTS service splits).

        Piper takes every core while it synthesizes; a call going on at the same time
        hears the VAD and Whisper fall behind (words lost, turns cut). ``pause`` lets live
        calls go first: no phrase is started while it returns True.

        Args:
            phrases: Sentences, as the TTS service receives them.
            stop: Set it to stop early (server shutdown).
            pause: Wait (polling every ``poll_secs``) while this returns True.
            poll_secs: How often a paused warm-up looks again.

        Returns:
            The number of phrases in the cache.
        """
        stop = stop or threading.Event()
        voice = self.piper()
        for phrase in phrases:
            for piece in split_first_clause(phrase):
                while pause is not None and pause() and not stop.is_set():
                    stop.wait(poll_secs)
                if stop.is_set():
                    return len(self.phrases)
                self.phrases.pcm(voice, piece)
        return len(self.phrases)


class LocalPiperTTSService(TTSService):
    """Piper TTS on a voice loaded once for the whole server (no download path at all)."""

    Settings = PiperTTSSettings

    def __init__(
        self,
        *,
        voice: Any,
        voice_name: str,
        phrases: PhraseCache | None = None,
        split_clauses: bool = True,
        **kwargs,
    ):
        """Initialize with an already loaded ``piper.PiperVoice``.

        Args:
            voice: The shared ``PiperVoice``.
            voice_name: Its name, reported in settings/metrics.
            phrases: Shared cache of synthesized phrases (None: no cache).
            split_clauses: Synthesize a sentence's first clause on its own
                (:func:`split_first_clause`) so it plays sooner.
            **kwargs: Passed to ``TTSService``.

        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=PiperTTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        self._voice = voice
        self._phrases = phrases
        self._split_clauses = split_clauses

    def can_generate_metrics(self) -> bool:
        """Piper reports TTFB and usage."""
        return True

    async def _piece_pcm(self, piece: str) -> bytes:
        # A piece is a sentence or a clause: Piper renders it in one go anyway.
        if self._phrases is not None and (pcm := self._phrases.get(piece)) is not None:
            return pcm  # no thread hop for a cached phrase
        if self._phrases is not None and self._phrases.inflight(piece):
            # Synthesized ahead of time (pipelines.speculative_reply): wait for that one.
            pcm = await asyncio.to_thread(self._phrases.wait, piece, INFLIGHT_WAIT_SECS)
            if pcm is not None:
                return pcm
        pcm = await asyncio.to_thread(synthesize_pcm, self._voice, piece)
        if self._phrases is not None:
            self._phrases.put(piece, pcm)
        return pcm

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize ``text`` off the event loop: first clause first, cached phrases free."""
        pieces = split_first_clause(text) if self._split_clauses else [text]

        async def audio() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield await self._piece_pcm(piece)

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
