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
* **Unfinished text waits.** When the transcript visibly stops mid-clause (it ends on an
  article, preposition, conjunction, possessive, filler or "is/are/was/were", or with
  "…", "," or "-"),
  the end of turn waits until ``unfinished_hold_secs`` of silence have passed since the end
  of speech; speaking again cancels it as any VAD start does.
  So does a possessive subject with no verb yet ("My appointment on Monday." [pause]
  "I need to cancel it.": :func:`is_verbless_subject`; smart-turn scored it up to 0.89
  over WebRTC).
* **A question is an answerable turn.** When smart-turn calls the turn unfinished but the
  transcript is a question (ends with "?" *and* starts with a question word or an inverted
  auxiliary: :func:`is_question`), the turn ends once ``question_silence_secs`` of silence have
  passed, instead of after smart-turn's own fallback (``smart_turn_fallback_secs``, 3 s in
  Pipecat): smart-turn v3 often hears a complete question as unfinished.
* **An unsure statement waits.** Smart-turn v3 gives real sentence ends p ≥ 0.9; when it
  calls a statement (not :func:`is_question`, even if Whisper wrote "?") complete with less
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

:class:`TurnTaking` gathers the knobs from ``EchoSettings`` (fields missing from an older
settings object fall back to the defaults here).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.frames.frames import TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

# Words a statement rarely ends on: articles, prepositions, conjunctions, possessives and
# determiners, fillers, and the copula's third-person/plural forms ("The medication I take
# is"). Other auxiliaries are left out: "Yes, I do." and "I can." are complete answers.
UNFINISHED_WORDS = frozenset(
    """
    a an the is are was were
    to of in on at for with from by about into onto over under after before between during
    without than like as
    and or but so because if that when while although unless whether which
    my your his her its our their these those some any each every
    um uh er erm uhm hmm
    """.split()
)
_TRAILING = re.compile(r"(\.\.\.|…|,|-|–|—)\s*$")
# Verbs a caller's request goes on after ("I'd like to book …", "Can I see …", "Could you
# check …"): ending on one of them right after "to" or a modal + pronoun leaves the request
# without its object. Whisper often closes such a fragment with "." or "?".
OBJECT_VERBS = frozenset(
    """
    book schedule reschedule cancel change move see check make get find ask refill order
    confirm set arrange
    """.split()
)
_MODALS = frozenset("can could would will may might should shall".split())
_PRONOUNS = frozenset("i you we he she they".split())


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", t.lower()) for t in text.split()) if w]


def ends_on_bare_request_verb(text: str) -> bool:
    """Whether the text ends on a request verb with no object ("I'd like to book.").

    >>> ends_on_bare_request_verb("Can I see?"), ends_on_bare_request_verb("Can I see it?")
    (True, False)
    """
    words = _words(text)
    if len(words) < 2 or words[-1] not in OBJECT_VERBS:
        return False
    if words[-2] == "to":
        return True
    return len(words) >= 3 and words[-3] in _MODALS and words[-2] in _PRONOUNS


# A statement that opens on a possessive subject ("My appointment on Monday", "Our
# daughter's prescription for …") and has no verb yet names a topic the caller has not said
# anything about: callers front the topic and pause before the request ("… I need to
# cancel it"). Verbs are recognised from a closed list of auxiliaries and the verbs of
# everyday requests (with their -s/-ed/-ing forms), pronoun contractions ("I'm", "it's")
# and "-n't"; a verb missed costs a hold, not a cut-off.
_POSSESSIVES = frozenset("my our his her their your".split())
_IRREGULAR_VERBS = frozenset(
    """
    be is are was were am been being do does did done doing have has had having
    can could would will may might should shall must ought
    got gotten went gone came come made took taken gave given felt left kept ran run said
    told thought saw seen knew known found broke broken fell fallen began begun grew grown
    lost bought brought sent spent paid meant put let
    """.split()
)
_REGULAR_VERBS = """
    need want like book schedule reschedule cancel change move see check make get find ask
    refill order confirm set arrange take give start stop expire call help work feel look
    seem say tell think know keep come go happen remain stay end last begin show switch
    cause try use miss forget remember prescribe renew visit wait hurt ache
    """.split()


def _verb_forms(base: str) -> set[str]:
    """A verb's -s, -ed and -ing forms, generously spelled (doubled consonants, y → ie)."""
    stem = base[:-1] if base.endswith("e") else base
    forms = {base, f"{base}s", f"{base}es", f"{stem}ed", f"{stem}ing"}
    forms |= {f"{base}{base[-1]}ed", f"{base}{base[-1]}ing"}  # stopped, cancelling
    if base.endswith("y") and base[-2] not in "aeiou":
        forms |= {f"{base[:-1]}ies", f"{base[:-1]}ied"}  # tries, tried
    return forms


VERBS = _IRREGULAR_VERBS | frozenset(f for b in _REGULAR_VERBS for f in _verb_forms(b))
_CONTRACTION = re.compile(
    r"^(i|you|we|they|he|she|it|that|there|what|who)'[a-z]+$|n't$|'(m|re|ve|ll|d)$"
)


def is_verbless_subject(text: str) -> bool:
    """Whether the text is a possessive subject still waiting for its verb.

    >>> is_verbless_subject("My appointment on Monday."), is_verbless_subject("My arm hurts.")
    (True, False)
    """
    words = _words(text)
    if len(words) < 3 or words[0] not in _POSSESSIVES:
        return False
    return not any(w in VERBS or _CONTRACTION.search(w) for w in words)


# A bare acknowledgement is a whole turn as often as the start of one ("Thank you," [pause]
# "that's all."; "Yes," [pause] "but on Tuesday").
ACKNOWLEDGEMENTS = frozenset(
    """
    yes yeah yep yup no nope okay ok sure alright right fine great perfect good thanks
    thank you well so oh hi hello hey um uh
    """.split()
)


def is_acknowledgement(text: str) -> bool:
    """Whether the whole transcript is a short acknowledgement ("Thank you.", "Yes.").

    >>> is_acknowledgement("Thank you."), is_acknowledgement("Thank you, that's all.")
    (True, False)
    """
    words = _words(text)
    return 0 < len(words) <= 3 and all(w in ACKNOWLEDGEMENTS for w in words)


# A syntactic question starts with a question word or an inverted auxiliary; a statement
# Whisper closed with "?" (rising intonation before a pause: "My appointment on Monday?")
# is not one.
QUESTION_STARTS = frozenset(
    """
    what when where who whom whose which why how
    do does did is are was were am can could would will shall should may might must
    have has had isn't aren't don't doesn't didn't can't couldn't won't wouldn't
    """.split()
)


def is_question(text: str) -> bool:
    """Whether the transcript is a question by its words, not only by its "?".

    >>> is_question("What appointments do I have?"), is_question("My appointment on Monday?")
    (True, False)
    """
    text = text.strip()
    if not text.endswith("?"):
        return False
    words = _words(text)
    return bool(words) and words[0] in QUESTION_STARTS


def looks_unfinished(text: str) -> bool:
    """Whether a transcript visibly stops mid-clause (see module docstring).

    A question or exclamation mark means it did not ("What is it for?"), unless it ends on
    a bare request verb ("Can I see?") or is a possessive subject with no verb yet ("My
    appointment on Monday?").
    """
    text = text.strip()
    if not text:
        return False
    if ends_on_bare_request_verb(text) or is_verbless_subject(text):
        return True
    if text.endswith(("?", "!")):
        return False
    if _TRAILING.search(text):
        return True
    words = _words(text)
    return bool(words) and words[-1] in UNFINISHED_WORDS


@dataclass(frozen=True)
class TurnTaking:
    """VAD and end-of-turn knobs (seconds)."""

    vad_confidence: float = 0.7
    vad_start_secs: float = 0.2
    vad_stop_secs: float = 0.2
    smart_turn: bool = True
    smart_turn_fallback_secs: float = 1.2  # silence that ends a turn smart-turn calls unfinished
    min_silence_secs: float = 0.0
    unfinished_hold_secs: float = 1.0
    question_silence_secs: float = 0.3  # 0: a "?" does not override smart-turn
    speculation_secs: float = 0.064  # < 0: no speculative STT/smart-turn at the pause
    uncertain_below: float = 0.85  # smart-turn "complete" below this probability is unsure
    uncertain_hold_secs: float = 1.0  # silence an unsure statement waits for (0: off)
    short_hold_secs: float = 0.4  # silence a bare acknowledgement waits for (0: off)

    @classmethod
    def from_settings(cls, settings: Any) -> TurnTaking:
        """The knobs from an ``EchoSettings`` (missing fields keep these defaults)."""
        defaults = cls()
        names = {
            "vad_confidence": "vad_confidence",
            "vad_start_secs": "vad_start_secs",
            "vad_stop_secs": "vad_stop_secs",
            "smart_turn": "smart_turn",
            "smart_turn_fallback_secs": "smart_turn_fallback_secs",
            "min_silence_secs": "turn_min_silence_secs",
            "unfinished_hold_secs": "turn_unfinished_hold_secs",
            "question_silence_secs": "turn_question_silence_secs",
            "speculation_secs": "turn_speculation_secs",
            "uncertain_below": "turn_uncertain_below",
            "uncertain_hold_secs": "turn_uncertain_hold_secs",
            "short_hold_secs": "turn_short_hold_secs",
        }
        return cls(
            **{
                knob: getattr(settings, field, getattr(defaults, knob))
                for knob, field in names.items()
            }
        )


class EchoTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart-turn end of turn that waits for every segment's transcript (see module doc)."""

    def __init__(
        self,
        *,
        min_silence_secs: float = 0.0,
        unfinished_hold_secs: float = 0.0,
        question_silence_secs: float = 0.0,
        uncertain_below: float = 0.0,
        uncertain_hold_secs: float = 0.0,
        short_hold_secs: float = 0.0,
        clock=time.time,
        **kwargs,
    ):
        """Initialize the strategy.

        Args:
            min_silence_secs: Silence after the end of speech every end of turn waits for.
            unfinished_hold_secs: Silence an unfinished-looking transcript waits for.
            question_silence_secs: Silence after which a transcript ending in "?" ends a
                turn smart-turn called unfinished (0: never).
            uncertain_below: Smart-turn probability of "complete" under which a statement
                (not a "?") is an unsure end of turn.
            uncertain_hold_secs: Silence an unsure end of turn waits for (0: none).
            short_hold_secs: Silence a bare acknowledgement waits for (0: none).
            clock: Wall clock in seconds, the clock of ``VADUserStoppedSpeakingFrame``.
            **kwargs: ``turn_analyzer=...`` and the rest of
                ``TurnAnalyzerUserTurnStopStrategy``'s arguments.
        """
        super().__init__(**kwargs)
        self._min_silence = min_silence_secs
        self._unfinished_hold = unfinished_hold_secs
        self._question_silence = question_silence_secs
        self._uncertain_below = uncertain_below
        self._uncertain_hold = uncertain_hold_secs
        self._short_hold = short_hold_secs
        self._voice_onset = False  # voice came back; the VAD is confirming a start
        self._probability: float | None = None  # smart-turn's last P(complete) this turn
        self._overruled = False  # this end of turn comes from the "?" rule
        self._clock = clock
        self._pending_segments = 0
        self._speech_end: float | None = None
        self._hold_task: asyncio.Task | None = None

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
        await super()._handle_transcription(frame)
        if self._answerable_question():
            self._turn_complete = self._overruled = True  # the "?" overrules smart-turn
            await self._maybe_trigger_user_turn_stopped()

    def _answerable_question(self) -> bool:
        return (
            self._question_silence > 0
            and not self._turn_complete
            and self._vad_stopped
            and not self._vad_user_speaking
            and self._pending_segments == 0
            and is_question(self._text)
        )

    def required_silence(self) -> float:
        """Seconds of silence this end of turn must have had, given the transcript so far."""
        need = self._min_silence
        if self._unfinished_hold and looks_unfinished(self._text):
            need = max(need, self._unfinished_hold)
        elif self._overruled:
            need = max(need, self._question_silence)
        elif self._unsure():
            need = max(need, self._uncertain_hold)
        elif self._short_hold and is_acknowledgement(self._text):
            need = max(need, self._short_hold)
        return need

    def _unsure(self) -> bool:
        """Smart-turn said complete, but not confidently, about a statement."""
        return (
            self._uncertain_hold > 0
            and self._probability is not None
            and self._probability < self._uncertain_below
            and not is_question(self._text)
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
            f" {self.required_silence():.2f} s, question={is_question(self._text)},"
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
