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

from clinic.wording import sentences

_PREPOSITIONS = frozenset(
    """
    to of in on at for with from by about into onto over under after before between during
    without than like as
    """.split()
)
_COPULA = frozenset("is are was were".split())
_FILLERS = frozenset("um uh er erm uhm hmm".split())
# Words a statement rarely ends on: articles, prepositions, conjunctions, possessives and
# determiners, fillers, subject pronouns (a subject still waiting for its verb) and the
# copula's third-person/plural forms. Other auxiliaries are left out: "Yes, I do." and
# "I can." are complete answers.
UNFINISHED_WORDS = (
    frozenset(
        """
        a an the
        and or but so because if that when while although unless whether which
        my your his her its our their these those some any each every
        i we he she they who whom whose
        """.split()
    )
    | _PREPOSITIONS
    | _COPULA
    | _FILLERS
)
_TRAILING = re.compile(r"(\.\.\.|…|,|-|–|—)\s*$")
# Verbs that take an object or a complement. After "to" or a modal + pronoun ("… to
# have", "could you tell"), ending on one leaves the clause without it; Whisper often closes
# such a fragment with "." or "?".
OBJECT_VERBS = frozenset(
    """
    book schedule reschedule cancel change move see check make get find ask refill order
    confirm set arrange have know tell give take bring send request renew discuss look put
    pick fill be
    """.split()
)
# Of those, the ones that cannot end a clause after any subject either ("I need", "we
# want", "I've been having"): the object is missing unless a wh-word stands for it.
NEEDS_OBJECT = frozenset(
    """
    need want book schedule reschedule cancel move check make find refill order confirm
    arrange give tell bring send request renew discuss put having getting taking
    """.split()
)
_WH_WORDS = frozenset("what which who whom whose how where when why".split())
# Prepositions that also stand alone as adverbs ("the night before?").
_ADVERBIAL_PREPOSITIONS = frozenset("before after over in on under by".split())
_PARTICLES = frozenset("up out over back through down".split())  # "look up", "fill out"
_MODALS = frozenset("can could would will may might should shall".split())
_PRONOUNS = frozenset("i you we he she they".split())
_WANTING = frozenset("i'd we'd you'd would".split())  # "I'd like …"
_ADVERBS = frozenset("just really also still only actually definitely probably been".split())
# A preposition that can be a verb's particle ("hold on", "sent over", "I think so") ends
# a clause after a verb; after a noun ("an appointment on") it does not.
_PARTICLE_ABLE = frozenset("on in over out up down off back through by so".split())
_PARTICLE_VERBS = frozenset("hold hang speak sign log follow drop think hope guess".split())


_ABBREVIATION = re.compile(r"\b(Dr|Mr|Mrs|Ms|St)\.", re.IGNORECASE)


def _last_sentence(text: str) -> str:
    return (sentences(_ABBREVIATION.sub(r"\1", text)) or [""])[-1]


def _is_wh_question(text: str) -> bool:
    sentence = _last_sentence(text)
    words = _words(sentence)
    return sentence.endswith("?") and bool(words) and words[0] in _WH_WORDS


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w']", "", t.lower()) for t in text.split()) if w]


def _object_form(word: str) -> bool:
    return word in NEEDS_OBJECT or (word.endswith("s") and word[:-1] in NEEDS_OBJECT)


def ends_on_bare_request_verb(text: str) -> bool:
    """Whether the text ends on a verb still waiting for its object or complement.

    * a verb of :data:`OBJECT_VERBS` right after "to" or a modal + pronoun ("… to have",
      "could you tell"), or followed by a bare particle ("could you look up");
    * a verb of :data:`NEEDS_OBJECT` after any subject ("I need", "we want"), unless a
      wh-word in the sentence is its object ("What do I need?");
    * "like" after "I'd" or "would".

    >>> ends_on_bare_request_verb("Can I see?"), ends_on_bare_request_verb("Can I see it?")
    (True, False)
    """
    words = _words(text)
    if len(words) < 2:
        return False
    last = words[-1]
    if _is_wh_question(text):
        return False  # its wh-word is the object: "What do I need to bring?"
    if last in _PARTICLES and len(words) >= 3:
        words, last = words[:-1], words[-2]  # the particle's verb
    if last in OBJECT_VERBS:
        if words[-2] == "to":
            return True
        if len(words) >= 3 and words[-3] in _MODALS and words[-2] in _PRONOUNS:
            return True
    if last in ("like", "prefer", "love") and words[-2] in _WANTING:
        return True
    if not _object_form(last):
        return False
    before = words[-2]
    return (before in _PRONOUNS or before in _ADVERBS) and not _WH_WORDS & set(words)


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
    seem say tell think know keep come go happen remain stay end begin show switch
    cause try use miss forget remember prescribe renew visit wait hurt ache
    catch repeat hear mean pay accept send fax explain love prefer enjoy appreciate
    understand recommend answer email text sign follow
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
    if len(words) < 2 or words[0] not in _POSSESSIVES:
        return False
    if len(words) > 6 and "," not in text:
        return False  # longer and plain: a verb the closed lists miss is likely
    return not _has_verb(words)


def _has_verb(words: list[str]) -> bool:
    return any(
        w in VERBS or _CONTRACTION.search(w) or (len(w) > 4 and w.endswith("ed")) for w in words
    )


# Subordinators: a text that is one subordinate clause ("If it's not too much trouble")
# still owes its main clause.
_SUBORDINATORS = frozenset("if when because although though since unless whenever".split())
_AUXILIARIES = (
    frozenset("can could would will do does did should may might shall".split()) | _COPULA
)
# Verbs that take a person and then the thing: "can you tell me" still owes the thing.
_DITRANSITIVE = frozenset("tell give show send let remind bring".split())
_OBJECT_PRONOUNS = frozenset("me us him her them".split())
# Discourse openers a question may start with before its question word.
_OPENERS = _FILLERS | frozenset("so and but okay ok oh well hi hey yeah yes also".split())
_CONTRACTED_SUBJECT = re.compile(
    r"^(i|you|he|she|it|we|they|that|there|here|what|who)'(s|m|re|ll|d|ve)$"
)
_COMPLEMENTIZERS = frozenset("that whether".split())
# Verbs of saying and knowing, after which "that" opens a clause (not a pronoun).
_SAYING = frozenset(
    "said says told think thought know knew heard hear mean realized noticed sure afraid".split()
)


def _last_clause(text: str) -> str:
    """The text after its last comma or sentence end."""
    return re.split(r"[,.;:?!]\s+", _ABBREVIATION.sub(r"\1", text.strip()))[-1]


_INDEFINITES = frozenset("somebody someone anybody anyone everyone".split())
_TITLES = frozenset("dr doctor mr mrs ms nurse".split())
_DETERMINERS = frozenset("the my your our his her their a an this that".split())
_SOFTENERS = frozenset("please just also really maybe possibly".split())


def _subject(rest: list[str]) -> list[str] | None:
    """The subject at the start of an inverted clause's remainder (a short guess), if any."""
    head = rest[0]
    if head in _PRONOUNS or head == "it":
        return rest[:1]
    if head in _TITLES or head in _DETERMINERS:
        return rest[:2]
    if head in _INDEFINITES:
        if len(rest) > 1 and rest[1] in _PREPOSITIONS:
            return rest[:5]  # "somebody from the office"
        return rest[:1]
    return None


def _verbless_inversion(clause: list[str]) -> bool:
    """An inverted question whose subject came and whose verb did not (or lacks its object)."""
    aux = next((i for i, w in enumerate(clause[:3]) if w in _AUXILIARIES - _COPULA), None)
    if aux is None or (aux > 0 and clause[0] not in _WH_WORDS):
        return False
    rest = clause[aux + 1 :]
    subject = _subject(rest) if rest else None
    if subject is None:
        return False
    tail = rest[len(subject) :]
    if not tail:
        return not (len(subject) == 1 and subject[0] in _PRONOUNS | {"it"})  # "Can I?"
    if all(w in _SOFTENERS for w in tail):
        return True  # "could you please"
    return len(tail) == 1 and tail[0] in OBJECT_VERBS and subject[0] not in _PRONOUNS


def _complement_without_verb(words: list[str]) -> bool:
    """A "that"/"whether" clause opened after a verb, with its subject but no verb yet."""
    for i in range(len(words) - 2, 0, -1):
        if words[i] in _COMPLEMENTIZERS and (
            words[i - 1] in _SAYING or words[i - 1] in _OBJECT_PRONOUNS
        ):
            rest = words[i + 1 :]
            opens = rest[0] in _DETERMINERS or rest[0] in _PRONOUNS
            return len(rest) >= 2 and opens and not _has_verb(rest)
    return False


_ANSWER_OPENERS = frozenset("yes yeah yep no nope".split())
# What an inverted question's subject part can end on before its verb.
_OPEN_SUBJECT_ENDS = frozenset(
    "please somebody someone anybody anyone guys folks people all".split()
)


def owes_a_part(text: str) -> bool:
    """Whether the clause is visibly missing a part, whatever its closing punctuation.

    * an inverted question with no verb after its subject ("Could you please", "Do you
      guys");
    * a verb that takes a person and a thing with only the person ("can you tell me");
    * a subject with "have"/"got"/"prefer" and nothing after ("I have", "I've got", "I'd
      prefer"), unless it answers yes or no ("Yes, I have.");
    * a lone subordinate clause ("If it's not too much trouble").

    >>> owes_a_part("Could you please?"), owes_a_part("Could you please call me?")
    (True, False)
    """
    words = _words(text)
    if len(words) < 2:
        return False
    first, last = words[0], words[-1]
    if first in _AUXILIARIES and len(words) <= 4 and last in _OPEN_SUBJECT_ENDS:
        return True  # "can somebody", "could you please": the verb is still to come
    if _CONTRACTED_SUBJECT.search(last):
        return True  # "but he's", "I'm": a contracted auxiliary never ends a clause
    clause = _words(_last_clause(text))
    if _verbless_inversion(clause):
        return True  # "which days does Dr. Castellanos", "could somebody from the office"
    if last in _MODALS and _WH_WORDS & set(words[:-1]):
        return True  # "when is the soonest I could"
    if len(words) > 2 and words[-2:] in (["a", "little"], ["a", "bit"]):
        return True  # "something a little …"
    if last in ("someone", "somebody") and words[-2] in ("have", "let", "get", "ask"):
        return True  # "please have someone …"
    if len(words) >= 4 and words[-2] in ("what", "which") and words[0] not in _WH_WORDS:
        return True  # "can you tell me what time …"
    if _complement_without_verb(words):
        return True  # "told me that my prescription for sertraline"
    if last in _OBJECT_PRONOUNS and words[-2] in _DITRANSITIVE:
        return True
    if last in ("have", "got", "prefer") and first not in _ANSWER_OPENERS and len(words) <= 3:
        before = words[-2]
        if before in _PRONOUNS or before.endswith(("'ve", "'d")) or before in ("would", "also"):
            return True
    return (
        first in _SUBORDINATORS
        and "," not in text
        and not _is_wh_question(text)
        and _has_verb(words[1:])
    )


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
    for part in (_last_sentence(text), _last_clause(text)):
        words = [w for w in _words(part) if w not in _OPENERS]  # "Um, so can you …?"
        if words and words[0] in QUESTION_STARTS:
            return True
    return False


def looks_unfinished(text: str) -> bool:
    """Whether a transcript visibly stops mid-clause (see module docstring).

    A question or exclamation mark means it did not ("What is it for?"), unless it ends on
    a bare request verb ("Can I see?") or is a possessive subject with no verb yet ("My
    appointment on Monday?").
    """
    text = text.strip()
    if not text:
        return False
    if ends_on_bare_request_verb(text) or is_verbless_subject(text) or owes_a_part(text):
        return True
    words = _words(text)
    if len(words) < 2:
        return _TRAILING.search(text) is not None or (bool(words) and words[0] in _FILLERS)
    last, wh = words[-1], bool(_WH_WORDS & set(words))
    if last in _PARTICLE_ABLE:
        before = words[-2]
        if before in VERBS or before in _PARTICLE_VERBS or before in _OBJECT_PRONOUNS:
            return False  # a particle: "hold on", "sent over", "book me in", "I think so"
    clause = _words(_last_clause(text))
    if (
        last in ("that", "this", "those", "these")
        and words[-2] not in _SAYING
        and (words[-2] in VERBS or words[-2] in _PREPOSITIONS or words[-2].endswith("n't"))
    ):
        return False  # a pronoun object: "I'd like that", "sorry about that"
    if last in _COPULA and clause and _WH_WORDS & set(clause[1:]):
        return False  # "… what my copay is" (but "What I'd like is" still owes its part)
    if text.endswith(("?", "!")):
        # Whisper closes a rising fragment with "?": "I'm trying to?" is unfinished, but a
        # question may end on a preposition ("Who is it for?", "the night before?") or an
        # elliptical subject ("Can I?").
        if last in _PREPOSITIONS and (wh or last in _ADVERBIAL_PREPOSITIONS):
            return False
        if last in _PRONOUNS and words[0] in _AUXILIARIES:
            return False
        return last in UNFINISHED_WORDS
    if _TRAILING.search(text):
        return True
    return last in UNFINISHED_WORDS


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
            self._question_silence > 0
            and not self._turn_complete
            and self._vad_stopped
            and not self._vad_user_speaking
            and self._pending_segments == 0
            and is_question(self.turn_text)
        )

    def required_silence(self) -> float:
        """Seconds of silence this end of turn must have had, given the transcript so far."""
        need = self._min_silence
        if self._unfinished_hold and looks_unfinished(self.turn_text):
            need = max(need, self._unfinished_hold)
        elif self._overruled:
            need = max(need, self._question_silence)
        elif self._unsure():
            need = max(need, self._uncertain_hold)
        elif self._short_hold and is_acknowledgement(self.turn_text):
            need = max(need, self._short_hold)
        return need

    def _unsure(self) -> bool:
        """Smart-turn said complete, but not confidently, about a statement."""
        return (
            self._uncertain_hold > 0
            and self._probability is not None
            and self._probability < self._uncertain_below
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
