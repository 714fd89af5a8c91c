"""Per-turn voice-to-voice latency, as a Pipecat observer.

:class:`LatencyObserver` watches the frames of one conversation and, for every user turn,
records when the user stopped speaking (VAD), when the turn was judged over, the final
transcript, the LLM's first token, the TTS's first audio and the moment the bot started
speaking, plus barge-ins. The record, its stages and their rules are
:class:`observers.latency_record.TurnLatency`; which moment belongs to which turn is
:class:`observers.latency_tracker.TurnTracker`. This module is the thin adapter that maps
frames onto the tracker and hands each finished record on.

Speech-to-speech sessions (an LLM service whose ``LLMServiceMetadataFrame`` says
``is_realtime_service``, e.g. OpenAI Realtime or Gemini Live) have no local VAD, STT or
TTS: the service's server VAD drives the turns. ``speech stopped`` is the
``UserStoppedSpeakingFrame`` (``input_audio_buffer.speech_stopped``), ``speech end`` is
that minus the server VAD's silence (``speech_end_offset_secs``, else the service's own
``silence_duration_ms``: :func:`server_vad_silence_secs`), the first audio delta is the
service's ``TTSStartedFrame`` / first ``TTSAudioRawFrame``. The user transcript comes
upstream, often after the answer started: it fills the record only if it arrives before
the bot starts speaking, and never opens or delays a turn.

Each finished turn is handed to ``on_turn`` and to the ``on_turn_latency`` event handlers.
With ``publish=True`` the observer also sends it to the client over the transport's data
channel as ``{"type": "echo-latency", ...}`` (an ``OutputTransportMessageUrgentFrame``
queued on the output transport).
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallInProgressFrame,
    InterruptionFrame,
    LLMServiceMetadataFrame,
    LLMTextFrame,
    MetricsFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.transports.base_output import BaseOutputTransport

from observers.latency_record import TurnLatency, summarize
from observers.latency_tracker import TurnTracker


def server_vad_silence_secs(settings: Any) -> float | None:
    """The silence a speech-to-speech service's server VAD waits before ``speech_stopped``.

    Reads an OpenAI Realtime service's ``session_properties.audio.input.turn_detection``
    or a Gemini Live service's ``vad``; ``None`` when it is not a fixed silence (semantic
    VAD, provider default) or the settings are of another shape.

    Args:
        settings: The service's ``settings`` (``AIService.settings``).
    """
    props = getattr(settings, "session_properties", None)
    audio_in = getattr(getattr(props, "audio", None), "input", None)
    for source in (getattr(audio_in, "turn_detection", None), getattr(settings, "vad", None)):
        ms = getattr(source, "silence_duration_ms", None)
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    return None


# Frame ids remembered for de-duplication (only frames the observer acts on).
_SEEN_IDS = 512


TurnHandler = Callable[[TurnLatency], Awaitable[None] | None]


class LatencyObserver(BaseObserver):
    """Records every user turn's voice-to-voice latency and breakdown.

    Events:
        on_turn_latency(observer, record): A turn finished (:class:`TurnLatency`).

    Example::

        latency = LatencyObserver(session_id=session.session_id, publish=True)
        worker = PipelineWorker(pipeline, observers=[latency])

        @latency.event_handler("on_turn_latency")
        async def on_turn_latency(observer, record):
            await audit.record_latency(record.to_dict())
    """

    def __init__(
        self,
        *,
        session_id: str = "",
        clock: Callable[[], float] = time.time,
        on_turn: TurnHandler | None = None,
        publish: bool = False,
        publish_text: bool = True,
        speech_end_offset_secs: float | None = None,
        **kwargs,
    ):
        """Initialize the observer.

        Args:
            session_id: Stamped on every record.
            clock: Current time in seconds (``time.time`` so records join with a client's
                wall clock; a test passes a controllable one). Observers run behind the
                pipeline through a queue, so the lag between a frame's push and its
                observation (from the pipeline clock) is subtracted when available.
            on_turn: Called (sync or async) with each finished :class:`TurnLatency`.
            publish: Also send each record to the client as an ``echo-latency`` app
                message through the output transport (the WebRTC data channel).
            publish_text: Include the transcript in the published message.
            speech_end_offset_secs: Speech-to-speech sessions only: the server VAD's
                silence (``realtime_silence_duration_ms`` / 1000), i.e. how long before
                ``speech_stopped`` the user stopped. ``None``: read it from the service's
                settings when they carry a fixed silence, else 0 (``vad`` is then 0 and
                ``total`` starts at ``speech_stopped``). Cascaded turns ignore it.
            **kwargs: Passed to ``BaseObserver``.
        """
        super().__init__(observe_every_push=False, **kwargs)
        self._clock = clock
        self._on_turn = on_turn
        self._publish = publish
        self._publish_text = publish_text
        self._tracker = TurnTracker(session_id, speech_end_offset_secs=speech_end_offset_secs)
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._output: Any = None  # the output transport, learnt from BotStartedSpeakingFrame
        self._dispatch: dict[type, Callable | None] = {}
        self._register_event_handler("on_turn_latency")

    @property
    def records(self) -> list[TurnLatency]:
        """Finished turns, in order."""
        return self._tracker.finished

    @property
    def session_id(self) -> str:
        """The conversation's id."""
        return self._tracker.session_id

    def payload(self) -> dict[str, Any]:
        """Every finished turn plus a summary, JSON-ready (for an HTTP route or the audit log)."""
        return {
            "session_id": self.session_id,
            "turns": [r.to_dict() for r in self.records],
            "summary": summarize(self.records),
        }

    # --- frame dispatch ---------------------------------------------------------------

    _HANDLED: tuple[tuple[type, str], ...] = (
        (VADUserStartedSpeakingFrame, "_on_vad_started"),
        (VADUserStoppedSpeakingFrame, "_on_vad_stopped"),
        (UserStartedSpeakingFrame, "_on_user_started"),
        (UserStoppedSpeakingFrame, "_on_user_stopped"),
        (TranscriptionFrame, "_on_transcript"),
        (LLMTextFrame, "_on_llm_text"),
        (TTSAudioRawFrame, "_on_tts_audio"),
        (TTSStartedFrame, "_on_tts_started"),
        (LLMServiceMetadataFrame, "_on_llm_metadata"),
        (BotStartedSpeakingFrame, "_on_bot_started"),
        (BotStoppedSpeakingFrame, "_on_bot_stopped"),
        (InterruptionFrame, "_on_interruption"),
        (FunctionCallInProgressFrame, "_on_function_call"),
        (MetricsFrame, "_on_metrics"),
        (EndFrame, "_on_end"),
        (CancelFrame, "_on_end"),
    )

    def _handler_for(self, cls: type) -> Callable | None:
        try:
            return self._dispatch[cls]
        except KeyError:
            handler = next(
                (getattr(self, name) for base, name in self._HANDLED if issubclass(cls, base)),
                None,
            )
            self._dispatch[cls] = handler
            return handler

    async def on_push_frame(self, data: FramePushed):
        """Map a pushed frame onto the turn tracker (every other frame costs a dict lookup)."""
        frame = data.frame
        handler = self._handler_for(type(frame))
        if handler is None or self._already_seen(frame):
            return
        if self._publish and self._output is None:
            self._learn_output(data)
        await handler(frame, data)

    def _learn_output(self, data: FramePushed) -> None:
        """Remember the output transport (where published messages are queued)."""
        for processor in (data.destination, data.source):
            if isinstance(processor, BaseOutputTransport):
                self._output = processor
                return

    def _already_seen(self, frame: Frame) -> bool:
        """Whether this frame, or its broadcast twin, was handled already."""
        if isinstance(frame, (TTSAudioRawFrame, LLMTextFrame)):
            return False  # only their first occurrence matters; ids would churn the cache
        seen = self._seen
        if frame.id in seen or (frame.broadcast_sibling_id in seen):
            return True
        seen[frame.id] = None
        if len(seen) > _SEEN_IDS:
            seen.popitem(last=False)
        return False

    def _now(self, data: FramePushed) -> float:
        """The frame's push time on the observer's clock."""
        now = self._clock()
        try:
            lag_ns = data.source.get_clock().get_time() - data.timestamp
        except Exception:  # a processor without a running clock (tests): no correction
            return now
        if 0 < lag_ns < 5_000_000_000 and data.timestamp > 0:
            return now - lag_ns / 1e9
        return now

    async def _emit(self, record: TurnLatency | None) -> None:
        if record is None:
            return
        if self._on_turn is not None:
            result = self._on_turn(record)
            if inspect.isawaitable(result):
                await result
        await self._call_event_handler("on_turn_latency", record)
        if self._publish and self._output is not None:
            message = record.to_message(include_text=self._publish_text)
            await self._output.queue_frame(OutputTransportMessageUrgentFrame(message=message))

    # --- handlers -----------------------------------------------------------------------

    async def _on_vad_started(self, frame: VADUserStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.vad_started(self._now(data)))

    async def _on_vad_stopped(self, frame: VADUserStoppedSpeakingFrame, data: FramePushed):
        self._tracker.vad_stopped(self._now(data), frame.stop_secs)

    async def _on_user_started(self, frame: UserStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.user_started(self._now(data)))

    async def _on_user_stopped(self, frame: UserStoppedSpeakingFrame, data: FramePushed):
        self._tracker.turn_ended(self._now(data))

    async def _on_transcript(self, frame: TranscriptionFrame, data: FramePushed):
        await self._emit(self._tracker.transcript(self._now(data), frame.text or ""))

    async def _on_llm_text(self, frame: LLMTextFrame, data: FramePushed):
        turn = self._tracker.current
        if turn is not None and turn.turn_end_at is not None and turn.llm_first_token_at is None:
            self._tracker.llm_text(self._now(data))

    async def _on_tts_audio(self, frame: TTSAudioRawFrame, data: FramePushed):
        turn = self._tracker.current
        if turn is not None and turn.turn_end_at is not None and turn.tts_first_audio_at is None:
            self._tracker.tts_audio(self._now(data))

    async def _on_tts_started(self, frame: TTSStartedFrame, data: FramePushed):
        self._tracker.tts_started(self._now(data))

    async def _on_llm_metadata(self, frame: LLMServiceMetadataFrame, data: FramePushed):
        if frame.is_realtime_service:
            settings = getattr(data.source, "settings", None)
            self._tracker.speech_to_speech_service(server_vad_silence_secs(settings))

    async def _on_bot_started(self, frame: BotStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.bot_started(self._now(data)))

    async def _on_bot_stopped(self, frame: BotStoppedSpeakingFrame, data: FramePushed):
        self._tracker.bot_stopped()

    async def _on_interruption(self, frame: InterruptionFrame, data: FramePushed):
        self._tracker.interrupted()

    async def _on_function_call(self, frame: FunctionCallInProgressFrame, data: FramePushed):
        self._tracker.function_call(frame.function_name)

    async def _on_metrics(self, frame: MetricsFrame, data: FramePushed):
        self._tracker.metrics(frame.data)

    async def _on_end(self, frame: Frame, data: FramePushed):
        await self._emit(self._tracker.session_ended())
