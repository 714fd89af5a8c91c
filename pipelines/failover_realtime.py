"""Failover of the speech-native variant: OpenAI Realtime → Echo's local Realtime server.

:func:`with_realtime_failover` puts the cloud Realtime service and a second
:class:`realtime.client.EchoOpenAIRealtimeLLMService` on Echo's in-process Realtime server
(:class:`realtime.local.LocalRealtime`) in Pipecat's ``LLMSwitcher`` with
``ServiceSwitcherStrategyFailover``, as :mod:`pipelines.failover` does for the cascaded
stages. The standby connects only when it takes over.

The cloud service already ends itself (an unusable service) when the key is refused, the
API reports an error, or the socket drops and its one reconnect fails. A
:class:`RealtimeWatchdog` adds the fault it waits out: no answer within
``ECHO_PROVIDER_TIMEOUT_SECS`` to a response Echo asked for (the greeting, a tool result),
or no session at all. On the switch the local server gets the conversation so far; when a
reply was being waited for or was cut off, the caller hears one short apology (Piper) and
the local server answers: a caller's turn the cloud heard end and never answered is
replayed to it as audio. The ``failover`` record is the cascaded one, stage ``realtime``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallResultFrame,
    FunctionCallsStartedFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.errors import ErrorCategory

from pipelines.failover import APOLOGY, Failover
from pipelines.failover_watch import StageWatchdog, failover_reason

_APOLOGY_CHUNK_SECS = 0.1


class RealtimeWatchdog(StageWatchdog):
    """Watches a Realtime service: a response asked for and not started, a reply cut off.

    Args:
        service: The cloud ``EchoOpenAIRealtimeLLMService``.
        timeout_secs: Longest wait for the first audio, text or tool call of a response.
    """

    def __init__(self, *, service: FrameProcessor, timeout_secs: float):
        super().__init__(stage="realtime", service=service, timeout_secs=timeout_secs)
        self.responding = False  # a response was asked for or is being spoken
        self.cut_off = False  # the connection dropped while it was
        self.lost = False  # the connection dropped at least once
        service.add_event_handler("on_connection_lost", self._on_connection_lost)

    @property
    def pending(self) -> bool:
        """Whether the caller is waiting on a reply the cloud did not finish."""
        return self.responding or self.cut_off or self.turn.awaits_transcript

    def unanswered_audio(self) -> list[InputAudioRawFrame]:
        """The caller's audio of a turn the cloud heard end and never answered (or none)."""
        if not self.turn.awaits_transcript:
            return []
        return [f for f, _ in self.turn.take() if isinstance(f, InputAudioRawFrame)]

    async def _on_connection_lost(self, service: FrameProcessor, reason: str) -> None:
        self.lost = True
        self.cut_off = self.cut_off or self.responding

    async def _on_disconnected(self, service: FrameProcessor) -> None:
        return  # the Realtime service reconnects once by itself; a failed one ends it

    async def _on_error(self, service: FrameProcessor, error: ErrorFrame) -> None:
        # Only an error that ended the service counts: a send failing while the socket is
        # being replaced is not one (the reconnect decides).
        if self.reason is not None or self.ending or service.is_usable:
            return
        reason = failover_reason(error.category) or "error"
        if self.lost and error.category in (ErrorCategory.CONNECTIVITY, ErrorCategory.SERVER):
            reason = "dropped"
        self.reason = reason
        self._disarm()

    def _asked(self) -> None:
        self.responding = True
        self._arm()

    async def _before_process(self, service: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, (EndFrame, CancelFrame)):
            self.ending = True
            self._disarm()
        elif isinstance(frame, InputAudioRawFrame):
            self.turn.audio(frame)
        elif isinstance(frame, LLMContextFrame):
            first = self.context is None
            self.context = frame.context
            if first:
                self._asked()  # the first context asks for the greeting

    async def _after_push(self, service: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, LLMFullResponseStartFrame):
            self._asked()
        elif isinstance(frame, ProposedUserStartedSpeakingFrame):
            self.turn.start(frame, FrameDirection.DOWNSTREAM)  # the server's VAD
        elif isinstance(frame, ProposedUserStoppedSpeakingFrame):
            self.turn.stop(frame, FrameDirection.DOWNSTREAM)
        elif isinstance(frame, (TTSAudioRawFrame, LLMTextFrame, FunctionCallsStartedFrame)):
            self._disarm()
            self.responding = True
            self.cut_off = False
            if self.turn.stopped:
                self.turn.transcribed()  # the caller's turn has its answer
        elif isinstance(frame, LLMFullResponseEndFrame) and self.reason is None:
            self._disarm()
            self.responding = False
        elif isinstance(frame, FunctionCallResultFrame) and result_asks_reply(frame):
            self._asked()  # a tool result the model must answer (Gemini asks no other way)


def result_asks_reply(frame: FunctionCallResultFrame) -> bool:
    """Whether a tool result is final and asks the model to answer it (Pipecat's defaults)."""
    props = frame.properties
    if props is not None and not props.is_final:
        return False
    run_llm = props.run_llm if props is not None else None
    if run_llm is None:
        run_llm = frame.run_llm if frame.run_llm is not None else True
    return bool(run_llm)


async def recover_realtime(switcher: Any, target: Any, watchdog: StageWatchdog) -> None:
    """The local Realtime server takes the conversation so far, and answers if one was due.

    A caller's turn the cloud heard end and never answered is replayed as audio: the local
    server hears it, transcribes it and answers it as its own turn.
    """
    assert isinstance(watchdog, RealtimeWatchdog)
    unseed = getattr(watchdog.service, "unseed", None)
    if unseed is not None and watchdog.context is not None:
        unseed(watchdog.context)  # the cloud's own scaffolding is not conversation
    audio = watchdog.unanswered_audio()
    respond = watchdog.pending and not audio
    if watchdog.context is not None or audio:
        await target.take_over(watchdog.context, respond=respond, audio=audio)


def apology_speaker(models: Any):
    """An apology spoken with the local Piper voice, as audio the Realtime stage pushes."""

    async def speak(switcher: Any) -> None:
        from providers.local import synthesize_pcm

        voice = models.piper()
        pcm = await asyncio.to_thread(synthesize_pcm, voice, APOLOGY)
        rate = voice.config.sample_rate
        step = int(rate * _APOLOGY_CHUNK_SECS) * 2
        text = TTSTextFrame(APOLOGY, text_type="sentence")
        text.append_to_context = False  # the caller heard it; the conversation goes on
        frames: list[Frame] = [TTSStartedFrame(), text]
        frames += [
            TTSAudioRawFrame(pcm[i : i + step], sample_rate=rate, num_channels=1)
            for i in range(0, len(pcm), step)
        ]
        frames.append(TTSStoppedFrame())
        for frame in frames:
            await switcher.queue_frame(frame)

    return speak


def with_realtime_failover(session: Any, cloud: Any, local: Any, *, name: str = "openai") -> Any:
    """``cloud`` with the local Realtime service ``local`` behind it.

    Args:
        session: The :class:`pipelines.Session` (settings, audit, models).
        cloud: The cloud service: an ``EchoOpenAIRealtimeLLMService`` or an
            :class:`EchoGeminiLiveLLMService`.
        local: An ``EchoOpenAIRealtimeLLMService`` on the local server (``connect_lazily``).
        name: The cloud provider's name, for the ``failover`` record (``openai``, ``gemini``).

    Returns:
        The switcher to put in the pipeline.
    """
    settings = session.settings
    failover = Failover(audit=session.audit, timeout_secs=settings.provider_timeout_secs)
    failover.apology = apology_speaker(session.models)
    watchdog = RealtimeWatchdog(service=cloud, timeout_secs=settings.provider_timeout_secs)
    return failover.wrap(
        "realtime",
        cloud,
        local,
        names=(name, "local"),
        watchdog=watchdog,
        recover=recover_realtime,
    )
