"""The grammar of a spoken clause: word classes, and the rules that see a part missing.

Plain functions over a transcript's text, used by the end-of-turn rules
(:mod:`pipelines.turn_text`): a request verb still waiting for its object
(:func:`ends_on_bare_request_verb`), a possessive subject with no verb yet
(:func:`is_verbless_subject`) and the other ways a clause visibly owes a part
(:func:`owes_a_part`), with the closed word lists they read.
"""

from __future__ import annotations

import re

from clinic.wording.phrases import sentences

PREPOSITIONS = frozenset(
    """
    to of in on at for with from by about into onto over under after before between during
    without than like as
    """.split()
)
COPULA = frozenset("is are was were".split())
FILLERS = frozenset("um uh er erm uhm hmm".split())
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
WH_WORDS = frozenset("what which who whom whose how where when why".split())
_PARTICLES = frozenset("up out over back through down".split())  # "look up", "fill out"
_MODALS = frozenset("can could would will may might should shall".split())
PRONOUNS = frozenset("i you we he she they".split())
_WANTING = frozenset("i'd we'd you'd would".split())  # "I'd like …"
_ADVERBS = frozenset("just really also still only actually definitely probably been".split())


_ABBREVIATION = re.compile(r"\b(Dr|Mr|Mrs|Ms|St)\.", re.IGNORECASE)


def last_sentence(text: str) -> str:
    """The text's last sentence (a title such as "Dr." does not end one)."""
    return (sentences(_ABBREVIATION.sub(r"\1", text)) or [""])[-1]


def _is_wh_question(text: str) -> bool:
    sentence = last_sentence(text)
    words = split_words(sentence)
    return sentence.endswith("?") and bool(words) and words[0] in WH_WORDS


def split_words(text: str) -> list[str]:
    """The text's words, lower-cased, without punctuation (apostrophes kept)."""
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
    words = split_words(text)
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
        if len(words) >= 3 and words[-3] in _MODALS and words[-2] in PRONOUNS:
            return True
    if last in ("like", "prefer", "love") and words[-2] in _WANTING:
        return True
    if not _object_form(last):
        return False
    before = words[-2]
    return (before in PRONOUNS or before in _ADVERBS) and not WH_WORDS & set(words)


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
    words = split_words(text)
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
AUXILIARIES = frozenset("can could would will do does did should may might shall".split()) | COPULA
# Verbs that take a person and then the thing: "can you tell me" still owes the thing.
_DITRANSITIVE = frozenset("tell give show send let remind bring".split())
OBJECT_PRONOUNS = frozenset("me us him her them".split())
_CONTRACTED_SUBJECT = re.compile(
    r"^(i|you|he|she|it|we|they|that|there|here|what|who)'(s|m|re|ll|d|ve)$"
)
_COMPLEMENTIZERS = frozenset("that whether".split())
# Verbs of saying and knowing, after which "that" opens a clause (not a pronoun).
SAYING = frozenset(
    "said says told think thought know knew heard hear mean realized noticed sure afraid".split()
)


def last_clause(text: str) -> str:
    """The text after its last comma or sentence end."""
    return re.split(r"[,.;:?!]\s+", _ABBREVIATION.sub(r"\1", text.strip()))[-1]


_INDEFINITES = frozenset("somebody someone anybody anyone everyone".split())
_TITLES = frozenset("dr doctor mr mrs ms nurse".split())
_DETERMINERS = frozenset("the my your our his her their a an this that".split())
_SOFTENERS = frozenset("please just also really maybe possibly".split())


def _subject(rest: list[str]) -> list[str] | None:
    """The subject at the start of an inverted clause's remainder (a short guess), if any."""
    head = rest[0]
    if head in PRONOUNS or head == "it":
        return rest[:1]
    if head in _TITLES or head in _DETERMINERS:
        return rest[:2]
    if head in _INDEFINITES:
        if len(rest) > 1 and rest[1] in PREPOSITIONS:
            return rest[:5]  # "somebody from the office"
        return rest[:1]
    return None


def _verbless_inversion(clause: list[str]) -> bool:
    """An inverted question whose subject came and whose verb did not (or lacks its object)."""
    aux = next((i for i, w in enumerate(clause[:3]) if w in AUXILIARIES - COPULA), None)
    if aux is None or (aux > 0 and clause[0] not in WH_WORDS):
        return False
    rest = clause[aux + 1 :]
    subject = _subject(rest) if rest else None
    if subject is None:
        return False
    tail = rest[len(subject) :]
    if not tail:
        return not (len(subject) == 1 and subject[0] in PRONOUNS | {"it"})  # "Can I?"
    if all(w in _SOFTENERS for w in tail):
        return True  # "could you please"
    return len(tail) == 1 and tail[0] in OBJECT_VERBS and subject[0] not in PRONOUNS


def _complement_without_verb(words: list[str]) -> bool:
    """A "that"/"whether" clause opened after a verb, with its subject but no verb yet."""
    for i in range(len(words) - 2, 0, -1):
        if words[i] in _COMPLEMENTIZERS and (
            words[i - 1] in SAYING or words[i - 1] in OBJECT_PRONOUNS
        ):
            rest = words[i + 1 :]
            opens = rest[0] in _DETERMINERS or rest[0] in PRONOUNS
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
    words = split_words(text)
    if len(words) < 2:
        return False
    first, last = words[0], words[-1]
    if first in AUXILIARIES and len(words) <= 4 and last in _OPEN_SUBJECT_ENDS:
        return True  # "can somebody", "could you please": the verb is still to come
    if _CONTRACTED_SUBJECT.search(last):
        return True  # "but he's", "I'm": a contracted auxiliary never ends a clause
    clause = split_words(last_clause(text))
    if _verbless_inversion(clause):
        return True  # "which days does Dr. Castellanos", "could somebody from the office"
    if last in _MODALS and WH_WORDS & set(words[:-1]):
        return True  # "when is the soonest I could"
    if len(words) > 2 and words[-2:] in (["a", "little"], ["a", "bit"]):
        return True  # "something a little …"
    if last in ("someone", "somebody") and words[-2] in ("have", "let", "get", "ask"):
        return True  # "please have someone …"
    if len(words) >= 4 and words[-2] in ("what", "which") and words[0] not in WH_WORDS:
        return True  # "can you tell me what time …"
    if _complement_without_verb(words):
        return True  # "told me that my prescription for sertraline"
    if last in OBJECT_PRONOUNS and words[-2] in _DITRANSITIVE:
        return True
    if last in ("have", "got", "prefer") and first not in _ANSWER_OPENERS and len(words) <= 3:
        before = words[-2]
        if before in PRONOUNS or before.endswith(("'ve", "'d")) or before in ("would", "also"):
            return True
    return (
        first in _SUBORDINATORS
        and "," not in text
        and not _is_wh_question(text)
        and _has_verb(words[1:])
    )
