"""The vocabulary file's content read into terms, spoken forms, confusions and cues.

``parse_vocabulary`` takes the parsed JSON/YAML object (see :mod:`vocabulary.lexicon` for
the format) and checks it: every list-valued key other than ``confusions``/``cues`` is a
category, an entry is a string or ``{term, spoken?, confusions?}``, and a confusion must
point to a known term. Problems raise :class:`VocabularyError` naming the source and the
entry. Context cues are the built-in ``DEFAULT_CUES`` extended by the file's ``cues``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vocabulary.phonetic import phonetic_key, spell_letters
from vocabulary.words import Token, normalize_words, tokenize

CATEGORY_NAMES = {
    "providers": "provider",
    "provider": "provider",
    "doctors": "provider",
    "medications": "medication",
    "medication": "medication",
    "drugs": "medication",
    "specialties": "specialty",
    "specialty": "specialty",
    "departments": "specialty",
    "procedures": "procedure",
    "procedure": "procedure",
    "tests": "procedure",
}
RESERVED_KEYS = {"confusions", "cues", "name", "version", "description"}
_TITLE_RE = re.compile(r"^\s*(dr\.?|doctor|prof\.?|professor)\s+", re.IGNORECASE)

# Context cues per category: phrases right before the term (a filler such as "my" may sit
# between) or right after it. Generic clinic-call wording, extendable from the file.
DEFAULT_CUES: dict[str, dict[str, str]] = {
    # Providers are cued by a title right before the name ("Dr.", "Doctor"), see
    # vocabulary.words.TITLE_WORDS; extra phrases can be added from the vocabulary file.
    "provider": {"before": "", "after": ""},
    "medication": {
        "before": """take | takes | taking | took | keep taking | stop taking | stopped taking |
            refill | refilled | refills | prescribed | prescribed me | prescribe | prescribe me |
            out of | been on | stay on | staying on | start | started | starting | stop |
            stopped | stopping | switch | switched | switch me from | try | tried | trying |
            dose of | doses of | dosage of | milligrams of | mg of | bottle of | supply of |
            days of | script for | prescription for | generic for | generic | allergic to |
            allergy to | reaction to | side effects of | pharmacy | medication | medicine |
            increase | increase my | lower my | double my""",
        "after": """prescription | prescriptions | refill | refills | dose | doses | dosage |
            tablet | tablets | pill | pills | capsule | capsules | mg | milligrams | injection |
            injections | inhaler | medication | medicine | side effects | with food |
            upset my | makes me | made me | is making me | twice a day | once a day |
            every morning | every night | at night | in the morning""",
    },
    "specialty": {
        "before": """referral to | referral for | refer me to | referred to | referred me to |
            sent to | sent me to | opening in | openings in | appointment in |
            appointment with | somebody in | someone in | doctor in | specialist in |
            department of | wait for | call in | over in | works in | hear back from""",
        "after": """department | clinic | specialist | specialists | doctor | doctors |
            appointment | appointments | see | sees | office | referral | unit | team | nurse |
            accept | accepts | wing | floor | waiting list""",
    },
    "procedure": {
        "before": """schedule | scheduled | book | booked | get my | have my | need a | for a |
            for my | before my | after my | before the | after the | due for | results of |
            ready for""",
        "after": """results | result | done | scan | test | appointment | report | booked |
            scheduled | due | take | tech | technician | covered | prep | preparation""",
    },
}


class VocabularyError(ValueError):
    """The vocabulary file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class SpokenForm:
    """One way a term is said, ready for exact and fuzzy matching.

    Attributes:
        term: Index of the term in ``Lexicon.terms``.
        tokens: Normalized words ("doctor", "patel").
        joined: The words run together ("doctorpatel"), for exact matching.
        keys: Phonetic keys: of the words as read, and of the letters said one by one for
            acronyms.
        display: What replaces a misheard span matching this form ("Patel" for "Dr. Patel").
    """

    term: int
    tokens: tuple[str, ...]
    joined: str
    keys: tuple[str, ...]
    display: str


@dataclass(frozen=True)
class Term:
    """A vocabulary term: canonical text, category, and how it is said."""

    text: str
    category: str
    name: str
    forms: tuple[SpokenForm, ...] = ()


@dataclass(frozen=True)
class Cues:
    """Context phrases that announce a category, before or after a span."""

    before: tuple[tuple[str, ...], ...]
    after: tuple[tuple[str, ...], ...]


def parse_vocabulary(
    data: Mapping, source: str
) -> tuple[list[Term], list[SpokenForm], dict[tuple[str, ...], int], dict[str, Cues]]:
    """Terms, their spoken forms, the confusion table and the cues of a vocabulary object.

    Args:
        data: The parsed file content.
        source: Where it came from, for error messages.

    Returns:
        ``(terms, forms, confusions, cues)``; ``confusions`` maps heard words to a term
        index.

    Raises:
        VocabularyError: A malformed entry or a confusion pointing to an unknown term.
    """
    terms: list[Term] = []
    forms: list[SpokenForm] = []
    by_text: dict[str, int] = {}
    pending: list[tuple[str, str]] = []
    for key, entries in data.items():
        if key in RESERVED_KEYS:
            continue
        if not isinstance(entries, list):
            raise VocabularyError(f"{source}: category '{key}' must be a list of terms")
        category = CATEGORY_NAMES.get(str(key).lower(), str(key).lower())
        for entry in entries:
            text, spoken, confusions = _parse_entry(entry, source, key)
            if text.lower() in by_text:
                continue  # duplicates are harmless; keep the first
            index = len(terms)
            term_forms = _make_forms(index, text, spoken)
            if not term_forms:
                raise VocabularyError(f"{source}: term {text!r} has no letters to match")
            name = _TITLE_RE.sub("", text) if category == "provider" else text
            terms.append(Term(text, category, name, tuple(term_forms)))
            forms.extend(term_forms)
            by_text[text.lower()] = index
            pending.extend((heard, text) for heard in confusions)
    pending.extend(_top_confusions(data.get("confusions") or {}, source))
    table: dict[tuple[str, ...], int] = {}
    for heard, target in pending:
        index = by_text.get(target.lower())
        if index is None:
            raise VocabularyError(
                f"{source}: confusion {heard!r} points to unknown term {target!r}"
            )
        words = normalize_words(heard)
        if words:
            table[words] = index
    return terms, forms, table, _build_cues(data.get("cues") or {}, source)


def _top_confusions(raw, source: str) -> list[tuple[str, str]]:
    """The top-level ``confusions``: an object heard → term, or a list of {heard, term}."""
    if isinstance(raw, Mapping):
        return [(str(k), str(v)) for k, v in raw.items()]
    if not isinstance(raw, list):
        raise VocabularyError(f"{source}: 'confusions' must be an object or a list")
    pairs = []
    for item in raw:
        if not isinstance(item, Mapping) or "heard" not in item or "term" not in item:
            raise VocabularyError(
                f"{source}: each confusion needs 'heard' and 'term', got {item!r}"
            )
        pairs.append((str(item["heard"]), str(item["term"])))
    return pairs


def _parse_entry(entry, source: str, key: str) -> tuple[str, list[str], list[str]]:
    if isinstance(entry, str):
        text, spoken, confusions = entry, [], []
    elif isinstance(entry, Mapping):
        text = entry.get("term") or entry.get("text") or entry.get("name")
        spoken = entry.get("spoken") or []
        confusions = entry.get("confusions") or entry.get("misheard") or []
        if isinstance(spoken, str):
            spoken = [spoken]
        if isinstance(confusions, str):
            confusions = [confusions]
        if not isinstance(spoken, list) or not isinstance(confusions, list):
            raise VocabularyError(f"{source}: 'spoken'/'confusions' of {text!r} must be lists")
    else:
        raise VocabularyError(f"{source}: entries of '{key}' must be strings or objects")
    if not isinstance(text, str) or not text.strip():
        raise VocabularyError(f"{source}: an entry of '{key}' has no term text: {entry!r}")
    return text.strip(), [str(s) for s in spoken], [str(c) for c in confusions]


def _form_keys(words: list[Token]) -> tuple[str, ...]:
    keys = [phonetic_key(" ".join(w.norm for w in words))]
    if any(w.acronym for w in words):
        lettered = "".join(spell_letters(w.norm) if w.acronym else w.norm for w in words)
        keys.append(phonetic_key(lettered))
    return tuple(dict.fromkeys(k for k in keys if k))


def _make_forms(index: int, text: str, spoken: list[str]) -> list[SpokenForm]:
    forms: list[SpokenForm] = []
    title = _TITLE_RE.match(text)
    name = text[title.end() :] if title else text

    def add(phrase: str) -> None:
        words = tokenize(phrase)
        if not words:
            return
        tokens = tuple(w.norm for w in words)
        if any(f.tokens == tokens for f in forms):
            return
        forms.append(SpokenForm(index, tokens, "".join(tokens), _form_keys(words), name))

    add(name)
    for phrase in spoken:
        phrase_title = _TITLE_RE.match(phrase)
        add(phrase[phrase_title.end() :] if phrase_title else phrase)
    return forms


def _phrases(text: str | list[str]) -> list[str]:
    """Cue phrases from a ``|``-separated string (or a list of phrases)."""
    if isinstance(text, str):
        return [p.strip() for p in text.split("|") if p.strip()]
    return list(text)


def _build_cues(extra: Mapping, source: str) -> dict[str, Cues]:
    if not isinstance(extra, Mapping):
        raise VocabularyError(f"{source}: 'cues' must be an object of categories")
    merged: dict[str, dict[str, list[str]]] = {
        cat: {side: _phrases(words) for side, words in sides.items()}
        for cat, sides in DEFAULT_CUES.items()
    }
    for cat, sides in extra.items():
        if not isinstance(sides, Mapping):
            raise VocabularyError(f"{source}: cues for '{cat}' must have 'before'/'after' lists")
        category = CATEGORY_NAMES.get(str(cat).lower(), str(cat).lower())
        target = merged.setdefault(category, {"before": [], "after": []})
        for side in ("before", "after"):
            target.setdefault(side, []).extend(str(w) for w in sides.get(side, []) or [])
    return {
        cat: Cues(
            tuple(dict.fromkeys(normalize_words(p) for p in sides.get("before", []))),
            tuple(dict.fromkeys(normalize_words(p) for p in sides.get("after", []))),
        )
        for cat, sides in merged.items()
    }
