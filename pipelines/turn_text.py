"""What a turn's transcript says about the end of turn: unfinished, a question, a short reply.

Plain functions the end-of-turn strategy (:mod:`pipelines.turn_taking`) reads the turn's
text with:

* :func:`looks_unfinished`: the transcript visibly stops mid-clause. It ends on an article,
  preposition, conjunction, possessive, filler or "is/are/was/were", or with "…", "," or
  "-"; or a clause owes a part (:mod:`pipelines.clauses`: a bare request verb, a
  possessive subject with no verb yet such as "My appointment on Monday.", an inverted
  question with no verb).
* :func:`is_question`: a question by its words, not only by its "?" (it starts with a
  question word or an inverted auxiliary).
* :func:`is_acknowledgement`: the whole turn is a bare acknowledgement ("Thank you.",
  "Yes.").
"""

from __future__ import annotations

import re

from pipelines.clauses import (
    AUXILIARIES,
    COPULA,
    FILLERS,
    OBJECT_PRONOUNS,
    PREPOSITIONS,
    PRONOUNS,
    SAYING,
    VERBS,
    WH_WORDS,
    ends_on_bare_request_verb,
    is_verbless_subject,
    last_clause,
    last_sentence,
    owes_a_part,
    split_words,
)

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
    | PREPOSITIONS
    | COPULA
    | FILLERS
)
_TRAILING = re.compile(r"(\.\.\.|…|,|-|–|—)\s*$")
# Prepositions that also stand alone as adverbs ("the night before?").
_ADVERBIAL_PREPOSITIONS = frozenset("before after over in on under by".split())
# A preposition that can be a verb's particle ("hold on", "sent over", "I think so") ends
# a clause after a verb; after a noun ("an appointment on") it does not.
_PARTICLE_ABLE = frozenset("on in over out up down off back through by so".split())
_PARTICLE_VERBS = frozenset("hold hang speak sign log follow drop think hope guess".split())
# Discourse openers a question may start with before its question word.
_OPENERS = FILLERS | frozenset("so and but okay ok oh well hi hey yeah yes also".split())


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
    words = split_words(text)
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
    for part in (last_sentence(text), last_clause(text)):
        words = [w for w in split_words(part) if w not in _OPENERS]  # "Um, so can you …?"
        if words and words[0] in QUESTION_STARTS:
            return True
    return False


def looks_unfinished(text: str) -> bool:
    """Whether a transcript visibly stops mid-clause (see the module docstring).

    A question or exclamation mark means it did not ("What is it for?"), unless it ends on
    a bare request verb ("Can I see?") or is a possessive subject with no verb yet ("My
    appointment on Monday?").
    """
    text = text.strip()
    if not text:
        return False
    if ends_on_bare_request_verb(text) or is_verbless_subject(text) or owes_a_part(text):
        return True
    words = split_words(text)
    if len(words) < 2:
        return _TRAILING.search(text) is not None or (bool(words) and words[0] in FILLERS)
    last, wh = words[-1], bool(WH_WORDS & set(words))
    if last in _PARTICLE_ABLE:
        before = words[-2]
        if before in VERBS or before in _PARTICLE_VERBS or before in OBJECT_PRONOUNS:
            return False  # a particle: "hold on", "sent over", "book me in", "I think so"
    clause = split_words(last_clause(text))
    if (
        last in ("that", "this", "those", "these")
        and words[-2] not in SAYING
        and (words[-2] in VERBS or words[-2] in PREPOSITIONS or words[-2].endswith("n't"))
    ):
        return False  # a pronoun object: "I'd like that", "sorry about that"
    if last in COPULA and clause and WH_WORDS & set(clause[1:]):
        return False  # "… what my copay is" (but "What I'd like is" still owes its part)
    if text.endswith(("?", "!")):
        # Whisper closes a rising fragment with "?": "I'm trying to?" is unfinished, but a
        # question may end on a preposition ("Who is it for?", "the night before?") or an
        # elliptical subject ("Can I?").
        if last in PREPOSITIONS and (wh or last in _ADVERBIAL_PREPOSITIONS):
            return False
        if last in PRONOUNS and words[0] in AUXILIARIES:
            return False
        return last in UNFINISHED_WORDS
    if _TRAILING.search(text):
        return True
    return last in UNFINISHED_WORDS
