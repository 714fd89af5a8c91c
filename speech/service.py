"""Echo's local Whisper STT: a short mel window and vocabulary-biased second pass.

``EchoWhisperSTTService`` is Pipecat's ``WhisperSTTService`` with its decoding replaced by
:class:`speech.transcriber.Transcriber`, the same code the ``echo-agent transcribe`` CLI and
``eval-vocab`` run. It emits the STT text (the biased pass when it ran); vocabulary
correction is a separate processor after it (``VocabularyCorrectionProcessor``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

import numpy as np
from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.types import assert_given

from speech.transcriber import Transcriber
from vocabulary.context import ConversationContext
from vocabulary.lexicon import Lexicon

if TYPE_CHECKING:
    from pipecat.processors.aggregators.llm_context import LLMContext

    from config import EchoSettings

FIRST_PASS_KEY = "echo.stt_first_pass"
HOTWORDS_KEY = "echo.stt_hotwords"
STT_MS_KEY = "echo.stt_ms"


class EchoWhisperSTTService(WhisperSTTService):
    """faster-whisper through the shared :class:`Transcriber`.

    Each final segment is decoded in a ``pad_seconds`` mel window (not Whisper's 30 s);
    when a lexicon is given and ``biasing`` is on, the terms the first pass may contain
    bias a second pass over the same encoder output. The emitted
    :class:`TranscriptionFrame` carries ``echo.stt_first_pass``, ``echo.stt_hotwords`` and
    ``echo.stt_ms`` in its metadata.

    ``conversation`` (the pipeline's ``LLMContext``, set once the pipeline has made it) is
    read for the bot's last line: the terms it offered or the kind of term it asked for
    join the biased pass (:class:`vocabulary.ConversationContext`).
    """

    def __init__(
        self,
        *,
        model_dir: str | None = None,
        transcriber: Transcriber | None = None,
        compute_type: str = "int8",
        pad_seconds: float = 10.0,
        lexicon: Lexicon | None = None,
        biasing: bool = True,
        cpu_threads: int = 0,
        **kwargs,
    ):
        """Initialize the service and load the model.

        Args:
            model_dir: CTranslate2 Whisper model directory (see ``models.whisper_model_dir``).
            transcriber: A shared, already loaded :class:`Transcriber` (a server keeps one
                warm for all its sessions); when given, the model options below are its own.
            compute_type: CTranslate2 compute type.
            pad_seconds: Mel window for utterances that fit in it.
            lexicon: Vocabulary for the biased second pass (None: single pass).
            biasing: Run the biased second pass when the first suggests terms.
            cpu_threads: CTranslate2 threads (0: its default).
            **kwargs: Passed to ``WhisperSTTService`` (e.g. ``settings``).
        """
        # Read by _load(), which the parent constructor calls.
        self._echo_options = {
            "pad_seconds": pad_seconds,
            "lexicon": lexicon,
            "biasing": biasing,
            "cpu_threads": cpu_threads,
        }
        self._transcriber: Transcriber | None = transcriber
        self.conversation: LLMContext | None = None
        # (segment audio so far, its transcription) started at a pause; see on_speech_pause
        self._speculation: tuple[bytes, asyncio.Future] | None = None
        self.speculations = 0  # transcriptions started at a pause
        self.speculation_hits = 0  # ... whose result became the segment's transcript
        self._hit: asyncio.Future | None = None  # the last speculation that became a transcript
        # Called (on the event loop) with a speculative transcript while it is still current
        # (pipelines.speculative_reply prepares the reply to it).
        self.speculation_listeners: list[Callable[[str], None]] = []
        if model_dir is None and transcriber is None:
            raise ValueError("EchoWhisperSTTService needs model_dir or transcriber")
        settings = kwargs.pop("settings", None) or WhisperSTTService.Settings()
        settings.model = model_dir or f"shared:{id(transcriber):x}"
        if settings.language is None or not isinstance(settings.language, (str, Language)):
            settings.language = Language.EN
        super().__init__(settings=settings, device="cpu", compute_type=compute_type, **kwargs)

    @classmethod
    def from_settings(
        cls, settings: EchoSettings, *, lexicon: Lexicon | None = None, **kwargs
    ) -> EchoWhisperSTTService:
        """Build the service from Echo's settings (model, compute type, window).

        Args:
            settings: Echo's settings.
            lexicon: The loaded deployment vocabulary, or None.
            **kwargs: Passed to the constructor.
        """
        return cls(
            model_dir=settings.whisper_model_path(),
            compute_type=settings.whisper_compute_type,
            pad_seconds=settings.whisper_pad_seconds,
            lexicon=lexicon,
            **kwargs,
        )

    def _load(self):
        """Load the model through the shared Transcriber (no correction: a processor does it)."""
        if self._transcriber is not None:  # shared, already loaded
            self._model = self._transcriber.model
            return
        options = self._echo_options
        no_speech = self._settings.no_speech_prob
        self._transcriber = Transcriber(
            assert_given(self._settings.model),
            compute_type=self._compute_type,
            pad_seconds=options["pad_seconds"],
            lexicon=options["lexicon"],
            biasing=options["biasing"],
            correction=False,
            no_speech_threshold=no_speech if isinstance(no_speech, float) else 0.4,
            cpu_threads=options["cpu_threads"],
        )
        self._model = self._transcriber.model
        logger.debug(
            f"{self}: Whisper loaded (window {options['pad_seconds']} s, "
            f"biasing {'on' if self._transcriber.biasing else 'off'})"
        )

    @property
    def transcriber(self) -> Transcriber:
        """The shared transcription path."""
        if self._transcriber is None:
            raise RuntimeError("Whisper model not loaded")
        return self._transcriber

    def _transcribe_pcm(self, pcm: bytes, said: ConversationContext | None = None):
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        return self.transcriber.transcribe(samples, context=said)

    def _said(self) -> ConversationContext | None:
        """What the bot's last line offered or asked for (None without a conversation)."""
        lexicon = self._transcriber.lexicon if self._transcriber is not None else None
        if self.conversation is None or lexicon is None:
            return None
        from clinic.dialogue.transcript import last_assistant_text

        line = last_assistant_text(self.conversation.get_messages())
        return ConversationContext.from_bot_text(line, lexicon)

    async def on_speech_pause(self, silence_secs: float) -> None:
        """Start transcribing the segment so far while the VAD waits out its silence.

        Called by :class:`pipelines.speculation.PauseSignallingSileroVAD`. If the VAD then
        stops, the segment :meth:`run_stt` receives starts with exactly this audio (the
        rest is silence by the VAD's measure) and the result is used; if the user goes on,
        :meth:`on_speech_resume` drops it.

        Args:
            silence_secs: Silence heard so far (unused: the whole buffer is transcribed).
        """
        if not self._user_speaking or self._transcriber is None or not self.is_usable:
            return
        pcm = bytes(self._audio_buffer)
        if not pcm:
            return
        future = asyncio.ensure_future(
            asyncio.to_thread(self._transcribe_pcm, pcm + self._trailing_silence(), self._said())
        )
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._speculation = (pcm, future)
        self.speculations += 1
        if self.speculation_listeners:
            future.add_done_callback(self._tell_listeners)

    def _tell_listeners(self, future: asyncio.Future) -> None:
        current = self._speculation
        if future.cancelled() or future.exception() is not None:
            return
        if future is not self._hit and (current is None or current[1] is not future):
            return  # the caller went on: this transcript no longer covers the segment
        text = future.result().raw
        if not text:
            return
        for listener in self.speculation_listeners:
            try:
                listener(text)
            except Exception as e:  # noqa: BLE001 - a listener never breaks transcription
                logger.warning(f"{self}: speculation listener failed: {type(e).__name__}")

    async def on_speech_resume(self) -> None:
        """The user spoke again: the speculative transcript no longer covers the segment."""
        self._speculation = None

    def _take_speculation(self, audio: bytes) -> asyncio.Future | None:
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        pcm, future = speculation
        if len(audio) < len(pcm) or audio[: len(pcm)] != pcm:
            return None
        self.speculation_hits += 1
        self._hit = future  # the segment's transcript: listeners still hear of it
        return future

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment of 16-bit PCM at 16 kHz.

        Args:
            audio: Raw 16-bit signed PCM.

        Yields:
            A TranscriptionFrame with the text, or an ErrorFrame if decoding failed.
        """
        if self._transcriber is None:
            yield ErrorFrame("Whisper model not available")
            return
        await self.start_processing_metrics()
        samples_secs = len(audio) / 2 / 16000  # run_stt's contract: 16 kHz
        speculation = self._take_speculation(audio)
        try:
            if speculation is not None:
                try:
                    result = await speculation
                except Exception:  # noqa: BLE001 - redo it the ordinary way below
                    speculation = None
            if speculation is None:
                result = await asyncio.to_thread(self._transcribe_pcm, audio, self._said())
        except Exception as exc:  # noqa: BLE001 - report, keep the pipeline alive
            await self.stop_processing_metrics()
            yield ErrorFrame(f"Whisper transcription failed: {type(exc).__name__}: {exc}")
            return
        await self.stop_processing_metrics()
        text = result.raw
        if not text:
            return
        language = assert_given(self._settings.language)
        await self._handle_transcription(text, True, language)
        logger.debug(
            f"{self}: transcribed {samples_secs:.2f} s into {len(text)} chars "
            f"in {result.timings.get('stt', 0.0):.0f} ms"
            f"{' (started at the pause)' if speculation is not None else ''}"
            f"{' (biased pass)' if result.hotwords else ''}"
        )
        frame = TranscriptionFrame(text, self._user_id, time_now_iso8601(), language)
        frame.metadata[FIRST_PASS_KEY] = result.first_pass
        frame.metadata[HOTWORDS_KEY] = result.hotwords
        frame.metadata[STT_MS_KEY] = round(result.timings.get("stt", 0.0), 1)
        yield frame
