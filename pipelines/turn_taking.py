"""Echo's end-of-turn decision: smart-turn v3, safe with segmented STT, with silence holds.

:class:`EchoTurnStopStrategy` is Pipecat's ``TurnAnalyzerUserTurnStopStrategy`` (smart-turn
decides, a transcript is required) with these changes:

* **Every segment's transcript.** A segmented STT (Whisper) transcribes each VAD segment
  after it ends. When the user pauses and goes on, the first segment's transcript can land
  *after* the second segment started; Pipecat's strategy then takes that stale "finalized"
  transcript as covering the turn and ends it at the next VAD stop, before the second
  segment's transcript exists — the answer is to half a sentence and the rest becomes a turn
  of its own. Here the strategy counts VAD segments and their transcripts, and waits until
  every segment is transcribed (or the STT safety-net timeout passed).
* **Unfinished text waits.** When the transcript visibly stops mid-clause
  (:func:`pipelines.turn_text.looks_unfinished`: it ends on an article, preposition,
  conjunction, possessive, filler or "is/are/was/were", or with "…", "," or "-"), the end
  of turn waits until ``unfinished_hold_secs`` of silence have passed since the end
  of speech; speaking again cancels it as any VAD start does.
  So does a possessive subject with no verb yet ("My appointment on Monday." [pause]
  "I need to cancel it.": :func:`pipelines.clauses.is_verbless_subject`; smart-turn
  scored it up to 0.89 over WebRTC).
* **A question is an answerable turn.** When smart-turn calls the turn unfinished but the
  transcript is a question (ends with "?" *and* starts with a question word or an inverted
  auxiliary: :func:`pipelines.turn_text.is_question`), the turn ends once
  ``question_silence_secs`` of silence have passed, instead of after smart-turn's own
  fallback (``smart_turn_fallback_secs``, 3 s in Pipecat): smart-turn v3 often hears a
  complete question as unfinished.
* **An unsure statement waits.** Smart-turn v3 gives real sentence ends p ≥ 0.9; when it
  calls a statement (not ``is_question``, even if Whisper wrote "?") complete with less
  than ``uncertain_below`` (0.85), the end of turn waits ``uncertain_hold_secs`` of silence
  like unfinished text ("My appointment on Monday," [pause] "I need to cancel it." scored
  0.6–0.8).
* **A bare acknowledgement waits a little.** "Thank you." or "Yes." alone waits
  ``short_hold_secs`` (0.4 s) of silence: callers go on after a comma pause ("Thank you,"
  [240 ms] "that's all."), and the 0.2 s VAD stop ends the turn inside that pause.
* **Voice back, no end of turn.** With the pause-signalling VAD, voice after the stop
  (the VAD's STARTING phase, before ``start_secs`` confirm a start) cancels any hold at
  once and no end of turn fires until the onset fades (:meth:`on_voice_onset`); before,
  a hold that ran out inside those 0.2 s ended the turn under a caller already talking.
* **Minimum silence.** Optionally every end of turn waits for ``min_silence_secs`` of
  silence after the end of speech (0 = smart-turn alone decides).

The knobs' defaults live in one place, ``EchoSettings`` (``config.py``):
:meth:`TurnTaking.from_settings` gathers them, the strategy's :class:`EndOfTurnHolds`
among them. Neither dataclass has defaults of its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger
from pipecat.frames.frames import TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

from pipelines.turn_text import is_acknowledgement, is_question, looks_unfinished

if TYPE_CHECKING:
    from config import EchoSettings


@dataclass(frozen=True)
class EndOfTurnHolds:
    """The silences :class:`EchoTurnStopStrategy` waits for before it ends a turn.

    Attributes:
        min_silence_secs: Silence after the end of speech every end of turn waits for.
        unfinished_hold_secs: Silence an unfinished-looking transcript waits for (0: none).
        question_silence_secs: Silence after which a transcript ending in "?" ends a turn
            smart-turn called unfinished (0: a "?" does not overrule smart-turn).
        uncertain_below: Smart-turn probability of "complete" under which a statement
            (not a "?") is an unsure end of turn.
        uncertain_hold_secs: Silence an unsure end of turn waits for (0: none).
        short_hold_secs: Silence a bare acknowledgement waits for (0: none).
    """

    min_silence_secs: float
    unfinished_hold_secs: float
    question_silence_secs: float
    uncertain_below: float
    uncertain_hold_secs: float
    short_hold_secs: float


@dataclass(frozen=True)
class TurnTaking:
    """VAD and end-of-turn knobs (seconds), as ``EchoSettings`` sets them.

    Attributes:
        vad_confidence: Silero's speech confidence threshold.
        vad_start_secs: Speech that confirms a start.
        vad_stop_secs: Silence that confirms a stop.
        smart_turn: Smart-turn v3 decides the end of turn (off: the VAD stop does).
        smart_turn_fallback_secs: Silence that ends a turn smart-turn calls unfinished.
        speculation_secs: Silence after which STT and smart-turn start before the VAD
            stop (< 0: no speculation).
        holds: The strategy's silences (:class:`EndOfTurnHolds`).
    """

    vad_confidence: float
    vad_start_secs: float
    vad_stop_secs: float
    smart_turn: bool
    smart_turn_fallback_secs: float
    speculation_secs: float
    holds: EndOfTurnHolds

    @classmethod
    def from_settings(cls, settings: EchoSettings) -> TurnTaking:
        """The knobs of an ``EchoSettings``."""
        return cls(
            vad_confidence=settings.vad_confidence,
            vad_start_secs=settings.vad_start_secs,
            vad_stop_secs=settings.vad_stop_secs,
            smart_turn=settings.smart_turn,
            smart_turn_fallback_secs=settings.smart_turn_fallback_secs,
            speculation_secs=settings.turn_speculation_secs,
            holds=EndOfTurnHolds(
                min_silence_secs=settings.turn_min_silence_secs,
                unfinished_hold_secs=settings.turn_unfinished_hold_secs,
                question_silence_secs=settings.turn_question_silence_secs,
                uncertain_below=settings.turn_uncertain_below,
                uncertain_hold_secs=settings.turn_uncertain_hold_secs,
                short_hold_secs=settings.turn_short_hold_secs,
            ),
        )


class EchoTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart-turn end of turn that waits for every segment's transcript (see module doc)."""

    def __init__(
        self,
        *,
        holds: EndOfTurnHolds,
        clock=time.time,
        **kwargs,
    ):
        """Initialize the strategy.

        Args:
            holds: The silences to wait for (``TurnTaking.from_settings(settings).holds``).
            clock: Wall clock in seconds, the clock of ``VADUserStoppedSpeakingFrame``.
            **kwargs: ``turn_analyzer=...`` and the rest of
                ``TurnAnalyzerUserTurnStopStrategy``'s arguments.
        """
        super().__init__(**kwargs)
        self._holds = holds
        self._voice_onset = False  # voice came back; the VAD is confirming a start
        self._probability: float | None = None  # smart-turn's last P(complete) this turn
        self._overruled = False  # this end of turn comes from the "?" rule
        self._clock = clock
        self._pending_segments = 0
        self._segments: list[str] = []  # this turn's transcripts
        self._speech_end: float | None = None
        self._hold_task: asyncio.Task | None = None

    @property
    def turn_text(self) -> str:
        """Every transcript of this turn, joined (Pipecat's strategy keeps only the last)."""
        return " ".join(self._segments)

    @property
    def pending_segments(self) -> int:
        """VAD segments of this turn still waiting for their transcript."""
        return self._pending_segments

    async def on_voice_onset(self):
        """Voice is back after the VAD stop: no end of turn while the VAD confirms it.

        A hold would otherwise run out inside the VAD's ``start_secs`` and end the turn
        under a caller who is already talking again.
        """
        self._voice_onset = True
        await self._cancel_hold()

    async def on_voice_lost(self):
        """The onset faded without a start: the silence goes on, and so does the wait."""
        self._voice_onset = False
        await self._maybe_trigger_user_turn_stopped()

    async def _handle_vad_user_started_speaking(self, frame):
        self._voice_onset = False
        await super()._handle_vad_user_started_speaking(frame)

    async def _reset(self):
        self._voice_onset = False
        self._segments = []
        self._pending_segments = 0
        self._speech_end = None
        await super()._reset()

    async def _discard_pending_end_of_turn(self):
        self._overruled = False
        self._probability = None
        await self._cancel_hold()
        await super()._discard_pending_end_of_turn()

    async def cleanup(self):
        """Cancel the hold timer with the rest."""
        await self._cancel_hold()
        await super().cleanup()

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        self._pending_segments += 1
        self._speech_end = frame.timestamp - frame.stop_secs
        await super()._handle_vad_user_stopped_speaking(frame)

    async def _handle_prediction_result(self, result):
        self._probability = getattr(result, "probability", None)
        await super()._handle_prediction_result(result)

    async def _handle_transcription(self, frame: TranscriptionFrame):
        if frame.finalized and self._pending_segments > 0:
            self._pending_segments -= 1
        if frame.text.strip():  # a TranscriptionFrame is a segment's text (interims differ)
            self._segments.append(frame.text.strip())
        await super()._handle_transcription(frame)
        if self._answerable_question():
            self._turn_complete = self._overruled = True  # the "?" overrules smart-turn
            await self._maybe_trigger_user_turn_stopped()

    def _answerable_question(self) -> bool:
        return (
            self._holds.question_silence_secs > 0
            and not self._turn_complete
            and self._vad_stopped
            and not self._vad_user_speaking
            and self._pending_segments == 0
            and is_question(self.turn_text)
        )

    def required_silence(self) -> float:
        """Seconds of silence this end of turn must have had, given the transcript so far."""
        need = self._holds.min_silence_secs
        if self._holds.unfinished_hold_secs and looks_unfinished(self.turn_text):
            need = max(need, self._holds.unfinished_hold_secs)
        elif self._overruled:
            need = max(need, self._holds.question_silence_secs)
        elif self._unsure():
            need = max(need, self._holds.uncertain_hold_secs)
        elif self._holds.short_hold_secs and is_acknowledgement(self.turn_text):
            need = max(need, self._holds.short_hold_secs)
        return need

    def _unsure(self) -> bool:
        """Smart-turn said complete, but not confidently, about a statement."""
        return (
            self._holds.uncertain_hold_secs > 0
            and self._probability is not None
            and self._probability < self._holds.uncertain_below
            and not is_question(self.turn_text)
        )

    async def _maybe_trigger_user_turn_stopped(self):
        if not self._turn_complete or self._voice_onset:
            return
        if not self._wait_for_transcript:
            await super()._maybe_trigger_user_turn_stopped()
            return
        if not self._text:
            return
        if self._pending_segments > 0 and not self._timeout_expired:
            return  # a segment's transcript is still on its way
        wait = 0.0
        if self._speech_end is not None:
            wait = self.required_silence() - (self._clock() - self._speech_end)
        if wait > 0:
            if self._hold_task is None:
                self._hold_task = self.task_manager.create_task(self._hold(wait), f"{self}::_hold")
            return
        if self._timeout_task:
            await self.task_manager.cancel_task(self._timeout_task)
            self._timeout_task = None
        logger.debug(
            f"{self}: end of turn (smart-turn p={self._probability}, held for"
            f" {self.required_silence():.2f} s, question={is_question(self.turn_text)},"
            f" timeout={self._timeout_expired})"
        )
        await self.trigger_user_turn_stopped()

    async def _hold(self, seconds: float):
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            return
        self._hold_task = None
        await self._maybe_trigger_user_turn_stopped()

    async def _cancel_hold(self):
        if self._hold_task:
            task, self._hold_task = self._hold_task, None
            await self.task_manager.cancel_task(task)
