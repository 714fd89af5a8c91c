"""What a failover watches: the rules, the caller's turn audio, and one stage's watchdog.

Pipecat's cloud services mark themselves unusable on a refused key, not on the other faults
a call cannot wait out. A :class:`StageWatchdog` (event handlers on the cloud service, no
processor in the pipeline) does it for them, so ``ServiceSwitcherStrategyFailover`` switches
on that very error: no first answer within ``ECHO_PROVIDER_TIMEOUT_SECS``, an error the
service reports mid-call, a TTS stream that drops mid-sentence. The plain rules (which error
is a reason, what was not spoken, the record's fields) and :class:`TurnAudio` (the caller's
audio of the current segment, for a local STT to take over) are here too; the coordinator
that acts on a switch is :mod:`pipelines.failover`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

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
    TTSStoppedFrame,
    TTSTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.errors import ErrorCategory

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
