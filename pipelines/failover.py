"""Cloud stages fall back to the local models: Pipecat's ServiceSwitcher, failover strategy.

When a stage's chosen provider is a cloud one (Deepgram, OpenAI, Cartesia) and
``ECHO_FAILOVER`` is on (the default), :func:`with_failover` puts it in a Pipecat
``ServiceSwitcher`` (``LLMSwitcher`` for the LLM) with ``ServiceSwitcherStrategyFailover``,
cloud first and the stage's local model second (Whisper, the clinic brain, Piper). The
strategy switches when the active service reports an error and is no longer usable.

Pipecat's services mark themselves unusable on a refused key (a 4xx at the handshake or
on a request). The other faults a call cannot wait out do not, so a :class:`StageWatchdog`
(event handlers on the cloud service, no processor in the pipeline) does:

* no first answer within ``ECHO_PROVIDER_TIMEOUT_SECS`` (STT: a final transcript after the
  caller stopped; LLM: the first token or tool call; TTS: the first audio of a sentence);
* an error it reports mid-call (a dropped stream, a 5xx, a timeout of its own);
* a TTS WebSocket that drops while a sentence is being synthesized (Cartesia reconnects
  silently and the sentence is lost).

On a switch the :class:`Failover` coordinator files a ``failover`` audit record (stage,
from, to, reason, whether a turn was in progress: no key, no transcript), logs one line
with the same fields, and when a turn was in progress the caller hears one short apology
(once per call) and the local model answers that turn: the caller's audio of the turn is
replayed into Whisper, the LLM context is handed to the local brain, the words the cloud
TTS did not speak are spoken by Piper.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    AggregatedTextFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallsStartedFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.llm_switcher import LLMSwitcher
from pipecat.pipeline.service_switcher import ServiceSwitcher, ServiceSwitcherStrategyFailover
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.errors import ErrorCategory

APOLOGY = "Sorry, one moment."
LOCAL_FALLBACK = {"stt": "whisper", "llm": "local", "tts": "piper"}
# Speech segments shorter than this (after the VAD's start) may hold no words: a silent
# answer to them is not a fault.
MIN_SEGMENT_SECS = 0.6
_PRE_ROLL_SECS = 1.0
_MAX_TURN_SECS = 60.0


# --- the rules (plain functions) ----------------------------------------------------------


def failover_reason(category: ErrorCategory | None) -> str | None:
    """Why an error a cloud service reported should end its part in the call, or None.

    An application's own failure (a tool handler, content it supplied) is no reason; a
    refused key, an unreachable provider, a provider error or an unknown one is.
    """
    if category is ErrorCategory.APPLICATION:
        return None
    if category in (
        ErrorCategory.AUTHENTICATION,
        ErrorCategory.AUTHORIZATION,
        ErrorCategory.QUOTA,
        ErrorCategory.INVALID_REQUEST,
    ):
        return "refused"
    if category is ErrorCategory.CONNECTIVITY:
        return "unreachable"
    return "error"


def unspoken_text(sent: list[str], spoken: list[str]) -> str:
    """The words of ``sent`` after the first ``len(spoken words)`` ones: what was not heard."""
    words = " ".join(sent).split()
    heard = len(" ".join(spoken).split())
    return " ".join(words[heard:])


def failover_record(stage: str, source: str, target: str, reason: str, pending: bool) -> dict:
    """The ``failover`` audit record body (and the log line's fields)."""
    return {
        "stage": stage,
        "from": source,
        "to": target,
        "reason": reason,
        "turn_in_progress": pending,
    }


class TurnAudio:
    """The caller's audio frames of the current speech segment, with a short pre-roll.

    Mirrors what a segmented STT keeps (Pipecat's ``SegmentedSTTService``), so the segment
    can be given to the local STT if the cloud one fails during it.
    """

    def __init__(self) -> None:
        self.frames: deque[tuple[Frame, FrameDirection, float]] = deque()
        self.secs = 0.0  # audio held
        self.speaking = False
        self.stopped = False  # the segment ended (VAD stop) and awaits its transcript
        self.heard = False  # a final transcript came during the segment
        self.speech_secs = 0.0

    def audio(self, frame: InputAudioRawFrame) -> None:
        """Keep an audio frame (a rolling pre-roll while nobody speaks)."""
        secs = len(frame.audio) / max(1, frame.sample_rate * frame.num_channels * 2)
        self.frames.append((frame, FrameDirection.DOWNSTREAM, secs))
        self.secs += secs
        if self.speaking:
            self.speech_secs += secs
        limit = _MAX_TURN_SECS if self.speaking or self.stopped else _PRE_ROLL_SECS
        while self.frames and self.secs - self.frames[0][2] > limit:
            self.secs -= self.frames.popleft()[2]

    def start(self, frame: Frame, direction: FrameDirection) -> None:
        """The VAD heard speech start."""
        if not self.stopped:
            self.speech_secs = 0.0
            self.heard = False
        self.speaking = True
        self.frames.append((frame, direction, 0.0))

    def stop(self, frame: Frame, direction: FrameDirection) -> None:
        """The VAD heard speech stop."""
        self.speaking = False
        self.stopped = True
        self.frames.append((frame, direction, 0.0))

    def transcribed(self) -> None:
        """A final transcript came: after the segment, keep only a pre-roll from here on."""
        self.heard = True
        if not self.speaking:
            self.stopped = False
            self.heard = False
            self.speech_secs = 0.0
            while self.frames and self.secs - self.frames[0][2] > _PRE_ROLL_SECS:
                self.secs -= self.frames.popleft()[2]

    def take(self) -> list[tuple[Frame, FrameDirection]]:
        """The frames held, in order (the buffer is emptied)."""
        out = [(f, d) for f, d, _ in self.frames]
        self.frames.clear()
        self.secs = 0.0
        return out

    @property
    def pending(self) -> bool:
        """The caller is speaking, or a segment with speech awaits its transcript."""
        return self.speaking or self.awaits_transcript

    @property
    def awaits_transcript(self) -> bool:
        """The segment ended with enough speech and no final transcript yet."""
        return self.stopped and not self.heard and self.speech_secs >= MIN_SEGMENT_SECS


# --- the watchdog (event handlers on one cloud service) -----------------------------------


class StageWatchdog:
    """Marks a cloud service unusable on a fault it does not treat as one itself.

    Args:
        stage: ``stt``, ``llm`` or ``tts``.
        service: The cloud Pipecat service.
        timeout_secs: Longest wait for the service's first answer to a request.
    """

    def __init__(self, *, stage: str, service: FrameProcessor, timeout_secs: float):
        self.stage = stage
        self.service = service
        self.timeout_secs = timeout_secs
        self.reason: str | None = None
        self.ending = False
        self.turn = TurnAudio()
        self.context: Any = None  # the LLM context of the request in flight
        self.sent: list[str] = []  # TTS: sentences given to the provider this reply
        self.spoken: list[str] = []  # TTS: words it reported played
        self._timer: asyncio.Task | None = None
        service.add_event_handler("on_before_process_frame", self._before_process)
        service.add_event_handler("on_after_push_frame", self._after_push)
        service.add_event_handler("on_error", self._on_error)
        if "on_disconnected" in getattr(service, "_event_handlers", {}):
            service.add_event_handler("on_disconnected", self._on_disconnected)

    @property
    def pending(self) -> bool:
        """Whether a turn was in the service's hands (what the local model must take over)."""
        if self.stage == "stt":
            return self.turn.pending
        if self.stage == "llm":
            return self.context is not None
        return bool(self.sent)

    @property
    def kept_waiting(self) -> bool:
        """Whether the caller has been waiting on the failed service (worth an apology).

        A caller still speaking lost nothing: the local STT gets the turn's audio and they
        hear no apology over their own words.
        """
        if self.stage == "stt":
            return self.turn.awaits_transcript
        return self.pending

    # timer

    def _arm(self) -> None:
        if self._timer is None and self.reason is None and not self.ending:
            self._timer = asyncio.get_running_loop().create_task(self._expire())

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _expire(self) -> None:
        await asyncio.sleep(self.timeout_secs)
        self._timer = None
        await self.fault("timeout", f"no answer within {self.timeout_secs:g}s")

    async def fault(self, reason: str, message: str) -> None:
        """Report the service unable to go on: its error frame makes the switcher fail over."""
        if self.reason is not None or self.ending:
            return
        self.reason = reason
        self._disarm()
        await self.service.push_error(
            f"{self.stage} provider {message}", force_treat_as_permanent=True
        )

    # event handlers

    async def _on_error(self, service: FrameProcessor, error: ErrorFrame) -> None:
        if self.reason is not None or self.ending:
            return
        reason = failover_reason(error.category)
        if reason is None:
            return
        self.reason = reason
        self._disarm()
        await service.set_usable(False)  # before the frame travels: the switcher reads it

    async def _on_disconnected(self, service: FrameProcessor) -> None:
        if self.pending and self._unfinished:
            await self.fault("dropped", "stream dropped mid-turn")

    @property
    def _unfinished(self) -> bool:
        return self.stage != "tts" or bool(unspoken_text(self.sent, self.spoken))

    async def _before_process(self, service: FrameProcessor, frame: Frame) -> None:
        if isinstance(frame, (EndFrame, CancelFrame)):
            self.ending = True
            self._disarm()
        elif isinstance(frame, InterruptionFrame):
            self._disarm()
            self.sent, self.spoken = [], []
        elif self.stage == "stt":
            self._stt_in(frame)
        elif self.stage == "llm" and isinstance(frame, LLMContextFrame):
            self.context = frame.context
            self._arm()

    def _stt_in(self, frame: Frame) -> None:
        if isinstance(frame, InputAudioRawFrame):
            self.turn.audio(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._disarm()
            self.turn.start(frame, FrameDirection.UPSTREAM)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self.turn.stop(frame, FrameDirection.UPSTREAM)
            if self.turn.awaits_transcript:
                self._arm()

    async def _after_push(self, service: FrameProcessor, frame: Frame) -> None:
        if self.stage == "stt":
            if isinstance(frame, TranscriptionFrame):
                self._disarm()
                self.turn.transcribed()
        elif self.stage == "llm":
            if isinstance(frame, (LLMTextFrame, FunctionCallsStartedFrame)):
                self._disarm()
            elif isinstance(frame, LLMFullResponseEndFrame):
                self._disarm()
                if self.reason is None:
                    self.context = None
        elif isinstance(frame, TTSTextFrame):
            self.spoken.append(frame.text)
        elif isinstance(frame, AggregatedTextFrame) and frame.will_be_spoken:
            self.sent.append(frame.text)
            self._arm()
        elif isinstance(frame, TTSAudioRawFrame):
            self._disarm()
        elif isinstance(frame, TTSStoppedFrame) and self.reason is None:
            self._disarm()
            self.sent, self.spoken = [], []


# --- the switchers and the coordinator ----------------------------------------------------


class FailoverLLMSwitcher(LLMSwitcher):
    """An ``LLMSwitcher`` whose unknown events are those of its LLMs (e.g. a filler's).

    ``on_function_calls_started`` and the like are events of an ``LLMService``, not of a
    switcher: a handler added here is added to every LLM it holds.
    """

    def add_event_handler(self, event_name: str, handler):
        """Add ``handler`` here, or to each member LLM when the event is theirs."""
        if event_name in self._event_handlers:
            super().add_event_handler(event_name, handler)
            return
        for llm in self.llms:
            llm.add_event_handler(event_name, handler)


class Failover:
    """One call's failover: the switchers, their watchdogs, the apology, the records.

    Args:
        audit: The session's audit recorder (``submit(kind, body)``) or None.
        timeout_secs: ``ECHO_PROVIDER_TIMEOUT_SECS``.
    """

    def __init__(self, *, audit: Any, timeout_secs: float):
        self.audit = audit
        self.timeout_secs = timeout_secs
        self.tts: FrameProcessor | None = None  # where the apology is spoken
        self.apologized = False
        self.switches: list[dict] = []
        self._names: dict[int, str] = {}

    def wrap(
        self, stage: str, cloud: FrameProcessor, local: FrameProcessor, *, names: tuple[str, str]
    ) -> FrameProcessor:
        """``cloud`` and ``local`` in a failover switcher, cloud first, watched."""
        self._names[id(cloud)], self._names[id(local)] = names
        watchdog = StageWatchdog(stage=stage, service=cloud, timeout_secs=self.timeout_secs)
        services = [cloud, local]
        if stage == "llm":
            switcher = FailoverLLMSwitcher(services, ServiceSwitcherStrategyFailover)
        else:
            switcher = ServiceSwitcher(services, ServiceSwitcherStrategyFailover)

        async def on_service_switched(strategy, service):
            await self._switched(stage, switcher, watchdog, service)

        switcher.strategy.add_event_handler("on_service_switched", on_service_switched)
        return switcher

    async def _switched(
        self, stage: str, switcher: FrameProcessor, watchdog: StageWatchdog, target: Any
    ) -> None:
        pending = watchdog.pending
        body = failover_record(
            stage,
            self._names.get(id(watchdog.service), "cloud"),
            self._names.get(id(target), "local"),
            watchdog.reason or "error",
            pending,
        )
        self.switches.append(body)
        if self.audit is not None:
            self.audit.submit("failover", dict(body))
        logger.warning(
            f"failover: stage={body['stage']} from={body['from']} to={body['to']} "
            f"reason={body['reason']} turn_in_progress={pending}"
        )
        if not pending or watchdog.ending:
            return
        if watchdog.kept_waiting:
            await self._apologize(switcher if stage == "tts" else self.tts)
        await RECOVER[stage](switcher, target, watchdog)

    async def _apologize(self, tts: FrameProcessor | None) -> None:
        if self.apologized or tts is None:
            return
        self.apologized = True
        await tts.queue_frame(TTSSpeakFrame(APOLOGY, append_to_context=False))


async def _recover_stt(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Give the segment's audio (and its VAD events) to the local STT.

    The frames already left the switcher once, so only the new transcript comes out.
    """
    for frame, direction in watchdog.turn.take():
        await target.queue_frame(frame, direction)


async def _recover_llm(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Hand the context of the unanswered request to the local brain."""
    context, watchdog.context = watchdog.context, None
    if context is not None:
        await switcher.queue_frame(LLMContextFrame(context=context))


async def _recover_tts(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Speak what the cloud TTS was given and did not play."""
    rest = unspoken_text(watchdog.sent, watchdog.spoken)
    watchdog.sent, watchdog.spoken = [], []
    if rest:
        await switcher.queue_frame(TTSSpeakFrame(rest))


RECOVER: dict[str, Callable[[Any, FrameProcessor, StageWatchdog], Awaitable[None]]] = {
    "stt": _recover_stt,
    "llm": _recover_llm,
    "tts": _recover_tts,
}


def with_failover(session: Any, specs: dict, ctx: Any, **services: Any) -> tuple[Any, ...]:
    """The stages' services, each cloud one wrapped with its local fallback.

    Args:
        session: The :class:`pipelines.Session` (settings, audit, models, store).
        specs: The chosen :class:`providers.ProviderSpec` per stage.
        ctx: The session's :class:`providers.ProviderContext`.
        **services: The created services by stage (``stt=``, ``llm=``, ``tts=``), in
            the order they are returned.

    Returns:
        The services in the order given, cloud ones replaced by their switchers.
    """
    import providers

    settings = session.settings
    cloud = [s for s in services if not specs[s].local]
    if not settings.failover or not cloud:
        return tuple(services.values())
    failover = Failover(audit=session.audit, timeout_secs=settings.provider_timeout_secs)
    out = dict(services)
    for stage in cloud:
        local_spec = providers.PROVIDERS[stage][LOCAL_FALLBACK[stage]]
        local_ctx = ctx
        if stage == "llm" and ctx.brain is None:
            from dataclasses import replace

            from pipelines import clinic_brain_and_tools

            local_ctx = replace(ctx, brain=clinic_brain_and_tools(session, local=True)[0])
        local = local_spec.create(local_ctx)
        out[stage] = failover.wrap(
            stage, services[stage], local, names=(specs[stage].name, local_spec.name)
        )
    failover.tts = out.get("tts")
    return tuple(out.values())
